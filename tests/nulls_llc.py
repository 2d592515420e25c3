"""Fixtures of the LLC claim family (`probes.claims.llc`; Hoogland et al. 2024, arXiv 2402.02364).

Evidence: a tidy table with llc rows (and attention rows, whose top induction head locates the phase change).

- `llc/featureless`, `llc/linear`, `llc/flat-noisy`, `llc/boundaries-everywhere` (fast, synthetic curves over the
  default run's checkpoint grid, with an induction head forming at steps 429–714): λ̂ = 5 + 3·log(1 + t) + noise (no
  stage of its own; today's stage claim said "supported" on 100 of 100), λ̂ = 5 + 0.01·t (a trend), λ̂ = 5 + noise
  whose chains spread as much as the noise, and λ̂ oscillating in log-steps (a stage boundary every ≈ 1 log-step).
- `llc/flat-noisy-tight-chains`, `llc/blip` (fast, issue 18 audit): the flat noisy curve with chain std 0.028 (the
  chains agree; the curve scatters 10× more: the chains' std alone made it rise, stage_boundary 6/20, rises 8/20
  over seeds), and the same curve + 3.0 at step 714 only (a one-checkpoint blip at the window's end: phase_change and
  stage_boundary said "supported").
- `llc/diverging-chains` (fast): real SGLD on a tiny model at a step size 300× the default: the chains blow up.
- `llc/untrained` (slow): the attn-only-2l initialisation written at 3 steps, through the attention and llc probes
  (small LLC settings): nothing happens.
- `llc/attn-only-2l` (slow, positive): 14 checkpoints of the default run (steps 0–3000, the phase change at 429–714)
  at the probe's default settings (≈ 15–25 s each on 2 shared cores, cached in the copy's analysis folder).
- `llc/constructed-peak` (slow, positive of llc/stage_boundary only): least-squares models whose LLC is known by
  construction (`probes.measures.llc.regular_llc`), estimated by devinterp at the probe's settings: 6 strongly curved
  directions switch on as the "structure score" rises (steps ≈ 500), 6 others switch off just after (≈ 650), so λ̂
  peaks inside the window — a critical point, Hoogland's stage boundary. On attn-only-2l the boundary is at the
  window's end (7 steps after it at 14 checkpoints; 918 at all 41), not inside: no real run here has one inside.
"""
from __future__ import annotations

import contextlib
import math
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import torch
from builders import tiny_config
from nulls import fixture, probed_table, untrained_weights, written_run

from circuits.model.transformer import FastTransformer
from circuits.presets import preset
from circuits.store.runs import RunStore
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.measures import llc
from probes.measures.llc import DEFAULT_SETTINGS, LLCResult, LLCSettings, diagnose, estimate_llc, llc_probe, result_rows

FAMILY = "llc"
GRID = [0, 1, 2, 3, 5, 7, 11, 16, 25, 37, 55, 82, 122, 143, 182, 272, 286, 405, 429, 571, 605, 714, 857, 903, 1000,
        1143, 1286, 1347, 1429, 1571, 1714, 1857, 2000, 2010, 2143, 2286, 2429, 2571, 2714, 2857, 3000]
REAL_STEPS = [0, 82, 182, 286, 405, 429, 571, 605, 714, 857, 1000, 1429, 2000, 3000]
SMALL = LLCSettings(chains=2, draws=40, burnin=10, trace_points=10)


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def structure_score(step: int) -> float:
    """The order parameter of the synthetic tables: an induction score 0.8·σ((t − 600)/30) (window 429–714)."""
    return 0.8 * _sigmoid((step - 600) / 30)


def llc_rows(step: int, mean: float, spread: float = 0.02) -> list[dict]:
    """The llc probe's rows of one checkpoint with λ̂ = mean and chains at mean ± spread (diagnostics computed)."""
    per_chain = torch.tensor([mean - spread, mean + spread, mean, mean], dtype=torch.float64)
    diag = diagnose(torch.full((4, 200), 3.0, dtype=torch.float64), per_chain, mean, 21.7, [])
    result = LLCResult(mean, float(per_chain.std()), per_chain, torch.full((4, 250), 3.0, dtype=torch.float64), 2.0,
                       21.7, DEFAULT_SETTINGS, diag)
    return [{"step": step, "tokens": None, **row} for row in result_rows(result)]


def attention_rows(step: int) -> list[dict]:
    return [{"step": step, "tokens": None, "layer": layer, "head": head, "probe": "attention", "metric": "induction",
             "value": structure_score(step) if (layer, head) == (1, 0) else 0.01} for layer in range(2) for head in range(2)]


def curve_table(llc_of_step: Callable[[int], float], spread: float = 0.02) -> list[dict]:
    return [row for s in GRID for row in llc_rows(s, llc_of_step(s), spread) + attention_rows(s)]


def _noise(sigma: float, seed: int = 0) -> dict[int, float]:
    gen = torch.Generator().manual_seed(seed)
    return dict(zip(GRID, (sigma * torch.randn(len(GRID), generator=gen)).tolist(), strict=True))


@fixture("llc/featureless", FAMILY)
def featureless(root: Path) -> list[dict]:
    noise = _noise(0.3)
    return curve_table(lambda s: 5 + 3 * math.log1p(s) + noise[s])


@fixture("llc/linear", FAMILY)
def linear(root: Path) -> list[dict]:
    return curve_table(lambda s: 5 + 0.01 * s)


@fixture("llc/flat-noisy", FAMILY)
def flat_noisy(root: Path) -> list[dict]:
    noise = _noise(0.3, seed=1)
    return curve_table(lambda s: 5 + noise[s], spread=0.37)  # chain std 0.3: the chains disagree as the curve does


def flat_tight_curve(seed: int = 1) -> Callable[[int], float]:
    noise = _noise(0.3, seed=seed)
    return lambda s: 5 + noise[s]


def blip_curve(seed: int = 1, step: int = 714, height: float = 3.0) -> Callable[[int], float]:
    flat = flat_tight_curve(seed)
    return lambda s: flat(s) + (height if s == step else 0.0)


@fixture("llc/flat-noisy-tight-chains", FAMILY)
def flat_noisy_tight_chains(root: Path) -> list[dict]:
    return curve_table(flat_tight_curve())  # chain std 0.028, the curve's scatter 0.3


@fixture("llc/blip", FAMILY)
def blip(root: Path) -> list[dict]:
    return curve_table(blip_curve())


@fixture("llc/boundaries-everywhere", FAMILY)
def boundaries_everywhere(root: Path) -> list[dict]:
    return curve_table(lambda s: 10 + 3 * math.sin(3 * math.log1p(s)))  # sin(6x) is under-sampled: noise to the GP


@fixture("llc/diverging-chains", FAMILY)
def diverging_chains(root: Path) -> list[dict]:
    config = tiny_config(model=dict(init_range=0.2))
    settings = LLCSettings(lr=0.3, chains=2, draws=20, burnin=5, batch_size=8, n=16, trace_points=5)
    state = FastTransformer(config.model).state_dict()
    return [{"step": s, "tokens": None, **r} for s in (0, 10)
            for r in llc_probe(Checkpoint.native(config, state, s), ProbeInputs.for_run(config), settings)]


@contextlib.contextmanager
def llc_settings(settings: LLCSettings) -> Iterator[None]:
    """The sweep's llc probe at `settings` (it reads probes.measures.llc.DEFAULT_SETTINGS at call time)."""
    before = llc.DEFAULT_SETTINGS
    llc.DEFAULT_SETTINGS = settings
    try:
        yield
    finally:
        llc.DEFAULT_SETTINGS = before


def _attention_and_llc(store: RunStore, steps: list[int]) -> list[dict]:
    attention = [r for r in probed_table(store, ("attention",)) if r["probe"] == "attention"]
    from probes.sweep.runner import run_sweep

    return attention + [r for r in run_sweep(store, probes=("llc",), steps=steps, progress=False) if r["probe"] == "llc"]


@fixture("llc/untrained", FAMILY, slow=True)
def untrained(root: Path) -> list[dict]:
    config = replace(preset("attn-only-2l"), name="attn-only-2l-untrained-llc")
    store = written_run(root, "attn-only-2l-untrained-llc", config, untrained_weights(config), [0, 1000, 3000])
    with llc_settings(SMALL):
        return _attention_and_llc(store, store.steps())


@fixture("llc/attn-only-2l", FAMILY, slow=True)
def trained(root: Path) -> list[dict]:
    """A weights-only copy of the shared default run (its files are never written to), probed there."""
    source = RunStore(root / "attn-only-2l") if (root / "attn-only-2l").exists() else None
    if source is None:
        from nulls import trained_run

        source = trained_run(root, "attn-only-2l", preset("attn-only-2l"))
    copy = root / "attn-only-2l-llc"
    if not copy.exists():
        shutil.copytree(source.path, copy, ignore=shutil.ignore_patterns("analysis", ".lock"))
    with llc_settings(DEFAULT_SETTINGS):
        return _attention_and_llc(RunStore(copy), REAL_STEPS)


def constructed_llc(step: int, dims: int = 6, curvature: float = 20.0, seed: int = 0) -> list[dict]:
    """devinterp's λ̂ (probe settings) of least squares on n = 100 rows whose Hessian has `dims` directions of
    curvature `curvature`·σ((t − 500)/40) and `dims` of curvature·(1 − σ((t − 650)/40)): known λ by construction."""
    on, off = _sigmoid((step - 500) / 40), 1 - _sigmoid((step - 650) / 40)
    scale = torch.tensor([curvature * on] * dims + [curvature * off] * dims).sqrt()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(DEFAULT_SETTINGS.n, 2 * dims, generator=gen) * scale
    y = x @ torch.randn(2 * dims, generator=gen) + torch.randn(DEFAULT_SETTINGS.n, generator=gen)
    model = torch.nn.Linear(2 * dims, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(x, y[:, None]).solution.T)

    def loss_fn(m: torch.nn.Module, rows: torch.Tensor) -> torch.Tensor:
        return ((rows[:, -1] - m(rows[:, :-1])[:, 0]) ** 2 / 2)[:, None].expand(-1, rows.shape[1] - 1)

    result = estimate_llc(model, torch.cat([x, y[:, None]], 1), DEFAULT_SETTINGS, loss_fn=loss_fn)
    return [{"step": step, "tokens": None, **row} for row in result_rows(result)]


@fixture("llc/constructed-peak", FAMILY, slow=True)
def constructed_peak(root: Path) -> list[dict]:
    steps = [0, 25, 82, 182, 286, 405, 429, 500, 571, 605, 650, 714, 857, 1000, 1429, 2000, 3000]
    return [row for s in steps for row in constructed_llc(s) + attention_rows(s)]

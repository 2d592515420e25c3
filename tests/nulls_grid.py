"""Fixtures of the grid claim family (`probes.report.grid`): lists of `RunSummary`, read from run folders.

Nulls (fast, synthetic run folders under a temporary directory: config.json of attn-only-2l, d_vocab 128, and a
metrics.jsonl whose held-out repeat loss follows a chosen curve, 3 seeds each, evaluations every 50 steps):
- `grid/flat` (ln 128 + noise of std 0.01), `grid/linear` (ln 128 → 0.7, a ramp over all of training),
  `grid/noisy` (ln 128 + noise of std 0.3), `grid/small-drop` (a noiseless sigmoid fall of 0.18–0.21 nats at step
  272: what the +no-k-comp runs showed, and what the old locator called a phase change on every seed);
- `grid/rising-loss` (the loss *rises* 1.4–1.6 nats in a sigmoid at steps 1400–1600 on 3 seeds: a divergence, which
  the direction-blind locator called "a drop in a phase change" on every seed);
- `grid/noisy-sizes` (attn-only-1l, -2l, -3l, 2 identical seeds each, flat at ln 128 + 0.001 / 0.002 / 0.003: a
  "monotone" trend of 0.001 nats, within any noise);
- `grid/single-seed` (one seed with a real 4-nat transition: no distribution over seeds);
- `grid/two-sizes` (two presets, attn-only-1l and attn-only-2l configs, two seeds each: a line through two points is
  always monotone);
- `grid/no-k-comp-seeds` (slow): seeds 0–2 of the shortened attn-only-2l+no-k-comp run (tests/nulls_induction.py).
Positives (slow: trained runs of the shared store, analyzed with the grid's probes `attention,icl`):
- `grid/attn-only-2l-seeds`: seeds 0–2 of attn-only-2l; `grid/sizes`: attn-only-1l, -2l and -3l, seed 0.
"""
from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import torch
from nulls import fixture, probed_table, trained_run
from nulls_induction import no_k_comp_run

from circuits.config import RunConfig, replace
from circuits.grids.grid import seed_config
from circuits.presets import preset
from circuits.store.files import CONFIG_FILE, METRICS_FILE
from circuits.store.runs import RunStore
from probes.claims.grid import RunSummary, summarize_run

FAMILY = "grid"
STEPS = list(range(0, 3001, 50))
CHANCE = math.log(128)
GRID_PROBES = ("attention", "icl")


def _noise(seed: int, std: float) -> list[float]:
    return (std * torch.randn(len(STEPS), generator=torch.Generator().manual_seed(seed))).tolist()


def _write(folder: Path, config: RunConfig, repeat: list[float]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(config.to_json())
    rows = [{"step": s, "eval/loss": 2.0 + 0.5 * r / CHANCE, "eval/repeat_loss": r} for s, r in zip(STEPS, repeat, strict=True)]
    (folder / METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))


def synthetic(curves: dict[str, list[list[float]]]) -> list[RunSummary]:
    """Run folders PRESET-seedK holding each preset's curves (one per seed), summarized as the grid report does."""
    root, out = Path(tempfile.mkdtemp(prefix="grid-nulls-")), []
    for name, per_seed in curves.items():
        for seed, curve in enumerate(per_seed):
            _write(root / f"{name}-seed{seed}", replace(preset(name), name=name), curve)
            out.append(summarize_run(root / f"{name}-seed{seed}", name, seed))
    return out


def _sigmoid(drop: float, at: float, width: float = 30.0) -> list[float]:
    return [CHANCE - drop / (1 + math.exp(-(s - at) / width)) for s in STEPS]


@fixture("grid/flat", FAMILY)
def flat(root: Path) -> list[RunSummary]:
    return synthetic({"attn-only-2l": [[CHANCE + e for e in _noise(k, 0.01)] for k in range(3)]})


@fixture("grid/linear", FAMILY)
def linear(root: Path) -> list[RunSummary]:
    return synthetic({"attn-only-2l": [[CHANCE - (CHANCE - 0.7) * s / STEPS[-1] for s in STEPS]] * 3})


@fixture("grid/noisy", FAMILY)
def noisy(root: Path) -> list[RunSummary]:
    return synthetic({"attn-only-2l": [[CHANCE + e for e in _noise(10 + k, 0.3)] for k in range(3)]})


@fixture("grid/small-drop", FAMILY)
def small_drop(root: Path) -> list[RunSummary]:
    return synthetic({"attn-only-2l": [_sigmoid(d, 272) for d in (0.18, 0.2, 0.21)]})


@fixture("grid/rising-loss", FAMILY)
def rising_loss(root: Path) -> list[RunSummary]:
    up = lambda d, at: [CHANCE + d / (1 + math.exp(-(s - at) / 30)) for s in STEPS]  # noqa: E731
    return synthetic({"attn-only-2l": [up(1.5, 1500), up(1.6, 1400), up(1.4, 1600)]})


@fixture("grid/noisy-sizes", FAMILY)
def noisy_sizes(root: Path) -> list[RunSummary]:
    return synthetic({name: [[CHANCE + off] * len(STEPS)] * 2 for name, off in
                      (("attn-only-1l", 0.001), ("attn-only-2l", 0.002), ("attn-only-3l", 0.003))})


@fixture("grid/single-seed", FAMILY)
def single_seed(root: Path) -> list[RunSummary]:
    return synthetic({"attn-only-2l": [_sigmoid(4.0, 900)]})


@fixture("grid/two-sizes", FAMILY)
def two_sizes(root: Path) -> list[RunSummary]:
    return synthetic({"attn-only-1l": [_sigmoid(0.3, 900)] * 2, "attn-only-2l": [_sigmoid(4.0, 900)] * 2})


def _analyzed(store: RunStore, name: str, seed: int) -> RunSummary:
    probed_table(store, GRID_PROBES)
    return summarize_run(store.path, name, seed)


def _seed_run(root: Path, name: str, seed: int) -> RunStore:
    """PRESET-seedK as tests/conftest.py names it (seed 0 is the preset run itself), trained once."""
    if seed == 0:
        return trained_run(root, name, preset(name))
    return trained_run(root, f"{name}-seed{seed}", seed_config(preset(name), seed))


@fixture("grid/attn-only-2l-seeds", FAMILY, slow=True)
def default_seeds(root: Path) -> list[RunSummary]:
    return [_analyzed(_seed_run(root, "attn-only-2l", k), "attn-only-2l", k) for k in range(3)]


@fixture("grid/sizes", FAMILY, slow=True)
def sizes(root: Path) -> list[RunSummary]:
    return [_analyzed(_seed_run(root, name, 0), name, 0) for name in ("attn-only-1l", "attn-only-2l", "attn-only-3l")]


@fixture("grid/no-k-comp-seeds", FAMILY, slow=True)
def no_k_comp_seeds(root: Path) -> list[RunSummary]:
    return [summarize_run(no_k_comp_run(root, k).path, "attn-only-2l+no-k-comp", k) for k in range(3)]

"""The claims of a grid of runs: phase-change step and final scores over seeds, and against model size.

Reads only what the runs saved — each run's config.json, metrics.jsonl and (if analyzed) analysis/sweep.jsonl — and
runs no model; the page is `probes.report.grid`.

* Phase-change step: located on each run's held-out repeat loss (`eval/repeat_loss` over its evaluations) by
  `probes.claims.phase_change.locate_phase_change` (the sudden-transition criteria of Olsson et al. 2022, arXiv 2209.11895, checked
  as Schaeffer, Miranda & Koyejo 2023, arXiv 2304.15004 ask); the step is the first evaluation at which the loss has
  made half of its first → last drop (`midpoint_step`). A run with no detected transition is *censored* at its last step: shown, counted, never dropped.
  The locator is told the direction (`direction=-1`): a loss that rises (a divergence) is no drop in a phase change.
  The loss must fall ≥ PHASE_MIN_LOSS_SHARE of the chance loss ln(d_vocab) and plateau afterwards
  (`probes.claims.phase_change.loss_phase_change`: K-composition-blocked runs' 0.18–0.21-nat drops pass the relative
  criteria alone).
  Deviation, stated: metrics.jsonl holds no per-sequence losses, so no bootstrap noise floor exists here; the
  curve's own robust noise is used, and the minimum change on the loss scale does what it cannot (≈ 0 on smooth curves).
* Final values (last evaluation / last checkpoint): eval loss, held-out repeat loss, the Olsson ICL score (probe
  `icl`) and the top head's content-controlled induction score (probe `attention`, metric `induction`; the head
  with the highest final score, as in `probes.claims.induction`) — the last two only for analyzed runs.
  The final values are *descriptive* (`final_line`: median [min–max] over seeds, no verdict, not a claim and not in
  the family): a spread over seeds states what the runs ended at and tests nothing, so it could not fail.
* Against size (`size_claim`): the per-size medians must change monotonically and every neighbouring difference
  must exceed GRID_SIZE_NOISE_MULTIPLE × its noise, √(std₁² + std₂²) of the two sizes' values over seeds (never below
  GRID_SIZE_NOISE_FLOOR); fewer than GRID_MIN_SEEDS seeds at some size leave no spread, so no verdict.
* Every other sentence is a `probes.claims.claim.Claim` built from these numbers, each condition a `Check`; "Not supported
  by this run" when there are fewer than GRID_MIN_SEEDS seeds, fewer than GRID_MIN_SIZES sizes (two points are always
  monotone), or not every seed shows a transition. The family is declared (`GRID_FAMILY`) for the conformance suite.
* Runs are grouped by preset (the run name's stem), so clamp variants of one model (`circuits.model.clamp`, e.g.
  `attn-only-2l+prev-token`) sit beside their baseline in every claim and figure; the run table lists each run's clamps."""
from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from circuits.config import ModelConfig, RunConfig
from circuits.grids.grid import read_grid
from circuits.store.files import ANALYSIS_DIR, CONFIG_FILE, SWEEP_FILE
from circuits.store.runs import RunStore
from probes.claims.claim import Check, Claim, ClaimFamily, ClaimSpec, flag, fmt, make_claim, register_claims
from probes.claims.phase_change import loss_phase_change
from probes.claims.seeds import spread
from probes.claims.thresholds import (
    GRID_MIN_SEEDS,
    GRID_MIN_SIZES,
    GRID_PHASE_SEED_SHARE,
    GRID_SIZE_NOISE_FLOOR,
    GRID_SIZE_NOISE_MULTIPLE,
)
from probes.table import read_rows, select

PHASE_METRIC = "eval/repeat_loss"

FINAL_METRICS = {"eval/loss": "eval loss", "eval/repeat_loss": "held-out repeat loss", "icl_score": "ICL score",
                 "top_induction": "top head's induction score"}

SIZE_METRICS = {"phase_step": "phase-change step (seeds with a transition)", **FINAL_METRICS}

def parameter_count(model: ModelConfig) -> int:
    """Trainable parameters of `circuits.model.transformer.FastTransformer` for `model`, from the config alone."""
    d, v = model.d_model, model.d_vocab
    norm = 2 * d if model.normalization == "LN" else 0
    block = norm + 4 * (d * d + d)  # q, k, v, o with biases
    if not model.attn_only:
        block += norm + 2 * d * model.mlp_width + model.mlp_width + d
    positions = model.n_ctx * d if model.positional == "standard" else 0
    return v * d + positions + model.n_layers * block + norm + v * d  # embed, blocks, ln_final, unembed (bias: buffer)

@dataclass(frozen=True)
class RunSummary:
    """One run of the grid as its saved files describe it (no model is run)."""

    name: str
    preset: str
    seed: int
    trained: bool = False  # has a config and ≥ 1 evaluation
    analyzed: bool = False  # has analysis/sweep.jsonl
    n_layers: int = 0
    n_params: int = 0
    last_step: int = 0
    phase_step: int | None = None  # None: censored at last_step
    phase_window: tuple[int, int] | None = None
    phase_reason: str = ""  # why no transition was detected ("" when detected)
    final: dict[str, float | None] = field(default_factory=dict)
    clamps: tuple[str, ...] = ()  # the run's clamps (circuits.model.clamp), labelled: clamp variants sit beside their baseline
    drop: float | None = None  # first − last held-out repeat loss (nats): the size of whatever the locator found

    @property
    def censored(self) -> bool:
        return self.trained and self.phase_step is None

def summarize_run(path: Path, preset: str, seed: int) -> RunSummary:
    """Config, phase change of the held-out repeat loss, and final values of one run directory."""
    store = RunStore(path)
    rows = [r for r in store.metrics() if PHASE_METRIC in r] if (path / CONFIG_FILE).is_file() else []
    if not rows:
        return RunSummary(path.name, preset, seed)
    config: RunConfig = store.config()
    steps, values = [r["step"] for r in rows], [r[PHASE_METRIC] for r in rows]
    final = {"eval/loss": rows[-1].get("eval/loss"), "eval/repeat_loss": values[-1]}
    table_file = path / ANALYSIS_DIR / SWEEP_FILE
    final |= _analysis_finals(read_rows(table_file)) if table_file.is_file() else {"icl_score": None, "top_induction": None}
    base = RunSummary(path.name, preset, seed, True, table_file.is_file(), config.model.n_layers,
                      parameter_count(config.model), steps[-1], final=final, clamps=tuple(c.label for c in config.clamps),
                      drop=values[0] - values[-1])
    if len(rows) < 2:
        return dataclasses.replace(base, phase_reason="fewer than 2 evaluations")
    change = loss_phase_change(steps, values, config.model.d_vocab, direction=-1)  # a loss must fall, never rise
    if not change.detected:
        return dataclasses.replace(base, phase_reason=change.reason)
    return dataclasses.replace(base, phase_step=midpoint_step(steps, values), phase_window=(change.start, change.end))

def midpoint_step(steps: list[int], values: list[float]) -> int:
    """The first evaluation step at which the metric has made half of its first → last change (robust to the uneven
    evaluation grid, unlike the steepest single interval)."""
    half = values[0] + 0.5 * (values[-1] - values[0])
    falling = values[-1] < values[0]
    return next(s for s, v in zip(steps, values, strict=True) if (v <= half if falling else v >= half))

def _analysis_finals(table: list[dict]) -> dict[str, float | None]:
    """Last-checkpoint ICL score and the top head's controlled induction score from a sweep table."""
    icl = select(table, "icl", "icl_score").get((None, None))
    induction = select(table, "attention", "induction")
    top = max((points[-1][1] for points in induction.values()), default=None)
    return {"icl_score": float(icl[-1][1]) if icl else None, "top_induction": None if top is None else float(top)}

def summarize_grid(grid_dir: Path) -> list[RunSummary]:
    """Every run listed in GRID/grid.json, in grid order (runs not trained yet included, as untrained)."""
    record = read_grid(grid_dir)
    return [summarize_run(grid_dir / r["name"], r["preset"], r["seed"]) for r in record["runs"]]

def by_preset(runs: list[RunSummary]) -> dict[str, list[RunSummary]]:
    """Trained runs per preset, presets ordered by size (parameters, then layers)."""
    groups: dict[str, list[RunSummary]] = {}
    for run in runs:
        if run.trained:
            groups.setdefault(run.preset, []).append(run)
    return dict(sorted(groups.items(), key=lambda kv: (kv[1][0].n_params, kv[1][0].n_layers, kv[0])))

def _steps(values: list[int] | list[float]) -> str:
    return f"{statistics.median(values):.0f} [{min(values):.0f}–{max(values):.0f}]"

# ----- claims -----------------------------------------------------------------------------------------------------
def phase_claim(preset: str, runs: list[RunSummary]) -> Claim:
    """Whether `preset`'s held-out repeat loss drops in a phase change on every seed, with the step distribution."""
    detected = [r.phase_step for r in runs if r.phase_step is not None]
    censored = [r for r in runs if r.censored]
    parts = [f"{len(detected)} of {len(runs)} seeds show a transition"]
    if detected:
        drops = [r.drop for r in runs if r.phase_step is not None]
        parts.append(f"phase-change step median {_steps(detected)} over those, where the loss fell by "
                     f"{spread(drops)} nats from first to last evaluation")
    if censored:
        why = "; ".join(f"{r.name} at step {r.last_step}: {r.phase_reason}" for r in censored)
        lower = [float(r.phase_step if r.phase_step is not None else r.last_step) for r in runs]
        parts.append(f"{len(censored)} censored at their last step, not dropped ({why}); counting them there, the "
                     f"median is at least {statistics.median(lower):.0f}")
    if len(runs) < GRID_MIN_SEEDS:
        parts.append(f"a distribution over seeds needs at least {GRID_MIN_SEEDS} seeds, this grid has {len(runs)}")
    value = float(statistics.median(detected)) if detected else float("nan")
    drops = [r.drop for r in runs if r.drop is not None]
    return make_claim(f"grid/phase_change/{preset}", f"{preset}: the held-out repeat loss drops in a phase change "
                      f"on every seed", True, value, None, "; ".join(parts) + ".",
                      [Check("seeds", float(len(runs)), ">=", float(GRID_MIN_SEEDS)),
                       Check("share of seeds with a transition", len(detected) / len(runs), ">=", GRID_PHASE_SEED_SHARE),
                       Check("smallest drop, first − last (nats)", min(drops, default=float("nan")), ">", 0.0)])

def final_line(preset: str, runs: list[RunSummary], metric: str) -> dict[str, Any]:
    """The final value of `metric` over `preset`'s seeds, median [min–max], as a sentence with no verdict: {key,
    value, sentence}. Descriptive (audit: as a claim it was "supported" on any ≥ 2 seeds, untrained ones too)."""
    values = [r.final[metric] for r in runs if r.final.get(metric) is not None]
    missing = len(runs) - len(values)
    detail = f"median {spread(values)} over {len(values)} seeds" if values else "not computed on any seed"
    if missing:
        detail += f"; not computed on {missing} seed(s) (no analysis: run `icl-workbench analyze` on them)"
    if len(values) < GRID_MIN_SEEDS:
        detail += f"; a spread over seeds needs at least {GRID_MIN_SEEDS} seeds with a value, this preset has {len(values)}"
    value = float(statistics.median(values)) if values else float("nan")
    return {"key": f"grid/final/{metric}/{preset}", "value": value,
            "sentence": f"{preset}: final {FINAL_METRICS[metric]} over seeds (descriptive, no verdict) — {detail}."}

def size_claim(groups: dict[str, list[RunSummary]], metric: str) -> Claim:
    """Whether the median of `metric` changes monotonically with parameter count across the grid's presets."""
    points, seeds = [], []
    for preset, runs in groups.items():
        values = [run_value(r, metric) for r in runs if run_value(r, metric) is not None]
        if values:
            points.append((runs[0].n_params, runs[0].n_layers, preset, statistics.median(values)))
            seeds.append(values)
    label = SIZE_METRICS[metric]
    shown = " → ".join(f"{p} ({_layers(layers)}, {n:,} params) {_fmt(metric, v)}" for n, layers, p, v in points)
    sizes = len({n for n, *_ in points})
    diffs = [b[3] - a[3] for a, b in itertools.pairwise(points)]
    trend = "increasing" if diffs and all(d > 0 for d in diffs) else "decreasing" if diffs and all(d < 0 for d in diffs) else "not monotone"
    detail = f"medians by size: {shown or 'none computed'}" + (f" ({trend})" if sizes >= 2 else "")
    fewest = min((len(v) for v in seeds), default=0)
    sd = [statistics.stdev(v) if len(v) >= 2 else float("nan") for v in seeds]
    noise = [max(math.hypot(a, b), GRID_SIZE_NOISE_FLOOR) if math.isfinite(a + b) else float("nan")
             for a, b in itertools.pairwise(sd)]
    ratios = [abs(d) / n for d, n in zip(diffs, noise, strict=True)]
    ratio = min(ratios) if ratios and all(math.isfinite(r) for r in ratios) else float("nan")
    if diffs:
        detail += (f"; seeds per size {', '.join(str(len(v)) for v in seeds)}; neighbouring differences "
                   f"{', '.join(f'{d:+.3g}' for d in diffs)} vs their noise "
                   f"{', '.join('n/a' if not math.isfinite(n) else f'{n:.3g}' for n in noise)} (√(std₁² + std₂²) over "
                   f"seeds, at least {GRID_SIZE_NOISE_FLOOR:g}; each must exceed {GRID_SIZE_NOISE_MULTIPLE:g}×)")
    if fewest < GRID_MIN_SEEDS:
        detail += f"; a spread over seeds needs at least {GRID_MIN_SEEDS} seeds at every size, the fewest has {fewest}"
    if sizes < GRID_MIN_SIZES:
        detail += f"; a trend needs at least {GRID_MIN_SIZES} model sizes, this grid has {sizes}"
    return make_claim(f"grid/size/{metric}", f"the median {label} changes monotonically with parameter count, "
                      f"beyond the seeds' noise",
                      True, float(points[-1][3] - points[0][3]) if len(points) >= 2 else float("nan"), None, detail + ".",
                      [flag(f"model sizes ≥ {GRID_MIN_SIZES}", sizes >= GRID_MIN_SIZES),
                       flag("seeds per size (fewest)", fewest >= GRID_MIN_SEEDS),
                       flag("one point per size", sizes == len(points)), flag("monotone", trend != "not monotone"),
                       Check("smallest |Δ median| / noise", ratio, ">=", GRID_SIZE_NOISE_MULTIPLE)])

def run_value(run: RunSummary, metric: str) -> float | None:
    return float(run.phase_step) if metric == "phase_step" and run.phase_step is not None else run.final.get(metric)

def _layers(n: int) -> str:
    return f"{n} layer{'s' if n != 1 else ''}"

def _fmt(metric: str, value: float) -> str:
    return f"step {value:.0f}" if metric == "phase_step" else fmt(value)

def grid_claims(runs: list[RunSummary]) -> list[Claim]:
    """The phase change per preset. The final values per preset (`final_lines`) and every trend against size
    (`size_lines`) are descriptive, not claims."""
    return [phase_claim(p, rs) for p, rs in by_preset(runs).items()]

def size_lines(groups: dict[str, list[RunSummary]]) -> list[str]:
    """Each final metric against size, as descriptive sentences with `size_claim`'s trend test in them, and the
    phase-change step against size. No verdict: a claim needs a positive fixture, and no grid this workbench can
    train in CI (attn-only-1l/2l/3l, 2 seeds) separates its sizes beyond the seeds' spread (2l → 3l differ by
    ≈ 0.05 nats of repeat loss against a seed spread of ≈ 0.1), so the test is shown, not claimed."""
    lines = []
    for metric in FINAL_METRICS:
        trend = size_claim(groups, metric)
        passed = "every check passes" if trend.supported else "not every check passes"
        lines.append(f"{SIZE_METRICS[metric][0].upper()}{SIZE_METRICS[metric][1:]} against size (descriptive, no verdict; "
                     f"{passed}) — {trend.sentence.split(' — ', 1)[1]}")
    return lines + [phase_size_line(groups)]

def final_lines(runs: list[RunSummary]) -> list[dict[str, Any]]:
    """Every preset's final values over seeds, as descriptive sentences (no verdict)."""
    return [final_line(p, rs, m) for p, rs in by_preset(runs).items() for m in FINAL_METRICS]

def phase_size_line(groups: dict[str, list[RunSummary]]) -> str:
    """The phase-change step against size, as a sentence with no verdict: runs without a transition have no step
    (censored), and seeds of one preset differ by hundreds of steps, so no trend test applies."""
    detail = size_claim(groups, "phase_step").sentence.split(" — ", 1)[1].split(" Checks:")[0]
    return f"Phase-change step against size (descriptive, no verdict: censored runs have no step) — {detail}"

# ----- the claim family (tests/nulls_grid.py builds its evidence: lists of run summaries) ----------------------------
_PHASE_NULLS = ("grid/flat", "grid/linear", "grid/noisy", "grid/small-drop", "grid/single-seed", "grid/rising-loss",
                "grid/no-k-comp-seeds")

GRID_FAMILY = register_claims(ClaimFamily("grid", grid_claims, claims=(
    ClaimSpec("grid/phase_change/{preset}", _PHASE_NULLS, "grid/attn-only-2l-seeds"),
)))

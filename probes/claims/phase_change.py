"""The phase-change locator: where a curve changes, and whether that change is a phase change (Olsson et al. 2022,
arXiv 2209.11895: the induction bump; its statistics are the claim checks of every family that locates a transition).

A change counts when it is large against the curve's own noise (`robust_noise`, or a bootstrap floor the caller
passes), brief in both step and log-step, and followed by a plateau; every criterion is a threshold of
`probes.claims.thresholds`."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from probes.claims.claim import Check
from probes.claims.thresholds import (
    PHASE_MAX_LOG_WINDOW_FRACTION,
    PHASE_MAX_WINDOW_FRACTION,
    PHASE_MIN_LOSS_SHARE,
    PHASE_NOISE_MULTIPLE,
    PHASE_PLATEAU_CHECKPOINTS,
    PHASE_PLATEAU_NOISE,
    PHASE_PLATEAU_TOLERANCE,
)


@dataclass(frozen=True)
class PhaseChange:
    """Where a metric changes, and whether that change counts as a phase change.

    `start`…`end` bracket its 10%→90% transition; `steepest` is the fastest interval inside it; `before`/`after` are
    the first and last values. `detected` is the verdict of `locate_phase_change`; `reason` says why not ("" when
    detected); `noise` is the noise floor it used (on the metric's scale). The statistics behind the verdict:
    `scale` (the metric's own scale, e.g. ln d_vocab for a loss) and `min_change` (least |change| / scale), the window's
    share of the step and log-step ranges, and the plateau after the window (`plateau_checkpoints` from the window's
    end on, their largest |value − after| `plateau_deviation`); `direction`, the sign the change must have (None: either). `phase_checks` turns them into claim
    checks.
    """

    start: int
    end: int
    steepest: tuple[int, int]
    before: float
    after: float
    detected: bool = False
    reason: str = ""
    noise: float = 0.0
    scale: float = 1.0
    min_change: float = 0.0
    window_fraction: float = float("nan")
    log_window_fraction: float = float("nan")
    plateau_checkpoints: int = 0
    plateau_deviation: float = float("nan")
    direction: int | None = None  # required sign of `change` (−1 falls, e.g. a loss; +1 rises, e.g. a score); None: either

    @property
    def change(self) -> float:
        return self.after - self.before

def robust_noise(values: list[float]) -> float:
    """Noise floor estimated from the series itself: 1.4826 · median|Δv| / √2 over successive differences.

    For i.i.d. Gaussian noise of std σ on a slowly varying curve, successive differences have std σ√2 and the
    median absolute difference is 0.6745·σ√2 — hence the MAD constant 1.4826 and the √2. The median ignores the
    few large differences of a transition (Rousseeuw & Croux 1993 for the MAD; differencing as in von Neumann's
    successive-difference estimator, 1941). On a noiseless curve it is ≈ 0: never the only floor of a verdict that
    matters (`locate_phase_change` takes the larger of it and a bootstrap floor, and needs a minimum change).
    """
    diffs = sorted(abs(b - a) for a, b in zip(values, values[1:], strict=False))
    mid = len(diffs) // 2
    median = diffs[mid] if len(diffs) % 2 else (diffs[mid - 1] + diffs[mid]) / 2
    return 1.4826 * median / math.sqrt(2)

def _window(steps: list[int], values: list[float], low: float, high: float) -> tuple[int, int, int]:
    """Indices (i0, i1) of the 10%→90% window and k of its steepest interval (k, k + 1); never raises."""
    before, span = values[0], values[-1] - values[0]
    if span == 0:
        return 0, len(steps) - 1, 0
    progress = [(v - before) / span for v in values]
    first_high = next((i for i, p in enumerate(progress) if p >= high), len(values) - 1)
    last_low = max([i for i, p in enumerate(progress[: first_high + 1]) if p <= low] or [0])
    i0 = min(last_low, len(steps) - 2)
    i1 = max(first_high, i0 + 1)
    slopes = [abs(values[k + 1] - values[k]) / max(1, steps[k + 1] - steps[k]) for k in range(i0, i1)]
    return i0, i1, i0 + max(range(len(slopes)), key=slopes.__getitem__)

def _ratio(a: float, b: float) -> float:
    """a / b for the checks: 0 / 0 is 0 and a / 0 is 1e9 (a noiseless curve's change is many noise floors); NaN when
    either is NaN or infinite (a non-finite scale or noise floor passes no check)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return float("nan")
    return 0.0 if a == 0 else min(1e9, a / b) if b > 0 else 1e9

_DIRECTION = {-1: "a fall", 1: "a rise"}

def phase_checks(c: PhaseChange) -> list[Check]:
    """Every criterion of `locate_phase_change` as a claim check (statistic, operator, threshold of probes.claims.thresholds),
    in the order the locator tests them: change on the metric's scale, above the noise, a narrow window in steps and
    in log-steps, a plateau after it. With a required `direction`, a first check: the signed change × direction > 0."""
    size = abs(c.change)
    excess = max(0.0, c.plateau_deviation - PHASE_PLATEAU_NOISE * c.noise)
    signed = [] if c.direction is None else [Check("change in the required direction", c.direction * c.change, ">", 0.0)]
    return [*signed, Check("|change| / scale", _ratio(size, c.scale), ">=", c.min_change) if c.min_change > 0
            else Check("|change|", size, ">", 0.0),
            Check("|change| / noise floor", _ratio(size, c.noise), ">", PHASE_NOISE_MULTIPLE),
            Check("window / step range", c.window_fraction, "<=", PHASE_MAX_WINDOW_FRACTION),
            Check("window / log-step range", c.log_window_fraction, "<=", PHASE_MAX_LOG_WINDOW_FRACTION),
            Check("plateau checkpoints", float(c.plateau_checkpoints), ">=", float(PHASE_PLATEAU_CHECKPOINTS)),
            Check("plateau deviation / |change|", excess / size if size > 0 else float("nan"), "<=", PHASE_PLATEAU_TOLERANCE)]

def _reason(c: PhaseChange, label: str) -> str:
    """"" if every check passes, else the first failing criterion as a sentence."""
    failed = next((k.name for k in phase_checks(c) if not k.passed), None)
    size = abs(c.change)
    return {
        None: "",
        "change in the required direction": (f"the metric {'rises' if c.change > 0 else 'falls' if c.change < 0 else 'does not move'} "
                                             f"by {size:.3g} ({c.before:.3g} → {c.after:.3g}); a phase change here must be "
                                             f"{_DIRECTION.get(c.direction, 'a change')}"),
        "|change|": "no change: the first and last values are equal",
        "|change| / scale": (f"the metric's scale {c.scale} is not finite: no minimum change can be checked"
                             if not math.isfinite(c.scale) else f"the metric's scale {c.scale:.3g} is not positive"
                             if c.scale <= 0 else
                             f"change {size:.3g} is {size / c.scale:.1%} of the metric's scale {c.scale:.3g}, below "
                             f"the minimum {c.min_change:.0%}"),
        "|change| / noise floor": (f"the noise floor {c.noise} is not finite: the change cannot be compared with it"
                                   if not math.isfinite(c.noise) else
                                   f"change {size:.3g} is below {PHASE_NOISE_MULTIPLE:g}× the noise floor {c.noise:.3g}"),
        "window / step range": (f"the {label} window spans {c.window_fraction:.0%} of training (steps {c.start}–{c.end}), "
                                f"wider than {PHASE_MAX_WINDOW_FRACTION:.0%}"),
        "window / log-step range": (f"the window (steps {c.start}–{c.end}) spans {c.log_window_fraction:.0%} of training "
                                    f"in log-steps, wider than {PHASE_MAX_LOG_WINDOW_FRACTION:.0%} (slow early learning, "
                                    f"not a sudden change)"),
        "plateau checkpoints": (f"no plateau after the window: it ends at step {c.end} with {c.plateau_checkpoints} "
                                f"checkpoint(s) from there on, fewer than {PHASE_PLATEAU_CHECKPOINTS}"),
        "plateau deviation / |change|": (f"no plateau after the window: from step {c.end} on the metric strays "
                                         f"{c.plateau_deviation:.3g} from its last value, more than "
                                         f"{PHASE_PLATEAU_TOLERANCE:.0%} of the change (+ {PHASE_PLATEAU_NOISE:g}× noise)"),
    }[failed]

def locate_phase_change(steps: list[int], values: list[float], low: float = 0.1, high: float = 0.9, *,
                        noise: float | None = None, scale: float = 1.0, min_change: float = 0.0,
                        direction: int | None = None) -> PhaseChange:
    """The checkpoint window in which a metric makes the bulk of its change, and whether it is a phase change.

    `before`/`after` are the metric's first and last values; the window runs from the last checkpoint before the
    metric has moved `low` of the way from `before` to `after` to the first checkpoint where it has moved `high` of
    the way. Inside it, `steepest` is the pair of consecutive checkpoints with the largest |Δvalue/Δstep|.

    `detected` is True only if every `phase_checks` criterion holds: |after − before| ≥ `min_change` × `scale` (the
    metric's own scale: callers pass ln d_vocab and PHASE_MIN_LOSS_SHARE for a loss, 1 and PHASE_MIN_SCORE_CHANGE
    for a [0, 1] score; default 0: any change), and > PHASE_NOISE_MULTIPLE noise floors; the window covers at most
    PHASE_MAX_WINDOW_FRACTION of the step range and PHASE_MAX_LOG_WINDOW_FRACTION of the log(1 + step) range — the
    "sudden" of Olsson et al. 2022 (arXiv 2209.11895), checked as Schaeffer, Miranda & Koyejo 2023 (arXiv
    2304.15004) ask; and the metric plateaus after it (≥ PHASE_PLATEAU_CHECKPOINTS checkpoints from the window's end
    on, all within PHASE_PLATEAU_TOLERANCE × |change| + PHASE_PLATEAU_NOISE noise floors of the last value). The
    noise floor is the larger of `noise` (a bootstrap std over probe sequences or seeds, when the caller has one) and
    `robust_noise` of the series. A flat or constant series gives detected=False, never an exception; a series with
    NaN or infinite values gives detected=False with the window over the whole range, and so does a non-finite
    `scale` or `noise` (with the reason; a NaN noise floor is never dropped by the max). `direction` (−1: the metric
    must fall, as a loss does when a model learns; +1: rise, as a score does; None: either, for callers that do not
    care) adds the check that the signed change has that sign — the locator's other criteria use |change|.
    """
    if direction not in (None, -1, 1):
        raise ValueError(f"direction must be -1, +1 or None, got {direction!r}")
    if len(steps) < 2 or len(steps) != len(values):
        raise ValueError(f"need ≥ 2 checkpoints with one value each, got {len(steps)} steps, {len(values)} values")
    values = [float(v) for v in values]
    if not all(math.isfinite(v) for v in values):
        return PhaseChange(steps[0], steps[-1], (steps[0], steps[1]), values[0], values[-1], False,
                           "the series has NaN or infinite values", float("nan"), scale, min_change, direction=direction)
    floor = max(robust_noise(values), 0.0 if noise is None else float(noise))
    if noise is not None and not math.isfinite(float(noise)):
        floor = float(noise)  # max() would drop a NaN (or keep an inf): the verdict must fail on it, with its reason
    i0, i1, k = _window(steps, values, low, high)
    span = max(1e-12, math.log1p(steps[-1]) - math.log1p(steps[0]))
    change = PhaseChange(steps[i0], steps[i1], (steps[k], steps[k + 1]), values[0], values[-1], noise=floor,
                         scale=scale, min_change=min_change, direction=direction,
                         window_fraction=(steps[i1] - steps[i0]) / max(1, steps[-1] - steps[0]),
                         log_window_fraction=(math.log1p(steps[i1]) - math.log1p(steps[i0])) / span,
                         plateau_checkpoints=len(values) - i1,
                         plateau_deviation=max(abs(v - values[-1]) for v in values[i1:]))
    reason = _reason(change, f"{low:.0%}→{high:.0%}")
    return replace(change, detected=not reason, reason=reason)

def loss_phase_change(steps: list[int], values: list[float], d_vocab: int, noise: float | None = None,
                      direction: int | None = None) -> PhaseChange:
    """`locate_phase_change` of a loss (nats): its scale is the chance loss ln(d_vocab), and it must move at least
    PHASE_MIN_LOSS_SHARE of it (`direction=-1`: and fall, as a loss does when a model learns)."""
    return locate_phase_change(steps, values, noise=noise, scale=math.log(d_vocab), min_change=PHASE_MIN_LOSS_SHARE,
                               direction=direction)

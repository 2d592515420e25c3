"""In-context-learning score, per-position loss, and the phase-change locator.

Sign convention (Olsson et al. 2022): ICL score = loss(late position) − loss(early position); negative ⇒ the model
uses its context. Olsson use token indices 500 and 50 of 512-token contexts; our contexts are short, so the
positions are scaled to the probe sequence: early = 10%, late = 90% of its length (configurable). Yin & Steinhardt's
token-loss difference is the same quantity with the opposite sign.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from circuits.model import token_losses
from probes.interventions import Engine
from probes.metrics import PHASE_MAX_LOG_WINDOW_FRACTION, PHASE_MAX_WINDOW_FRACTION, PHASE_NOISE_MULTIPLE

EARLY_FRACTION = 0.1
LATE_FRACTION = 0.9


@torch.no_grad()
def loss_by_position(engine: Engine, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, " pos_minus_1"]:
    """Mean next-token loss at every position (index i: predicting token i+1), from the engine's logits."""
    return token_losses(engine.logits(tokens), tokens).mean(0)


def icl_positions(seq_len: int, early: float = EARLY_FRACTION, late: float = LATE_FRACTION) -> tuple[int, int]:
    """Loss indices standing in for Olsson's tokens 50 and 500 in a context of `seq_len` tokens."""
    n = seq_len - 1  # number of loss positions
    return max(0, round(early * n) - 1), min(n - 1, round(late * n) - 1)


def icl_score(losses: Float[Tensor, "*batch pos"], early: float = EARLY_FRACTION, late: float = LATE_FRACTION) -> Float[Tensor, "*batch"]:
    """Olsson's ICL score from per-position losses: loss[late] − loss[early] (nats; negative ⇒ context helps).

    Positions are averaged over a ±2-token window around each index to damp single-position noise.
    """
    i, j = icl_positions(losses.shape[-1] + 1, early, late)
    window = lambda k: losses[..., max(0, k - 2) : k + 3].mean(-1)  # noqa: E731
    return window(j) - window(i)


@dataclass(frozen=True)
class PhaseChange:
    """Where a metric changes, and whether that change counts as a phase change.

    `start`…`end` bracket its 10%→90% transition; `steepest` is the fastest interval inside it; `before`/`after` are
    the first and last values. `detected` is the verdict of `locate_phase_change`; `reason` says why not ("" when
    detected); `noise` is the noise floor it used (on the metric's scale).
    """

    start: int
    end: int
    steepest: tuple[int, int]
    before: float
    after: float
    detected: bool = False
    reason: str = ""
    noise: float = 0.0

    @property
    def change(self) -> float:
        return self.after - self.before


def robust_noise(values: list[float]) -> float:
    """Noise floor estimated from the series itself: 1.4826 · median|Δv| / √2 over successive differences.

    For i.i.d. Gaussian noise of std σ on a slowly varying curve, successive differences have std σ√2 and the
    median absolute difference is 0.6745·σ√2 — hence the MAD constant 1.4826 and the √2. The median ignores the
    few large differences of a transition (Rousseeuw & Croux 1993 for the MAD; differencing as in von Neumann's
    successive-difference estimator, 1941). On a noiseless curve it is ≈ 0, so the window criteria decide.
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


def _verdict(steps: list[int], start: int, end: int, change: float, noise: float, label: str) -> str:
    """"" if the change is a phase change, else the first criterion it fails, as a sentence."""
    if change == 0:
        return "no change: the first and last values are equal"
    if abs(change) <= PHASE_NOISE_MULTIPLE * noise:
        return f"change {abs(change):.3g} is below {PHASE_NOISE_MULTIPLE:g}× the noise floor {noise:.3g}"
    linear = (end - start) / max(1, steps[-1] - steps[0])
    if linear > PHASE_MAX_WINDOW_FRACTION:
        return (f"the {label} window spans {linear:.0%} of training (steps {start}–{end}), "
                f"wider than {PHASE_MAX_WINDOW_FRACTION:.0%}")
    logarithmic = (math.log1p(end) - math.log1p(start)) / max(1e-12, math.log1p(steps[-1]) - math.log1p(steps[0]))
    if logarithmic > PHASE_MAX_LOG_WINDOW_FRACTION:
        return (f"the window (steps {start}–{end}) spans {logarithmic:.0%} of training in log-steps, wider than "
                f"{PHASE_MAX_LOG_WINDOW_FRACTION:.0%} (slow early learning, not a sudden change)")
    return ""


def locate_phase_change(steps: list[int], values: list[float], low: float = 0.1, high: float = 0.9, *,
                        noise: float | None = None) -> PhaseChange:
    """The checkpoint window in which a metric makes the bulk of its change, and whether it is a phase change.

    `before`/`after` are the metric's first and last values; the window runs from the last checkpoint before the
    metric has moved `low` of the way from `before` to `after` to the first checkpoint where it has moved `high` of
    the way. Inside it, `steepest` is the pair of consecutive checkpoints with the largest |Δvalue/Δstep|.

    `detected` is True only if |after − before| exceeds `PHASE_NOISE_MULTIPLE` × `noise` and the
    window covers at most `PHASE_MAX_WINDOW_FRACTION` of the step range and `PHASE_MAX_LOG_WINDOW_FRACTION` of the
    log(1 + step) range (probes.metrics) — the "sudden" of Olsson et al. 2022 (arXiv 2209.11895), and the check
    Schaeffer, Miranda & Koyejo 2023 (arXiv 2304.15004) ask for before calling a curve emergent. `noise` is a noise
    floor on the metric's scale (e.g. a bootstrap std over probe sequences); None estimates it from the series
    (`robust_noise`). A flat or constant series gives detected=False, never an exception; a series with NaN or
    infinite values gives detected=False with the window over the whole range.
    """
    if len(steps) < 2 or len(steps) != len(values):
        raise ValueError(f"need ≥ 2 checkpoints with one value each, got {len(steps)} steps, {len(values)} values")
    values = [float(v) for v in values]
    if not all(math.isfinite(v) for v in values):
        return PhaseChange(steps[0], steps[-1], (steps[0], steps[1]), values[0], values[-1], False,
                           "the series has NaN or infinite values", float("nan"))
    floor = robust_noise(values) if noise is None else float(noise)
    i0, i1, k = _window(steps, values, low, high)
    change = values[-1] - values[0]
    reason = _verdict(steps, steps[i0], steps[i1], change, floor, f"{low:.0%}→{high:.0%}")
    return PhaseChange(steps[i0], steps[i1], (steps[k], steps[k + 1]), values[0], values[-1], not reason, reason, floor)

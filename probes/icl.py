"""In-context-learning score, per-position loss, and the phase-change locator.

Sign convention (Olsson et al. 2022): ICL score = loss(late position) − loss(early position); negative ⇒ the model
uses its context. Olsson use token indices 500 and 50 of 512-token contexts; our contexts are short, so the
positions are scaled to the probe sequence: early = 10%, late = 90% of its length (configurable). Yin & Steinhardt's
token-loss difference is the same quantity with the opposite sign.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from circuits.model import token_losses
from probes.inputs import check_fits

EARLY_FRACTION = 0.1
LATE_FRACTION = 0.9


@torch.no_grad()
def loss_by_position(model, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "pos_minus_1"]:
    """Mean next-token loss at every position (index i: predicting token i+1)."""
    check_fits(tokens, model.cfg.n_ctx)
    return token_losses(model(tokens), tokens).mean(0)


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
    """Where a metric changes: `start`…`end` bracket its 10%→90% transition; `steepest` is the fastest interval."""

    start: int
    end: int
    steepest: tuple[int, int]
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


def locate_phase_change(steps: list[int], values: list[float], low: float = 0.1, high: float = 0.9) -> PhaseChange:
    """The checkpoint window in which a metric makes the bulk of its change, and its fastest-changing interval.

    `before`/`after` are the metric's first and last values; the window runs from the last checkpoint before the
    metric has moved `low` of the way from `before` to `after` to the first checkpoint where it has moved `high` of
    the way. Inside it, `steepest` is the pair of consecutive checkpoints with the largest |Δvalue/Δstep|.
    """
    if len(steps) < 2 or len(steps) != len(values):
        raise ValueError(f"need ≥ 2 checkpoints with one value each, got {len(steps)} steps, {len(values)} values")
    before, after = values[0], values[-1]
    span = after - before or 1e-12
    progress = [(v - before) / span for v in values]
    first_high = next(i for i, p in enumerate(progress) if p >= high)
    last_low = max([i for i, p in enumerate(progress[: first_high + 1]) if p <= low] or [0])
    i0, i1 = last_low, max(first_high, last_low + 1)
    slopes = [abs(values[k + 1] - values[k]) / max(1, steps[k + 1] - steps[k]) for k in range(i0, i1)]
    k = i0 + max(range(len(slopes)), key=slopes.__getitem__)
    return PhaseChange(steps[i0], steps[i1], (steps[k], steps[k + 1]), before, after)

"""In-context-learning score, per-position loss, the bag-of-context baseline and the phase-change locator.

Sign convention (Olsson et al. 2022, arXiv 2209.11895): ICL score = loss(late position) − loss(early position);
negative ⇒ the model uses its context. Olsson use token indices 500 and 50 of 512-token contexts; our contexts are
short, so the positions are scaled to the probe sequence: early = 10%, late = 90% of its length (configurable). Yin &
Steinhardt's token-loss difference is the same quantity with the opposite sign.

Deviation, stated: Olsson's −0.4-nat reference value is for 512-token natural text. On our repeated-token text a
model that only counts its earlier tokens (no order, no induction) already scores −0.6 to −2 nats, so context use is
compared with the best such bag-of-context predictor on the same batch (`bag_of_context_losses`), and noise floors
come from a bootstrap over the probe sequences (`bootstrap_se`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from jaxtyping import Float, Int
from torch import Tensor

from circuits.model.transformer import token_losses
from probes.claims.claim import Check
from probes.claims.thresholds import (
    PHASE_BOOTSTRAP_RESAMPLES,
    PHASE_MAX_LOG_WINDOW_FRACTION,
    PHASE_MAX_WINDOW_FRACTION,
    PHASE_MIN_LOSS_SHARE,
    PHASE_NOISE_MULTIPLE,
    PHASE_PLATEAU_CHECKPOINTS,
    PHASE_PLATEAU_NOISE,
    PHASE_PLATEAU_TOLERANCE,
)
from probes.engine.interventions import Engine
from probes.table import Row, model_row

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


def _window_mean(losses: Float[Tensor, "*batch pos"], k: int) -> Float[Tensor, "*batch"]:
    return losses[..., max(0, k - 2) : k + 3].mean(-1)


def late_loss(losses: Float[Tensor, "*batch pos"], late: float = LATE_FRACTION) -> Float[Tensor, "*batch"]:
    """The loss at the ICL score's late position (±2-token window): what the context has bought by then."""
    return _window_mean(losses, icl_positions(losses.shape[-1] + 1, EARLY_FRACTION, late)[1])


def bootstrap_se(values: Float[Tensor, " n"], resamples: int = PHASE_BOOTSTRAP_RESAMPLES, seed: int = 0) -> float:
    """Standard error of the mean of per-sequence values: the std of the mean over `resamples` seeded bootstrap
    resamples of the sequences (Efron & Tibshirani 1993). The noise floor of a probe metric at one checkpoint."""
    values = values.detach().double().flatten().cpu()
    if values.numel() < 2:
        return 0.0
    gen = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, values.numel(), (resamples, values.numel()), generator=gen)
    return float(values[picks].mean(-1).std())


BAG_BETAS = torch.cat([-torch.logspace(-1.5, 1.5, 13), torch.zeros(1), torch.logspace(-1.5, 1.5, 13)])  # per count
BAG_GAMMAS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # bonus of a token for occurring at all
_BAG_CACHE: dict[tuple, Tensor] = {}


def bag_of_context_losses(tokens: Int[Tensor, "batch pos"], d_vocab: int) -> Float[Tensor, " pos_minus_1"]:
    """Per-position loss of the best *bag-of-context* predictor: p(u) ∝ exp(β · c_u + γ · [c_u > 0]), c_u the count
    of token u among tokens 1 … i (the first token, BOS, excluded from the counts and the vocabulary); (β, γ) are
    chosen per position on a grid (BAG_BETAS × BAG_GAMMAS) to minimise the batch's mean loss — a lower envelope over
    the family, fitted on the batch it is scored on (so it flatters the baseline, never the model).

    It sees which tokens occurred and how often, never their order: the ceiling of an order-free copier (a head
    attending uniformly to earlier tokens and copying them, which gives β · c_u / i) or a 1-layer model's counting,
    against which induction — which needs order — must do better. Olsson et al. 2022 (arXiv 2209.11895) compare with
    1-layer models instead; this baseline needs no second run. Model-free, so computed once per token batch."""
    tokens = tokens.cpu()
    key = (tuple(tokens.shape), d_vocab, hash(tokens.numpy().tobytes()))
    if key not in _BAG_CACHE:
        _BAG_CACHE[key] = _bag_envelope(tokens, d_vocab)
    return _BAG_CACHE[key]


@torch.no_grad()
def _bag_envelope(tokens: Int[Tensor, "batch pos"], d_vocab: int) -> Float[Tensor, " pos_minus_1"]:
    body, nxt = tokens[:, :-1], tokens[:, 1:]  # position i predicts token i + 1 from tokens 0 … i
    n = body.shape[1]
    counted = body != tokens[:, :1]  # BOS never counts
    valid = torch.ones(n, n, dtype=torch.bool).tril() & counted[:, None, :]  # [b, i, j]: token j counts at i
    same = (body[:, :, None] == body[:, None, :]) & counted[:, None, :]  # [b, j, k]
    counts = same.float().cumsum(-1).transpose(1, 2) * valid  # [b, i, j]: count of token j among tokens ≤ i
    c_next = ((body[:, None, :] == nxt[:, :, None]) & valid).sum(-1).float()  # [b, i]
    distinct = torch.where(valid, 1.0 / counts.clamp(min=1), 0.0).sum(-1)
    absent = torch.log((d_vocab - 1 - distinct).clamp(min=1e-9))
    per_token = torch.where(valid, -counts.clamp(min=1).log(), float("-inf"))  # each distinct token once in the sum
    best = torch.full((n,), float("inf"), dtype=torch.float64)
    for beta in BAG_BETAS.tolist():
        present = torch.logsumexp(per_token + beta * counts, dim=-1)  # [b, i]
        for gamma in BAG_GAMMAS:
            loss = torch.logaddexp(absent, present + gamma) - beta * c_next - gamma * (c_next > 0).float()
            best = torch.minimum(best, loss.double().mean(0))
    return best.float()


@torch.no_grad()
def icl_rows(engine: Engine, text: Int[Tensor, "batch pos"], repeats: Int[Tensor, "batch rpos"], repeat_length: int,
             d_vocab: int) -> list[Row]:
    """The `icl` probe's rows: loss, ICL score, repeat loss, their bootstrap standard errors over the probe
    sequences, the late-position loss beside the bag-of-context baseline's, ln(d_vocab) and the per-position loss."""
    per_seq = token_losses(engine.logits(text), text)
    losses = per_seq.mean(0)
    reps = token_losses(engine.logits(repeats), repeats)[:, repeat_length + 1 : 2 * repeat_length].mean(-1)
    bag = bag_of_context_losses(text, d_vocab)
    rows = [model_row("icl", "loss", losses.mean()), model_row("icl", "icl_score", icl_score(losses)),
            model_row("icl", "repeat_loss", reps.mean()), model_row("icl", "icl_score/se", bootstrap_se(icl_score(per_seq))),
            model_row("icl", "repeat_loss/se", bootstrap_se(reps)), model_row("icl", "late_loss", late_loss(losses)),
            model_row("icl", "bag/late_loss", late_loss(bag)), model_row("icl", "bag/icl_score", icl_score(bag)),
            model_row("icl", "chance_loss", math.log(d_vocab))]
    return rows + [model_row("icl", f"loss_at/{i:03d}", v) for i, v in enumerate(losses.tolist())]


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

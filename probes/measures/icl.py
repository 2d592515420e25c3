"""In-context-learning score, per-position loss and the bag-of-context baseline (the phase-change locator that reads
these curves is `probes.claims.phase_change`).

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

import torch
from jaxtyping import Float, Int
from torch import Tensor

from circuits.model.transformer import token_losses
from probes.claims.thresholds import (
    PHASE_BOOTSTRAP_RESAMPLES,
)
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.engine.interventions import Engine
from probes.measures.applies import induction_applies
from probes.registry import ProbeSpec, register_probe
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


def icl_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Loss, ICL score (Olsson sign: late − early) and per-position loss on the text batch; repeat-copy loss; their
    bootstrap standard errors and the bag-of-context baseline (`icl_rows`)."""
    return icl_rows(ckpt.engine, inputs.text, inputs.ablation.repeats, inputs.ablation.repeat_length, ckpt.facts.d_vocab)


register_probe(ProbeSpec("icl", 2, icl_probe, {
    "{loss|icl_score|repeat_loss}": "loss, Olsson ICL score (late − early), loss on the second copy of [BOS, r, r]",
    "loss_at/{position}": "mean loss at one position",
    "{icl_score|repeat_loss}/se": "bootstrap standard error over the probe sequences (probes.measures.icl.bootstrap_se)",
    "late_loss": "loss at 90% of the context (the ICL score's late ±2-token window)",
    "bag/{late_loss|icl_score}": "the same for the best bag-of-context predictor (probes.measures.icl.bag_of_context_losses)",
    "chance_loss": "ln(d_vocab): the loss scale of the phase-change locator",
}, applies=induction_applies, default="always"))

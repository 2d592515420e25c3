"""Seeded probe inputs, fixed across checkpoints so score trajectories are comparable.

All inputs are token tensors (no tokenizer). Lengths are chosen from the run config so the probes never exceed the
model's context and the induction probe uses repeat lengths the model never trained on.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from circuits.config import RunConfig
from circuits.data import make_sampler, repeated_sequences, with_bos
from circuits.errors import WorkbenchError

PROBE_SEED = 20220908  # Olsson et al.'s arXiv date: one fixed seed for every probe input
OLSSON_SEGMENT = 25
OLSSON_REPEATS = 4


def check_fits(tokens: Tensor, n_ctx: int) -> None:
    if tokens.shape[-1] > n_ctx:
        raise WorkbenchError(f"probe sequence length {tokens.shape[-1]} exceeds the model's context n_ctx={n_ctx}; use shorter sequences.")


def induction_lengths(config: RunConfig) -> tuple[int, ...]:
    """Repeat periods for the induction probe: the data's held-out periods (never trained on, and sharing no multiple
    with a trained period inside the context; see `circuits.data.training_lengths`) that fit twice."""
    limit = (config.model.n_ctx - 1) // 2
    return tuple(sorted(n for n in set(config.data.heldout_lengths) if n <= limit)) or (limit,)


def prefix_period(config: RunConfig) -> int:
    """Olsson's 25-token segment, cut to what fits twice in the context (11 at n_ctx 24)."""
    return min(OLSSON_SEGMENT, (config.model.n_ctx - 1) // 2)


@dataclass(frozen=True)
class RepeatProbe:
    """Repeated-token probe sequences, the period of each row, and content controls of the same shape.

    `control` rows have the same length but no token occurs twice: a head's attention there, on the query→key
    position pairs that are targets in `tokens`, is what it would give those pairs without any content match (the
    content control of `probes.detectors.controlled_score`).
    """

    tokens: Int[Tensor, "batch pos"]
    control: Int[Tensor, "batch pos"]
    period: Int[Tensor, "batch"]


def non_repeating_sequences(n: int, length: int, d_vocab: int, gen: torch.Generator) -> Int[Tensor, "n length"]:
    """BOS + length − 1 distinct content tokens per row (a random draw without replacement)."""
    if d_vocab - 1 < length - 1:
        raise WorkbenchError(f"a {length}-token control sequence without repeats needs d_vocab ≥ {length}, got {d_vocab}; probe shorter sequences.")
    rows = [torch.randperm(d_vocab - 1, generator=gen)[: length - 1] + 1 for _ in range(n)]
    return with_bos(torch.stack(rows))


def repeat_probe(periods: tuple[int, ...], n: int, width: int, d_vocab: int, seed: int) -> RepeatProbe:
    """[BOS, r, r, …] cut to `width`, r uniform random, the same number of rows for every period, plus controls."""
    gen = torch.Generator().manual_seed(seed)
    count = -(-n // len(periods))  # rows per period, so that periods weigh equally
    rows = [repeated_sequences(count, p, -(-(width - 1) // p), d_vocab, gen)[:, :width] for p in periods]
    period = torch.tensor(periods).repeat_interleave(count)
    return RepeatProbe(torch.cat(rows), non_repeating_sequences(len(period), width, d_vocab, gen), period)


def induction_probe(config: RunConfig, n: int = 64) -> RepeatProbe:
    """The induction probe: every held-out period (`induction_lengths`), repeated to the full context.

    Yin & Steinhardt's input is [BOS, r, r] with |r| = 50; we repeat shorter held-out periods until the context is
    full, so every row has the same width and every query after the first period is scored.
    """
    return repeat_probe(induction_lengths(config), n, config.model.n_ctx, config.model.d_vocab, PROBE_SEED)


def prefix_matching_probe(config: RunConfig, n: int = 32) -> RepeatProbe:
    """Olsson's prefix-matching input: 25 random tokens repeated 4 times, BOS first.

    Deviations for toy models, stated: our synthetic vocabulary is uniform, so there are no "most/least common"
    tokens to exclude; the segment and the repeat count are cut to what fits n_ctx (25 × 2 at n_ctx 64, 11 × 2 at
    n_ctx 24). The segment length may be a trained period: the content control removes what a positional head
    tuned to it would score.
    """
    period = prefix_period(config)
    repeats = max(2, min(OLSSON_REPEATS, (config.model.n_ctx - 1) // period))
    return repeat_probe((period,), n, 1 + period * repeats, config.model.d_vocab, PROBE_SEED + 1)


def training_tokens(config: RunConfig, n: int = 64) -> Int[Tensor, "batch pos"]:
    """A fixed batch of the training distribution (previous-token score, ICL score, ablation loss)."""
    return make_sampler(config.data, config.model)(n, torch.Generator().manual_seed(PROBE_SEED + 2))

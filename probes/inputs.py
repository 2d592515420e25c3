"""Seeded probe inputs, fixed across checkpoints so score trajectories are comparable.

All inputs are token tensors (no tokenizer). Lengths are chosen from the run config so the probes never exceed the
model's context and the induction probe uses repeat lengths the model never trained on.
"""
from __future__ import annotations

import torch
from jaxtyping import Int
from torch import Tensor

from circuits.config import RunConfig
from circuits.data import make_sampler, random_tokens, repeated_sequences, with_bos
from circuits.errors import WorkbenchError

PROBE_SEED = 20220908  # Olsson et al.'s arXiv date: one fixed seed for every probe input
OLSSON_SEGMENT = 25
OLSSON_REPEATS = 4


def check_fits(tokens: Tensor, n_ctx: int) -> None:
    if tokens.shape[-1] > n_ctx:
        raise WorkbenchError(f"probe sequence length {tokens.shape[-1]} exceeds the model's context n_ctx={n_ctx}; use shorter sequences.")


def induction_lengths(config: RunConfig) -> tuple[int, ...]:
    """Repeat periods for the induction probe: the data's held-out periods (never trained on) that fit twice.

    A head that attends to a fixed offset (the positional shortcut of shared/reference/recipes.md) matches at most
    one period, so it scores ≤ 1/len(periods) here.
    """
    limit = (config.model.n_ctx - 1) // 2
    return tuple(sorted(n for n in set(config.data.heldout_lengths) if n <= limit)) or (limit,)


def induction_tokens(config: RunConfig, n: int = 64) -> Int[Tensor, "batch pos"]:
    """[BOS, r, r, r, …] to the full context, r uniform random, periods from `induction_lengths` (n/len each).

    Yin & Steinhardt's induction input is [BOS, r, r] with |r| = 50; we repeat shorter held-out periods until the
    context is full, so every row has the same width and all queries after the first period are scored.
    """
    gen = torch.Generator().manual_seed(PROBE_SEED)
    lengths = induction_lengths(config)
    width = config.model.n_ctx
    rows = []
    for i, seg in enumerate(lengths):
        count = n // len(lengths) + (i < n % len(lengths))
        rows.append(repeated_sequences(count, seg, -(-(width - 1) // seg), config.model.d_vocab, gen)[:, :width])
    return torch.cat(rows)


def prefix_matching_tokens(config: RunConfig, n: int = 32) -> Int[Tensor, "batch pos"]:
    """Olsson's prefix-matching input: 25 random tokens repeated 4 times, BOS first.

    Deviations for toy models, stated: our synthetic vocabulary is uniform, so there are no "most/least common"
    tokens to exclude; the repeat count is cut to what fits n_ctx (2 repeats at n_ctx 64).
    """
    repeats = max(2, min(OLSSON_REPEATS, (config.model.n_ctx - 1) // OLSSON_SEGMENT))
    seg = min(OLSSON_SEGMENT, (config.model.n_ctx - 1) // repeats)
    return repeated_sequences(n, seg, repeats, config.model.d_vocab, torch.Generator().manual_seed(PROBE_SEED + 1))


def training_tokens(config: RunConfig, n: int = 64) -> Int[Tensor, "batch pos"]:
    """A fixed batch of the training distribution (previous-token score, ICL score, ablation loss)."""
    return make_sampler(config.data, config.model)(n, torch.Generator().manual_seed(PROBE_SEED + 2))


def random_sequences(config: RunConfig, n: int = 32, length: int = OLSSON_SEGMENT) -> Int[Tensor, "batch pos"]:
    """BOS + random tokens without planned repeats (duplicate-token and copying baselines)."""
    gen = torch.Generator().manual_seed(PROBE_SEED + 3)
    return with_bos(random_tokens(n, min(length, config.model.n_ctx - 1), config.model.d_vocab, gen))

"""Token conventions shared by every data source: token 0 is BOS and starts every sequence; content tokens are
1 … d_vocab-1.

This module sits below `circuits.data.generators` and `circuits.data.tasks` (both use it), so neither needs to import the other
for these helpers.
"""
from __future__ import annotations

import torch
from jaxtyping import Int
from torch import Tensor

BOS = 0


def random_tokens(n: int, length: int, d_vocab: int, gen: torch.Generator) -> Int[Tensor, "n length"]:
    """Uniform content tokens (never BOS)."""
    return torch.randint(1, d_vocab, (n, length), generator=gen)


def with_bos(tokens: Int[Tensor, "batch pos"]) -> Int[Tensor, "batch pos_plus_1"]:
    """`tokens` with a BOS column in front."""
    bos = torch.full((tokens.shape[0], 1), BOS, dtype=tokens.dtype)
    return torch.cat([bos, tokens], dim=1)

"""Attention-pattern head detectors: pure functions of attention patterns and token tensors.

Each score is Σ_{i,j} A[i,j]·P[i,j] averaged over the query positions i that have at least one target (P[i,·] ≠ 0),
where P is the detector's target pattern (TransformerLens `detect_head` patterns; Olsson et al. 2022):
  previous-token  P[i,j] = 1 if j = i−1                                         (Olsson's previous-token score)
  duplicate-token P[i,j] = 1 if tok_j = tok_i and j < i
  induction       P[i,j] = 1 if tok_{j−1} = tok_i and j ≤ i  (the token *after* an earlier occurrence)
Averaging over rows that have a target — instead of TransformerLens's Σ(A⊙P)/ΣA over all rows — restricts the
induction and duplicate scores to the repeated part of [BOS, r, r], so a perfect head scores 1.0 (see
shared/reference/papers.md). Olsson's prefix-matching score is the induction pattern on Olsson's input (25 random
tokens repeated, BOS first; `probes.inputs.prefix_matching_tokens`).
"""
from __future__ import annotations

import torch
from einops import einsum
from jaxtyping import Bool, Float, Int
from torch import Tensor

from probes.inputs import check_fits

Patterns = Float[Tensor, "n_layers batch n_heads q k"]
Target = Bool[Tensor, "batch q k"]


@torch.no_grad()
def attention_patterns(model, tokens: Int[Tensor, "batch pos"]) -> Patterns:
    """Every layer's attention pattern from one cached forward pass (only hook_pattern is cached)."""
    check_fits(tokens, model.cfg.n_ctx)
    _, cache = model.run_with_cache(tokens, names_filter=lambda name: name.endswith("attn.hook_pattern"))
    return torch.stack([cache[f"blocks.{layer}.attn.hook_pattern"] for layer in range(model.cfg.n_layers)])


def pattern_score(patterns: Patterns, target: Target) -> Float[Tensor, "n_layers n_heads"]:
    """Mean over batch and target-bearing query rows of the attention mass on the target positions."""
    mass = einsum(patterns, target.to(patterns.dtype), "l b h q k, b q k -> l b h q")
    rows = target.any(-1).to(patterns.dtype)  # [batch, q]
    if rows.sum() == 0:
        raise ValueError("no query position has a target for this detector; use sequences with repeats")
    return einsum(mass, rows, "l b h q, b q -> l h") / rows.sum()


def previous_token_target(tokens: Int[Tensor, "batch pos"]) -> Target:
    batch, pos = tokens.shape
    return torch.eye(pos, dtype=torch.bool).roll(-1, dims=1).tril(-1).expand(batch, pos, pos)


def duplicate_token_target(tokens: Int[Tensor, "batch pos"]) -> Target:
    same = tokens[:, :, None] == tokens[:, None, :]  # [batch, q, k]: tok_q == tok_k
    return same & torch.ones_like(same[0]).tril(-1)


def induction_target(tokens: Int[Tensor, "batch pos"]) -> Target:
    """P[i, j] = 1 if tok_{j−1} = tok_i (j ≤ i): the duplicate pattern shifted one key to the right."""
    shifted = torch.zeros_like(tokens[:, :, None] == tokens[:, None, :])
    shifted[:, :, 1:] = duplicate_token_target(tokens)[:, :, :-1]
    return shifted


def previous_token_score(patterns: Patterns, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "n_layers n_heads"]:
    """Olsson: mean attention from position i to i−1 (use training-distribution tokens)."""
    return pattern_score(patterns, previous_token_target(tokens))


def duplicate_token_score(patterns: Patterns, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "n_layers n_heads"]:
    """Mean attention from a token to its earlier occurrences."""
    return pattern_score(patterns, duplicate_token_target(tokens))


def induction_score(patterns: Patterns, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "n_layers n_heads"]:
    """Olsson / Yin & Steinhardt: mean attention to the token after an earlier occurrence of the current token."""
    return pattern_score(patterns, induction_target(tokens))

"""Attention-pattern head detectors: pure functions of attention patterns and token tensors.

Each score is Σ_{i,j} A[i,j]·P[i,j] averaged over the query positions i that have at least one target (P[i,·] ≠ 0),
where P is the detector's target pattern (TransformerLens `detect_head` patterns; Olsson et al. 2022):
  previous-token  P[i,j] = 1 if j = i−1                                         (Olsson's previous-token score)
  duplicate-token P[i,j] = 1 if tok_j = tok_i and j < i
  induction       P[i,j] = 1 if tok_{j−1} = tok_i and j ≤ i  (the token *after* an earlier occurrence)
Averaging over rows that have a target — instead of TransformerLens's Σ(A⊙P)/ΣA over all rows — restricts the
induction and duplicate scores to the repeated part of [BOS, r, r], so a perfect head scores 1.0 (the first
half of [BOS, r, r] has no target). Olsson's prefix-matching score is the induction pattern on Olsson's input (25 random
tokens repeated, BOS first; `probes.engine.inputs.prefix_matching_probe`).

Content control (required for induction, prefix-matching and duplicate-token scores). A head that attends to a fixed
offset, ignoring content, puts mass on the induction targets of any period whose stripe it happens to hit (the
positional shortcut of a trained period, or a BOS-relative habit). So each content score is reported three ways:
  raw      the score above, per period, periods weighted equally
  control  the same head's attention mass on the same query→key position pairs, measured on sequences of the same
           length in which no token repeats (`probes.engine.inputs.RepeatProbe.control`)
  score    raw − control: the attention that *content* buys; the findings and flags use this one.
Departure from Olsson et al. 2022 (arXiv 2209.11895), stated: Olsson report the raw prefix-matching score on
natural text, where positional heads are rare evidence; on synthetic repeats a positional head tuned to the probe
period scores ≈ 1 raw, so we subtract the control. A perfect induction head keeps ≈ 1 (its control is ≈ 1/position),
a content-blind head scores ≈ 0 whatever its offsets.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import einsum
from jaxtyping import Bool, Float, Int
from torch import Tensor

from probes.engine.inputs import RepeatProbe
from probes.engine.interventions import check_fits

Patterns = Float[Tensor, "n_layers batch n_heads q k"]
Target = Bool[Tensor, "batch q k"]


@torch.no_grad()
def attention_patterns(model, tokens: Int[Tensor, "batch pos"]) -> Patterns:
    """Every layer's attention pattern from one cached forward pass (only hook_pattern is cached)."""
    check_fits(tokens, model.cfg.n_ctx)
    device = next(model.parameters()).device
    _, cache = model.run_with_cache(tokens.to(device), names_filter=lambda name: name.endswith("attn.hook_pattern"))
    return torch.stack([cache[f"blocks.{layer}.attn.hook_pattern"] for layer in range(model.cfg.n_layers)]).cpu()


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


@dataclass(frozen=True)
class ControlledScore:
    """A content score with its control (see the module docstring); `score` = raw − control."""

    raw: Float[Tensor, "n_layers n_heads"]
    control: Float[Tensor, "n_layers n_heads"]

    @property
    def score(self) -> Float[Tensor, "n_layers n_heads"]:
        return self.raw - self.control


def controlled_score(patterns: Patterns, control_patterns: Patterns, probe: RepeatProbe, target_fn) -> ControlledScore:
    """Per period: mass on `target_fn(probe.tokens)` in `patterns` (raw) and on the same pairs in `control_patterns`
    (control); then the mean over periods, each weighing the same."""
    target = target_fn(probe.tokens)
    raw, control = [], []
    for period in probe.period.unique():
        rows = probe.period == period
        raw.append(pattern_score(patterns[:, rows], target[rows]))
        control.append(pattern_score(control_patterns[:, rows], target[rows]))
    return ControlledScore(torch.stack(raw).mean(0), torch.stack(control).mean(0))


def content_scores(model, probe: RepeatProbe, targets: dict) -> dict[str, ControlledScore]:
    """`controlled_score` for each named target rule, from one forward pass on the probe and one on its control."""
    patterns, control = attention_patterns(model, probe.tokens), attention_patterns(model, probe.control)
    return {name: controlled_score(patterns, control, probe, fn) for name, fn in targets.items()}


def controlled_induction_score(model, probe: RepeatProbe) -> Float[Tensor, "n_layers n_heads"]:
    """Induction score minus its content control (what the findings call the induction score)."""
    return content_scores(model, probe, {"induction": induction_target})["induction"].score

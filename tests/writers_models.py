"""Hand-built writer and canceller heads (the control the writer/canceller classifier must get right).

Built on `handbuilt.induction_model` (a previous-token head 0.0 feeding induction head 1.0, whose OV copies the
attended token into the block the unembedding reads): head 1.0 is a *writer* — on [BOS, r, r[:m]] it raises the
logit of the token that followed r[m−1] in the first copy. Optional extra layer-1 heads:
  canceller   1.1: head 1.0's QK and V with its OV output negated and scaled by `canceller_scale` (< 1, so the model
              still prefers y+): it lowers the very logit 1.0 raises
  distractor  1.2: attends to the previous position and copies that token into the unembedding's block — a head with
              a large, answer-unrelated direct effect (a "none" the classifier must not call a writer or a canceller)
Rule-flipped pairs for these models: the flipped prompt replaces r[m] in the first copy by a token y− absent from r,
so the induction rule answers y− there (y+ = r[m] on the clean prompt).
"""
from __future__ import annotations

import torch
from handbuilt import COPY, TOKEN, _rows, induction_model, set_positional_head

from circuits.config import ModelConfig
from probes.measures.writers import PromptPairs

WRITER_GAIN = 4.0  # the writer's OV gain: LD_clean ≈ gain·(1 − canceller_scale)·|u|² / 2, well above WRITER_MIN_GAP


def writers_config() -> ModelConfig:
    return ModelConfig(n_layers=2, d_model=64, n_heads=4, n_ctx=32, d_vocab=64, attn_only=True, normalization=None,
                       positional="standard")


def writers_model(cfg: ModelConfig, canceller_scale: float | None = None, distractor: bool = True) -> dict[str, torch.Tensor]:
    """Writer 1.0 (always), canceller 1.1 (when `canceller_scale` is given), distractor 1.2 (when asked)."""
    state = induction_model(cfg)
    attn = "blocks.1.attn"
    state[f"{attn}.o.weight"][:, _rows(0)] *= WRITER_GAIN
    if canceller_scale is not None:
        for name in ("q", "k", "v"):
            state[f"{attn}.{name}.weight"][_rows(1)] = state[f"{attn}.{name}.weight"][_rows(0)]
        state[f"{attn}.o.weight"][:, _rows(1)] = -canceller_scale * state[f"{attn}.o.weight"][:, _rows(0)]
    if distractor:
        set_positional_head(state, 1, 2, [1])
        state[f"{attn}.v.weight"][_rows(2), TOKEN] = torch.eye(16)
        state[f"{attn}.o.weight"][COPY, _rows(2)] = WRITER_GAIN * torch.eye(16)
    return state


def induction_pairs(n: int, d_vocab: int, seed: int, period: int = 12, query: int = 8) -> PromptPairs:
    """[BOS, r, r[:query]] (distinct tokens; y+ = r[query]) and the twin with r[query] replaced by y− ∉ r."""
    gen = torch.Generator().manual_seed(seed)
    draws = torch.stack([torch.randperm(d_vocab - 1, generator=gen)[: period + 1] + 1 for _ in range(n)])
    r, negative = draws[:, :period], draws[:, period]
    clean = torch.cat([torch.zeros(n, 1, dtype=torch.long), r, r[:, :query]], dim=1)
    flipped = clean.clone()
    flipped[:, 1 + query] = negative
    return PromptPairs(clean, flipped, r[:, query], negative)


def with_negated_copy(state: dict, source: tuple[int, int], target: tuple[int, int], d_head: int) -> dict:
    """Head `target` gets head `source`'s query, key and value weights and biases (same layer) and its output weights
    negated: a canceller built into a trained model (the two heads' outputs cancel exactly)."""
    (layer, sh), (_, th) = source, target
    state, rows = {k: v.clone() for k, v in state.items()}, lambda head: slice(head * d_head, (head + 1) * d_head)
    for name in ("q", "k", "v"):
        for part in ("weight", "bias"):
            state[f"blocks.{layer}.attn.{name}.{part}"][rows(th)] = state[f"blocks.{layer}.attn.{name}.{part}"][rows(sh)]
    state[f"blocks.{layer}.attn.o.weight"][:, rows(th)] = -state[f"blocks.{layer}.attn.o.weight"][:, rows(sh)]
    return state


def planted_heads(table: list[dict], step: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(writer, target) for `with_negated_copy` from a writers table at `step`: the head that is a writer on the most
    selection tasks, and the other head of its layer, never a writer there, with the least validation effect."""
    from probes.table import select

    at = lambda metric: {h: dict(p)[step] for h, p in select(table, "writers", metric).items()}  # noqa: E731
    writer_tasks, score = at("writer_tasks"), at("validation_score")
    writer = max(writer_tasks, key=writer_tasks.get)
    target = min((h for h in score if h[0] == writer[0] and h != writer and writer_tasks[h] == 0), key=lambda h: abs(score[h]))
    return writer, target

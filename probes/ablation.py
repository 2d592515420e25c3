"""Head ablations — zero, mean and resample — batched: many ablation conditions share one forward pass.

The input batch is tiled once per condition and one `hook_z` hook per layer swaps in the replacement for the heads
each condition ablates (hook_z is the head's input to W_O, so this replaces the head's output; W_O's bias is shared
and untouched). Replacements come from a reference batch of the same shape and distribution:
  zero      z := 0
  mean      z := mean of z over the reference batch, per position (Yin & Steinhardt's mean ablation)
  resample  z := z of a random reference sequence at the same position (one seeded draw shared by all conditions)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import repeat
from jaxtyping import Bool, Float, Int
from torch import Tensor

from circuits.errors import WorkbenchError
from circuits.model import token_losses
from probes.icl import icl_score
from probes.inputs import check_fits

ABLATIONS = ("zero", "mean", "resample")
MAX_ROWS = 4096  # sequences per forward pass
Head = tuple[int, int]


def _z_hook_name(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_z"


@torch.no_grad()
def replacements(model, reference: Int[Tensor, "batch pos"], kind: str, seed: int = 0) -> list[Float[Tensor, "batch pos n_heads d_head"]]:
    """Per layer, the z that replaces an ablated head's, for a batch shaped like `reference`."""
    if kind not in ABLATIONS:
        raise WorkbenchError(f"unknown ablation {kind!r}; use one of {list(ABLATIONS)}.")
    n_layers = model.cfg.n_layers
    _, cache = model.run_with_cache(reference, names_filter=lambda n: n.endswith("attn.hook_z"))
    zs = [cache[_z_hook_name(layer)] for layer in range(n_layers)]
    if kind == "zero":
        return [torch.zeros_like(z) for z in zs]
    if kind == "mean":
        return [z.mean(0, keepdim=True).expand_as(z) for z in zs]
    perm = torch.randperm(reference.shape[0], generator=torch.Generator().manual_seed(seed))
    return [z[perm] for z in zs]


@torch.no_grad()
def ablated_losses(
    model, tokens: Int[Tensor, "batch pos"], reference: Int[Tensor, "batch pos"],
    conditions: Bool[Tensor, "cond n_layers n_heads"], kind: str, seed: int = 0,
) -> Float[Tensor, "cond batch pos_minus_1"]:
    """Next-token losses under each ablation condition (True = head ablated), batched across conditions."""
    check_fits(tokens, model.cfg.n_ctx)
    if reference.shape != tokens.shape:
        raise WorkbenchError(f"reference batch shape {tuple(reference.shape)} must equal the token batch shape {tuple(tokens.shape)}.")
    repl = replacements(model, reference, kind, seed)
    per_pass = max(1, MAX_ROWS // tokens.shape[0])
    chunks = [_run_conditions(model, tokens, repl, conditions[i : i + per_pass]) for i in range(0, len(conditions), per_pass)]
    return torch.cat(chunks)


def _run_conditions(model, tokens, repl, conditions: Bool[Tensor, "cond n_layers n_heads"]) -> Tensor:
    n_cond, batch = conditions.shape[0], tokens.shape[0]
    tiled = repeat(tokens, "b p -> (c b) p", c=n_cond)

    def hook_for(layer: int):
        mask = repeat(conditions[:, layer], "c h -> (c b) 1 h 1", b=batch)  # broadcast over pos, d_head
        fill = repeat(repl[layer], "b p h d -> (c b) p h d", c=n_cond)
        return lambda z, hook: torch.where(mask, fill, z)

    hooks = [(_z_hook_name(layer), hook_for(layer)) for layer in range(model.cfg.n_layers) if conditions[:, layer].any()]
    logits = model.run_with_hooks(tiled, fwd_hooks=hooks)
    return token_losses(logits, tiled).view(n_cond, batch, -1)


def head_set_mask(heads: list[Head] | set[Head], n_layers: int, n_heads: int) -> Bool[Tensor, "n_layers n_heads"]:
    mask = torch.zeros(n_layers, n_heads, dtype=torch.bool)
    for layer, head in heads:
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise WorkbenchError(f"head {layer}.{head} does not exist; layers 0–{n_layers - 1}, heads 0–{n_heads - 1}.")
        mask[layer, head] = True
    return mask


def single_head_conditions(n_layers: int, n_heads: int) -> Bool[Tensor, "cond n_layers n_heads"]:
    """Condition l·n_heads + h ablates head (l, h) alone."""
    return torch.eye(n_layers * n_heads, dtype=torch.bool).view(-1, n_layers, n_heads)


@dataclass(frozen=True)
class AblationInputs:
    """Token batches for the three effects: training-distribution text and [BOS, r, r] repeats of one length."""

    text: Int[Tensor, "batch pos"]
    text_reference: Int[Tensor, "batch pos"]
    repeats: Int[Tensor, "batch rpos"]
    repeats_reference: Int[Tensor, "batch rpos"]
    repeat_length: int


def ablation_effects(model, inputs: AblationInputs, kind: str, conditions: Bool[Tensor, "cond n_layers n_heads"] | None = None,
                     seed: int = 0) -> dict[str, Float[Tensor, "cond"]]:
    """Effect of each condition vs the clean run (condition rows; default: every head alone, row 0 clean).

    loss:        Δ mean next-token loss on training-distribution text (nats)
    icl_score:   Δ Olsson ICL score on the same text (positive ⇒ the ablation removed in-context learning)
    repeat_loss: Δ loss on the predictable part of the second copy of [BOS, r, r] (nats)
    Also returns the clean values under `clean/<name>`.
    """
    cfg = model.cfg
    conds = conditions if conditions is not None else single_head_conditions(cfg.n_layers, cfg.n_heads)
    conds = torch.cat([torch.zeros_like(conds[:1]), conds])  # prepend the clean run
    text = ablated_losses(model, inputs.text, inputs.text_reference, conds, kind, seed)
    rep = ablated_losses(model, inputs.repeats, inputs.repeats_reference, conds, kind, seed)
    n = inputs.repeat_length
    values = {"loss": text.mean((1, 2)), "icl_score": icl_score(text.mean(1)), "repeat_loss": rep[:, :, n + 1 : 2 * n].mean((1, 2))}
    out = {name: v[1:] - v[0] for name, v in values.items()}
    out.update({f"clean/{name}": v[0] for name, v in values.items()})
    return out

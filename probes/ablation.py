"""Head ablations — zero, mean and resample — for many heads at once, computed only where they can change anything.

An ablation replaces a head's z (its input to W_O, the bridge's `hook_z`; W_O's bias is shared and untouched) by:
  zero      z := 0
  mean      z := mean of z over a reference batch, per position (Yin & Steinhardt's mean ablation)
  resample  z := z of a random reference sequence at the same position (one seeded draw shared by all conditions)
Batching: one clean pass caches every layer's residual input and z. A condition whose first ablated head sits in
layer l starts from the cached residual at l and the cached z of layer l (nothing before layer l can change), and
only layers after l are recomputed; conditions sharing l run as one batch. Computed on `FastTransformer` built from
the checkpoint's native state dict; tests prove the effects equal a per-head `run_with_hooks` loop on the bridge.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from einops import repeat
from jaxtyping import Bool, Float, Int
from torch import Tensor

from circuits.errors import WorkbenchError
from circuits.model import FastTransformer, token_losses
from probes.icl import icl_score
from probes.inputs import check_fits

ABLATIONS = ("zero", "mean", "resample")
MAX_ROWS = 512  # sequences per forward pass: larger batches run slower per row on CPU (cache misses)
Head = tuple[int, int]


@dataclass(frozen=True)
class CleanPass:
    """Every layer's residual-stream input and z, plus the final residual, of one unablated forward pass."""

    resid: list[Float[Tensor, "batch pos d_model"]]
    z: list[Float[Tensor, "batch pos n_heads d_head"]]
    final: Float[Tensor, "batch pos d_model"]


@torch.no_grad()
def clean_pass(fast: FastTransformer, tokens: Int[Tensor, "batch pos"]) -> CleanPass:
    x, resid, zs = fast.embedding(tokens), [], []
    for block in fast.blocks:
        z = block.attn.head_z(block.ln1(x))
        resid.append(x)
        zs.append(z)
        x = block.finish(x, z)
    return CleanPass(resid, zs, x)


def replacements(reference: CleanPass, kind: str, seed: int = 0) -> list[Float[Tensor, "batch pos n_heads d_head"]]:
    """Per layer, the z that replaces an ablated head's, for a batch shaped like the reference batch."""
    if kind not in ABLATIONS:
        raise WorkbenchError(f"unknown ablation {kind!r}; use one of {list(ABLATIONS)}.")
    if kind == "zero":
        return [torch.zeros_like(z) for z in reference.z]
    if kind == "mean":
        return [z.mean(0, keepdim=True).expand_as(z) for z in reference.z]
    perm = torch.randperm(reference.z[0].shape[0], generator=torch.Generator().manual_seed(seed))
    return [z[perm] for z in reference.z]


def last_position_patch(clean: CleanPass, values: list[Tensor]) -> list[Tensor]:
    """Replacement z per layer that equals the clean z except at the last position, where it is `values[layer]`
    ([batch, n_heads, d_head], or [n_heads, d_head] broadcast over the batch) — Todd et al.'s patch, and Yin &
    Steinhardt's last-position mean ablation."""
    patched = []
    for z, value in zip(clean.z, values):
        z = z.clone()
        z[:, -1] = value
        patched.append(z)
    return patched


@torch.no_grad()
def _run_from(fast: FastTransformer, clean: CleanPass, start: int, conditions: Bool[Tensor, "cond n_layers n_heads"],
              repl: list[Tensor], last_only: bool = False) -> Float[Tensor, "rows out_pos d_vocab"]:
    """Logits of conditions whose first ablated layer is `start`, one row block per condition.

    `last_only`: only the last position's logits are needed (and only it is edited): the last block's position-wise
    part and the unembedding then run on that position alone.
    """
    n_cond, batch = conditions.shape[0], clean.final.shape[0]
    keep = slice(-1, None) if last_only else slice(None)
    if start == len(fast.blocks):  # nothing ablated: the clean run
        return fast.logits(repeat(clean.final[:, keep], "b p m -> (c b) p m", c=n_cond))
    x = repeat(clean.resid[start], "b p m -> (c b) p m", c=n_cond)
    for layer in range(start, len(fast.blocks)):
        block = fast.blocks[layer]
        z = repeat(clean.z[layer], "b p h d -> (c b) p h d", c=n_cond) if layer == start else block.attn.head_z(block.ln1(x))
        if conditions[:, layer].any():
            mask = repeat(conditions[:, layer], "c h -> (c b) 1 h 1", b=batch)
            z = torch.where(mask, repeat(repl[layer], "b p h d -> (c b) p h d", c=n_cond), z)
        if layer == len(fast.blocks) - 1:  # finish is position-wise: the last block may drop unneeded positions
            x, z = x[:, keep], z[:, keep]
        x = block.finish(x, z)
    return fast.logits(x)


@torch.no_grad()
def ablated_losses(
    fast: FastTransformer, tokens: Int[Tensor, "batch pos"], reference: Int[Tensor, "ref_batch ref_pos"],
    conditions: Bool[Tensor, "cond n_layers n_heads"], kinds: tuple[str, ...] = ABLATIONS, seed: int = 0,
) -> dict[str, Float[Tensor, "cond batch pos_minus_1"]]:
    """Per ablation kind, next-token losses under each condition (True = head ablated); clean passes shared."""
    check_fits(tokens, fast.cfg.n_ctx)
    if reference.shape != tokens.shape:
        raise WorkbenchError(f"reference batch shape {tuple(reference.shape)} must equal the token batch shape {tuple(tokens.shape)}.")
    clean, ref = clean_pass(fast, tokens), clean_pass(fast, reference)
    return {kind: _losses(fast, tokens, clean, replacements(ref, kind, seed), conditions) for kind in kinds}


def _losses(fast: FastTransformer, tokens: Tensor, clean: CleanPass, repl: list[Tensor], conditions: Tensor) -> Tensor:
    tiled = lambda n: repeat(tokens, "b p -> (c b) p", c=n)  # noqa: E731
    return run_conditions(fast, clean, conditions, repl, lambda logits, n: token_losses(logits, tiled(n)))


def run_conditions(fast: FastTransformer, clean: CleanPass, conditions: Bool[Tensor, "cond n_layers n_heads"],
                   repl: list[Tensor], readout, last_only: bool = False) -> Tensor:
    """`readout(logits [(c·batch), pos, vocab], c)` for every condition, stacked to [cond, batch, …]
    (with `last_only`, logits of the last position only: [(c·batch), 1, vocab]).

    Conditions are grouped by their first edited layer and run in chunks of at most MAX_ROWS sequences.
    """
    n_layers, batch = len(fast.blocks), clean.final.shape[0]
    first = torch.where(conditions.flatten(1).any(1), conditions.any(2).float().argmax(1), torch.tensor(n_layers))
    out: Tensor | None = None
    for start in first.unique().tolist():
        for chunk in (first == start).nonzero().squeeze(1).split(max(1, MAX_ROWS // batch)):
            result = readout(_run_from(fast, clean, start, conditions[chunk], repl, last_only), len(chunk))
            result = result.view(len(chunk), batch, *result.shape[1:])
            if out is None:
                out = result.new_empty(len(conditions), *result.shape[1:])
            out[chunk] = result
    return out


def head_set_mask(heads: Iterable[Head], n_layers: int, n_heads: int) -> Bool[Tensor, "n_layers n_heads"]:
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


def ablation_effects(fast: FastTransformer, inputs: AblationInputs, kinds: tuple[str, ...] = ABLATIONS,
                     conditions: Bool[Tensor, "cond n_layers n_heads"] | None = None, seed: int = 0) -> dict[str, dict[str, Tensor]]:
    """Per ablation kind, the effect of each condition vs the clean run (default conditions: every head alone).

    loss:        Δ mean next-token loss on training-distribution text (nats)
    icl_score:   Δ Olsson ICL score on the same text (positive ⇒ the ablation removed in-context learning)
    repeat_loss: Δ loss on the predictable part of the second copy of [BOS, r, r] (nats)
    Each kind's dict also holds the clean values under `clean/<name>`.
    """
    cfg = fast.cfg
    conds = conditions if conditions is not None else single_head_conditions(cfg.n_layers, cfg.n_heads)
    conds = torch.cat([torch.zeros_like(conds[:1]), conds])  # prepend the clean run
    text = ablated_losses(fast, inputs.text, inputs.text_reference, conds, kinds, seed)
    rep = ablated_losses(fast, inputs.repeats, inputs.repeats_reference, conds, kinds, seed)
    n, out = inputs.repeat_length, {}
    for kind in kinds:
        values = {"loss": text[kind].mean((1, 2)), "icl_score": icl_score(text[kind].mean(1)),
                  "repeat_loss": rep[kind][:, :, n + 1 : 2 * n].mean((1, 2))}
        out[kind] = {name: v[1:] - v[0] for name, v in values.items()} | {f"clean/{name}": v[0] for name, v in values.items()}
    return out

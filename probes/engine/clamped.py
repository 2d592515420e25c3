"""The probes of a clamped run apply the run's clamps: TransformerLens hooks that reproduce `circuits.model.clamp` on a bridge.

Singh et al. 2024 (arXiv 2404.07129) keep a clamp on in evaluation as in training; so every probe of a clamped run's
checkpoint (at a step ≥ a clamp's start_step) sees the clamped model. Each clamp becomes permanent hooks on the
checkpoint's `TransformerBridge` (TransformerLens 4.3 hook names):

  prev_token_pattern, reference_pattern   blocks.L.attn.hook_pattern (applied before the value matmul, so it
                                          re-weights the output)
  zero_head, mean_head                    blocks.L.attn.hook_z
  block_k_composition                     blocks.L.attn.hook_k (before rotary), recomputed from
                                          blocks.0.hook_resid_pre (the embeddings) through L's ln1 and W_K, b_K
  reference_output                        blocks.L.hook_attn_out
  (reference kinds)                       embed.hook_in reads the tokens; the reference run's final checkpoint is
                                          evaluated on them once per forward pass

The edits themselves are `circuits.model.clamp.layer_edits`, the same functions the training forward applies at its seams; tests/test_clamp.py proves
the clamped bridge's logits equal the clamped FastTransformer's for every kind. Permanent hooks survive
`run_with_hooks`/`run_with_cache` and fire before the hooks those add, so caches (attention probe) and patches
(ablation probe) see the clamped model. The fast engine of a clamped checkpoint applies the same edits through the
model's seams (`probes.engine.checkpoint.Checkpoint.engine`).

Stated limits: `mean_head`'s mean is over the batch of each forward pass, and the hook engine stacks conditions
along the batch (up to `HOOK_ROWS` rows), so under ablation there a mean-clamped head averages over the stacked
conditions (the probes of our runs use the fast engine, which averages each condition alone). The `weights`
probe reads weights only and cannot see clamps, so it is skipped on clamped runs with that reason.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from einops import rearrange
from torch import Tensor

from circuits.config import RunConfig
from circuits.model.clamp import ClampSet, layer_edits

Hook = Callable[[Tensor, Any], Tensor | None]


def is_clamped(config: RunConfig | None, step: int) -> bool:
    """True if a clamp of `config` is in force at checkpoint `step`."""
    return config is not None and any(c.start_step <= step for c in config.clamps)


def clamped_bridge(bridge: Any, config: RunConfig, step: int, device: str | torch.device = "cpu") -> Any:
    """`bridge` (a checkpoint of the run `config` at `step`) with the run's clamps in force at `step` added as
    permanent hooks; reference runs are loaded on `device`."""
    from circuits.training.trainer import clamp_set

    return clamp_bridge(bridge, clamp_set(config, device, step))


def clamp_bridge(bridge: Any, clamps: ClampSet) -> Any:
    """Add permanent hooks applying `clamps.active` to every forward pass of `bridge`; returns the bridge."""
    context: dict[str, Any] = {"refs": {}}
    active = clamps.active
    if any(c.reference is not None for c in active):
        bridge.add_perma_hook("embed.hook_in", _read_tokens(clamps, context))
    if any(c.kind == "block_k_composition" for c in active):
        bridge.add_perma_hook("blocks.0.hook_resid_pre", _keep("x0", context))
    for layer in sorted({c.layer for c in active}):
        for name, hook in layer_hooks(bridge, clamps, layer, context):
            bridge.add_perma_hook(name, hook)
    return bridge


def layer_hooks(bridge: Any, clamps: ClampSet, layer: int, context: dict[str, Any]) -> list[tuple[str, Hook]]:
    """(hook name, hook) pairs applying the clamps of `layer` — `circuits.model.clamp.layer_edits`, the edits the training
    forward applies at the same names; `context` holds this forward pass's reference values ("refs") and embeddings
    ("x0")."""
    edits = layer_edits(clamps.at_layer(layer), layer, embedding_keys(bridge, layer), context)
    return [(name, _as_hook(edit)) for name, edit in edits.items()]


def _as_hook(edit: Callable[[Tensor], Tensor]) -> Hook:
    return lambda value, hook: edit(value)


def embedding_keys(bridge: Any, layer: int) -> Callable[[Tensor], Tensor]:
    """x0 [batch pos d_model] → layer `layer`'s keys [batch pos n_heads d_head] computed from x0 through its ln1 and
    k projection (the underlying torch modules, so no hook fires twice)."""
    block = bridge.blocks[layer]
    norm, project, heads = block.ln1.original_component, block.attn.k.original_component, bridge.cfg.n_heads
    return lambda x0: rearrange(project(norm(x0)), "b p (h d) -> b p h d", h=heads)


def _read_tokens(clamps: ClampSet, context: dict[str, Any]) -> Hook:
    def hook(tokens: Tensor, hook: Any) -> None:
        context["refs"] = clamps.reference_values(tokens)

    return hook


def _keep(key: str, context: dict[str, Any]) -> Hook:
    def hook(value: Tensor, hook: Any) -> None:
        context[key] = value

    return hook

"""The seams of the one forward (`circuits.model.transformer.FastTransformer`): edits and captures at TransformerLens hook names.

Kept apart from the model so that the clamps (`circuits.model.clamp`), which the model applies, can run a reference
model's forward with captures without importing the model module.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from torch import Tensor


class Seams:
    """One forward pass's edits and captures at TransformerLens hook names — the model's only seam.

    `edits` maps a hook name to a function of the activation (in TransformerLens's layout: `hook_embed`
    [batch pos d_model], `blocks.L.hook_resid_pre`, `blocks.L.attn.hook_{q,k,v}` [batch pos n_heads d_head] (before
    rotary, as the bridge's), `blocks.L.attn.hook_pattern` [batch n_heads q_pos k_pos], `blocks.L.attn.hook_z`,
    `blocks.L.hook_attn_out`, `blocks.L.hook_resid_post`, `ln_final.hook_normalized`) returning its replacement; the
    names in `capture` are kept in `cache` (after any edit). `keep_kv` keeps each layer's rotated keys and values in
    the attention's own layout, for a later pass over a suffix of positions (`FastTransformer.run_blocks(past=…)`).
    A seam nobody asked for costs one set look-up."""

    def __init__(self, edits: Mapping[str, Callable[[Tensor], Tensor]] | None = None, capture: Collection[str] = (),
                 keep_kv: bool = False):
        self.edits, self.capture, self.keep_kv = dict(edits or {}), set(capture), keep_kv
        self.cache: dict[str, Tensor] = {}
        self.kv: dict[int, tuple[Tensor, Tensor]] = {}

    def wants(self, name: str) -> bool:
        return name in self.edits or name in self.capture

    def __call__(self, name: str, value: Tensor) -> Tensor:
        if name in self.edits:
            value = self.edits[name](value)
        if name in self.capture:
            self.cache[name] = value
        return value

    def merged(self, edits: Mapping[str, Callable[[Tensor], Tensor]]) -> Seams:
        """These seams with `edits` applied first at their hooks (a clamp, then the caller's edit)."""
        both = dict(edits)
        for name, edit in self.edits.items():
            both[name] = (lambda first, then: lambda t: then(first(t)))(both[name], edit) if name in both else edit
        out = Seams(both, self.capture, self.keep_kv)
        out.cache, out.kv = self.cache, self.kv
        return out


def at_seam(seams: Seams | None, name: str, value: Tensor) -> Tensor:
    """`value` through the seam `name` (unchanged when no seams or nobody asked for it)."""
    return value if seams is None or not seams.wants(name) else seams(name, value)

"""One intervention engine, named after TransformerLens hooks.

Every causal probe (head ablation, Todd et al.'s last-position patching, FV injection) is one of two edits:

  head patch   replace the per-head values `blocks.L.attn.hook_z` [batch pos n_heads d_head] of chosen heads by given
               values (zero / mean / resampled z; clean z everywhere but the last position for a last-position patch)
  injection    add a vector to `blocks.L.hook_resid_post` at the last position

An engine runs many *conditions* at once: a condition is a boolean [n_layers, n_heads] mask of the heads whose hook_z
is replaced, and conditions are batched along the batch axis (c conditions × b sequences in one forward pass).

Devices: an engine runs on its model's device; it takes and returns CPU tensors (inputs are moved in, results
and the logits a readout sees are moved out), so probe code never handles devices.

Two engines give the same numbers (tests/test_interventions.py):
  HookEngine   any `TransformerBridge` (native or Hugging Face architecture), through `run_with_cache` and
               `run_with_hooks` on the hook names above — the reference semantics
  FastEngine   our `FastTransformer` (same native state dict), through its one forward and its seams (the same hook
               names): a condition whose first edited head sits in layer l starts from the cached residual stream at
               l and recomputes only layers ≥ l — an optimisation; clamped runs' checkpoints use it too
`probes.engine.checkpoint.Checkpoint.engine` picks the fast one when the model is one of ours.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from einops import rearrange, repeat
from jaxtyping import Bool, Float, Int
from torch import Tensor

from circuits.errors import WorkbenchError
from circuits.model.seams import Seams
from circuits.model.transformer import past_before_last

MAX_ROWS = 512  # sequences per forward pass: larger batches run slower per row on CPU (cache misses)
HOOK_ROWS = 64  # the bridge's forward runs slower per row in larger batches (measured: 512 rows 0.75× a per-head loop)
LOGIT_BYTES = 2**28  # … and at most 256 MiB of float32 logits per pass (a 50k-token vocabulary allows ~13 sequences of 100)


def chunk_rows(pos: int, d_vocab: int) -> int:
    """Sequences per forward pass for `pos` read-out positions: MAX_ROWS, fewer for a large vocabulary."""
    return max(1, min(MAX_ROWS, LOGIT_BYTES // (4 * pos * d_vocab)))
Readout = Callable[[Tensor, int], Tensor]  # (logits [(c·batch), pos, vocab], c) -> [(c·batch), …]


def hook_z(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_z"


def hook_resid_post(layer: int) -> str:
    return f"blocks.{layer}.hook_resid_post"


@dataclass(frozen=True)
class CleanRun:
    """What an unedited forward pass leaves behind (on the CPU): every layer's hook_z and hook_resid_post, the last
    position's logits, and engine-private state on the engine's device (the tokens; the fast engine's residuals)."""

    z: list[Float[Tensor, "batch pos n_heads d_head"]]
    resid_post: list[Float[Tensor, "batch pos d_model"]]
    last_logits: Float[Tensor, "batch d_vocab"]
    private: Any = field(default=None, repr=False)


@runtime_checkable
class Engine(Protocol):
    n_layers: int
    n_heads: int
    d_model: int
    n_ctx: int
    memo: dict

    def clean(self, tokens: Int[Tensor, "batch pos"]) -> CleanRun: ...

    def patch_heads(self, clean: CleanRun, conditions: Bool[Tensor, "cond n_layers n_heads"],
                    values: list[Tensor], readout: Readout, last_only: bool = False) -> Tensor: ...

    def inject(self, tokens: Int[Tensor, "batch pos"], vectors: Float[Tensor, "batch d_model"], layer: int
               ) -> Float[Tensor, "batch d_vocab"]: ...

    def logits(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_vocab"]: ...

    def w_o(self) -> Float[Tensor, "n_layers n_heads d_head d_model"]: ...


def check_layer(engine: Engine, layer: int) -> None:
    if not 0 <= layer < engine.n_layers:
        raise WorkbenchError(f"layer {layer} is out of range; this model has layers 0–{engine.n_layers - 1}.")


def check_fits(tokens: Tensor, n_ctx: int) -> None:
    if tokens.shape[-1] > n_ctx:
        raise WorkbenchError(f"probe sequence length {tokens.shape[-1]} exceeds the model's context n_ctx={n_ctx}; use shorter sequences.")


def run_in_chunks(conditions: Bool[Tensor, "cond n_layers n_heads"], batch: int, group: Tensor,
                  run: Callable[[int, Tensor], Tensor], max_rows: int = MAX_ROWS) -> Tensor:
    """`run(group_value, condition_indices)` over chunks of at most `max_rows` sequences of conditions sharing a
    `group` value, results stacked to [cond, batch, …]."""
    out: Tensor | None = None
    for key in group.unique().tolist():
        for chunk in (group == key).nonzero().squeeze(1).split(max(1, max_rows // batch)):
            result = run(key, chunk)
            result = result.view(len(chunk), batch, *result.shape[1:])
            if out is None:
                out = result.new_empty(len(conditions), *result.shape[1:])
            out[chunk] = result
    return out


def first_edited_layer(conditions: Bool[Tensor, "cond n_layers n_heads"]) -> Int[Tensor, " cond"]:
    """Per condition, the first layer with an edited head (n_layers when nothing is edited)."""
    n_layers = conditions.shape[1]
    return torch.where(conditions.flatten(1).any(1), conditions.any(2).float().argmax(1), torch.tensor(n_layers))


def patched(z: Float[Tensor, "rows pos n_heads d_head"], conditions: Bool[Tensor, "c n_heads"],
            value: Float[Tensor, "batch pos n_heads d_head"], batch: int) -> Float[Tensor, "rows pos n_heads d_head"]:
    """z of c stacked conditions ([(c·batch), pos, heads, d_head]) with each condition's heads replaced by `value`."""
    mask = repeat(conditions, "c h -> (c b) 1 h 1", b=batch)
    return torch.where(mask, repeat(value, "b p h d -> (c b) p h d", c=len(conditions)), z)


class HookEngine:
    """The engine on any TransformerBridge, through hooks (the reference semantics; no shortcut)."""

    def __init__(self, bridge: Any):
        self.bridge, cfg = bridge, bridge.cfg
        self.n_layers, self.n_heads, self.d_model, self.n_ctx = cfg.n_layers, cfg.n_heads, cfg.d_model, cfg.n_ctx
        self.d_vocab, self.device = cfg.d_vocab, next(bridge.parameters()).device
        self.memo: dict = {}  # results computed once per checkpoint (e.g. `function_vectors.todd_cie`)

    @torch.no_grad()
    def clean(self, tokens: Int[Tensor, "batch pos"]) -> CleanRun:
        check_fits(tokens, self.n_ctx)
        names = {hook_z(layer) for layer in range(self.n_layers)} | {hook_resid_post(layer) for layer in range(self.n_layers)}
        logits, cache = self.bridge.run_with_cache(tokens.to(self.device), names_filter=lambda name: name in names)
        z = [cache[hook_z(layer)].cpu() for layer in range(self.n_layers)]
        resid = [cache[hook_resid_post(layer)].cpu() for layer in range(self.n_layers)]
        return CleanRun(z, resid, logits[:, -1].cpu(), tokens.to(self.device))

    @torch.no_grad()
    def patch_heads(self, clean: CleanRun, conditions: Bool[Tensor, "cond n_layers n_heads"], values: list[Tensor],
                    readout: Readout, last_only: bool = False) -> Tensor:
        tokens, batch = clean.private, clean.private.shape[0]

        def run(_: int, chunk: Tensor) -> Tensor:
            conds = conditions[chunk].to(self.device)
            hooks = [(hook_z(layer), self._replace(conds[:, layer], values[layer].to(self.device), batch))
                     for layer in range(self.n_layers) if conds[:, layer].any()]
            logits = self.bridge.run_with_hooks(repeat(tokens, "b p -> (c b) p", c=len(chunk)), fwd_hooks=hooks)
            return readout((logits[:, -1:] if last_only else logits).cpu(), len(chunk))

        rows = min(HOOK_ROWS, chunk_rows(1 if last_only else tokens.shape[1], self.d_vocab))
        return run_in_chunks(conditions, batch, torch.zeros(len(conditions), dtype=torch.long), run, rows)

    @staticmethod
    def _replace(conds: Tensor, value: Tensor, batch: int):
        return lambda z, hook: patched(z, conds, value, batch)

    @torch.no_grad()
    def inject(self, tokens: Int[Tensor, "batch pos"], vectors: Float[Tensor, "batch d_model"], layer: int
               ) -> Float[Tensor, "batch d_vocab"]:
        check_layer(self, layer)

        vectors = vectors.to(self.device)

        def add(resid: Tensor, hook: Any) -> Tensor:
            return torch.cat([resid[:, :-1], (resid[:, -1] + vectors)[:, None]], dim=1)

        return self.bridge.run_with_hooks(tokens.to(self.device), fwd_hooks=[(hook_resid_post(layer), add)])[:, -1].cpu()

    @torch.no_grad()
    def logits(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_vocab"]:
        check_fits(tokens, self.n_ctx)
        return self.bridge(tokens.to(self.device)).cpu()

    def w_o(self) -> Float[Tensor, "n_layers n_heads d_head d_model"]:
        """Per-head output weights, from the attention blocks' W_O (TransformerLens layout [heads, d_head, d_model])."""
        return torch.stack([block.attn.W_O.detach() for block in self.bridge.blocks]).cpu()


class FastEngine:
    """The engine on `FastTransformer` (same weights as the native bridge), through the model's one forward and its
    seams (`circuits.model.transformer.Seams`, named like the hooks above): edits start at the first edited layer.

    A last-position edit (values equal to the clean z everywhere but the last position, with only the last logits
    read) changes nothing before the last position in any layer (attention is causal), so from the edited layer on
    only the last position is recomputed, attending over the clean keys and values cached by `clean`. On a clamped
    checkpoint (`FastTransformer.clamps`) every pass applies the clamps as seam edits and the whole sequence is
    recomputed (a clamp edits every position); a `mean_head` clamp averages over each condition's own copy of the
    batch, as in a forward pass of that condition alone."""

    def __init__(self, fast: Any):
        self.fast, cfg = fast, fast.cfg
        self.n_layers, self.n_heads, self.d_model, self.n_ctx = cfg.n_layers, cfg.n_heads, cfg.d_model, cfg.n_ctx
        self.d_vocab, self.device = cfg.d_vocab, fast.embed.weight.device
        self.is_clamped = fast.clamps is not None and bool(fast.clamps.active)
        self.memo: dict = {}  # results computed once per checkpoint (e.g. `function_vectors.todd_cie`)

    @torch.no_grad()
    def clean(self, tokens: Int[Tensor, "batch pos"]) -> CleanRun:
        check_fits(tokens, self.n_ctx)
        tokens = tokens.to(self.device)
        names = [f"blocks.{l}.hook_resid_pre" for l in range(self.n_layers)] + [hook_z(l) for l in range(self.n_layers)]
        seams = Seams(capture=[*names, "ln_final.hook_normalized", hook_resid_post(self.n_layers - 1)], keep_kv=True)
        self.fast(tokens, seams)
        resid = [seams.cache[f"blocks.{l}.hook_resid_pre"] for l in range(self.n_layers)]
        zs, final = [seams.cache[hook_z(l)] for l in range(self.n_layers)], seams.cache[hook_resid_post(self.n_layers - 1)]
        kv = [seams.kv[l] for l in range(self.n_layers)]
        cpu = [t.cpu() for t in (*resid[1:], final)]
        last = self.fast.logits(final[:, -1:])[:, 0].cpu()
        return CleanRun([z.cpu() for z in zs], cpu, last, (resid, final, zs, kv, tokens))

    @torch.no_grad()
    def patch_heads(self, clean: CleanRun, conditions: Bool[Tensor, "cond n_layers n_heads"], values: list[Tensor],
                    readout: Readout, last_only: bool = False) -> Tensor:
        batch, pos = clean.z[0].shape[0], clean.z[0].shape[1]
        values = [v.to(self.device) for v in values]
        if self._last_edit(clean, conditions, values, last_only):
            step, rows = self._run_last, pos * chunk_rows(1, self.d_vocab)
        else:
            step, rows = (lambda c, s, k, v: self._run_from(c, s, k, v, last_only)), chunk_rows(1 if last_only else pos, self.d_vocab)

        def run(start: int, chunk: Tensor) -> Tensor:
            return readout(step(clean, start, conditions[chunk].to(self.device), values).cpu(), len(chunk))

        return run_in_chunks(conditions, batch, first_edited_layer(conditions), run, rows)

    def _last_edit(self, clean: CleanRun, conditions: Tensor, values: list[Tensor], last_only: bool) -> bool:
        """Only the last logits are read, no clamp edits every position, and every edited layer's values equal its
        clean z before the last position."""
        zs = clean.private[2]
        edited = conditions.any(0).any(1).tolist()
        return last_only and not self.is_clamped and all(
            torch.equal(values[l][:, :-1], zs[l][:, :-1]) for l, on in enumerate(edited) if on)

    @staticmethod
    def _head_edits(conditions: Tensor, values: list[Tensor], batch: int, start: int, last: bool) -> dict[str, Callable]:
        """hook_z edits replacing each condition's heads (`last`: the values' last position only) from `start` on."""
        edits = {}
        for layer in range(start, conditions.shape[1]):
            if conditions[:, layer].any():
                value = values[layer][:, -1:] if last else values[layer]
                edits[hook_z(layer)] = (lambda c, v: lambda z: patched(z, c, v, batch))(conditions[:, layer], value)
        return edits

    def _run_last(self, clean: CleanRun, start: int, conditions: Tensor, values: list[Tensor]) -> Tensor:
        """Last-position logits [(c·batch), 1, vocab] of conditions first edited at `start`, recomputing only the
        last position from `start` on, over the clean keys/values of the earlier positions."""
        resid, final, zs, kv, _ = clean.private
        n_cond, batch = conditions.shape[0], zs[0].shape[0]
        tile = lambda t: repeat(t[:, -1:], "b p ... -> (c b) p ...", c=n_cond)  # noqa: E731
        if start == self.n_layers:
            return self.fast.logits(tile(final))
        past = past_before_last(kv)
        seams = Seams(self._head_edits(conditions, values, batch, start, last=True))
        return self.fast.run_blocks(tile(resid[start]), seams, start, z=tile(zs[start]), past=past)

    def _run_from(self, clean: CleanRun, start: int, conditions: Tensor, values: list[Tensor], last_only: bool) -> Tensor:
        """Logits of conditions whose first edited layer is `start`; with `last_only` the last block's position-wise
        part and the unembedding run on the last position alone."""
        resid, final, zs, _, tokens = clean.private  # on the engine's device
        n_cond, batch = conditions.shape[0], zs[0].shape[0]
        tile = lambda t: repeat(t, "b ... -> (c b) ...", c=n_cond)  # noqa: E731
        if start == self.n_layers:  # nothing edited: the clean run
            return self.fast.logits(tile(final[:, -1:] if last_only else final))
        seams = self.fast.clamped(tile(tokens), Seams(self._head_edits(conditions, values, batch, start, last=False)), batch)
        return self.fast.run_blocks(tile(resid[start]), seams, start, z=tile(zs[start]), last_only=last_only)

    @torch.no_grad()
    def inject(self, tokens: Int[Tensor, "batch pos"], vectors: Float[Tensor, "batch d_model"], layer: int
               ) -> Float[Tensor, "batch d_vocab"]:
        check_layer(self, layer)
        vectors = vectors.to(self.device)
        add = lambda x: torch.cat([x[:, :-1], (x[:, -1] + vectors)[:, None]], dim=1)  # noqa: E731
        return self.fast(tokens.to(self.device), Seams({hook_resid_post(layer): add}))[:, -1].cpu()

    @torch.no_grad()
    def logits(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_vocab"]:
        check_fits(tokens, self.n_ctx)
        return self.fast(tokens.to(self.device)).cpu()

    def w_o(self) -> Float[Tensor, "n_layers n_heads d_head d_model"]:
        return torch.stack([rearrange(block.attn.o.weight.detach(), "m (h d) -> h d m", h=self.n_heads) for block in self.fast.blocks]).cpu()


def last_position_patch(clean: CleanRun, values: list[Float[Tensor, "*batch n_heads d_head"]]
                        ) -> list[Float[Tensor, "batch pos n_heads d_head"]]:
    """Replacement z per layer equal to the clean z except at the last position, where it is `values[layer]`
    ([batch, n_heads, d_head], or [n_heads, d_head] broadcast over the batch) — Todd et al. 2024's patch
    (arXiv:2310.15213), and Yin & Steinhardt 2025's last-position mean ablation."""
    out = []
    for z, value in zip(clean.z, values, strict=False):
        z = z.clone()
        z[:, -1] = value
        out.append(z)
    return out

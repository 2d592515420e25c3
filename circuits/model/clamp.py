"""Clamping during training: replace a component's activations by target values from a chosen step on.

After Singh, Moskovitz, Hill, Chan & Saxe 2024, "What needs to go right for an induction head?" (arXiv 2404.07129):
each clamp is an assignment `where(mask, target, computed)` applied in EVERY forward pass from `start_step` on — the
training forward, the periodic evaluation (`circuits.training.evaluation`, whose held-out repeat loss locates the phase
change) and, for the probes, the same edits as TransformerLens hooks (`probes.engine.clamped`). Singh et al. clamp from
step 0 with hand-built "ideal" values and, in their appendix Fig. 7, with a trained checkpoint's layer-0 output; both
are here.

Kinds (`layer` L, `head` h, or every head of the layer when `head` is None):
  prev_token_pattern   L's attention pattern := exact previous-token attention (query i → key i − 1; the first
                       position, BOS, attends to itself)
  zero_head            the head's z (TransformerLens `hook_z`, its input to W_O) := 0
  mean_head            z := its mean over the batch of the same forward pass, per position (see deviation 1)
  block_k_composition  L's keys are computed from the embeddings (token + position) instead of the residual stream,
                       so no earlier attention layer's output reaches them (K-composition blocked; L ≥ 1)
  reference_pattern    L's pattern := that of the reference run's final checkpoint on the same batch
  reference_output     L's whole attention output (`hook_attn_out`) := the reference's on the same batch (head None)
Reference values are computed in the same call, by the reference run's final weights (no gradient).

Frozen weights. Weights that a clamp makes irrelevant — q and k rows of a head whose pattern is clamped; q, k, v rows
and W_O columns of a zeroed head; every attention weight (and ln1) of a layer whose output is replaced — get an
exactly zero gradient (the clamp replaces everything they feed), and `ClampSet.restore` copies their values at
`start_step` back after every optimizer step, so neither AdamW's moments nor its decoupled weight decay moves them:
they are bit-identical in every checkpoint from `start_step` on. `mean_head` and `block_k_composition` freeze nothing
(the mean is the model's own output and passes gradient, as Singh et al.'s model-computed cached values do; blocked
keys still learn from the embeddings).

Deviations, stated: (1) `mean_head` averages over the batch per position, not over batch and positions: a mean over
positions would hand every position a share of later tokens' values (the future leaking into a causal model), while
a per-position batch mean matches `probes.measures.ablation`'s mean ablation (Yin & Steinhardt 2025, arXiv 2502.14010); it
couples the sequences of one forward pass, so its value depends on the batch it is computed on. (2) Singh et al.
train a 2-layer, 8-head RoPE + LayerNorm model on Omniglot few-shot sequences; here the clamps act on our
`FastTransformer` runs (any preset). (3) Their "1,2" clamp (a fake layer-0 output) and the layer-1 match/copy clamps
(3qk, 4, 3v, 5) are not kinds here; `reference_output` is their appendix clamp.

This module imports nothing of the package but `circuits.errors` (`circuits.config` imports it); reference runs are
loaded by `circuits.training.trainer.clamp_set`; a clamp is a set of edits at TransformerLens hook names (`layer_edits`), which
`FastTransformer`'s seams (`circuits.model.transformer.Seams`) and the bridge's hooks (`probes.engine.clamped`) both apply.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from jaxtyping import Bool, Float, Int
from torch import Tensor

from circuits.errors import WorkbenchError
from circuits.model.seams import Seams
from circuits.store.files import CONFIG_FILE

logger = logging.getLogger(__name__)
KINDS = ("prev_token_pattern", "zero_head", "mean_head", "block_k_composition", "reference_pattern", "reference_output")
PATTERN_KINDS = ("prev_token_pattern", "reference_pattern")
Z_KINDS = ("zero_head", "mean_head")
REFERENCE_KINDS = ("reference_pattern", "reference_output")
SITES = {"prev_token_pattern": "pattern", "reference_pattern": "pattern", "zero_head": "z", "mean_head": "z",
         "block_k_composition": "k", "reference_output": "output"}
SHAPE_FIELDS = ("n_layers", "d_model", "n_heads", "n_ctx", "d_vocab", "attn_only", "normalization", "positional")
FIELD_TYPES = {"kind": (str,), "layer": (int,), "head": (int, type(None)), "start_step": (int,), "reference": (str, type(None))}


@dataclass(frozen=True)
class Clamp:
    """One intervention: `kind` (see the module docstring) on layer `layer`, head `head` (None: every head of the
    layer), from training step `start_step` on; `reference` is the run directory whose final checkpoint supplies the
    target values of the reference kinds."""

    kind: str
    layer: int
    head: int | None = None
    start_step: int = 0
    reference: str | None = None

    def heads(self, n_heads: int) -> list[int]:
        return list(range(n_heads)) if self.head is None else [self.head]

    @property
    def label(self) -> str:
        where = f"{self.layer}.{'*' if self.head is None else self.head}"
        return f"{self.kind} {where} from step {self.start_step}"


# ----- JSON and validation ------------------------------------------------------------------------------------
def clamps_from_json(raw: Any, source: str = CONFIG_FILE) -> tuple[Clamp, ...]:
    """A JSON list of clamp objects (`{"kind": …, "layer": …, "head": …, "start_step": …, "reference": …}`) as
    Clamps; one WorkbenchError naming the item and field for anything else. Missing `head`/`start_step`/`reference`
    take their defaults."""
    example = '[{"kind": "prev_token_pattern", "layer": 0}]'
    if not isinstance(raw, list):
        raise WorkbenchError(f"{source}: clamps must be a JSON list of clamp objects like {example}, got {json.dumps(raw)}.")
    return tuple(_clamp_from_json(item, f"{source}: clamps[{i}]", example) for i, item in enumerate(raw))


def _clamp_from_json(item: Any, where: str, example: str) -> Clamp:
    if not isinstance(item, dict):
        raise WorkbenchError(f"{where} must be a JSON object like {example}, got {json.dumps(item)}.")
    unknown = sorted(set(item) - set(FIELD_TYPES))
    if unknown:
        raise WorkbenchError(f"{where} has unknown field(s) {unknown}; clamp fields are {list(FIELD_TYPES)}.")
    missing = [name for name in ("kind", "layer") if name not in item]
    if missing:
        raise WorkbenchError(f"{where} lacks {missing}; every clamp needs a kind (one of {list(KINDS)}) and a layer.")
    for name, value in item.items():
        if isinstance(value, bool) or not isinstance(value, FIELD_TYPES[name]):
            allowed = " or ".join("null" if t is type(None) else t.__name__ for t in FIELD_TYPES[name])
            raise WorkbenchError(f"{where}.{name} must be {allowed}, got {json.dumps(value)}.")
    return Clamp(**item)


def validate_clamps(clamps: Sequence[Clamp], model: Any, steps: int) -> None:
    """One clear WorkbenchError for a clamp that cannot apply to `model` (a `circuits.config.ModelConfig`) in a run
    of `steps` steps: unknown kind, layer/head out of range, start_step not before the last step, a reference that is
    missing, unfinished-looking, clamped itself or of a different model shape, or two clamps editing the same site."""
    for clamp in clamps:
        if not isinstance(clamp, Clamp):
            raise WorkbenchError(f"clamps must hold Clamp objects, got {clamp!r}; build them with circuits.model.clamp.Clamp.")
        _validate_one(clamp, model, steps)
    _check_overlaps(clamps, model.n_heads)


def _validate_one(clamp: Clamp, model: Any, steps: int) -> None:
    name = f"clamp {clamp.label}"
    if clamp.kind not in KINDS:
        raise WorkbenchError(f"clamp kind {clamp.kind!r} is unknown; use one of {list(KINDS)}.")
    if not 0 <= clamp.layer < model.n_layers:
        raise WorkbenchError(f"{name}: layer {clamp.layer} is out of range; this model has layers 0–{model.n_layers - 1}.")
    if clamp.head is not None and not 0 <= clamp.head < model.n_heads:
        raise WorkbenchError(f"{name}: head {clamp.head} is out of range; heads are 0–{model.n_heads - 1} (or null for all).")
    if not 0 <= clamp.start_step < steps:
        raise WorkbenchError(f"{name}: start_step {clamp.start_step} must be in [0, steps={steps}); lower it or train longer.")
    if clamp.kind == "block_k_composition" and clamp.layer == 0:
        raise WorkbenchError(f"{name}: layer 0 reads no earlier attention layer, so there is no K-composition to block; use layer ≥ 1.")
    if clamp.kind == "reference_output" and clamp.head is not None:
        raise WorkbenchError(f"{name}: reference_output replaces the whole layer's attention output; set head to null.")
    if (clamp.reference is not None) != (clamp.kind in REFERENCE_KINDS):
        need = "needs a reference run directory in `reference`" if clamp.kind in REFERENCE_KINDS else "takes no `reference`"
        raise WorkbenchError(f"{name}: {clamp.kind} {need}.")
    if clamp.reference is not None:
        _check_reference(clamp, model)


def _check_reference(clamp: Clamp, model: Any) -> None:
    file = Path(clamp.reference) / CONFIG_FILE
    if not file.is_file():
        raise WorkbenchError(f"clamp {clamp.label}: reference run {clamp.reference} not found (no {CONFIG_FILE}); "
                             f"train it first or fix the path.")
    try:
        raw = json.loads(file.read_text())
        theirs = raw["model"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise WorkbenchError(f"clamp {clamp.label}: reference config {file} is unreadable ({exc}); restore it or use another run.") from None
    ours = dataclasses.asdict(model)
    fields = SHAPE_FIELDS + (() if model.attn_only else ("d_mlp", "act_fn"))
    differ = [f"{f}: {theirs.get(f)!r} ≠ {ours[f]!r}" for f in fields if theirs.get(f) != ours[f]]
    if differ:
        raise WorkbenchError(f"clamp {clamp.label}: reference run {clamp.reference} has a different model shape "
                             f"({'; '.join(differ)}); use a run of the same architecture.")
    if raw.get("clamps"):
        raise WorkbenchError(f"clamp {clamp.label}: reference run {clamp.reference} is itself clamped; use an unclamped run.")


def _check_overlaps(clamps: Sequence[Clamp], n_heads: int) -> None:
    """Two clamps may not edit the same site of the same head; reference_output excludes other clamps on its layer."""
    seen: dict[tuple[int, int, str], Clamp] = {}
    for clamp in clamps:
        others = [c for c in clamps if c is not clamp and c.layer == clamp.layer]
        if clamp.kind == "reference_output" and others:
            raise WorkbenchError(f"clamp {clamp.label} replaces layer {clamp.layer}'s whole attention output, so clamp "
                                 f"{others[0].label} would have no effect; drop one of them.")
        for head in clamp.heads(n_heads):
            key = (clamp.layer, head, SITES.get(clamp.kind, clamp.kind))
            if key in seen:
                raise WorkbenchError(f"clamps {seen[key].label} and {clamp.label} both edit the {key[2]} of head "
                                     f"{clamp.layer}.{head}; keep one.")
            seen[key] = clamp


# ----- frozen weights -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FrozenSlice:
    """Rows (dim 0) or columns (dim 1) start:stop of the parameter `name` (a native state-dict key)."""

    name: str
    dim: int
    start: int
    stop: int

    @property
    def index(self) -> tuple[slice, ...]:
        return (slice(None),) * self.dim + (slice(self.start, self.stop),)


def frozen_slices(clamp: Clamp, model: Any) -> list[FrozenSlice]:
    """The parameter slices `clamp` makes irrelevant (see the module docstring), for `model` (a ModelConfig)."""
    attn, d, width = f"blocks.{clamp.layer}.attn", model.d_head, model.d_model
    rows = [(h * d, (h + 1) * d) for h in clamp.heads(model.n_heads)]
    if clamp.kind in PATTERN_KINDS:
        projections = ("q", "k")
    elif clamp.kind == "zero_head":
        projections = ("q", "k", "v")
    elif clamp.kind == "reference_output":
        norm = [FrozenSlice(f"blocks.{clamp.layer}.ln1.{p}", 0, 0, width) for p in ("weight", "bias")] if model.normalization else []
        return norm + [FrozenSlice(f"{attn}.{m}.{p}", 0, 0, width) for m in "qkvo" for p in ("weight", "bias")]
    else:
        return []
    out = [FrozenSlice(f"{attn}.{m}.{p}", 0, a, b) for m in projections for p in ("weight", "bias") for a, b in rows]
    return out + ([FrozenSlice(f"{attn}.o.weight", 1, a, b) for a, b in rows] if clamp.kind == "zero_head" else [])


# ----- the edits ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerActivations:
    """What a reference model computes in one layer on a batch."""

    pattern: Float[Tensor, "batch n_heads q_pos k_pos"]
    attn_out: Float[Tensor, "batch pos d_model"]


def previous_token_pattern(pos: int, device: torch.device | str = "cpu") -> Float[Tensor, "q_pos k_pos"]:
    """The ideal previous-token pattern: query i attends to key i − 1 with weight 1; query 0 (BOS) to itself."""
    pattern = torch.zeros(pos, pos, device=device)
    pattern[0, 0] = 1.0
    index = torch.arange(1, pos, device=device)
    pattern[index, index - 1] = 1.0
    return pattern


def head_mask(clamp: Clamp, n_heads: int, device: torch.device | str) -> Bool[Tensor, " n_heads"]:
    mask = torch.zeros(n_heads, dtype=torch.bool, device=device)
    mask[clamp.heads(n_heads)] = True
    return mask


def edit_pattern(pattern: Float[Tensor, "batch n_heads q_pos k_pos"], clamps: Sequence[Clamp],
                 refs: Mapping[str, list[LayerActivations]]) -> Float[Tensor, "batch n_heads q_pos k_pos"]:
    """`pattern` with the heads of the pattern clamps among `clamps` (all of one layer) replaced by their targets."""
    for clamp in clamps:
        if clamp.kind == "prev_token_pattern":
            target = previous_token_pattern(pattern.shape[-1], pattern.device)
        elif clamp.kind == "reference_pattern":
            target = refs[clamp.reference][clamp.layer].pattern
        else:
            continue
        pattern = torch.where(head_mask(clamp, pattern.shape[1], pattern.device)[:, None, None], target, pattern)
    return pattern


def edit_z(z: Float[Tensor, "batch pos n_heads d_head"], clamps: Sequence[Clamp], group: int | None = None
           ) -> Float[Tensor, "batch pos n_heads d_head"]:
    """`z` with the heads of the zero/mean clamps among `clamps` (all of one layer) replaced (mean: per position,
    over this batch — or over each block of `group` rows, when the batch stacks copies of one batch —, gradient
    passing)."""
    for clamp in clamps:
        if clamp.kind in Z_KINDS:
            target = torch.zeros_like(z) if clamp.kind == "zero_head" else _batch_mean(z, group)
            z = torch.where(head_mask(clamp, z.shape[2], z.device)[:, None], target, z)
    return z


def _batch_mean(z: Tensor, group: int | None) -> Tensor:
    if group is None:
        return z.mean(0, keepdim=True).expand_as(z)
    blocks = rearrange(z, "(c b) ... -> c b ...", b=group)
    return rearrange(blocks.mean(1, keepdim=True).expand_as(blocks), "c b ... -> (c b) ...")


def edit_keys(k: Float[Tensor, "batch pos n_heads d_head"], blocked: Float[Tensor, "batch pos n_heads d_head"],
              clamps: Sequence[Clamp]) -> Float[Tensor, "batch pos n_heads d_head"]:
    """`k` with the heads of the block_k_composition clamps among `clamps` taken from `blocked` (keys computed from
    the embeddings)."""
    for clamp in clamps:
        if clamp.kind == "block_k_composition":
            k = torch.where(head_mask(clamp, k.shape[2], k.device)[:, None], blocked, k)
    return k


def layer_edits(clamps: Sequence[Clamp], layer: int, embedding_keys: Callable[[Tensor], Tensor],
                context: Mapping[str, Any]) -> dict[str, Callable[[Tensor], Tensor]]:
    """The seam edits (TransformerLens hook name → edit) applying `clamps` (all of `layer`): the one definition of a
    clamp, used by the training forward (`FastTransformer` seams) and by the probes' bridge hooks (`probes.engine.clamped`).
    `context` holds this forward pass's reference values ("refs"), embeddings ("x0") and, when the batch stacks copies
    of one batch of that many rows, "group" (a `mean_head` clamp then averages each copy alone); `embedding_keys(x0)` gives
    the layer's keys [batch pos n_heads d_head] (before rotary) computed from the embeddings."""
    kinds, edits = {c.kind for c in clamps}, {}
    output = next((c for c in clamps if c.kind == "reference_output"), None)
    if output is not None:
        edits[f"blocks.{layer}.hook_attn_out"] = lambda out: context["refs"][output.reference][layer].attn_out
    if "block_k_composition" in kinds:
        edits[f"blocks.{layer}.attn.hook_k"] = lambda k: edit_keys(k, embedding_keys(context["x0"]), clamps)
    if kinds & set(PATTERN_KINDS):
        edits[f"blocks.{layer}.attn.hook_pattern"] = lambda p: edit_pattern(p, clamps, context["refs"])
    if kinds & set(Z_KINDS):
        edits[f"blocks.{layer}.attn.hook_z"] = lambda z: edit_z(z, clamps, context.get("group"))
    return edits


@torch.no_grad()
def reference_activations(reference: Any, tokens: Int[Tensor, "batch pos"]) -> list[LayerActivations]:
    """Per layer, the attention pattern and attention output of `reference` (a FastTransformer) on `tokens`."""
    n = reference.cfg.n_layers
    names = [f"blocks.{l}.{site}" for l in range(n) for site in ("attn.hook_pattern", "hook_attn_out")]
    seams = Seams(capture=names)
    reference(tokens, seams)
    return [LayerActivations(seams.cache[f"blocks.{l}.attn.hook_pattern"], seams.cache[f"blocks.{l}.hook_attn_out"])
            for l in range(n)]


# ----- the clamped model ----------------------------------------------------------------------------------------
class ClampSet:
    """A run's clamps at its current step, applied as seam edits by `FastTransformer.forward` (set `model.clamps`), and the
    frozen-slice bookkeeping of training. `references` maps each reference path to its final-checkpoint
    FastTransformer (eval mode, on the model's device). Deliberately not an nn.Module: the references' weights stay
    out of the clamped model's parameters and state dict."""

    def __init__(self, clamps: Sequence[Clamp], model: Any, references: Mapping[str, Any] | None = None, step: int = 0):
        self.clamps, self.cfg, self.references, self.step = tuple(clamps), model, dict(references or {}), step
        self._saved: dict[FrozenSlice, Tensor] = {}

    @property
    def active(self) -> tuple[Clamp, ...]:
        """The clamps in force at `step` (start_step ≤ step)."""
        return tuple(c for c in self.clamps if c.start_step <= self.step)

    def at_layer(self, layer: int) -> list[Clamp]:
        return [c for c in self.active if c.layer == layer]

    def reference_values(self, tokens: Int[Tensor, "batch pos"]) -> dict[str, list[LayerActivations]]:
        """Each active reference clamp's run, evaluated on `tokens` (no gradient)."""
        paths = dict.fromkeys(c.reference for c in self.active if c.reference is not None)
        return {path: reference_activations(self.references[path], tokens) for path in paths}

    # --- training bookkeeping
    def set_step(self, model: Any, step: int) -> None:
        """Move to `step`; the slices frozen by clamps that become active are recorded (their values now)."""
        self.step = step
        params = dict(model.named_parameters())
        for clamp in self.active:
            for piece in frozen_slices(clamp, self.cfg):
                if piece not in self._saved:
                    self._saved[piece] = params[piece.name].detach()[piece.index].clone()

    @torch.no_grad()
    def restore(self, model: Any) -> None:
        """Copy every frozen slice back to its recorded value (call right after each optimizer step)."""
        params = dict(model.named_parameters())
        for piece, value in self._saved.items():
            params[piece.name][piece.index] = value

    def frozen(self) -> list[FrozenSlice]:
        return list(self._saved)

    # --- the forward pass
    def edits(self, model: Any, tokens: Int[Tensor, "batch pos"], group: int | None = None
              ) -> dict[str, Callable[[Tensor], Tensor]]:
        """The seam edits of the active clamps for one forward pass of `model` (a FastTransformer) on `tokens`
        (`group`: see `layer_edits`)."""
        context: dict[str, Any] = {"refs": self.reference_values(tokens), "group": group}
        if any(c.kind == "block_k_composition" for c in self.active):
            context["x0"] = model.embedding(tokens)
        edits: dict[str, Callable[[Tensor], Tensor]] = {}
        for layer in sorted({c.layer for c in self.active}):
            edits |= layer_edits(self.at_layer(layer), layer, embedding_keys(model.blocks[layer]), context)
        return edits


def embedding_keys(block: Any) -> Callable[[Tensor], Tensor]:
    """x0 [batch pos d_model] → a `circuits.model.transformer.Block`'s keys [batch pos n_heads d_head] through its ln1 and k
    projection (before rotary, like the seam `hook_k`)."""
    attn = block.attn
    return lambda x0: rearrange(F.linear(block.ln1(x0), attn.k.weight, attn.k.bias), "b p (h d) -> b p h d", h=attn.n_heads)

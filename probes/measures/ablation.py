"""Head ablations — zero, mean and resample — for many heads at once, computed only where they can change anything.

An ablation replaces a head's z (its input to W_O, the bridge's `hook_z`; W_O's bias is shared and untouched) by:
  zero      z := 0
  mean      z := mean of z over a reference batch, per position (Yin & Steinhardt's mean ablation)
  resample  z := z of a random reference sequence at the same position (one seeded draw shared by all conditions)
Every condition (a set of ablated heads) is a head patch of the intervention engine (`probes.engine.interventions`): on
any TransformerBridge through `blocks.L.attn.hook_z`, or on our FastTransformer, which starts each condition at its
first ablated layer. Tests prove the effects equal a per-head `run_with_hooks` loop on the bridge.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from einops import repeat
from jaxtyping import Bool, Float, Int
from torch import Tensor

from circuits.errors import WorkbenchError
from circuits.model.transformer import token_losses
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import AblationInputs, ProbeInputs
from probes.engine.interventions import CleanRun, Engine
from probes.measures.applies import induction_applies
from probes.measures.icl import icl_score
from probes.registry import ProbeSpec, register_probe
from probes.table import Row, head_rows

ABLATIONS = ("zero", "mean", "resample")
Head = tuple[int, int]


def replacements(reference: CleanRun, kind: str, seed: int = 0) -> list[Float[Tensor, "batch pos n_heads d_head"]]:
    """Per layer, the z that replaces an ablated head's, for a batch shaped like the reference batch."""
    if kind not in ABLATIONS:
        raise WorkbenchError(f"unknown ablation {kind!r}; use one of {list(ABLATIONS)}.")
    if kind == "zero":
        return [torch.zeros_like(z) for z in reference.z]
    if kind == "mean":
        return [z.mean(0, keepdim=True).expand_as(z) for z in reference.z]
    perm = torch.randperm(reference.z[0].shape[0], generator=torch.Generator().manual_seed(seed))
    return [z[perm] for z in reference.z]


@torch.no_grad()
def ablated_losses(
    engine: Engine, tokens: Int[Tensor, "batch pos"], reference: Int[Tensor, "ref_batch ref_pos"],
    conditions: Bool[Tensor, "cond n_layers n_heads"], kinds: tuple[str, ...] = ABLATIONS, seed: int = 0,
) -> dict[str, Float[Tensor, "cond batch pos_minus_1"]]:
    """Per ablation kind, next-token losses under each condition (True = head ablated); clean passes shared."""
    if reference.shape != tokens.shape:
        raise WorkbenchError(f"reference batch shape {tuple(reference.shape)} must equal the token batch shape {tuple(tokens.shape)}.")
    clean, ref = engine.clean(tokens), engine.clean(reference)
    readout = lambda logits, n: token_losses(logits, repeat(tokens, "b p -> (c b) p", c=n))  # noqa: E731
    return {kind: engine.patch_heads(clean, conditions, replacements(ref, kind, seed), readout) for kind in kinds}


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


def ablation_effects(engine: Engine, inputs: AblationInputs, kinds: tuple[str, ...] = ABLATIONS,
                     conditions: Bool[Tensor, "cond n_layers n_heads"] | None = None, seed: int = 0) -> dict[str, dict[str, Tensor]]:
    """Per ablation kind, the effect of each condition vs the clean run (default conditions: every head alone).

    loss:        Δ mean next-token loss on training-distribution text (nats)
    icl_score:   Δ Olsson ICL score on the same text (positive ⇒ the ablation removed in-context learning)
    repeat_loss: Δ loss on the predictable part of the second copy of [BOS, r, r] (nats)
    Each kind's dict also holds the clean values under `clean/<name>`.
    """
    conds = conditions if conditions is not None else single_head_conditions(engine.n_layers, engine.n_heads)
    conds = torch.cat([torch.zeros_like(conds[:1]), conds])  # prepend the clean run
    text = ablated_losses(engine, inputs.text, inputs.text_reference, conds, kinds, seed)
    rep = ablated_losses(engine, inputs.repeats, inputs.repeats_reference, conds, kinds, seed)
    n, out = inputs.repeat_length, {}
    for kind in kinds:
        values = {"loss": text[kind].mean((1, 2)), "icl_score": icl_score(text[kind].mean(1)),
                  "repeat_loss": rep[kind][:, :, n + 1 : 2 * n].mean((1, 2))}
        out[kind] = {name: v[1:] - v[0] for name, v in values.items()} | {f"clean/{name}": v[0] for name, v in values.items()}
    return out


def ablation_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Every head ablated alone, by zero, mean and resample ablation: Δ loss, Δ ICL score, Δ repeat loss."""
    rows, facts = [], ckpt.facts
    effects = ablation_effects(ckpt.engine, inputs.ablation, ABLATIONS)
    for kind in ABLATIONS:
        for name in ("loss", "icl_score", "repeat_loss"):
            rows += head_rows("ablation", f"{kind}/{name}", effects[kind][name].view(facts.n_layers, facts.n_heads))
    return rows


register_probe(ProbeSpec("ablation", 1, ablation_probe, {
    "{zero|mean|resample}/{loss|icl_score|repeat_loss}": "Δ vs clean when this head alone is ablated",
}, applies=induction_applies, default="always"))

"""The induction heads' joint ablation and its control, as a sweep probe of the last checkpoint (so the report only
reads the table; Olsson et al. 2022, arXiv 2209.11895, ablate induction heads to show they carry in-context
learning).

At the last checkpoint: the heads whose content-controlled induction score (`probes.detectors`) is ≥
INDUCTION_THRESHOLD are mean-ablated together; every other same-size head set (at most ABLATION_RANDOM_SETS, a
seeded choice) is mean-ablated the same way, in the same batched call. Rows (probe "induction_controls"):
  per head     in_set (1 for the ablated induction heads)
  model-level  set/{loss,icl_score,repeat_loss} (Δ vs clean), random_set/{i}/repeat_loss, random_sets (their count)
No rows but `random_sets` = 0 when no head reaches the threshold.
"""
from __future__ import annotations

import itertools
import math

import torch

from probes import detectors
from probes.ablation import ablation_effects, head_set_mask
from probes.checkpoint import Checkpoint
from probes.inputs import ProbeInputs
from probes.metrics import ABLATION_RANDOM_SETS, INDUCTION_THRESHOLD
from probes.table import Row, head_rows, model_row

Head = tuple[int, int]


def flagged_heads(scores: torch.Tensor) -> list[Head]:
    """Heads with a controlled induction score ≥ INDUCTION_THRESHOLD, best first."""
    n_heads = scores.shape[1]
    order = scores.flatten().argsort(descending=True).tolist()
    return [(i // n_heads, i % n_heads) for i in order if scores.flatten()[i] >= INDUCTION_THRESHOLD]


def other_sets(heads: list[Head], n_layers: int, n_heads: int) -> list[tuple[Head, ...]]:
    """Every other head set of the same size, or — when there are more than ABLATION_RANDOM_SETS of them — that many
    distinct sets drawn with a fixed seed (never enumerating all combinations: a 144-head model has ~5e8 sets of 5)."""
    every = list(itertools.product(range(n_layers), range(n_heads)))
    if math.comb(len(every), len(heads)) - 1 <= ABLATION_RANDOM_SETS:
        return [s for s in itertools.combinations(every, len(heads)) if set(s) != set(heads)]
    gen, chosen = torch.Generator().manual_seed(0), {frozenset(heads)}
    sets: list[tuple[Head, ...]] = []
    while len(sets) < ABLATION_RANDOM_SETS:
        pick = tuple(sorted(every[i] for i in torch.randperm(len(every), generator=gen)[: len(heads)].tolist()))
        if frozenset(pick) not in chosen:
            chosen.add(frozenset(pick))
            sets.append(pick)
    return sets


def induction_controls_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Joint mean ablation of the flagged induction heads beside every other same-size head set."""
    scores = detectors.controlled_induction_score(ckpt.bridge, inputs.induction)
    heads, (n_layers, n_heads) = flagged_heads(scores), scores.shape
    rows = head_rows("induction_controls", "in_set", head_set_mask(heads, n_layers, n_heads).float())
    if not heads:
        return rows + [model_row("induction_controls", "random_sets", 0.0)]
    sets = other_sets(heads, n_layers, n_heads)
    masks = torch.stack([head_set_mask(s, n_layers, n_heads) for s in [heads, *sets]])
    effects = ablation_effects(ckpt.engine, inputs.ablation, ("mean",), conditions=masks)["mean"]
    rows += [model_row("induction_controls", f"set/{name}", effects[name][0]) for name in ("loss", "icl_score", "repeat_loss")]
    rows += [model_row("induction_controls", f"random_set/{i}/repeat_loss", v) for i, v in enumerate(effects["repeat_loss"][1:])]
    return rows + [model_row("induction_controls", "random_sets", float(len(sets)))]

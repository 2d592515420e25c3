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
    """Every other head set of the same size; a seeded choice of ABLATION_RANDOM_SETS when there are more."""
    every = itertools.combinations(itertools.product(range(n_layers), range(n_heads)), len(heads))
    sets = [s for s in every if set(s) != set(heads)]
    if len(sets) > ABLATION_RANDOM_SETS:
        pick = torch.randperm(len(sets), generator=torch.Generator().manual_seed(0))[:ABLATION_RANDOM_SETS]
        sets = [sets[i] for i in sorted(pick.tolist())]
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

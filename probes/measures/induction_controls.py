"""The induction heads' joint ablation and its control, as a sweep probe of the last checkpoint (so the report only
reads the table; Olsson et al. 2022, arXiv 2209.11895, ablate induction heads to show they carry in-context
learning).

At the last checkpoint: the heads whose content-controlled induction score (`probes.measures.detectors`) is ≥
INDUCTION_THRESHOLD are mean-ablated together; so is every other same-size head set *outside the hypothesised
circuit* (at most ABLATION_RANDOM_SETS, a seeded choice), in the same batched call.

The exclusion rule, stated: the circuit is the flagged induction heads and their previous-token partners — every head
in a layer below some flagged head whose previous-token score (on training text) is ≥ PREVIOUS_TOKEN_THRESHOLD, the
heads that can feed the induction heads' keys through K-composition (Olsson et al. 2022; Elhage et al. 2021). A
comparison set holds none of them: drawn from all heads, 79% of the 4-head sets of attn-only-2l held a partner, whose
ablation breaks induction as well, so the control measured the circuit against itself. `probes.claims.induction` turns the
rows into an exact rank test (p = (1 + sets hurting at least as much) / (n + 1)).

Rows (probe "induction_controls"):
  per head     in_set (1 for the ablated induction heads), partner (1 for the excluded previous-token partners)
  model-level  set/{loss,icl_score,repeat_loss} (Δ vs clean), random_set/{i}/repeat_loss, random_sets (their count)
No set rows and `random_sets` = 0 when no head reaches the threshold; `random_sets` = 0 with the set rows when no
same-size set is left outside the circuit.
"""
from __future__ import annotations

import itertools
import math

import torch

from probes.claims.thresholds import ABLATION_RANDOM_SETS, INDUCTION_THRESHOLD, PREVIOUS_TOKEN_THRESHOLD
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.measures import detectors
from probes.measures.ablation import ablation_effects, head_set_mask
from probes.measures.applies import induction_applies
from probes.registry import ProbeSpec, register_probe
from probes.table import Row, head_rows, model_row

Head = tuple[int, int]


def flagged_heads(scores: torch.Tensor) -> list[Head]:
    """Heads with a controlled induction score ≥ INDUCTION_THRESHOLD, best first."""
    n_heads = scores.shape[1]
    order = scores.flatten().argsort(descending=True).tolist()
    return [(i // n_heads, i % n_heads) for i in order if scores.flatten()[i] >= INDUCTION_THRESHOLD]


def partner_heads(previous_token: torch.Tensor, heads: list[Head]) -> list[Head]:
    """The flagged heads' previous-token partners: heads in a layer below some flagged head whose previous-token score
    is ≥ PREVIOUS_TOKEN_THRESHOLD (the module docstring's exclusion rule)."""
    top = max((layer for layer, _ in heads), default=0)
    return [(layer, head) for layer in range(top) for head in range(previous_token.shape[1])
            if previous_token[layer, head] >= PREVIOUS_TOKEN_THRESHOLD]


def other_sets(heads: list[Head], n_layers: int, n_heads: int, exclude: list[Head] | tuple = ()) -> list[tuple[Head, ...]]:
    """Every same-size head set outside `heads` and `exclude`, or — when there are more than ABLATION_RANDOM_SETS of
    them — that many distinct sets drawn with a fixed seed (never enumerating all combinations: a 144-head model has
    ~5e8 sets of 5). Empty when fewer heads than len(heads) are left."""
    circuit = set(heads) | set(exclude)
    pool = [h for h in itertools.product(range(n_layers), range(n_heads)) if h not in circuit]
    total = math.comb(len(pool), len(heads)) if heads else 0
    if total <= ABLATION_RANDOM_SETS:
        return list(itertools.combinations(pool, len(heads))) if total else []
    gen, chosen = torch.Generator().manual_seed(0), set()
    sets: list[tuple[Head, ...]] = []
    while len(sets) < ABLATION_RANDOM_SETS:
        pick = tuple(sorted(pool[i] for i in torch.randperm(len(pool), generator=gen)[: len(heads)].tolist()))
        if frozenset(pick) not in chosen:
            chosen.add(frozenset(pick))
            sets.append(pick)
    return sets


def induction_controls_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Joint mean ablation of the flagged induction heads beside every same-size head set outside their circuit."""
    scores = detectors.controlled_induction_score(ckpt.bridge, inputs.induction)
    heads, (n_layers, n_heads) = flagged_heads(scores), scores.shape
    previous = detectors.previous_token_score(detectors.attention_patterns(ckpt.bridge, inputs.text), inputs.text)
    partners = partner_heads(previous, heads)
    rows = head_rows("induction_controls", "in_set", head_set_mask(heads, n_layers, n_heads).float())
    rows += head_rows("induction_controls", "partner", head_set_mask(partners, n_layers, n_heads).float())
    sets = other_sets(heads, n_layers, n_heads, partners)
    if not heads:  # nothing to ablate (with no comparison set left, the joint ablation is still measured)
        return rows + [model_row("induction_controls", "random_sets", 0.0)]
    masks = torch.stack([head_set_mask(s, n_layers, n_heads) for s in [heads, *sets]])
    effects = ablation_effects(ckpt.engine, inputs.ablation, ("mean",), conditions=masks)["mean"]
    rows += [model_row("induction_controls", f"set/{name}", effects[name][0]) for name in ("loss", "icl_score", "repeat_loss")]
    rows += [model_row("induction_controls", f"random_set/{i}/repeat_loss", v) for i, v in enumerate(effects["repeat_loss"][1:])]
    return rows + [model_row("induction_controls", "random_sets", float(len(sets)))]


register_probe(ProbeSpec("induction_controls", 4, induction_controls_probe, {
    "in_set": "1 for the heads ablated together (controlled induction score ≥ INDUCTION_THRESHOLD)",
    "partner": "1 for their previous-token partners, left out of the comparison sets (probes.measures.induction_controls)",
    "set/{loss|icl_score|repeat_loss}": "Δ when they are mean-ablated together",
    "random_set/{i}/repeat_loss": "Δ repeat loss of another same-size head set outside the circuit",
    "random_sets": "how many other sets were ablated",
},
                         applies=induction_applies, default="always", final_only=True))

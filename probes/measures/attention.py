"""The `attention` probe: attention-pattern head scores per checkpoint (Olsson et al. 2022, arXiv 2209.11895).

Previous-token score on training text; induction and duplicate-token scores on held-out periods and Olsson's
prefix-matching score, each as `metric` (raw − content control), `metric/raw` and `metric/control`
(`probes.measures.detectors`).
"""
from __future__ import annotations

from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.measures import detectors
from probes.measures.applies import induction_applies
from probes.registry import ProbeSpec, register_probe
from probes.table import Row, head_rows


def attention_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Previous-token score (text); induction and duplicate-token scores (held-out periods) and Olsson's
    prefix-matching score, each as `metric` (raw − content control), `metric/raw` and `metric/control`."""
    model = ckpt.bridge
    rows = head_rows("attention", "previous_token", detectors.previous_token_score(
        detectors.attention_patterns(model, inputs.text), inputs.text))
    on_repeats = detectors.content_scores(model, inputs.induction, {
        "induction": detectors.induction_target, "duplicate_token": detectors.duplicate_token_target})
    on_prefix = detectors.content_scores(model, inputs.prefix, {"prefix_matching": detectors.induction_target})
    for metric, result in (on_repeats | on_prefix).items():
        rows += head_rows("attention", metric, result.score)
        rows += head_rows("attention", f"{metric}/raw", result.raw)
        rows += head_rows("attention", f"{metric}/control", result.control)
    return rows


register_probe(ProbeSpec("attention", 2, attention_probe, {
    "previous_token": "attention to the previous token on training text (Olsson et al. 2022)",
    "{induction|duplicate_token|prefix_matching}": "content-controlled score: raw − control (probes.measures.detectors)",
    "{induction|duplicate_token|prefix_matching}/raw": "attention mass on the targets, periods weighted equally",
    "{induction|duplicate_token|prefix_matching}/control": "the same mass on non-repeating sequences",
}, applies=induction_applies, default="always"))

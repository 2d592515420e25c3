"""Issue 18's defects in the induction claims (`probes.claims.induction`, `probes.measures.induction_controls`), on minimal tables
whose numbers are the ones the issue measured (the conformance fixtures check the same claims on real runs)."""
from __future__ import annotations

import math

from circuits.model.clamp import Clamp
from probes.claims.induction import compute_findings
from probes.measures.induction_controls import other_sets, partner_heads

STEPS = (0, 500, 1000, 1500, 2000, 2500, 3000)
HEADS = [(layer, head) for layer in range(2) for head in range(4)]


def _row(step, probe, metric, value, head=(None, None)) -> dict:
    return {"step": step, "tokens": 0, "layer": head[0], "head": head[1], "probe": probe, "metric": metric, "value": value}


def table(icl: dict | None = None, controls: list[dict] | None = None, weights: bool = False) -> list[dict]:
    """attn-only-2l-shaped: head 1.0 becomes an induction head at step 1000, head 0.0 a previous-token head."""
    rows = []
    for step in STEPS:
        for h in HEADS:
            score = 0.9 if h == (1, 0) and step >= 1000 else 0.0
            rows += [_row(step, "attention", "induction", score, h), _row(step, "attention", "induction/raw", score + 0.05, h),
                     _row(step, "attention", "induction/control", 0.05, h),
                     _row(step, "attention", "previous_token", 0.9 if h == (0, 0) else 0.1, h)]
        values = {"loss": 2.0, "icl_score": -1.54, "repeat_loss": 4.5, "late_loss": 3.2, "bag/late_loss": 3.1,
                  "bag/icl_score": -1.72, "chance_loss": math.log(128), "icl_score/se": 0.05} | (icl or {})
        rows += [_row(step, "icl", m, v if step else 0.0 if m == "icl_score" else v) for m, v in values.items()]
    if weights:
        rows += [_row(STEPS[-1], "weights", f"k_composition/from/0.{s}", 0.5 if s == 0 else 0.1, (1, h))
                 for h in range(4) for s in range(4)]
        rows.append(_row(STEPS[-1], "weights", "k_composition/random_baseline", 0.1))
    return rows + [dict(r, step=STEPS[-1]) for r in controls or []]


def controls(flagged: list, effect: float, others: list[float]) -> list[dict]:
    rows = [_row(0, "induction_controls", "in_set", float(h in flagged), h) for h in HEADS]
    rows += [_row(0, "induction_controls", "partner", float(h == (0, 0)), h) for h in HEADS]
    if flagged and others:
        rows += [_row(0, "induction_controls", f"set/{m}", v) for m, v in (("loss", 0.5), ("icl_score", 1.0), ("repeat_loss", effect))]
        rows += [_row(0, "induction_controls", f"random_set/{i}/repeat_loss", v) for i, v in enumerate(others)]
    return rows + [_row(0, "induction_controls", "random_sets", float(len(others)))]


def claims(rows: list[dict], **kw) -> dict:
    return {c.key: c for c in compute_findings(rows, **kw).claims}


# ---- context use: against the bag-of-context baseline, not Olsson's −0.4 nats for 512-token text ------------------
def test_context_use_needs_to_beat_the_bag_of_context_predictor():
    """The 1-layer control's −1.54 nats passed the −0.4 threshold; its late-position loss is no better than a
    predictor that only counts earlier tokens."""
    one_layer = claims(table())["icl/uses_context"]
    assert not one_layer.supported and "bag-of-context" in one_layer.sentence
    induction = claims(table({"icl_score": -3.9, "late_loss": 0.6}))["icl/uses_context"]
    assert induction.supported, induction.sentence
    assert {c.name for c in induction.checks} == {"ICL score", "late loss − bag-of-context late loss"}


def test_context_use_without_the_baseline_rows_is_not_supported():
    rows = [r for r in table({"icl_score": -3.9, "late_loss": 0.6}) if not r["metric"].startswith("bag/")]
    assert not claims(rows)["icl/uses_context"].supported


# ---- the induction-head ablation control ---------------------------------------------------------------------------
def test_comparison_sets_exclude_the_circuits_other_heads():
    import torch

    previous = torch.tensor([[0.9, 0.1, 0.5, 0.0], [0.95, 0.0, 0.0, 0.0]])
    partners = partner_heads(previous, [(1, 0), (1, 1)])
    assert partners == [(0, 0), (0, 2)]  # layer-1 heads cannot feed a layer-1 head's keys
    sets = other_sets([(1, 0), (1, 1)], 2, 4, partners)
    assert sets and all(not {(0, 0), (0, 2), (1, 0), (1, 1)} & set(s) for s in sets)
    assert len(sets) == math.comb(4, 2)
    assert other_sets([(0, 0)], 1, 1) == []  # nothing left to compare with


def test_no_flagged_heads_gives_a_stated_unsupported_claim():
    claim = claims(table(controls=controls([], 0.0, [])))["ablation/induction_heads"]
    assert not claim.supported and claim.checks


def test_no_comparison_sets_is_not_supported():
    """Today `beaten` = 1.0 when there is nothing to beat."""
    claim = claims(table(controls=controls([(1, 0)], 3.0, [])))["ablation/induction_heads"]
    assert not claim.supported, claim.sentence


def test_the_ablation_control_is_an_exact_rank_test():
    beats_all_55 = claims(table(controls=controls([(1, 0)], 3.0, [0.1] * 55)))["ablation/induction_heads"]
    assert beats_all_55.supported, beats_all_55.sentence
    assert "p = 1/56" in beats_all_55.sentence
    few = claims(table(controls=controls([(1, 0)], 3.0, [0.1] * 6)))["ablation/induction_heads"]
    assert not few.supported and "too few comparison sets" in few.sentence and "1/7" in few.sentence
    tied = claims(table(controls=controls([(1, 0)], 3.0, [0.1] * 50 + [3.5] * 5)))["ablation/induction_heads"]
    assert not tied.supported  # p = 6/56


def test_the_claim_names_the_excluded_partners():
    claim = claims(table(controls=controls([(1, 0)], 3.0, [0.1] * 55)))["ablation/induction_heads"]
    assert "previous-token partner(s) 0.0" in claim.sentence


# ---- clamped runs: a claim whose path a clamp cuts is not stated ---------------------------------------------------
def test_the_partner_claim_is_not_stated_when_a_clamp_blocks_k_composition():
    rows = table(weights=True)
    assert "circuit/previous_token_partner" in claims(rows)
    blocked = compute_findings(rows, clamps=(Clamp("block_k_composition", layer=1),))
    assert "circuit/previous_token_partner" not in {c.key for c in blocked.claims}
    assert any("block_k_composition" in note for note in blocked.notes)
    other_layer = claims(rows, clamps=(Clamp("zero_head", layer=0, head=3),))
    assert "circuit/previous_token_partner" in other_layer


def test_the_phase_claim_states_every_locator_criterion():
    claim = claims(table())["induction/phase_change"]
    assert {"|change| / scale", "|change| / noise floor", "plateau checkpoints"} <= {c.name for c in claim.checks}


# ---- audit: verdicts that said "supported" on null inputs ----------------------------------------------------------
def test_a_falling_induction_score_is_no_phase_change():
    """The locator used |change|: a top head whose score falls 0.9 → 0.55 (a series starting at a trained
    revision, fixed noise floor) was "a sudden transition" of the induction score."""
    rows = [dict(r, value=0.9 if r["step"] <= 1000 else 0.55) if (r["metric"], r["layer"], r["head"]) ==
            ("induction", 1, 0) else r for r in table()]
    claim = claims(rows, native=False)["induction/phase_change"]
    assert not claim.supported, claim.sentence
    assert any(c.name == "change in the required direction" and not c.passed for c in claim.checks)


def test_the_partner_claim_needs_an_induction_head():
    """Untrained rows with a tripled K-composition passed: nothing asked whether the top head is an induction head."""
    rows = [dict(r, value=0.1 if r["value"] == 0.9 else r["value"]) if (r["metric"], r["layer"], r["head"]) ==
            ("induction", 1, 0) else r for r in table(weights=True)]
    claim = claims(rows)["circuit/previous_token_partner"]
    assert not claim.supported, claim.sentence
    check = next(c for c in claim.checks if c.name == "top head's controlled induction score")
    assert not check.passed and check.threshold == 0.5
    assert claims(table(weights=True))["circuit/previous_token_partner"].supported


def test_no_comparison_sets_fails_a_flag_with_margin_minus_one():
    """It showed "rank-test p nan (margin +nan)"."""
    rows = table(controls=controls([(1, 0)], 3.0, []) + [
        _row(0, "induction_controls", f"set/{m}", v) for m, v in (("loss", 0.5), ("icl_score", 1.0), ("repeat_loss", 3.0))])
    claim = claims(rows)["ablation/induction_heads"]
    assert not claim.supported and claim.margin == -1.0
    assert any(c.name == "comparison sets exist" and not c.passed for c in claim.checks)
    assert "no same-size head set is left outside the circuit" in claim.sentence and "+nan" not in claim.sentence

"""Verdict counts over runs and the ±20% threshold sensitivity (probes.claims.validation), from saved claims."""
from __future__ import annotations

from probes.claims.claim import Check, flag, make_claim
from probes.claims.validation import flips, verdict_table


def _saved(*claims):
    return [c.to_dict() for c in claims]


def test_a_claim_near_its_threshold_flips_and_a_far_one_does_not():
    near = make_claim("a", "near", True, 0.55, None, "", [Check("score", 0.55, ">=", 0.5)])
    far = make_claim("b", "far", True, 5.0, None, "", [Check("score", 5.0, ">=", 0.5), flag("located", True)])
    below = make_claim("c", "below", True, 0.1, None, "", [Check("loss", 0.1, "<=", 0.09)])
    found = flips({"run0": _saved(near, far, below)})
    assert {(f.key, round(f.factor, 1)) for f in found} == {("a", 1.2), ("c", 1.2)}
    assert [f.supported_before for f in found if f.key == "c"] == [False]


def test_verdict_table_counts_supporting_and_stating_runs():
    yes = make_claim("a", "x", True, 1.0, None, "", [Check("s", 1.0, ">", 0.0)])
    no = make_claim("a", "x", True, -1.0, None, "", [Check("s", -1.0, ">", 0.0)])
    assert verdict_table({"r0": _saved(yes), "r1": _saved(no), "r2": []}) == {"a": (1, 2)}


def test_a_check_on_a_non_finite_value_fails_and_says_so():
    from probes.claims.claim import Check

    for value in (float("inf"), float("nan")):
        check = Check("ratio", value, ">=", 3.0)
        assert not check.passed and check.margin != check.margin and "fails" in check.describe()
    claim = make_claim("k", "x", True, 1.0, None, "", [Check("ratio", float("inf"), ">=", 3.0), flag("ok", True)])
    assert not claim.supported and "margin +inf" not in claim.sentence and "fails" in claim.sentence
    assert Check("s", 0.2, ">=", 0.5).describe().endswith("fails)")

"""The FV claims are computed from the table: synthetic tables that contradict each claim change its sentence."""
import math

import pytest
import torch

from probes.claims.claim import NOT_SUPPORTED, fmt
from probes.claims.fv import onset, transition_analysis

STEPS = [0, 100, 200, 300, 400, 500]
# A small model (6 heads), where one head decides a share: head 1.0 starts as an induction head (onset 100) and
# becomes an FV head (AIE onset 300) while its induction score falls; head 1.1 becomes an FV head without ever being
# an induction head; 1.2 stays an induction head.
SMALL_INDUCTION = {(1, 0): [0.0, 0.8, 0.8, 0.5, 0.3, 0.2], (1, 1): [0.0, 0.1, 0.1, 0.1, 0.1, 0.1],
                   (1, 2): [0.0, 0.7, 0.8, 0.8, 0.8, 0.8], (0, 0): [0.0] * 6, (1, 3): [0.0] * 6, (1, 4): [0.0] * 6}
SMALL_AIE = {(1, 0): [0.0, 0.0, 0.01, 0.2, 0.3, 0.3], (1, 1): [0.0, 0.0, 0.0, 0.1, 0.2, 0.2],
             (1, 2): [0.0] * 6, (0, 0): [0.0] * 6, (1, 3): [0.0] * 6, (1, 4): [0.0] * 6}
# Enough heads for the exact tests (8 above layer 0): both FV heads 1.0 and 1.1 start as induction heads and become FV
# heads while their induction score falls; none of the 6 other heads above layer 0 is ever an induction head.
INDUCTION = {(1, 0): [0.0, 0.8, 0.8, 0.5, 0.3, 0.2], (1, 1): [0.0, 0.9, 0.9, 0.6, 0.3, 0.2], (0, 0): [0.0] * 6,
             **{(1, h): [0.0, 0.1, 0.1, 0.1, 0.1, 0.1] for h in range(2, 8)}}
AIE = {(1, 0): [0.0, 0.0, 0.01, 0.2, 0.3, 0.3], (1, 1): [0.0, 0.0, 0.0, 0.1, 0.2, 0.2], (0, 0): [0.0] * 6,
       **{(1, h): [0.0] * 6 for h in range(2, 8)}}
FINALS = {"few_shot_accuracy": 0.9, "zero_shot_accuracy": 0.1, "fv_zero_shot_accuracy": 0.6,
          "no_fv_zero_shot_accuracy": 0.1, "other_task_fv_zero_shot_accuracy": 0.05, "mean_hidden_zero_shot_accuracy": 0.15,
          "random_heads_fv_zero_shot_accuracy/mean": 0.12, "random_heads_fv_zero_shot_accuracy/min": 0.08,
          "random_heads_fv_zero_shot_accuracy/max": 0.2, "fv_shuffled_accuracy": 0.5, "no_fv_shuffled_accuracy": 0.2,
          "fv_best_layer": 0.0, "few_shot_prompts": 256.0, "ablate_fv/few_shot_accuracy": 0.3, "ablate_induction/few_shot_accuracy": 0.6,
          "ablate_fv_excl/few_shot_accuracy": 0.4, "ablate_induction_excl/few_shot_accuracy": 0.8,
          "ablate_fv_excl/icl_score_change": 0.3, "ablate_induction_excl/icl_score_change": 2.0,
          "ablate_excl_difference/icl_score_change_se": 0.1}
CONTROLS = {"ablate_random/few_shot_accuracy/mean": 0.7, "ablate_random/few_shot_accuracy/min": 0.3,
            "ablate_random/few_shot_accuracy/max": 0.9, "ablate_fv/beats_random": 1.0}


def row(step, probe, metric, value, layer=None, head=None):
    return {"step": step, "tokens": step, "layer": layer, "head": head, "probe": probe, "metric": metric, "value": value}


def fv_table(induction=INDUCTION, aie=AIE, se=0.005, finals=None, controls=None):
    table = [row(s, "attention", "induction", v[i], *h) for h, v in induction.items() for i, s in enumerate(STEPS)]
    table += [row(s, "fv", "aie", v[i], *h) for h, v in aie.items() for i, s in enumerate(STEPS)]
    table += [row(s, "fv", "aie_se", se, *h) for h in aie for s in STEPS]
    table += [row(s, "fv", "fv_set", float(h in ((1, 0), (1, 1))), *h) for h in aie for s in STEPS]
    table += [row(s, "fv", m, v) for m, v in {**FINALS, **(finals or {})}.items() for s in STEPS]
    return table + [row(STEPS[-1], "fv_controls", m, v) for m, v in {**CONTROLS, **(controls or {})}.items()]


def claims(table) -> dict:
    return {c.key: c for c in transition_analysis(table, top_n=2).claims}


def test_every_claim_holds_on_the_table_built_to_support_it_and_states_its_numbers():
    found = claims(fv_table())
    assert all(c.supported for c in found.values()), [c.sentence for c in found.values() if not c.supported]
    for c in found.values():
        assert fmt(c.value) in c.sentence and (c.control is None or fmt(c.control) in c.sentence), c.sentence
        assert NOT_SUPPORTED not in c.sentence
    assert all(c.checks for c in found.values()), [k for k, c in found.items() if not c.checks]
    t = transition_analysis(fv_table(), top_n=2)
    assert t.fv_heads == ["1.0", "1.1"] and t.induction_onset == 100 and t.fv_onset == 300
    assert t.heads["1.0"].was_induction_first and t.heads["1.1"].was_induction_first
    assert t.heads["1.0"].signature and not t.heads["1.2"].signature
    assert found["fv/were_induction"].value == 1.0 and found["fv/were_induction"].control == 0.0
    assert "2 of 2 FV heads vs 0 of 6 other heads" in found["fv/were_induction"].sentence
    t = transition_analysis(fv_table(SMALL_INDUCTION, SMALL_AIE), top_n=2)
    assert t.heads["1.0"].was_induction_first and not t.heads["1.1"].was_induction_first
    assert not t.heads["1.2"].signature and t.base_rate == pytest.approx(1 / 3)  # 1.2 of the other heads above layer 0


def flips(key, table):
    claim = claims(table)[key]
    assert not claim.supported and claim.sentence.startswith(NOT_SUPPORTED), claim.sentence
    assert fmt(claim.value) in claim.sentence


def test_no_head_above_the_aie_noise_floor_means_no_fv_heads():
    flips("fv/heads", fv_table(se=0.2))


def test_fv_heads_forming_first_contradicts_the_order_claim():
    late = {**INDUCTION, (1, 0): [0.0, 0.0, 0.0, 0.0, 0.8, 0.8], (1, 1): [0.0, 0.0, 0.0, 0.0, 0.0, 0.8]}
    flips("fv/order", fv_table(induction=late))


def test_were_induction_needs_to_beat_the_base_rate():
    base = {**INDUCTION, **{(1, h): [0.0, 0.9, 0.9, 0.9, 0.9, 0.9] for h in (3, 4)}}  # other heads were too: p = 6/28
    flips("fv/were_induction", fv_table(induction=base))
    never = {**INDUCTION, (1, 0): [0.0, 0.1, 0.1, 0.1, 0.1, 0.1]}
    flips("fv/were_induction", fv_table(induction=never))


def test_an_induction_score_that_does_not_fall_shows_no_signature():
    flat = {**INDUCTION, (1, 0): [0.0, 0.8, 0.8, 0.8, 0.8, 0.8]}
    flips("fv/signature", fv_table(induction=flat))


@pytest.mark.parametrize("key, finals, controls", [
    ("fv/few_shot", {"few_shot_accuracy": 0.2}, None),
    ("fv/injection", {"fv_zero_shot_accuracy": 0.18}, None),  # below the best random-head FV
    ("fv/injection", {"mean_hidden_zero_shot_accuracy": 0.7}, None),  # the mean hidden state does as well
    ("fv/ablation", None, {"ablate_fv/beats_random": 0.5}),
    ("fv/yin_steinhardt_few_shot", {"ablate_fv_excl/few_shot_accuracy": 0.85}, None),
    ("fv/yin_steinhardt_few_shot", {"ablate_fv_excl/few_shot_accuracy": 0.78}, None),  # within 2 standard errors
    ("fv/yin_steinhardt_icl", {"ablate_induction_excl/icl_score_change": 0.1}, None),
])
def test_contradicting_numbers_change_the_sentence(key, finals, controls):
    flips(key, fv_table(finals=finals, controls=controls))


def test_onset_uses_one_relative_criterion_above_a_noise_floor():
    assert onset([(0, 0.0), (1, 0.2), (2, 0.6), (3, 1.0)], floor=0.0) == 2
    assert onset([(0, 0.0), (1, 0.04), (2, 0.05)], floor=0.05) is None
    assert onset([(0, 0.1), (1, 0.2), (2, 0.9), (3, 0.3)], floor=0.1) == 2  # the peak counts, not the final value


# ---- issue 18 ("Every verdict can fail"): small head counts get an exact test; the Yin & Steinhardt predictions a
#      margin on their own scale --------------------------------------------------------------------------------------
def test_one_head_does_not_decide_were_induction_or_the_signature():
    """The table above: 1 of 2 FV heads vs 1 of 3 other heads was an induction head first; 1 of 2 FV heads vs 0 of 3
    shows the signature. A share comparison called both "supported"; the one-sided hypergeometric (Fisher exact) p is
    0.70 and 0.40, far from any verdict."""
    found = claims(fv_table(SMALL_INDUCTION, SMALL_AIE))
    for key, p in (("fv/were_induction", 0.7), ("fv/signature", 0.4)):
        claim = found[key]
        assert not claim.supported, claim.sentence
        assert any("Fisher" in c.name for c in claim.checks), claim.checks
        assert next(c for c in claim.checks if "Fisher" in c.name).value == pytest.approx(p)


def test_the_exact_test_is_passed_when_every_fv_head_and_no_other_head_shows_it():
    """8 heads above layer 0: both FV heads were induction heads first and show the signature, none of the 6 others
    does: p = 1/C(8, 2) = 1/28 (the smallest attainable)."""
    found = claims(fv_table())
    for key in ("fv/were_induction", "fv/signature"):
        assert found[key].supported, found[key].sentence
        assert next(c for c in found[key].checks if "Fisher" in c.name).value == pytest.approx(1 / 28)


def test_the_yin_steinhardt_icl_prediction_needs_a_margin_in_nats():
    """0.31 vs 0.30 nats was "supported" by a raw >; a difference below YS_ICL_MIN_NATS (or within its noise) is not."""
    flips("fv/yin_steinhardt_icl", fv_table(finals={"ablate_induction_excl/icl_score_change": 0.31,
                                                     "ablate_fv_excl/icl_score_change": 0.30}))
    noisy = {"ablate_excl_difference/icl_score_change_se": 1.0}  # the paired difference's standard error over sequences
    flips("fv/yin_steinhardt_icl", fv_table(finals=noisy))
    claim = claims(fv_table())["fv/yin_steinhardt_icl"]
    assert claim.supported and len(claim.checks) == 4 and all(c.passed for c in claim.checks)  # 2 flags, margin, noise


def test_the_yin_steinhardt_few_shot_prediction_states_its_margin_as_checks():
    claim = claims(fv_table())["fv/yin_steinhardt_few_shot"]
    assert claim.supported and len(claim.checks) >= 2, claim.sentence
    flips("fv/yin_steinhardt_few_shot", fv_table(finals={"ablate_fv_excl/few_shot_accuracy": 0.74, "few_shot_prompts": 1e6}))


def test_no_same_size_head_sets_outside_the_fv_set_means_no_injection_or_ablation_verdict():
    """The 1-layer control: every head is in the FV set or there is no other same-size set (rows say so)."""
    table = [r for r in fv_table() if not r["metric"].startswith(("random_heads_fv", "ablate_random"))]
    table += [row(STEPS[-1], "fv", "random_heads_fv_zero_shot_accuracy/sets", 0.0),
              row(STEPS[-1], "fv_controls", "ablate_random/few_shot_accuracy/sets", 0.0)]
    found = claims(table)
    for key in ("fv/injection", "fv/ablation"):
        assert not found[key].supported and "sets" in found[key].sentence, found[key].sentence


def test_the_report_section_is_drawn_for_a_model_too_small_for_the_controls():
    from probes.report.fv import fv_section

    table = [r for r in fv_table() if not r["metric"].startswith(("random_heads_fv", "ablate_random"))]
    lines, figures, _ = fv_section(table + [row(STEPS[-1], "fv", "random_heads_fv_zero_shot_accuracy/sets", 0.0)])
    assert len(figures) == 5 and any("0 same-size head sets" in line for line in lines)


# ---- audit of null inputs: verdicts that said "supported" on nulls ------------------------------------------------
def _sigmoid_table(**kw):
    import math

    import nulls_fv as NF

    steps, saved = list(range(0, 1201, 10)), NF.STEPS
    sg = lambda t: 1 / (1 + math.exp(-(t - 600) / 30))  # noqa: E731
    z = [0.0] * len(steps)
    NF.STEPS = steps
    try:
        return NF.transition_table({(1, 0): [0.8 * sg(t) for t in steps], (0, 0): z, (1, 1): z},
                                   {(1, 0): [0.05 * sg(t) for t in steps], (0, 0): z, (1, 1): z}, **kw)
    finally:
        NF.STEPS = saved


def test_identical_sigmoids_for_induction_and_aie_do_not_order_them():
    """Audit: the onset was floor + 0.5·(peak − floor) with different floors: identical sigmoids 20 steps apart."""
    from probes.claims.claim import CLAIM_FAMILIES, load_families

    load_families()
    order = {c.key: c for c in CLAIM_FAMILIES["fv"].evaluate(_sigmoid_table(se=0.001))}["fv/order"]
    assert not order.supported, order.sentence
    t = transition_analysis(_sigmoid_table(se=0.001))
    assert t.induction_onset == t.fv_onset == 600


def test_the_order_needs_two_checkpoint_intervals():
    late = {**AIE, (1, 0): [0.0, 0.0, 0.0, 0.0, 0.3, 0.3], (1, 1): [0.0, 0.0, 0.0, 0.0, 0.2, 0.2]}
    early = {**INDUCTION, (1, 0): [0.0, 0.0, 0.8, 0.5, 0.3, 0.2], (1, 1): [0.0, 0.0, 0.0, 0.9, 0.9, 0.9]}
    assert claims(fv_table(induction=early, aie=late))["fv/order"].supported  # onsets 200 and 400: 2 intervals
    one = {**INDUCTION, (1, 0): [0.0, 0.0, 0.0, 0.8, 0.3, 0.2], (1, 1): [0.0, 0.0, 0.0, 0.9, 0.9, 0.9]}
    assert not claims(fv_table(induction=one, aie=late))["fv/order"].supported  # 300 and 400: one interval


def _many_heads_table(best_z: float, se: float = 0.01):
    """12 × 12 heads, AIE 0 but one head at best_z standard errors."""
    aie = {(l, h): [0.0] * 6 for l in range(12) for h in range(12)}
    aie[(1, 0)] = [0.0] * 5 + [best_z * se]
    induction = {k: [0.0] * 6 for k in aie}
    return fv_table(induction=induction, aie=aie, se=se)


def test_the_best_of_144_heads_needs_a_bonferroni_z():
    """Audit: 144 heads of pure noise (AIE ~ N(0, 0.01), SE 0.01) cleared a fixed 3 SE on 17% of draws."""
    assert not claims(_many_heads_table(3.2))["fv/heads"].supported
    assert claims(_many_heads_table(4.0))["fv/heads"].supported
    from probes.claims.fv import bonferroni_z

    assert 3.3 < bonferroni_z(144) < 3.5 and bonferroni_z(8) < 3.0
    gen, passed = torch.Generator().manual_seed(0), 0
    for _ in range(200):
        noise = (torch.randn(144, generator=gen) * 0.01).tolist()
        aie = {(l, h): [0.0] * 5 + [noise[12 * l + h]] for l in range(12) for h in range(12)}
        table = fv_table(induction={k: [0.0] * 6 for k in aie}, aie=aie, se=0.01)
        passed += claims(table)["fv/heads"].supported
    assert passed <= 16, passed  # ≈ 5% (FV_HEADS_FWER); a fixed 3 SE: ≈ 17%


def test_a_zero_or_nan_standard_error_gives_no_infinite_margin():
    from probes.claims.fv import _ratio

    assert math.isnan(_ratio(0.3, float("nan"))) and math.isnan(_ratio(float("nan"), 0.1))
    assert math.isfinite(_ratio(0.3, 0.0)) and _ratio(0.3, 0.0) > 1e3 and _ratio(0.0, 0.0) == 0.0
    for se in (0.0, float("nan")):
        found = claims(fv_table(se=se))
        bad = [c.sentence for c in found.values() if "margin +inf" in c.sentence or "margin -inf" in c.sentence]
        assert not bad, bad
    assert not claims(fv_table(se=float("nan")))["fv/heads"].supported


def test_the_injection_needs_a_margin_over_the_best_baseline():
    assert not claims(fv_table(finals={"fv_zero_shot_accuracy": 0.32, "random_heads_fv_zero_shot_accuracy/max": 0.31}
                               ))["fv/injection"].supported
    assert claims(fv_table())["fv/injection"].supported

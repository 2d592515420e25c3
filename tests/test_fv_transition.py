"""The FV claims are computed from the table: synthetic tables that contradict each claim change its sentence."""
import pytest

from probes.claims import NOT_SUPPORTED, fmt
from probes.fv_transition import onset, transition_analysis

STEPS = [0, 100, 200, 300, 400, 500]
# head 1.0 starts as an induction head (onset 100) and becomes an FV head (AIE onset 300) while its induction score
# falls; head 1.1 becomes an FV head without ever being an induction head; 1.2 stays an induction head.
INDUCTION = {(1, 0): [0.0, 0.8, 0.8, 0.5, 0.3, 0.2], (1, 1): [0.0, 0.1, 0.1, 0.1, 0.1, 0.1],
             (1, 2): [0.0, 0.7, 0.8, 0.8, 0.8, 0.8], (0, 0): [0.0] * 6, (1, 3): [0.0] * 6, (1, 4): [0.0] * 6}
AIE = {(1, 0): [0.0, 0.0, 0.01, 0.2, 0.3, 0.3], (1, 1): [0.0, 0.0, 0.0, 0.1, 0.2, 0.2],
       (1, 2): [0.0] * 6, (0, 0): [0.0] * 6, (1, 3): [0.0] * 6, (1, 4): [0.0] * 6}
FINALS = {"few_shot_accuracy": 0.9, "zero_shot_accuracy": 0.1, "fv_zero_shot_accuracy": 0.6,
          "no_fv_zero_shot_accuracy": 0.1, "other_task_fv_zero_shot_accuracy": 0.05, "mean_hidden_zero_shot_accuracy": 0.15,
          "random_heads_fv_zero_shot_accuracy/mean": 0.12, "random_heads_fv_zero_shot_accuracy/min": 0.08,
          "random_heads_fv_zero_shot_accuracy/max": 0.2, "fv_shuffled_accuracy": 0.5, "no_fv_shuffled_accuracy": 0.2,
          "fv_best_layer": 0.0, "few_shot_prompts": 256.0, "ablate_fv/few_shot_accuracy": 0.3, "ablate_induction/few_shot_accuracy": 0.6,
          "ablate_fv_excl/few_shot_accuracy": 0.4, "ablate_induction_excl/few_shot_accuracy": 0.8,
          "ablate_fv_excl/icl_score_change": 0.3, "ablate_induction_excl/icl_score_change": 2.0}
CONTROLS = {"ablate_random/few_shot_accuracy/mean": 0.7, "ablate_random/few_shot_accuracy/min": 0.3,
            "ablate_random/few_shot_accuracy/max": 0.9, "ablate_fv/beats_random": 0.98}


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
    t = transition_analysis(fv_table(), top_n=2)
    assert t.fv_heads == ["1.0", "1.1"] and t.induction_onset == 100 and t.fv_onset == 300
    assert t.heads["1.0"].was_induction_first and not t.heads["1.1"].was_induction_first
    assert t.heads["1.0"].signature and not t.heads["1.2"].signature
    assert found["fv/were_induction"].value == 0.5  # 1.0 of {1.0, 1.1}
    assert found["fv/were_induction"].control == pytest.approx(1 / 3)  # 1.2 of the other heads above layer 0
    assert "1 of 2 FV heads" in found["fv/were_induction"].sentence


def flips(key, table):
    claim = claims(table)[key]
    assert not claim.supported and claim.sentence.startswith(NOT_SUPPORTED), claim.sentence
    assert fmt(claim.value) in claim.sentence


def test_no_head_above_the_aie_noise_floor_means_no_fv_heads():
    flips("fv/heads", fv_table(se=0.2))


def test_fv_heads_forming_first_contradicts_the_order_claim():
    late = {**INDUCTION, (1, 0): [0.0, 0.0, 0.0, 0.0, 0.8, 0.8], (1, 2): [0.0, 0.0, 0.0, 0.0, 0.0, 0.8]}
    flips("fv/order", fv_table(induction=late))


def test_were_induction_needs_to_beat_the_base_rate():
    base = {**INDUCTION, **{(1, h): [0.0, 0.9, 0.9, 0.9, 0.9, 0.9] for h in (3, 4)}}  # other heads were too
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

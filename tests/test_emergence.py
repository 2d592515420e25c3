"""Sharp vs smooth metrics (probes.claims.emergence): metric definitions on hand-made logits, the computed "What to notice"
sentences (each must flip to "not supported by this run" when fed numbers that contradict it), and one science test
on the trained 1-layer control and 2-layer run."""
import math

import pytest
import torch

from probes.claims.emergence import (
    NOT_SUPPORTED,
    SHARP_METRICS,
    SMOOTH_METRICS,
    ambiguous_positions,
    capability_curves,
    continuation_metrics,
    control_sentence,
    edit_distance,
    error_correlation,
    independence_sentence,
    manufactured_claim,
    manufactured_sentence,
    mechanism_sentence,
    per_sequence,
    size_claim,
    size_sentence,
    transitions,
)
from probes.claims.phase_change import PhaseChange


def _logits(correct, targets: torch.Tensor, vocab: int = 16) -> torch.Tensor:
    """Logits whose argmax is the target where `correct`, the next token (mod vocab) elsewhere; softmax ≈ one-hot."""
    wrong = (targets + 1) % vocab
    chosen = torch.where(correct, targets, wrong)
    return 20.0 * torch.nn.functional.one_hot(chosen, vocab).float()


def test_exact_match_of_independent_errors_is_p_to_the_L():
    gen = torch.Generator().manual_seed(0)
    targets = torch.randint(16, (4000, 10), generator=gen)
    correct = torch.rand(4000, 10, generator=gen) < 0.8
    row = continuation_metrics(_logits(correct, targets), targets, length=5)
    assert row["top1_accuracy"] == pytest.approx(0.8, abs=0.01)
    assert row["exact_match"] == pytest.approx(0.8**5, abs=0.02)
    assert row["independent_match"] == pytest.approx(0.8**5, abs=0.02)
    assert row["match_ratio"] == pytest.approx(1.0, abs=0.08)
    assert row["exact_match_full"] == pytest.approx(0.8**10, abs=0.02) and (row["L"], row["L_full"]) == (5, 10)
    assert abs(row["error_correlation"]) < 0.02
    assert row["noise/exact_match"] == pytest.approx(math.sqrt(0.8**5 * (1 - 0.8**5) / 4000), rel=0.25)


def test_errors_that_hit_whole_sequences_are_fully_correlated_and_beat_p_to_the_L():
    targets = torch.randint(16, (1000, 10), generator=torch.Generator().manual_seed(1))
    correct = (torch.arange(1000) % 5 != 0)[:, None].expand(-1, 10)  # every 5th sequence entirely wrong
    row = continuation_metrics(_logits(correct, targets), targets, length=5, noise=False)
    assert row["exact_match"] == pytest.approx(0.8) and row["independent_match"] == pytest.approx(0.8**5)
    assert row["match_ratio"] == pytest.approx(0.8 ** -4)
    assert row["error_correlation"] == pytest.approx(1.0)
    assert "noise/exact_match" not in row


def test_error_correlation_formula_on_counts():
    assert error_correlation(torch.tensor([0.0, 4.0]), 4).item() == pytest.approx(1.0)  # all-or-nothing
    assert error_correlation(torch.tensor([2.0, 2.0]), 4).item() == pytest.approx(-1 / 3)  # perfectly spread: −1/(m−1)


def test_brier_score_and_log_prob_on_a_hand_case():
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]]]))
    targets = torch.tensor([[0, 1]])
    seq = per_sequence(logits, targets, length=2)
    assert seq["brier"].item() == pytest.approx(((0.5 - 1) ** 2 + 2 * 0.25**2 + (0.2**2 + 0.8**2 + 0.6**2)) / 2)
    assert seq["log_prob"].item() == pytest.approx((math.log(0.5) + math.log(0.2)) / 2)
    assert seq["acc"].item() == 0.5 and seq["em"].item() == 0.0


def test_ambiguous_positions_are_those_whose_current_token_recurs_in_the_segment():
    tokens = torch.tensor([[0, 5, 6, 5, 7, 5, 6, 5, 7]])  # [BOS, r, r] with r = 5 6 5 7 (n = 4)
    # predicting positions 5, 6, 7 hold the current tokens 5, 6, 5: token 5 occurs twice in r
    assert ambiguous_positions(tokens, 4).tolist() == [[True, False, True]]
    targets, correct = torch.tensor([[6, 5, 7]]), torch.tensor([[False, True, True]])
    row = continuation_metrics(_logits(correct, targets), targets, noise=False, ambiguous=ambiguous_positions(tokens, 4))
    assert (row["top1_ambiguous"], row["top1_unambiguous"], row["ambiguous_share"]) == (0.5, 1.0, pytest.approx(2 / 3))


def test_token_edit_distance_is_levenshtein_not_hamming():
    t = lambda *xs: torch.tensor([list(xs)])  # noqa: E731
    assert edit_distance(t(1, 2, 3, 4, 5), t(1, 2, 3, 4, 5)).item() == 0
    assert edit_distance(t(2, 3, 4, 5, 6), t(1, 2, 3, 4, 5)).item() == 2  # shifted by one: Hamming would say 5
    assert edit_distance(t(1, 9, 3, 4, 5), t(1, 2, 3, 4, 5)).item() == 1
    kitten, sitting = t(*b"kitten"), t(*b"sitting")
    assert edit_distance(kitten, sitting).item() == 3
    batch = edit_distance(torch.tensor([[1, 2], [3, 3]]), torch.tensor([[1, 2], [1, 2]]))
    assert batch.tolist() == [0, 2]


# ---- computed sentences ------------------------------------------------------------------------------------------
STEPS = [0, 10, 100, 400, 500, 600, 700, 800, 1000, 2000, 3000]


def _rows(p: list[float], em: list[float] | None = None, L: int = 5, rho: float = 0.0, rho_noise: float = 0.005) -> list[dict]:
    """Synthetic capability rows: EM = p^L unless given; smooth metrics follow p."""
    em = em if em is not None else [x**L for x in p]
    rows = []
    for step, a, e in zip(STEPS, p, em, strict=False):
        rows.append({"step": step, "L": L, "L_full": 20, "top1_accuracy": a, "exact_match": e, "independent_match": a**L,
                     "match_ratio": e / a**L if a else float("nan"), "exact_match_full": a**20,
                     "independent_match_full": a**20, "match_ratio_full": 1.0, "error_correlation": rho,
                     "log_prob": math.log(max(a, 0.01)), "brier": 1 - a, "edit_distance": L * (1 - a),
                     "edit_distance_full": 20 * (1 - a), "noise/top1_accuracy": 0.005, "noise/exact_match": 0.01,
                     "noise/error_correlation": rho_noise})
    return rows


JUMP = [0.01, 0.01, 0.01, 0.02, 0.3, 0.8, 0.9, 0.9, 0.9, 0.91, 0.9]
FLAT = [0.01, 0.01, 0.012, 0.011, 0.01, 0.012, 0.011, 0.012, 0.011, 0.012, 0.012]


def test_manufactured_sentence_flips_when_p_jumps_with_exact_match():
    late = [0, 0, 0, 0, 0, 0.01, 0.3, 0.5, 0.55, 0.6, 0.58]  # EM rises at 600–800, after p's jump at 400–600
    made = manufactured_sentence("run", _rows(JUMP, em=late), "exact_match", "ctl", _rows(FLAT))
    assert made.startswith("In run the 5-token exact match jumps") and "Control ctl" in made
    together = [x**5 for x in JUMP]  # EM's window is p's own jump: a real change, not made by the metric
    assert NOT_SUPPORTED in manufactured_sentence("run", _rows(JUMP, em=together), "exact_match", "ctl", _rows(FLAT))
    assert NOT_SUPPORTED in manufactured_sentence("ctl", _rows(FLAT), "exact_match", "ctl", _rows(FLAT))


def test_a_tiny_exact_match_rise_with_no_noise_rows_is_no_metric_jump():
    """Issue 18 audit: exact match 0.000 → 0.004 on p ≈ 0.01 with noise/exact_match 0 (or missing) was "the metric
    makes the jump": the floor was ≈ 0 and the locator asked for no minimum change."""
    tiny = [0, 0, 0, 0, 0, 0.001, 0.004, 0.004, 0.004, 0.004, 0.004]
    for noise in (0.0, None, 0.001):
        rows = _rows(FLAT, em=tiny)
        for r in rows:
            if noise is None:
                r.pop("noise/exact_match")
            else:
                r["noise/exact_match"] = noise
        claim = manufactured_claim("run", rows, "exact_match", "ctl", _rows(FLAT))
        assert not claim.supported, (noise, claim.sentence)
        if noise:  # measured: judged, with the locator's checks in the claim
            assert any(k.name == "|change| / scale" and not k.passed for k in claim.checks), claim.sentence
        else:
            assert "no verdict" in claim.sentence


def test_a_size_jump_with_no_rise_of_p_shows_no_infinite_margin():
    rows = [{"d_model": d, "L_full": 20, "top1_accuracy": 0.5, "exact_match_full": e, "independent_match_full": 0.5**20,
             "log_prob": math.log(0.5), "edit_distance_full": 10.0, "noise/exact_match_full": 0.01}
            for d, e in ((16, 0.0), (32, 0.0), (64, 0.5), (128, 0.5))]
    claim = size_claim(rows)
    assert "inf" not in claim.sentence and not any(math.isinf(k.value) for k in claim.checks)


def test_independence_sentence_flips_with_the_correlation():
    assert NOT_SUPPORTED not in independence_sentence("run", _rows(JUMP, rho=0.05))
    assert "positively correlated" in independence_sentence("run", _rows(JUMP, rho=0.05))
    assert NOT_SUPPORTED in independence_sentence("run", _rows(JUMP, rho=0.004))
    assert NOT_SUPPORTED in independence_sentence("run", _rows(JUMP, rho=float("nan")))


def _verdict(detected: bool, start: int = 500, end: int = 700) -> PhaseChange:
    return PhaseChange(start, end, (start, end), 0.0, 1.0, detected, "" if detected else "change 0 is below …", 0.01)


def _verdicts(sharp: bool, smooth: bool, start: int = 500) -> dict[str, PhaseChange]:
    return {m: _verdict(sharp) for m in SHARP_METRICS} | {m: _verdict(smooth, start, start + 200) for m in SMOOTH_METRICS}


def test_mechanism_sentence_needs_the_smooth_metrics_to_jump_in_the_same_window():
    none = _verdicts(False, False)
    real = mechanism_sentence("run", _verdicts(True, True), "ctl", none)
    assert "change of mechanism" in real and NOT_SUPPORTED not in real and "no transition on any metric" in real
    assert NOT_SUPPORTED in mechanism_sentence("run", _verdicts(True, False), "ctl", none)  # a mirage
    assert NOT_SUPPORTED in mechanism_sentence("run", _verdicts(True, True, start=2000), "ctl", none)  # other window
    dirty = mechanism_sentence("run", _verdicts(True, True), "ctl", _verdicts(True, False))
    assert NOT_SUPPORTED in dirty and "control is not clean" in dirty


def test_control_sentence_flips_when_the_control_jumps():
    assert NOT_SUPPORTED not in control_sentence("ctl", _verdicts(False, False), "run", _verdicts(True, True))
    assert NOT_SUPPORTED in control_sentence("ctl", _verdicts(True, False), "run", _verdicts(True, True))


def _size_rows(p: list[float], em: list[float], sizes: tuple[int, ...] = (16, 32, 64, 128), noise: float = 0.01) -> list[dict]:
    return [{"d_model": d, "top1_accuracy": a, "exact_match_full": e, "independent_match_full": a**20, "L_full": 20,
             "log_prob": math.log(a), "edit_distance_full": 20 * (1 - a), "noise/exact_match_full": noise}
            for d, a, e in zip(sizes, p, em, strict=False)]


def test_size_sentence_flips_when_exact_match_rises_no_more_than_p_or_p_to_the_L_misses_it():
    small_rise = [0.8, 0.85, 0.9, 0.97]
    amplified = size_sentence(_size_rows(small_rise, [a**20 for a in small_rise]))
    assert amplified.startswith("Over model size, exact match turns") and "64 → 128" in amplified
    linear = [0.1, 0.3, 0.5, 0.7]
    assert NOT_SUPPORTED in size_sentence(_size_rows(linear, linear))  # EM rises no more than p
    assert NOT_SUPPORTED in size_sentence(_size_rows(small_rise, [0.0, 0.0, 0.0, 0.9]))  # p^L predicts 0.18, not 0.9
    assert NOT_SUPPORTED in size_sentence(_size_rows([0.9, 0.9, 0.9, 0.9], [0.1] * 4))  # nothing rises


def test_a_size_jump_needs_three_sizes():
    """Issue 18, defect 5: two sizes (d_model 64 → 128) cannot tell a jump from a smooth trend; before the fix the
    sentence below was supported (6.4× amplification, p^20 predicting the rise exactly)."""
    two = _size_rows([0.9, 0.97], [0.9**20, 0.97**20], sizes=(64, 128))
    claim = size_claim(two)
    assert not claim.supported and NOT_SUPPORTED in size_sentence(two)
    assert "sizes on the axis 2.00 >= 3.00" in claim.sentence


def test_a_size_jump_needs_exact_match_to_bend_in_log_size_beyond_its_noise():
    """Issue 18, defect 5: exact match rising linearly in log d_model (0.2, 0.4, 0.6, 0.8 at 16 … 128, with p = EM^(1/20)
    so p^L predicts it exactly and it is 6× p's rise) is a smooth trend, not a jump — supported before the fix."""
    em = [0.2, 0.4, 0.6, 0.8]
    linear = size_claim(_size_rows([e ** (1 / 20) for e in em], em))
    assert not linear.supported and "deviation from log-linear" in linear.sentence
    small_rise = [0.8, 0.85, 0.9, 0.97]
    bent = size_claim(_size_rows(small_rise, [a**20 for a in small_rise]))  # 0.12 at 64 vs 0.29 on the chord: 14σ
    assert bent.supported and all(c.passed for c in bent.checks)
    noisy = size_claim(_size_rows(small_rise, [a**20 for a in small_rise], noise=0.1))  # the same bend inside its noise
    assert not noisy.supported


# ---- science: the 1-layer control has no transition on sharp metrics, the 2-layer run has one ------------------
@pytest.mark.slow
def test_sharp_metrics_jump_in_the_two_layer_run_and_not_in_the_control(control_run, default_run):
    control, run = transitions(capability_curves(control_run, progress=False)), transitions(capability_curves(default_run, progress=False))
    for metric in ("top1_accuracy", "exact_match"):
        assert not control[metric].detected, (metric, control[metric])
        assert run[metric].detected, (metric, run[metric])
        assert run[metric].start < 1500 and run[metric].end - run[metric].start <= 900
    assert not control["exact_match_full"].detected

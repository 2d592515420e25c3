import math

import pytest
import torch

from probes.claims.phase_change import locate_phase_change
from probes.measures.icl import icl_positions, icl_score


def test_icl_score_is_late_minus_early_so_context_use_is_negative():
    losses = torch.linspace(4.0, 1.0, 63)  # loss falls along the context
    assert icl_score(losses).item() < -2.0
    assert icl_score(torch.full((63,), 3.0)).item() == pytest.approx(0.0)
    assert icl_positions(64) == (5, 56)  # ~10% and ~90% of 63 loss positions (Olsson's 50 and 500 of 512)
    assert icl_positions(512) == (50, 459)


def test_locator_brackets_a_sigmoid_transition_and_finds_its_steepest_interval():
    steps = [0, 1, 2, 5, 10, 50, 100, 200, 300, 400, 450, 500, 550, 600, 700, 800, 1000, 1500, 2000]
    values = [1 / (1 + math.exp(-(s - 520) / 25)) for s in steps]
    change = locate_phase_change(steps, values)
    assert change.start <= 500 <= change.end and change.end - change.start <= 250
    assert change.steepest == (500, 550)
    crossing = next(s for s, v in zip(steps, values, strict=False) if v >= 0.5)
    assert change.start <= crossing <= change.end
    falling = locate_phase_change(steps, [-v for v in values])  # the ICL score falls
    assert (falling.start, falling.end) == (change.start, change.end) and falling.change < 0


def test_locator_needs_two_checkpoints():
    with pytest.raises(ValueError, match="need ≥ 2 checkpoints"):
        locate_phase_change([0], [1.0])


# ---- the locator declares a transition only when the change is large, above the noise and narrow ----------------
def _grid() -> list[int]:
    """The default run's merged log + linear checkpoint grid (41 steps over 3,000)."""
    from circuits.presets import preset
    from circuits.training.schedule import checkpoint_steps

    return checkpoint_steps(preset("attn-only-2l").train)


def test_locator_detects_a_sigmoid_on_log_spaced_checkpoints_around_its_midpoint():
    steps = _grid()
    values = [1 / (1 + math.exp(-(s - 1000) / 60)) for s in steps]
    change = locate_phase_change(steps, values)
    assert change.detected and change.reason == ""
    assert change.start <= 1000 <= change.end and change.end - change.start <= 450
    noisy = [v + 0.02 * float(e) for v, e in zip(values, torch.randn(len(steps), generator=torch.Generator().manual_seed(0)), strict=False)]
    assert locate_phase_change(steps, noisy).detected


def test_locator_rejects_a_linear_ramp_as_too_wide():
    steps = _grid()
    change = locate_phase_change(steps, [s / 3000 for s in steps])
    assert not change.detected and "wider than" in change.reason
    log_ramp = [math.log1p(s) for s in steps]  # linear in log-steps: the slow early learning of a 1-layer model
    assert not locate_phase_change(steps, log_ramp).detected


def test_locator_rejects_flat_series_and_never_raises_on_a_constant_one():
    steps = _grid()
    constant = locate_phase_change(steps, [0.3] * len(steps))
    assert not constant.detected and constant.change == 0 and "no change" in constant.reason
    assert (constant.start, constant.end) == (steps[0], steps[-1])
    noise = torch.randn(len(steps), generator=torch.Generator().manual_seed(1))
    flat = locate_phase_change(steps, [0.3 + 0.01 * float(e) for e in noise])
    assert not flat.detected and "noise floor" in flat.reason
    assert 0.003 < flat.noise < 0.03  # the robust estimate recovers the scale of the noise
    assert not locate_phase_change([0, 10], [1.0, 1.0]).detected


def test_locator_uses_a_given_noise_floor():
    steps = _grid()
    values = [1 / (1 + math.exp(-(s - 1000) / 60)) for s in steps]
    change = locate_phase_change(steps, values, noise=0.5)
    assert not change.detected and change.noise == 0.5 and "below 5× the noise floor 0.5" in change.reason


def test_report_on_a_run_that_learned_nothing_does_not_crash(tiny_run, tmp_path, capsys):
    """Every checkpoint holds the step-0 weights, so every metric is exactly flat."""
    import shutil

    from icl_workbench import main

    shutil.copytree(tiny_run.path, tmp_path / "run")
    steps_dir = tmp_path / "run" / "steps"
    first = sorted(steps_dir.iterdir())[0] / "model.safetensors"
    for folder in sorted(steps_dir.iterdir())[1:]:
        shutil.copyfile(first, folder / "model.safetensors")
    assert main(["analyze", str(tmp_path / "run"), "--quiet"]) == 0
    assert main(["report", str(tmp_path / "run")]) == 0
    assert "report:" in capsys.readouterr().out


# ---- issue 18: a minimum change on the metric's own scale, bootstrap noise, and a plateau after the window -------
CHANCE = math.log(128)  # the repeat loss of a model that has learned nothing (d_vocab 128)


def _sigmoid_drop(steps: list[int], drop: float, at: float, width: float = 25.0) -> list[float]:
    return [CHANCE - drop / (1 + math.exp(-(s - at) / width)) for s in steps]


def test_locator_rejects_a_noiseless_small_drop_on_the_loss_scale():
    """A noiseless 0.05-nat drop (and the +no-k-comp runs' 0.2-nat one at step 272) is no phase change: the
    curve-based noise floor is ≈ 0 on a smooth curve, so only a minimum change on the loss scale can reject it."""
    from probes.claims.thresholds import PHASE_MIN_LOSS_SHARE

    steps = _grid()
    for drop in (0.05, 0.2, 0.5):
        change = locate_phase_change(steps, _sigmoid_drop(steps, drop, 272), scale=CHANCE, min_change=PHASE_MIN_LOSS_SHARE)
        assert not change.detected and "of the metric's scale" in change.reason, (drop, change)
    real = locate_phase_change(steps, _sigmoid_drop(steps, 4.1, 900), scale=CHANCE, min_change=PHASE_MIN_LOSS_SHARE)
    assert real.detected, real.reason


def test_locator_takes_the_larger_of_a_bootstrap_noise_floor_and_the_curves_own():
    steps = _grid()
    values = _sigmoid_drop(steps, 1.5, 900)
    assert locate_phase_change(steps, values, scale=CHANCE, min_change=0.25).detected
    boot = locate_phase_change(steps, values, noise=0.4, scale=CHANCE, min_change=0.25)  # 1.5 < 5 × 0.4
    assert not boot.detected and boot.noise == 0.4 and "noise floor" in boot.reason


def test_locator_needs_a_plateau_after_the_window():
    steps = _grid()
    late = locate_phase_change(steps, _sigmoid_drop(steps, 4.0, 2990, width=5))  # drops at the last checkpoint
    assert not late.detected and "plateau" in late.reason
    transient = [v + (3.0 if s > 1400 else 0.0) * min(1.0, (s - 1400) / 200) for s, v in
                 zip(steps, _sigmoid_drop(steps, 4.0, 900), strict=True)]  # falls, then climbs most of the way back up
    assert not locate_phase_change(steps, transient).detected
    ok = locate_phase_change(steps, _sigmoid_drop(steps, 4.0, 900))
    assert ok.detected and ok.plateau_checkpoints >= 3


def test_locator_checks_state_every_criterion_with_its_margin():
    from probes.claims.phase_change import phase_checks

    steps = _grid()
    change = locate_phase_change(steps, _sigmoid_drop(steps, 0.2, 272), scale=CHANCE, min_change=0.25)
    checks = phase_checks(change)
    assert {c.name for c in checks} >= {"|change| / scale", "|change| / noise floor", "window / step range",
                                       "window / log-step range", "plateau checkpoints", "plateau deviation / |change|"}
    assert [c.name for c in checks if not c.passed] == ["|change| / scale"]


def test_bootstrap_se_matches_the_standard_error_of_the_mean():
    from probes.measures.icl import bootstrap_se

    x = torch.randn(400, generator=torch.Generator().manual_seed(0))
    assert bootstrap_se(x) == pytest.approx(float(x.std() / 20), rel=0.2)
    assert bootstrap_se(torch.ones(10)) == 0.0


def test_bag_of_context_baseline_is_uniform_without_repeats_and_learns_from_counts():
    """The best order-free predictor (softmax of β·count + γ·[seen] of each earlier token): on 63 distinct tokens it
    learns to avoid the seen ones (ln(127 − i) at position i), and where the context repeats 4 tokens it gets ≤ ln 4."""
    from probes.measures.icl import bag_of_context_losses

    fresh = torch.arange(1, 64).view(1, 63)
    fresh = torch.cat([torch.zeros(1, 1, dtype=torch.long), fresh], dim=1)  # BOS, then 63 distinct tokens
    assert torch.allclose(bag_of_context_losses(fresh, 128), torch.log(127 - torch.arange(63.0)), atol=1e-3)
    periodic = torch.cat([torch.zeros(1, 1, dtype=torch.long), torch.tensor([5, 6, 7, 8]).repeat(16).view(1, 64)[:, :63]], dim=1)
    losses = bag_of_context_losses(periodic, 128)
    assert losses[-10:].max() < math.log(4) + 0.1 and losses[0] > 4.0


# ---- audit: direction and non-finite scale / noise -----------------------------------------------------------------
def _rising(steps, rise=1.5, at=1500, width=30.0):
    return [math.log(128) + rise / (1 + math.exp(-(s - at) / width)) for s in steps]


def test_locator_checks_the_required_direction():
    """A loss that rises was "a drop in a phase change": the locator used |change| only."""
    steps, chance = list(range(0, 3001, 50)), math.log(128)
    up = _rising(steps)
    assert locate_phase_change(steps, up, scale=chance, min_change=0.25).detected  # direction None: either way
    falling_required = locate_phase_change(steps, up, scale=chance, min_change=0.25, direction=-1)
    assert not falling_required.detected and "rises" in falling_required.reason
    from probes.claims.phase_change import phase_checks

    signed = next(k for k in phase_checks(falling_required) if k.name == "change in the required direction")
    assert not signed.passed and signed.margin < 0
    assert locate_phase_change(steps, up, scale=chance, min_change=0.25, direction=+1).detected
    down = [2 * chance - v for v in up]
    assert locate_phase_change(steps, down, scale=chance, min_change=0.25, direction=-1).detected


def test_locator_with_a_nan_scale_or_noise_detects_nothing():
    """_ratio(a, NaN) was 1e9 (the minimum change passed) and max(robust, NaN) dropped a NaN noise floor."""
    steps = [0, 100, 200, 300, 400, 500, 600]
    values = [3.0, 3.0, 3.0, 2.95, 2.95, 2.95, 2.95]
    nan_scale = locate_phase_change(steps, values, scale=float("nan"), min_change=0.25)
    assert not nan_scale.detected and "scale" in nan_scale.reason and "not finite" in nan_scale.reason
    from probes.claims.phase_change import phase_checks

    assert not phase_checks(nan_scale)[0].passed
    nan_noise = locate_phase_change(steps, values, noise=float("nan"))
    assert not nan_noise.detected and "noise" in nan_noise.reason and "not finite" in nan_noise.reason
    inf_noise = locate_phase_change(steps, values, noise=float("inf"))
    assert not inf_noise.detected
    assert locate_phase_change(steps, values).detected  # the same series with finite floors: a (tiny) step

import math

import pytest
import torch

from probes.icl import icl_positions, icl_score, locate_phase_change


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
    from circuits.schedule import checkpoint_steps

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

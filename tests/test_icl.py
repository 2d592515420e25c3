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
    crossing = next(s for s, v in zip(steps, values) if v >= 0.5)
    assert change.start <= crossing <= change.end
    falling = locate_phase_change(steps, [-v for v in values])  # the ICL score falls
    assert (falling.start, falling.end) == (change.start, change.end) and falling.change < 0


def test_locator_needs_two_checkpoints():
    with pytest.raises(ValueError, match="need ≥ 2 checkpoints"):
        locate_phase_change([0], [1.0])

"""Content-controlled head scores: a positional head (fixed offsets, no content) must not pass as an induction,
prefix-matching or duplicate-token head under any preset; a real induction circuit must."""
import pytest
import torch
from handbuilt import induction_model, positional_model

from circuits.data.configs import RepeatsData, training_lengths
from circuits.data.generators import generator_of
from circuits.presets import PRESETS, preset
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs, induction_lengths, prefix_period
from probes.measures.applies import induction_applies
from probes.measures.attention import attention_probe

CONTENT_SCORES = ("induction", "prefix_matching", "duplicate_token")
# The detectors are checked on every preset whose model is not clamped (a clamp, e.g. blocked K-composition, changes
# the hand-built circuit's function on purpose; tests/test_clamp.py checks what clamped runs' probes see), and on which
# the induction probes apply (not modular addition; not a vocabulary smaller than the context, as icl-mc-*:
# probes.measures.applies.induction_applies says why, and the sweep records it).
UNCLAMPED = [n for n in sorted(PRESETS) if not preset(n).clamps and generator_of(preset(n).data).sequences
             and induction_applies(ProbeInputs.for_run(preset(n))) is None]


def scores(rows: list[dict], metric: str) -> dict[tuple[int, int], float]:
    return {(r["layer"], r["head"]): r["value"] for r in rows if r["metric"] == metric}


def shortcut_offsets(config) -> list[list[int]]:
    """Single offsets that hit each probe period's targets (P − 1, 2P − 1), a trained period's, and mixtures."""
    periods = list(induction_lengths(config)) + [prefix_period(config)]
    singles = sorted({p - 1 for p in periods} | {2 * p - 1 for p in periods if 2 * p - 1 < config.model.n_ctx}
                     | ({training_lengths(config.data)[0] - 1} if isinstance(config.data, RepeatsData) else set()))
    mixtures = [[p - 1 for p in periods], [1, periods[0] - 1], singles[:3]]
    return [[d] for d in singles] + mixtures


@pytest.mark.parametrize("name", UNCLAMPED)
def test_positional_heads_score_below_point_two_under_every_preset(name):
    config = preset(name)
    inputs = ProbeInputs.for_run(config)
    offsets = shortcut_offsets(config)
    heads = [(layer, head) for layer in range(config.model.n_layers) for head in range(config.model.n_heads)]
    for start in range(0, len(offsets), len(heads)):
        chosen = dict(zip(heads, offsets[start : start + len(heads)], strict=False))
        state = positional_model(config.model, chosen)
        rows = attention_probe(Checkpoint.native(config, state), inputs)
        for metric in CONTENT_SCORES:
            for head, offs in chosen.items():
                value = scores(rows, metric)[head]
                assert value < 0.2, f"{name}: positional head {head} at offsets {offs} scores {metric} = {value:.3f}"


@pytest.mark.parametrize("name", [n for n in UNCLAMPED if preset(n).model.n_layers >= 2])
def test_a_hand_built_induction_circuit_scores_at_least_point_nine(name):
    config = preset(name)
    state = induction_model(config.model)
    rows = attention_probe(Checkpoint.native(config, state), ProbeInputs.for_run(config))
    assert scores(rows, "induction")[(1, 0)] >= 0.9, scores(rows, "induction")
    assert scores(rows, "prefix_matching")[(1, 0)] >= 0.9, scores(rows, "prefix_matching")
    assert scores(rows, "previous_token")[(0, 0)] >= 0.9
    assert scores(rows, "induction")[(0, 0)] < 0.2  # the previous-token head is positional


def test_each_score_is_reported_as_raw_control_and_their_difference():
    config = preset("attn-only-2l")
    state = induction_model(config.model)
    rows = attention_probe(Checkpoint.native(config, state), ProbeInputs.for_run(config))
    for metric in CONTENT_SCORES:
        raw, control, diff = (scores(rows, f"{metric}{suffix}") for suffix in ("/raw", "/control", ""))
        for head in raw:
            assert diff[head] == pytest.approx(raw[head] - control[head], abs=1e-6)
    positional = positional_model(config.model, {(0, 1): [16]})
    rows = attention_probe(Checkpoint.native(config, positional), ProbeInputs.for_run(config))
    assert scores(rows, "induction/raw")[(0, 1)] > 0.2  # the raw score is fooled by the period-17 offset …
    assert scores(rows, "induction")[(0, 1)] < 0.05  # … the control removes it


def test_periods_are_weighted_equally():
    config = preset("attn-only-2l")
    inputs = ProbeInputs.for_run(config)
    counts = torch.bincount(inputs.induction.period)
    assert len(set(counts[counts > 0].tolist())) == 1


def test_a_head_perfect_on_one_period_only_scores_one_over_the_number_of_periods():
    """Periods weigh equally whatever their number of target rows (pooling rows would favour short periods)."""
    from probes.measures.detectors import controlled_score, induction_target

    config = preset("attn-only-2l")
    probe = ProbeInputs.for_run(config).induction
    target = induction_target(probe.tokens).float()
    ideal = target / target.sum(-1, keepdim=True).clamp_min(1)
    periods = probe.period.unique()
    for period in periods:
        pattern = torch.where((probe.period == period)[:, None, None], ideal, torch.zeros_like(ideal))[None, :, None]
        result = controlled_score(pattern, torch.zeros_like(pattern), probe, induction_target)
        assert result.raw.item() == pytest.approx(1 / len(periods), abs=1e-6)

import pytest
import torch
from builders import tiny_config

from circuits.errors import WorkbenchError
from circuits.presets import preset
from probes.engine.inputs import induction_probe, prefix_matching_probe
from probes.measures.detectors import attention_patterns, duplicate_token_score, induction_score, induction_target, previous_token_score


def reference_scores(patterns, tokens, rule) -> torch.Tensor:
    """Per-head, per-row loop: mean over rows with a target of the attention mass on positions where rule(i, j)."""
    L, B, H, T, _ = patterns.shape
    out = torch.zeros(L, H)
    for layer in range(L):
        for head in range(H):
            masses = []
            for b in range(B):
                for i in range(T):
                    keys = [j for j in range(T) if rule(tokens[b], i, j)]
                    if keys:
                        masses.append(sum(patterns[layer, b, head, i, j].item() for j in keys))
            out[layer, head] = sum(masses) / len(masses)
    return out


RULES = {
    "previous": lambda t, i, j: j == i - 1,
    "duplicate": lambda t, i, j: j < i and t[j] == t[i],
    "induction": lambda t, i, j: 1 <= j <= i and t[j - 1] == t[i],
}


@pytest.mark.parametrize("name, fn", [("previous", previous_token_score), ("duplicate", duplicate_token_score), ("induction", induction_score)])
def test_batched_detectors_agree_with_a_per_head_reference_loop(tiny_run, name, fn):
    model = tiny_run.load_bridge(tiny_run.steps()[-1])
    tokens = induction_probe(tiny_run.config(), n=6).tokens
    patterns = attention_patterns(model, tokens)
    torch.testing.assert_close(fn(patterns, tokens), reference_scores(patterns, tokens, RULES[name]), atol=1e-5, rtol=0)


def _one_head(pattern: torch.Tensor) -> torch.Tensor:
    return pattern[None, :, None]  # [layer=1, batch, head=1, q, k]


def test_ideal_heads_score_one_and_the_cache_is_not_mutated():
    tokens = induction_probe(preset("attn-only-2l"), n=8).tokens
    ideal = induction_target(tokens).float()
    rows = ideal.sum(-1, keepdim=True)
    pattern = torch.where(rows > 0, ideal / rows.clamp_min(1), torch.eye(tokens.shape[1])[None])
    before = pattern.clone()
    assert induction_score(_one_head(pattern), tokens).item() == pytest.approx(1.0)
    assert torch.equal(pattern, before)
    prev = torch.eye(tokens.shape[1]).roll(-1, 1).tril(-1)
    prev[0, 0] = 1
    assert previous_token_score(_one_head(prev.expand_as(pattern)), tokens).item() == pytest.approx(1.0)


def test_probe_inputs_fit_the_context_and_are_seeded():
    config = preset("attn-only-2l")
    probe = induction_probe(config)
    assert torch.equal(probe.tokens, induction_probe(config).tokens)
    assert probe.tokens.shape == probe.control.shape and probe.tokens.shape[1] == config.model.n_ctx
    assert prefix_matching_probe(config).tokens.shape[1] <= config.model.n_ctx
    for row in probe.control:  # the content control: no token occurs twice
        assert len(set(row.tolist())) == len(row)


def test_a_sequence_longer_than_the_context_is_one_clear_error(tiny_run):
    model = tiny_run.load_bridge(tiny_run.steps()[-1])
    with pytest.raises(WorkbenchError, match="probe sequence length 40 exceeds the model's context n_ctx=32"):
        attention_patterns(model, torch.ones(2, 40, dtype=torch.long))
    assert tiny_config().model.n_ctx == 32

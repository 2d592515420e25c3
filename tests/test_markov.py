"""In-context Markov chains (Edelman et al. 2024, arXiv 2402.11004): the generator's per-sequence and fixed
matrices, the probe's strategies (their add-one smoothing) and KL, and the stage claims on hand-built tables (the
trained fixtures are in tests/nulls_markov.py)."""
import math

import torch
from nulls_markov import table

from circuits.data.generators import make_sampler, stationary_distribution
from circuits.presets import preset
from probes.claims.markov import markov_claims
from probes.engine.inputs import ProbeInputs
from probes.measures.applies import induction_applies
from probes.measures.markov import heldout_chains, kl, markov_applies, strategies


def test_strategies_count_the_context_with_add_one_smoothing():
    p = strategies(torch.tensor([[0, 1, 0, 0]]), 2)
    assert torch.allclose(p["uniform"][0, -1], torch.tensor([0.5, 0.5], dtype=torch.double))
    assert torch.allclose(p["unigram"][0, -1], torch.tensor([4 / 6, 2 / 6], dtype=torch.double))  # counts (3, 1)
    assert torch.allclose(p["bigram"][0, -1], torch.tensor([2 / 4, 2 / 4], dtype=torch.double))  # 0→1, 0→0
    assert torch.allclose(p["bigram"][0, 1], torch.tensor([0.5, 0.5], dtype=torch.double))  # state 1 unseen before
    assert torch.allclose(p["bigram"][0, 2], torch.tensor([1 / 3, 2 / 3], dtype=torch.double))  # 0→1 once


def test_kl_is_zero_on_itself_and_positive_elsewhere():
    q = torch.tensor([0.2, 0.3, 0.5], dtype=torch.double)
    assert kl(q, q.log()).abs() < 1e-12 and kl(torch.full((3,), 1 / 3, dtype=torch.double), q.log()) > 0


def test_the_preset_samples_per_sequence_matrices_and_the_control_one_fixed_matrix():
    config = preset("icl-mc-2l")
    tokens, matrices = make_sampler(config.data, config.model).sample_with_matrices(16, torch.Generator().manual_seed(0))
    assert tokens.shape == (16, 101) and (tokens[:, 0] == 0).all() and set(tokens[:, 1:].unique().tolist()) <= {1, 2, 3}
    assert not torch.allclose(matrices[0], matrices[1]) and torch.allclose(matrices.sum(-1), torch.ones(16, 3))
    fixed = preset("icl-mc-2l-fixed")
    _, shared = make_sampler(fixed.data, fixed.model).sample_with_matrices(16, torch.Generator().manual_seed(0))
    assert torch.allclose(shared, shared[:1].expand_as(shared))
    pi = stationary_distribution(matrices)
    assert torch.allclose(torch.einsum("bs,bst->bt", pi, matrices), pi, atol=1e-5)


def test_the_probe_measures_fresh_matrices_even_for_the_fixed_control():
    inputs = ProbeInputs.for_run(preset("icl-mc-2l-fixed"))
    _, matrices = heldout_chains(inputs, 8)
    assert not torch.allclose(matrices[0], matrices[1])


def test_the_markov_probe_applies_to_markov_runs_and_the_induction_probes_say_why_not():
    inputs = ProbeInputs.for_run(preset("icl-mc-2l"))
    assert markov_applies(inputs) is None and "without a repeated token" in induction_applies(inputs)
    assert markov_applies(ProbeInputs.for_run(preset("attn-only-2l"))) is not None


def staged(t: float) -> tuple[float, float, float]:
    """Uniform until t = 0.05, unigram until 0.3, then a fast fall to the bigram strategy by 0.4."""
    if t < 0.05:
        return 0.001, 0.12, 0.25
    if t < 0.3:
        return 0.12, 0.01, 0.14
    return 0.25, 0.12, 0.14 - 0.12 * min(1.0, (t - 0.3) / 0.1)


def test_a_hand_built_staged_table_supports_both_claims_and_a_late_unigram_one_does_not():
    claims = {c.key: c for c in markov_claims(table(staged))}
    assert claims["markov/stages"].supported and claims["markov/bigram_transition"].supported, \
        "\n".join(c.sentence for c in claims.values())
    assert math.isclose(claims["markov/stages"].value, 0.11, abs_tol=1e-9)
    reversed_order = markov_claims(table(lambda t: staged(1 - t)))
    assert not any(c.supported for c in reversed_order)
    assert markov_claims([]) == []  # no markov rows: no claims

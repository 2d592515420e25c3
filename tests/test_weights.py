import torch
from builders import tiny_model

from circuits.model.transformer import FastTransformer
from probes.measures.weights import copying_score, head_weights, k_composition, k_composition_baseline, ov_circuits, qk_circuits, unembedding


def test_copying_score_equals_the_eigenvalues_of_the_full_vocab_ov_circuit():
    cfg = tiny_model(normalization="LN")
    weights = FastTransformer(cfg).state_dict()
    for name in weights:
        if name.endswith("ln1.weight") or name == "ln_final.weight":
            weights[name] = torch.rand(cfg.d_model) + 0.5
    scores = copying_score(weights, cfg)
    W_E, W_U = weights["embed.weight"], unembedding(weights, cfg)
    for layer in range(cfg.n_layers):
        w = head_weights(weights, cfg, layer)
        for head in range(cfg.n_heads):
            full = W_E @ w["W_V"][head] @ w["W_O"][head] @ W_U  # [vocab, vocab], materialised only here
            eig = torch.linalg.eigvals(full.double())
            assert abs(scores[layer, head].item() - (eig.sum().real / eig.abs().sum()).item()) < 1e-4


def test_copying_score_is_plus_one_for_a_copying_head_and_minus_one_for_a_suppressing_one():
    cfg = tiny_model()
    weights = FastTransformer(cfg).state_dict()
    W_E = weights["embed.weight"]
    weights["unembed.weight"] = W_E.clone()  # W_U = W_E^T
    v = torch.zeros(cfg.d_model, cfg.d_model)
    v[: cfg.d_head, : cfg.d_head] = torch.eye(cfg.d_head)
    weights["blocks.0.attn.v.weight"] = v.T.contiguous()
    o = torch.zeros(cfg.d_model, cfg.d_model)
    o[: cfg.d_head, : cfg.d_head] = torch.eye(cfg.d_head)
    weights["blocks.0.attn.o.weight"] = o.contiguous()
    assert copying_score(weights, cfg)[0, 0].item() > 0.999
    weights["blocks.0.attn.o.weight"] = -o
    assert copying_score(weights, cfg)[0, 0].item() < -0.999


def test_k_composition_matches_the_direct_frobenius_formula_and_beats_nothing_at_random():
    cfg = tiny_model()
    weights = FastTransformer(cfg).state_dict()
    scores = k_composition(weights, cfg)
    ov, qk = ov_circuits(weights, cfg, 0), qk_circuits(weights, cfg, 1)[0]
    for h1 in range(cfg.n_heads):
        for h2 in range(cfg.n_heads):
            direct = torch.linalg.matrix_norm(ov[h1] @ qk[h2].T) / (torch.linalg.matrix_norm(ov[h1]) * torch.linalg.matrix_norm(qk[h2]))
            assert abs(scores[0, h1, 1, h2].item() - direct.item()) < 1e-5
    assert torch.isnan(scores[1, :, 0, :]).all() and torch.isnan(scores[0, :, 0, :]).all()
    baseline = k_composition_baseline(cfg)
    assert 0 < baseline < 1
    assert abs(scores[0, :, 1, :].mean().item() - baseline) < 0.1  # an untrained model looks random


def test_rotary_k_composition_averages_over_relative_offsets():
    cfg = tiny_model(positional="rotary")
    weights = FastTransformer(cfg).state_dict()
    qk = qk_circuits(weights, cfg, 1)
    assert qk.shape == (cfg.n_ctx, cfg.n_heads, cfg.d_model, cfg.d_model)
    w = head_weights(weights, cfg, 1)
    torch.testing.assert_close(qk[0], w["W_Q"] @ w["W_K"].transpose(1, 2))  # offset 0: no rotation
    assert torch.isfinite(k_composition(weights, cfg)[0, :, 1, :]).all()

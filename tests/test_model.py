import pytest
import torch
from builders import tiny_model

from circuits.model.transformer import FastTransformer, build_bridge
from circuits.presets import PRESETS, preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_fast_model_has_the_bridge_state_dict_and_logits(name):
    cfg = preset(name).model
    bridge = build_bridge(cfg)
    fast = FastTransformer(cfg, bridge.state_dict())
    assert {k: v.shape for k, v in fast.state_dict().items()} == {k: v.shape for k, v in bridge.state_dict().items()}
    tokens = torch.randint(0, cfg.d_vocab, (3, cfg.n_ctx), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(fast(tokens), bridge(tokens), atol=1e-5, rtol=0)


@pytest.mark.parametrize("overrides", [dict(positional="rotary"), dict(normalization="LN"), dict(attn_only=False, act_fn="gelu_new", normalization="LN")])
def test_fast_model_matches_the_bridge_after_training_steps(overrides):
    """Logits agree on trained (non-initial) weights too, for every positional / norm / MLP variant."""
    cfg = tiny_model(**overrides)
    fast = FastTransformer(cfg)
    opt = torch.optim.AdamW(fast.parameters(), lr=1e-2)
    tokens = torch.randint(0, cfg.d_vocab, (8, cfg.n_ctx), generator=torch.Generator().manual_seed(1))
    for _ in range(5):
        loss = fast(tokens).logsumexp(-1).mean() - fast(tokens).gather(-1, tokens[..., None]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    bridge = build_bridge(cfg, fast.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(fast(tokens), bridge(tokens), atol=1e-5, rtol=0)


def test_initialisation_is_seeded():
    a, b = FastTransformer(tiny_model(seed=1)), FastTransformer(tiny_model(seed=1))
    c = FastTransformer(tiny_model(seed=2))
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not torch.equal(a.state_dict()["embed.weight"], c.state_dict()["embed.weight"])


def test_explicit_attention_computes_the_fused_function_and_restores_the_fused_path():
    """`explicit_attention` (used under torch.func.vmap by the native SGLD sampler) gives the fused path's logits."""
    model = FastTransformer(preset("attn-only-2l").model)
    tokens = torch.randint(0, model.cfg.d_vocab, (3, 20), generator=torch.Generator().manual_seed(0))
    fused = model(tokens)
    with model.explicit_attention():
        assert not any(block.attn.fused for block in model.blocks)
        explicit = model(tokens)
    assert all(block.attn.fused for block in model.blocks)
    torch.testing.assert_close(explicit, fused, atol=1e-5, rtol=1e-5)

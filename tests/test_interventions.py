"""The intervention engine: the fast path and the hook path give the same numbers on the same weights, and the hook
path works on Hugging Face bridges (GPT-2, GPT-NeoX) exactly as a per-head run_with_hooks loop does."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from builders import tiny_config

from circuits.model.transformer import FastTransformer, build_bridge, initial_state_dict
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.engine.interventions import FastEngine, HookEngine, hook_resid_post, hook_z, last_position_patch
from probes.measures.ablation import ABLATIONS, ablation_effects, head_set_mask, single_head_conditions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from ablation_speed import naive_effects  # noqa: E402 - the per-head run_with_hooks loop

VARIANTS = {
    "attn-only": dict(),
    "full": dict(attn_only=False, act_fn="gelu"),
    "layernorm-rotary": dict(attn_only=False, act_fn="gelu_new", normalization="LN", positional="rotary"),
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def engines(request):
    cfg = tiny_config(model=dict(n_layers=3, **VARIANTS[request.param])).model
    state = initial_state_dict(cfg)
    state = {k: v + 0.05 * torch.randn(v.shape, generator=torch.Generator().manual_seed(1)) for k, v in state.items()}
    return HookEngine(build_bridge(cfg, state)), FastEngine(FastTransformer(cfg, state)), cfg


def _every_set(n_layers: int, n_heads: int) -> torch.Tensor:
    """Single heads, cross-layer pairs and the clean condition."""
    pairs = head_set_mask([(0, 1), (2, 0)], n_layers, n_heads)[None]
    return torch.cat([torch.zeros(1, n_layers, n_heads, dtype=torch.bool), single_head_conditions(n_layers, n_heads), pairs])


def test_clean_runs_agree_hook_by_hook(engines):
    hook, fast, cfg = engines
    tokens = torch.randint(0, cfg.d_vocab, (3, 12), generator=torch.Generator().manual_seed(0))
    a, b = hook.clean(tokens), fast.clean(tokens)
    for layer in range(cfg.n_layers):
        torch.testing.assert_close(a.z[layer], b.z[layer], atol=1e-5, rtol=0, msg=hook_z(layer))
        torch.testing.assert_close(a.resid_post[layer], b.resid_post[layer], atol=1e-5, rtol=0, msg=hook_resid_post(layer))
    torch.testing.assert_close(a.last_logits, b.last_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(hook.w_o(), fast.w_o(), atol=0, rtol=0)


@pytest.mark.parametrize("last_only", [False, True])
def test_head_patches_agree_for_every_condition(engines, last_only):
    hook, fast, cfg = engines
    tokens = torch.randint(0, cfg.d_vocab, (4, 12), generator=torch.Generator().manual_seed(2))
    reference = torch.randint(0, cfg.d_vocab, (4, 12), generator=torch.Generator().manual_seed(3))
    conditions = _every_set(cfg.n_layers, cfg.n_heads)
    readout = lambda logits, n: logits.log_softmax(-1)  # noqa: E731 - the whole distribution, not a summary
    out = []
    for engine in (hook, fast):
        clean, ref = engine.clean(tokens), engine.clean(reference)
        values = (last_position_patch(clean, [z[:, -1].mean(0) for z in ref.z]) if last_only
                  else [z.mean(0, keepdim=True).expand_as(z) for z in ref.z])
        out.append(engine.patch_heads(clean, conditions, values, readout, last_only))
    torch.testing.assert_close(out[0], out[1], atol=1e-5, rtol=0)
    assert not torch.allclose(out[1][0], out[1][1])  # ablating a head changes the output (the test can fail)


def test_injection_agrees_and_is_a_residual_add(engines):
    hook, fast, cfg = engines
    tokens = torch.randint(0, cfg.d_vocab, (3, 10), generator=torch.Generator().manual_seed(4))
    vectors = torch.randn(3, cfg.d_model, generator=torch.Generator().manual_seed(5))
    for layer in range(cfg.n_layers):
        torch.testing.assert_close(hook.inject(tokens, vectors, layer), fast.inject(tokens, vectors, layer), atol=1e-5, rtol=0)
    torch.testing.assert_close(fast.inject(tokens, 0 * vectors, 0), fast.logits(tokens)[:, -1], atol=1e-6, rtol=0)


@pytest.mark.slow
def test_ablation_effects_agree_on_the_same_weights(engines):
    hook, fast, cfg = engines
    config = tiny_config(model=dict(n_layers=3, **{k: getattr(cfg, k) for k in ("attn_only", "act_fn", "normalization", "positional")}))
    inputs = ProbeInputs.for_run(config).ablation
    a, b = ablation_effects(hook, inputs, ABLATIONS), ablation_effects(fast, inputs, ABLATIONS)
    for kind in ABLATIONS:
        for name, value in a[kind].items():
            torch.testing.assert_close(value, b[kind][name], atol=1e-5, rtol=0, msg=f"{kind}/{name}")


def test_the_checkpoint_picks_the_fast_engine_for_our_models_and_hooks_otherwise():
    config = tiny_config()
    state = initial_state_dict(config.model)
    ours = Checkpoint.native(config, state)
    assert isinstance(ours.engine, FastEngine) and ours.bridge is ours.bridge  # built once, shared
    other = Checkpoint(0, ours.facts, bridge=build_bridge(config.model, state))
    assert isinstance(other.engine, HookEngine)


@pytest.fixture(scope="module", params=["gpt2", "gpt_neox"])
def hf_bridge(request, tmp_path_factory):
    from hf_models import make_tiny

    from circuits.model.hf import load_hf_bridge

    return load_hf_bridge(make_tiny(request.param, tmp_path_factory.mktemp(request.param) / "model", seed=3))


def test_the_hook_engine_on_hugging_face_bridges_equals_the_per_head_loop(hf_bridge):
    from circuits.model.hf import hf_model_facts
    from probes.engine.checkpoint import ModelFacts

    f = hf_model_facts(hf_bridge)
    facts = ModelFacts(f.n_layers, f.n_heads, f.d_model, f.d_head, f.n_ctx, f.d_vocab, bos=f.bos_token_id, native=False)
    inputs = ProbeInputs.for_model(facts, n=8).ablation
    ours = ablation_effects(HookEngine(hf_bridge), inputs, ABLATIONS)
    for kind in ABLATIONS:
        naive = naive_effects(hf_bridge, inputs, kind)
        for name in ("loss", "icl_score", "repeat_loss"):
            torch.testing.assert_close(ours[kind][name], naive[name], atol=1e-5, rtol=0, msg=f"{kind}/{name}")
        assert ours[kind]["loss"].abs().max() > 0  # the ablations do something on these weights


def test_a_last_position_patch_recomputes_only_the_last_position(engines, monkeypatch):
    """Todd's patch edits only the last position: the fast engine takes its last-position path (and a full edit the
    full one), with the same numbers as the hook engine (test above)."""
    _, fast, cfg = engines
    tokens = torch.randint(0, cfg.d_vocab, (4, 12), generator=torch.Generator().manual_seed(6))
    clean = fast.clean(tokens)
    conditions = single_head_conditions(cfg.n_layers, cfg.n_heads)
    last = last_position_patch(clean, [z[:, -1].mean(0) for z in clean.z])
    monkeypatch.setattr(FastEngine, "_run_from", lambda *a: pytest.fail("the full recompute ran for a last-position patch"))
    fast.patch_heads(clean, conditions, last, lambda logits, n: logits, last_only=True)
    monkeypatch.setattr(FastEngine, "_run_last", lambda *a: pytest.fail("the last-position path ran for a full edit"))
    with pytest.raises(pytest.fail.Exception, match="full recompute"):
        fast.patch_heads(clean, conditions, [torch.zeros_like(z) for z in clean.z], lambda logits, n: logits, last_only=True)

"""Local Hugging Face checkpoints: discovery, offline loading, facts, and the hook facts an intervention engine
relies on (circuits/model/hf.py docstring), on tiny GPT-2 and GPT-NeoX folders without tokenizers."""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket

import pytest
import torch
from hf_models import ARCHS, VOCAB, add_tokenizer, make_revision_series, make_tiny

from circuits.errors import WorkbenchError
from circuits.model.hf import (
    Revision,
    check_hf_folder,
    discover_revisions,
    hf_model_facts,
    load_hf_bridge,
    offline_hub,
    step_from_name,
)

TOKENS = torch.randint(0, VOCAB, (3, 20), generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {arch: make_tiny(arch, root / arch, seed=1) for arch in ARCHS}


@pytest.fixture(scope="module")
def bridges(folders):
    return {arch: load_hf_bridge(path) for arch, path in folders.items()}


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


# --- discovery -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, step", [("step1000", 1000), ("step-2000", 2000), ("rev_3000", 3000),
                                        ("pythia-70m-step143000", 143000), ("ckpt7", 7), ("run2-42", 42),
                                        ("final", None)])
def test_step_from_name(name, step):
    assert step_from_name(name) == step


def test_a_parent_folder_of_revisions_is_sorted_by_step_and_ignores_other_folders(folders, tmp_path):
    for name in ("step1000", "step-2000", "rev_3000", "step500"):
        _copy(folders["gpt2"], tmp_path / name)
    (tmp_path / "analysis").mkdir()
    found = discover_revisions([tmp_path])
    assert found == [Revision(s, tmp_path / n) for s, n in
                     [(500, "step500"), (1000, "step1000"), (2000, "step-2000"), (3000, "rev_3000")]]


def test_several_model_folders_are_sorted_by_step(folders, tmp_path):
    paths = [_copy(folders["gpt_neox"], tmp_path / name) for name in ("ckpt-20", "ckpt-3", "ckpt-100")]
    assert [r.step for r in discover_revisions(paths)] == [3, 20, 100]


def test_make_revision_series_saves_distinct_revisions(tmp_path):
    make_revision_series(tmp_path, "gpt2", steps=(0, 10))
    found = discover_revisions([tmp_path])
    assert [r.step for r in found] == [0, 10]
    from safetensors.torch import load_file

    a, b = (load_file(r.path / "model.safetensors") for r in found)
    assert a.keys() == b.keys() and not torch.equal(a["transformer.wte.weight"], b["transformer.wte.weight"])


def test_a_lone_model_folder_is_step_0_unless_named_by_step(folders, tmp_path, caplog):
    lone = _copy(folders["gpt2"], tmp_path / "gpt2-70m")
    with caplog.at_level(logging.WARNING, logger="circuits.model.hf"):
        assert discover_revisions([lone]) == [Revision(0, lone)]
    assert "step 0" in caplog.text
    named = _copy(folders["gpt2"], tmp_path / "pythia-70m-step3000")
    assert discover_revisions([str(named)]) == [Revision(3000, named)]


def _write_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


def _layout(kind, folders, root):
    """A bad layout under `root`: (paths to pass, a phrase the error must contain)."""
    gpt2 = folders["gpt2"]
    if kind == "nothing":
        return [], "no Hugging Face folder"
    if kind == "missing":
        return [root / "absent"], "no such folder"
    if kind == "file":
        return [_copy(gpt2, root / "m") / "config.json"], "not a folder"
    if kind == "empty":
        (root / "e").mkdir()
        return [root / "e"], "no revision subfolders"
    if kind == "no config":
        _copy(gpt2, root / "step1")
        (root / "step2").mkdir()
        return [root], "step2 has no config.json"
    if kind == "duplicate":
        return [_copy(gpt2, root / "step10"), _copy(gpt2, root / "rev10")], "both give step 10"
    if kind == "no number":
        _copy(gpt2, root / "step1")
        _copy(gpt2, root / "final")
        return [root], "no number in its name"
    if kind == "mixed models":
        return [_copy(gpt2, root / "step1"), _copy(folders["gpt_neox"], root / "step2")], "not the same model"
    if kind == "other size":
        other = _copy(gpt2, root / "step2")
        _write_config(other, n_positions=32)
        return [_copy(gpt2, root / "step1"), other], "n_positions"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["nothing", "missing", "file", "empty", "no config", "duplicate", "no number",
                                  "mixed models", "other size"])
def test_each_bad_layout_is_one_clear_error(kind, folders, tmp_path):
    paths, phrase = _layout(kind, folders, tmp_path)
    with pytest.raises(WorkbenchError, match=phrase):
        discover_revisions(paths)


# --- folder checks and loading errors ---------------------------------------------------------------------------

def test_unsupported_model_type_fails_before_transformer_lens(folders, tmp_path, monkeypatch):
    import transformers

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained",
                        lambda *a, **k: pytest.fail("loaded an unsupported model"))
    llama = tmp_path / "llama"
    llama.mkdir()
    (llama / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 32}))
    with pytest.raises(WorkbenchError, match=r"model_type 'llama'.*supported: gpt2 .*gpt_neox"):
        load_hf_bridge(llama)
    with pytest.raises(WorkbenchError, match="model_type 'llama'"):
        discover_revisions([llama])


@pytest.mark.parametrize("damage, phrase", [
    ("no weights", "has no weights file"),
    ("bad json", r"config.json is not readable JSON"),
    ("truncated", r"model.safetensors is corrupt or truncated"),
    ("truncated bin", r"pytorch_model.bin"),
    ("missing tensor", r"missing or mis-shaped transformer.h.1.attn.c_proj"),
    ("missing shard", r"missing: model-00002-of"),
])
def test_damaged_folders_are_one_clear_error(damage, phrase, folders, tmp_path):
    folder = _copy(folders["gpt2"], tmp_path / "m")
    weights = folder / "model.safetensors"
    if damage == "no weights":
        weights.unlink()
    elif damage == "bad json":
        (folder / "config.json").write_text('{"model_type": "gpt2", ')
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:-100])
    elif damage == "truncated bin":
        from safetensors.torch import load_file

        torch.save(load_file(weights), folder / "pytorch_model.bin")
        weights.unlink()
        (folder / "pytorch_model.bin").write_bytes((folder / "pytorch_model.bin").read_bytes()[:5000])
    elif damage == "missing tensor":
        from safetensors.torch import load_file, save_file

        state = {k: v for k, v in load_file(weights).items() if "h.1.attn.c_proj" not in k}
        save_file(state, weights, metadata={"format": "pt"})
    else:
        (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
            "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
        weights.rename(folder / "model-00001-of-00002.safetensors")
    with pytest.raises(WorkbenchError, match=phrase):
        load_hf_bridge(folder)


def test_sharded_and_bin_checkpoints_load(folders, tmp_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(folders["gpt_neox"]), local_files_only=True)
    model.save_pretrained(tmp_path / "sharded", max_shard_size="60KB")
    assert len(check_hf_folder(tmp_path / "sharded").weights) > 1
    with torch.no_grad():
        torch.testing.assert_close(load_hf_bridge(tmp_path / "sharded")(TOKENS), model(TOKENS).logits)


# --- offline loading, logits, facts -----------------------------------------------------------------------------

def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("arch", ARCHS)
def test_loads_offline_with_logits_equal_to_the_hf_model(arch, folders, monkeypatch):
    from transformers import AutoModelForCausalLM

    _no_network(monkeypatch)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    bridge = load_hf_bridge(folders[arch])
    assert "HF_HUB_OFFLINE" not in os.environ  # restored after the call
    assert bridge.tokenizer is None and not bridge.training
    reference = AutoModelForCausalLM.from_pretrained(str(folders[arch]), local_files_only=True,
                                                     attn_implementation="eager")
    with torch.no_grad():
        logits = bridge(TOKENS)
        assert logits.shape == (3, 20, VOCAB) and logits.dtype == torch.float32
        torch.testing.assert_close(logits, reference(TOKENS).logits, atol=1e-4, rtol=0)


def test_offline_hub_sets_and_restores_the_flags(monkeypatch):
    import huggingface_hub.constants as hub

    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    before = hub.HF_HUB_OFFLINE
    with offline_hub():
        assert hub.HF_HUB_OFFLINE and os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert hub.HF_HUB_OFFLINE == before and os.environ["TRANSFORMERS_OFFLINE"] == "0"
    assert "HF_HUB_OFFLINE" not in os.environ


def test_a_folder_with_a_tokenizer_boots_through_boot_transformers_with_the_same_model(folders, bridges, tmp_path):
    folder = add_tokenizer(_copy(folders["gpt_neox"], tmp_path / "with-tokenizer"))
    bridge = load_hf_bridge(folder)
    assert bridge.tokenizer is not None and bridge.to_tokens("t5 t7", prepend_bos=False).tolist() == [[5, 7]]
    assert sorted(bridge.hook_dict) == sorted(bridges["gpt_neox"].hook_dict)
    with torch.no_grad():
        torch.testing.assert_close(bridge(TOKENS), bridges["gpt_neox"](TOKENS), atol=0, rtol=0)


@pytest.mark.parametrize("arch, positional, rotary, parallel", [("gpt2", "standard", None, False),
                                                                ("gpt_neox", "rotary", 2, True)])
def test_model_facts(arch, positional, rotary, parallel, bridges):
    facts = hf_model_facts(bridges[arch])
    assert (facts.model_type, facts.n_layers, facts.n_heads, facts.d_model, facts.d_head, facts.n_ctx,
            facts.d_vocab, facts.bos_token_id) == (arch, 2, 4, 32, 8, 64, VOCAB, 0)
    assert (facts.positional, facts.rotary_dim, facts.parallel_residual) == (positional, rotary, parallel)
    assert facts.normalization == "LN" and facts.has_mlp


def test_bos_falls_back_to_eos_and_native_bridges_are_refused(folders, tmp_path):
    folder = _copy(folders["gpt2"], tmp_path / "m")
    _write_config(folder, bos_token_id=None, eos_token_id=7)
    assert hf_model_facts(load_hf_bridge(folder)).bos_token_id == 7
    from builders import tiny_model

    from circuits.model.transformer import build_bridge

    with pytest.raises(WorkbenchError, match="load_hf_bridge"):
        hf_model_facts(build_bridge(tiny_model()))


# --- hook facts for the intervention engine ---------------------------------------------------------------------

SHAPES = {"hook_embed": (3, 20, 32), "blocks.1.hook_resid_pre": (3, 20, 32), "blocks.1.hook_resid_post": (3, 20, 32),
          "blocks.1.hook_attn_out": (3, 20, 32), "blocks.1.hook_mlp_out": (3, 20, 32),
          "blocks.1.attn.hook_q": (3, 20, 4, 8), "blocks.1.attn.hook_z": (3, 20, 4, 8),
          "blocks.1.attn.hook_pattern": (3, 4, 20, 20), "blocks.1.attn.hook_attn_scores": (3, 4, 20, 20),
          "ln_final.hook_normalized": (3, 20, 32), "hook_unembed": (3, 20, VOCAB)}
ONLY = {"gpt2": {"hook_pos_embed": (3, 20, 32), "blocks.1.hook_resid_mid": (3, 20, 32)}, "gpt_neox": {}}
SILENT = {"gpt2": {"blocks.1.attn.hook_rot_q"}, "gpt_neox": {"hook_pos_embed", "blocks.1.hook_resid_mid",
                                                             "blocks.1.attn.hook_rot_q"}}


@pytest.mark.parametrize("arch", ARCHS)
def test_hook_names_and_shapes(arch, bridges):
    wanted = {**SHAPES, **ONLY[arch]}
    with torch.no_grad():
        _, cache = bridges[arch].run_with_cache(TOKENS, names_filter=lambda n: n in wanted or n in SILENT[arch])
    assert {n: tuple(cache[n].shape) for n in wanted} == wanted
    assert not SILENT[arch] & set(cache.keys())  # absent, or registered but never fired
    pattern = cache["blocks.1.attn.hook_pattern"]
    torch.testing.assert_close(pattern.sum(-1), torch.ones(3, 4, 20))
    assert pattern.triu(1).abs().max() == 0  # causal


def _zero_head(head):
    def edit(z, hook):
        z = z.clone()
        z[:, :, head] = 0
        return z
    return edit


@pytest.mark.parametrize("arch", ARCHS)
def test_editing_hook_z_is_editing_the_output_projection_input(arch, bridges):
    bridge = bridges[arch]
    attn = bridge.blocks[0].attn
    with torch.no_grad():
        clean, cache = bridge.run_with_cache(TOKENS, names_filter=["blocks.0.attn.hook_z", "blocks.0.hook_attn_out"])
        z = cache["blocks.0.attn.hook_z"]
        torch.testing.assert_close(torch.einsum("bphd,hdm->bpm", z, attn.W_O) + attn.b_O,
                                   cache["blocks.0.hook_attn_out"], atol=1e-6, rtol=0)
        via_z = bridge.run_with_hooks(TOKENS, fwd_hooks=[("blocks.0.attn.hook_z", _zero_head(2))])
        via_o = bridge.run_with_hooks(TOKENS, fwd_hooks=[("blocks.0.attn.o.hook_in", _zero_head(2))])
        minus = bridge.run_with_hooks(TOKENS, fwd_hooks=[(
            "blocks.0.hook_attn_out", lambda out, hook: out - z[:, :, 2] @ attn.W_O[2])])
    assert (via_z - clean).abs().max() > 1e-3
    torch.testing.assert_close(via_z, via_o, atol=0, rtol=0)
    torch.testing.assert_close(via_z, minus, atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_w_o_is_the_raw_hf_output_projection_per_head(arch, bridges):
    bridge = bridges[arch]
    hf = bridge.original_model
    raw = (hf.transformer.h[1].attn.c_proj.weight if arch == "gpt2"
           else hf.gpt_neox.layers[1].attention.dense.weight.T)
    assert bridge.blocks[1].attn.W_O.shape == (4, 8, 32) and bridge.W_O.shape == (2, 4, 8, 32)
    torch.testing.assert_close(bridge.blocks[1].attn.W_O, raw.reshape(4, 8, 32), atol=0, rtol=0)


@pytest.mark.parametrize("field", ["bos_token_id", "eos_token_id", "pad_token_id"])
def test_a_special_token_id_outside_the_vocabulary_is_one_clear_error_naming_the_field(field, folders, tmp_path):
    """Issue 18: a GPT-2 config keeping the default bos_token_id 50256 with a small vocab_size died in the embedding
    lookup (`IndexError: index out of range in self`); it is now refused before loading, naming the field and the fix."""
    folder = _copy(folders["gpt2"], tmp_path / "m")
    _write_config(folder, **{field: 50256})
    for call in (check_hf_folder, load_hf_bridge, lambda path: discover_revisions([path])):
        with pytest.raises(WorkbenchError, match=rf"{field} 50256, outside its vocab_size {VOCAB}.*set {field}"):
            call(folder)


@pytest.mark.parametrize(("arch", "name"), [("gpt2", "GPT2LMHeadModel"), ("neox", "GPTNeoXForCausalLM")])
def test_the_transformerlens_adapter_still_finds_the_architecture(arch, name):
    """circuits.model.tl_adapter wraps TransformerLens's private architecture lookup: this fails when a release moves it."""
    from hf_models import _gpt2_model, _neox_model

    from circuits.model.tl_adapter import architecture_of

    model = (_gpt2_model if arch == "gpt2" else _neox_model)(0)
    assert architecture_of(model.config) == name

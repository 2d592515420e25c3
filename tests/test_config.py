import json

import pytest
from builders import tiny_config, tiny_model

from circuits.config import ModelConfig, RunConfig, replace
from circuits.errors import WorkbenchError
from circuits.presets import PRESETS, preset


def test_every_preset_is_valid_and_round_trips_through_json():
    for name in PRESETS:
        config = preset(name)
        config.validate()
        assert RunConfig.from_json(config.to_json()) == config


def test_presets_differ_only_where_named():
    two, one, full = preset("attn-only-2l"), preset("attn-only-1l"), preset("full-2l")
    assert (one.model.n_layers, two.model.n_layers) == (1, 2)
    assert one.data == two.data and one.train == two.train
    assert not full.model.attn_only and full.model.mlp_width == 4 * full.model.d_model


def test_unknown_preset_names_the_choices():
    with pytest.raises(WorkbenchError, match="unknown preset 'attn-only-9l'.*attn-only-2l"):
        preset("attn-only-9l")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(d_model=30, n_heads=4), "not divisible by n_heads"),
        (dict(n_layers=0), "n_layers must be a positive integer"),
        (dict(positional="alibi"), "positional='alibi' is not supported"),
        (dict(normalization="RMS"), "normalization='RMS' is not supported"),
        (dict(attn_only=True, d_mlp=64), "d_mlp is set but attn_only=True"),
        (dict(attn_only=False, act_fn="tanh"), "act_fn='tanh' is not supported"),
    ],
)
def test_contradictory_model_configs_fail_with_one_clear_error(overrides, message):
    with pytest.raises(WorkbenchError, match=message):
        tiny_model(**overrides).validate()


@pytest.mark.parametrize(
    "data, model, message",
    [
        (dict(seq_len=64), {}, "seq_len=64 must be in"),
        (dict(repeat_max=20), {}, "does not fit twice"),
        (dict(repeat_min=3, repeat_max=3, heldout_lengths=(3,)), {}, "every repeat length is held out"),
        (dict(name="wikipedia"), {}, "unknown data generator 'wikipedia'"),
        (dict(name="text", text_path="/nonexistent/file.txt"), {}, "needs an existing file"),
        (dict(name="markov", markov_alpha=0.0), {}, "markov_alpha must be positive"),
    ],
)
def test_bad_data_configs_fail_with_one_clear_error(data, model, message):
    with pytest.raises(WorkbenchError, match=message):
        tiny_config(data=data, model=model).validate()


def test_bad_training_configs_fail_with_one_clear_error():
    with pytest.raises(WorkbenchError, match="warmup_steps=50 must be in"):
        tiny_config(train=dict(steps=10, warmup_steps=50)).validate()
    with pytest.raises(WorkbenchError, match="lr must be positive"):
        tiny_config(train=dict(lr=0.0)).validate()


def test_replace_rejects_misspelt_fields():
    with pytest.raises(WorkbenchError, match="unknown ModelConfig field"):
        replace(ModelConfig(), n_layer=3)


def test_malformed_config_json_names_the_unknown_field():
    raw = json.loads(tiny_config().to_json())
    raw["model"]["n_layerz"] = 2
    with pytest.raises(WorkbenchError, match="unknown ModelConfig field"):
        RunConfig.from_json(json.dumps(raw))


@pytest.mark.parametrize(
    "data, model, message",
    [
        (dict(name="fv-mix", seq_len=23, repeat_max=11), dict(d_vocab=64), "fv-mix needs d_vocab ≥ 73"),
        (dict(name="fv-mix", seq_len=23, repeat_max=11, fv_fraction=1.5), dict(d_vocab=128), "fv_fraction must be in \\[0, 1\\]"),
    ],
)
def test_bad_fv_mix_configs_fail_with_one_clear_error(data, model, message):
    with pytest.raises(WorkbenchError, match=message):
        tiny_config(data=data, model=model).validate()


def test_every_data_config_has_its_generator():
    from circuits.data.configs import DATA_CONFIGS, FV_MIN_VOCAB
    from circuits.data.generators import GENERATORS
    from circuits.data.tasks import N_WORDS

    assert sorted(GENERATORS) == sorted(DATA_CONFIGS)
    assert all(GENERATORS[name].config is cls for name, cls in DATA_CONFIGS.items())
    assert FV_MIN_VOCAB == 1 + 2 * N_WORDS + 8


# The import graph (no cycles, circuits never imports probes) is tested in tests/test_layout.py.

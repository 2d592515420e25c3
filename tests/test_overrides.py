import json
import os

import pytest
from builders import tiny_config

from circuits.config import RunConfig
from circuits.errors import WorkbenchError
from circuits.overrides import build_run_config, parse_set, preset_json
from circuits.presets import DEFAULT_PRESET, PRESETS, preset


def _write(path, content) -> object:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_through_its_json_file(tmp_path, name):
    file = _write(tmp_path / "run.json", preset_json(name))
    assert build_run_config(None, file, []) == preset(name)
    assert json.loads(preset_json(name))["name"] == name and "\n  " in preset_json(name)  # indented


def test_a_saved_run_config_round_trips_too(tmp_path):
    config = tiny_config()
    assert build_run_config(None, _write(tmp_path / "config.json", config.to_json()), []) == config


def test_no_preset_no_file_no_sets_is_the_default_preset():
    assert build_run_config(None, None, []) == preset(DEFAULT_PRESET)


def test_precedence_preset_then_file_then_sets(tmp_path):
    file = _write(tmp_path / "run.json", {"model": {"n_layers": 3}, "train": {"steps": 500, "lr": 1e-3}})
    config = build_run_config("attn-only-1l", file, ["train.steps=800", "train.steps=900"])
    assert config.model.n_layers == 3  # file over preset
    assert config.train.steps == 900 and config.train.lr == 1e-3  # later --set over earlier and over the file
    assert config.model.d_vocab == preset("attn-only-1l").model.d_vocab  # untouched fields keep the preset's
    assert config.name == "attn-only-1l"


def test_set_values_are_json_or_bare_strings_and_converted_to_field_types():
    config = build_run_config("full-2l", None, ["model.act_fn=relu", "model.normalization=LN", "train.lr=1",
                                                "data.heldout_lengths=[17,19]", "model.d_mlp=null", "preset=my-run",
                                                "train.checkpoint_steps=[0, 10]"])
    assert config.model.act_fn == "relu" and config.model.normalization == "LN" and config.model.d_mlp is None
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)
    assert config.data.heldout_lengths == (17, 19) and config.train.checkpoint_steps == (0, 10)
    assert config.name == "my-run"
    assert RunConfig.from_json(config.to_json()) == config


def test_short_runs_scale_warmup_unless_warmup_is_set():
    assert build_run_config(None, None, ["train.steps=40"]).train.warmup_steps == 4
    assert build_run_config(None, None, ["train.steps=400"]).train.warmup_steps == 50  # still below steps: kept
    assert build_run_config(None, None, ["train.steps=40", "train.warmup_steps=2"]).train.warmup_steps == 2
    with pytest.raises(WorkbenchError, match=r"warmup_steps=45 must be in \[0, steps=40\)"):
        build_run_config(None, None, ["train.warmup_steps=45", "train.steps=40"])


@pytest.mark.parametrize(
    "sets, message",
    [
        (["modle.n_layers=3"], r"--set modle.n_layers=3: unknown section 'modle' \(did you mean model\?\)"),
        (["model.n_layer=3"], r"unknown field model.n_layer \(did you mean model.n_layers\?\); model fields are"),
        (["train.n_layers=3"], r"unknown field train.n_layers \(did you mean model.n_layers\?\)"),
        (["n_layers=3"], r"unknown key 'n_layers' \(did you mean model.n_layers\?\)"),
        (["model.n_layers=3.5"], r"model.n_layers must be an integer, got 3.5 \(a number\)"),
        (["model.n_layers=true"], r"model.n_layers must be an integer, got true \(a boolean\)"),
        (["train.lr=fast"], r"train.lr must be a number, got \"fast\" \(a string\)"),
        (["model.attn_only=1"], r"model.attn_only must be true or false, got 1 \(an integer\)"),
        (["model.d_mlp=None"], r"model.d_mlp must be an integer or null, got \"None\" \(a string\)"),
        (["model.act_fn=null"], r"model.act_fn must be a string, got null"),
        (["data.heldout_lengths=17"], r"data.heldout_lengths must be a list of integers like \[17, 19\]"),
        (["data.heldout_lengths=[17.5]"], r"must be a list of integers"),
        (["model.n_heads=5"], r"--set model.n_heads=5: d_model=64 is not divisible by n_heads=5"),
        (["model.positional=alibi"], r"--set model.positional=alibi: positional='alibi' is not supported; use one of"),
        (["data.name=wiki"], r"--set data.name=wiki: unknown data generator 'wiki'; use one of"),
        (["model.n_layers"], r"--set model.n_layers: malformed override \(need KEY=VALUE"),
        (["model.n_layers="], r"malformed override"),
        (["=3"], r"malformed override"),
        (["model.attn.q=3"], r"malformed key 'model.attn.q'"),
        (["preset=a/b"], r"name=\"a/b\" must be a run name"),
    ],
)
def test_each_bad_set_is_one_clear_error_naming_field_value_and_fix(sets, message):
    with pytest.raises(WorkbenchError, match=message):
        build_run_config(None, None, sets)


def test_parse_set_keeps_the_first_equals_sign():
    override = parse_set('data.text_path="a=b.txt"')
    assert (override.key, override.value) == ("data.text_path", "a=b.txt")


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", r"is not valid JSON \(Expecting property name .* at line 1, column 2\)"),
        ("[1, 2]", r"must hold a JSON object .* got a list"),
        ({"model": 3}, r"section 'model' must be a JSON object of its fields, got an integer"),
        ({"model": {"n_layerz": 2}}, r"run.json: unknown field model.n_layerz \(did you mean model.n_layers\?\)"),
        ({"trian": {"steps": 2}}, r"unknown key 'trian'"),
        ({"train": {"steps": "8000"}}, r"run.json: train.steps must be an integer, got \"8000\" \(a string\)"),
        ({"model": {"n_heads": 5}}, r"run.json \(model.n_heads=5\): d_model=64 is not divisible"),
    ],
)
def test_bad_config_files_are_one_clear_error(tmp_path, content, message):
    with pytest.raises(WorkbenchError, match=message):
        build_run_config(None, _write(tmp_path / "run.json", content), [])


def test_missing_and_unreadable_config_files(tmp_path):
    with pytest.raises(WorkbenchError, match=r"config file .*nope.json does not exist; write one with"):
        build_run_config(None, tmp_path / "nope.json", [])
    with pytest.raises(WorkbenchError, match=r"cannot be read \(IsADirectoryError"):
        build_run_config(None, tmp_path, [])
    _write(tmp_path / "bytes.json", "")
    (tmp_path / "bytes.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(WorkbenchError, match=r"cannot be read \(UnicodeDecodeError"):
        build_run_config(None, tmp_path / "bytes.json", [])


def test_a_bad_field_raises_before_anything_is_written(tmp_path):
    from circuits.training.trainer import train

    file = _write(tmp_path / "run.json", {"train": {"steps": 30}})
    before = file.read_text()
    out = tmp_path / "runs" / "custom"
    with pytest.raises(WorkbenchError, match="model.n_layers must be an integer"):
        train(build_run_config(None, file, ["model.n_layers=two"]), out, progress=False)
    assert not out.exists() and not (tmp_path / "runs").exists()
    assert file.read_text() == before and sorted(os.listdir(tmp_path)) == ["run.json"]

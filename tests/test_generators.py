"""Each data generator owns its config (only its fields), sampler, loss and capabilities (issue: tasks own their
data); config.json files written before that — one merged data section, the run's name under "preset" — still load,
equal their preset's config, and resume."""
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from builders import tiny_config

from circuits.config import RunConfig, replace
from circuits.data.configs import MarkovData, RepeatsData, switch_generator
from circuits.data.generators import GENERATORS, make_sampler
from circuits.errors import WorkbenchError
from circuits.overrides import build_run_config
from circuits.presets import preset
from circuits.store.files import CONFIG_FILE
from circuits.store.runs import RunStore
from circuits.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
# tests/old_configs.json: config.json of the presets as written before the data configs were split (and before preset → name)
OLD_CONFIGS = {k: json.dumps(v) for k, v in json.loads((ROOT / "tests" / "old_configs.json").read_text()).items()}
# sum of token × (position + 1) of 8 sequences drawn with seed 3, by the samplers before the split
CHECKSUMS = {'repeated-tokens': 1089838, 'markov': 1055746, 'fv-mix': 90901, 'modular-addition': 1827}


@pytest.mark.parametrize("name", sorted(OLD_CONFIGS))
def test_an_old_config_json_loads_and_equals_its_preset(name):
    old = json.loads(OLD_CONFIGS[name])
    assert "preset" in old and "markov_alpha" in old["data"]
    assert RunConfig.from_json(OLD_CONFIGS[name]) == preset(name)


def test_a_new_config_json_holds_only_its_generators_fields_and_the_run_name():
    raw = json.loads(replace(preset("attn-only-2l"), data=MarkovData(seq_len=64)).to_json())
    assert raw["data"] == {"name": "markov", "seq_len": 64, "markov_alpha": 0.25, "markov_start": "uniform",
                           "markov_fixed_seed": None} and raw["name"] == "attn-only-2l"
    assert "preset" not in raw and set(json.loads(preset("fv").to_json())["data"]) == {
        "name", "seq_len", "repeat_min", "repeat_max", "heldout_lengths", "fv_fraction"}
    with pytest.raises(WorkbenchError, match='both "name" and "preset"'):
        RunConfig.from_json(json.dumps(raw | {"preset": "x"}))


def _old_form(config: RunConfig) -> str:
    raw = json.loads(config.to_json())
    raw["preset"] = raw.pop("name")
    raw["data"] |= {"markov_alpha": 0.25, "fv_fraction": 0.75, "modulus": 53, "train_fraction": 0.4, "split_seed": 0,
                    "text_path": None}
    return json.dumps(raw, indent=2, sort_keys=True)


def test_a_run_directory_with_an_old_config_json_resumes(tmp_path):
    short, full = tiny_config(train={"steps": 24, "n_checkpoints": 3}), tiny_config(train={"steps": 48, "n_checkpoints": 3})
    a = train(short, tmp_path / "a", progress=False)
    (a.path / CONFIG_FILE).write_text(_old_form(short))
    assert RunStore(a.path).config() == short
    shutil.copytree(a.path, tmp_path / "b")
    resumed = train(replace(full, train=replace(full.train, steps=24)), tmp_path / "b", progress=False)
    assert resumed.steps() == a.steps()


def test_set_names_the_generator_and_its_fields():
    with pytest.raises(WorkbenchError, match=r"the repeated-tokens generator has no field\(s\) \['markov_alpha'\]; its fields are"):
        build_run_config("attn-only-2l", None, ["data.markov_alpha=0.5"])
    config = build_run_config("attn-only-2l", None, ["data.name=markov", "data.markov_alpha=0.5", "name=mk"])
    assert config.data == MarkovData(seq_len=64, markov_alpha=0.5) and config.name == "mk"
    assert build_run_config("attn-only-2l", None, ["preset=old-key"]).name == "old-key"  # the old key still works
    assert switch_generator(preset("fv").data, "repeated-tokens", {}) == RepeatsData(23, 3, 11, (7, 9, 11))


@pytest.mark.parametrize("name", sorted(CHECKSUMS))
def test_each_generator_draws_the_same_stream_as_before(name):
    config = {"repeated-tokens": preset("attn-only-2l"), "fv-mix": preset("fv"), "modular-addition": preset("grokking"),
              "markov": replace(preset("attn-only-2l"), data=MarkovData(seq_len=64, markov_alpha=0.5))}[name]
    tokens = make_sampler(config.data, config.model)(8, torch.Generator().manual_seed(3))
    assert int((tokens * (torch.arange(tokens.shape[1]) + 1)).sum()) == CHECKSUMS[name]
    assert GENERATORS[name].config is type(config.data)


def test_no_code_outside_the_generator_registry_switches_on_the_data_name():
    switch = re.compile(r"data\.name\s*[!=]=|\.name\s*[!=]=\s*[\"'](repeated-tokens|markov|text|fv-mix|modular-addition)[\"']")
    files = [*(ROOT / "circuits").rglob("*.py"), *(ROOT / "probes").rglob("*.py"), ROOT / "workbench.py", ROOT / "icl_workbench.py"]
    found = [f"{f.relative_to(ROOT)}:{i}" for f in files for i, line in enumerate(f.read_text().splitlines(), 1) if switch.search(line)]
    assert not found, found

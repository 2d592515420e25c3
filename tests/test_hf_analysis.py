"""`icl-workbench analyze --hf` on folders of tiny Hugging Face checkpoints (GPT-2, GPT-NeoX), then `report`: the same
tidy table and report as our runs, weight probes skipped with a note, one clear error for a bad folder."""
from __future__ import annotations

import json

import pytest
from hf_models import make_revision_series

from circuits.store.files import ANALYSIS_DIR, REPORT_FILE, SWEEP_FILE
from icl_workbench import main


@pytest.fixture(scope="module", params=["gpt2", "gpt_neox"])
def series(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param) / "revisions"
    make_revision_series(folder, request.param, steps=(0, 500, 1000))
    return folder


@pytest.mark.slow
def test_analyze_and_report_a_folder_of_revisions(series, tmp_path, capsys, monkeypatch):
    out = tmp_path / "analysis-run"
    assert main(["analyze", "--hf", str(series), "--out", str(out), "--quiet"]) == 0
    table = [json.loads(line) for line in (out / ANALYSIS_DIR / SWEEP_FILE).read_text().splitlines()]
    assert {r["step"] for r in table} == {0, 500, 1000}
    assert {r["probe"] for r in table} == {"attention", "icl", "ablation", "induction_controls"}
    assert {"induction", "induction/raw", "induction/control", "previous_token"} <= {r["metric"] for r in table if r["probe"] == "attention"}
    monkeypatch.setattr("probes.engine.hf_source.load_hf_bridge", lambda *a, **k: pytest.fail("the report loaded a model"))
    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    page = (out / REPORT_FILE).read_text()
    assert "Probes not run" in page and "weights" in page and "activations only" in page
    assert "[BOS, r, r] with |r| = " in page and "held-out repeat periods" not in page and "single-layer" not in page
    data = json.loads((out / ANALYSIS_DIR / "report_data.json").read_text())
    assert set(data["skipped_probes"]) == {"weights"}
    assert all(sentence in printed for sentence in data["summary"])
    # random weights: no claim may be stated as supported
    assert all(c["supported"] is False for c in data["claims"]), [c["sentence"] for c in data["claims"]]


def test_several_model_folders_are_one_series(series, tmp_path):
    folders = sorted(str(p) for p in series.iterdir() if p.is_dir())
    assert main(["analyze", "--hf", *folders, "--out", str(tmp_path / "out"), "--probes", "icl", "--quiet"]) == 0
    table = [json.loads(line) for line in (tmp_path / "out" / ANALYSIS_DIR / SWEEP_FILE).read_text().splitlines()]
    assert sorted({r["step"] for r in table}) == [0, 500, 1000]


def test_a_bad_folder_is_one_clear_error(tmp_path, capsys):
    assert main(["analyze", "--hf", str(tmp_path / "nowhere"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nowhere" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "step100").mkdir()
    (tmp_path / "step100" / "config.json").write_text(json.dumps({"model_type": "mamba"}))
    assert main(["analyze", "--hf", str(tmp_path / "step100"), "--quiet"]) == 2
    assert "gpt2" in capsys.readouterr().err


def test_another_series_into_the_same_out_is_refused(series, tmp_path, capsys):
    from hf_models import make_tiny

    out = tmp_path / "out"
    assert main(["analyze", "--hf", str(series), "--out", str(out), "--probes", "icl", "--quiet"]) == 0
    other = make_tiny("gpt2", tmp_path / "other" / "step7", seed=11)
    assert main(["analyze", "--hf", str(other), "--out", str(out), "--probes", "icl", "--quiet"]) == 2
    assert "holds the analysis of other checkpoints" in capsys.readouterr().err


def test_a_single_checkpoint_report_is_one_clear_error(tmp_path, capsys):
    from hf_models import make_tiny

    model = make_tiny("gpt2", tmp_path / "step3", seed=2)
    assert main(["analyze", "--hf", str(model), "--probes", "attention,icl", "--quiet"]) == 0
    assert (model / "analysis").is_dir()  # OUT defaults to the folder given
    assert main(["report", str(model)]) == 2
    assert "one checkpoint only" in capsys.readouterr().err

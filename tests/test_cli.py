import subprocess
import sys

import pytest

from icl_workbench import main


def test_train_then_list_runs(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "train", "--preset", "attn-only-1l", "--steps", "12", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "run attn-only-1l:" in out and str(tmp_path / "attn-only-1l") in out
    assert main(["--root", str(tmp_path), "runs", "--steps"]) == 0
    listing = capsys.readouterr().out
    assert "attn-only-1l" in listing and "last step 12" in listing and "steps: 0 1 2" in listing


def test_bad_input_is_one_error_line_and_exit_code_2(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "train", "--preset", "attn-only-7l", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unknown preset 'attn-only-7l'")


def test_retraining_into_a_run_with_another_config_is_refused_and_keeps_the_run(tmp_path, capsys):
    args = ["--root", str(tmp_path), "train", "--preset", "attn-only-1l", "--quiet"]
    assert main([*args, "--steps", "6"]) == 0
    assert main([*args, "--steps", "8"]) == 2
    assert "holds a run with a different config" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "attn-only-1l" / "steps").iterdir())[-1] == "step_000006"


def test_python_dash_m_reaches_the_cli():
    result = subprocess.run([sys.executable, "-m", "icl_workbench", "--help"], capture_output=True, text=True, check=True)
    assert "train" in result.stdout and "runs" in result.stdout


@pytest.mark.slow
def test_demo_with_seeds_trains_each_seed_and_reports_every_claim_over_them(tmp_path, capsys, monkeypatch):
    import json

    from builders import tiny_config

    from circuits import presets

    monkeypatch.setitem(presets.PRESETS, "tiny", tiny_config)
    assert main(["--root", str(tmp_path), "demo", "--preset", "tiny", "--seeds", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "tiny-seed0" / "report.html").exists() and (tmp_path / "tiny-seed1" / "report.html").exists()
    configs = [json.loads((tmp_path / f"tiny-seed{k}" / "config.json").read_text()) for k in (0, 1)]
    assert [(c["train"]["seed"], c["model"]["seed"]) for c in configs] == [(0, 0), (1, 1)]
    summary = json.loads((tmp_path / "tiny-seeds" / "seeds.json").read_text())
    assert {c["key"] for c in summary} >= {"induction/head", "icl/uses_context"}
    for claim in summary:
        assert claim["sentence"] in out and f"of {len(claim['runs'])} seeds" in claim["sentence"]
        assert len(claim["runs"]) == 2

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


def test_config_prints_a_preset_that_train_accepts_back_with_sets_on_top(tmp_path, capsys):
    import json

    assert main(["config", "attn-only-1l"]) == 0
    printed = json.loads(capsys.readouterr().out)
    printed["train"]["steps"] = 10
    (tmp_path / "run.json").write_text(json.dumps(printed))
    sets = ["train.steps=6", "train.warmup_steps=1", "model.d_model=32", "preset=mine"]
    args = ["--root", str(tmp_path), "train", "--config", str(tmp_path / "run.json"), "--set", *sets, "--quiet"]
    assert main(args) == 0
    saved = json.loads((tmp_path / "mine" / "config.json").read_text())
    assert saved["train"]["steps"] == 6 and saved["model"]["d_model"] == 32 and saved["model"]["n_layers"] == 1  # --set wins over the file
    assert main(["--root", str(tmp_path), "train", "--set", "model.n_layer=3", "--quiet"]) == 2
    assert "did you mean model.n_layers" in capsys.readouterr().err


def test_runs_lists_a_malformed_run_instead_of_stopping(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "train", "--preset", "attn-only-1l", "--steps", "4", "--out", str(tmp_path / "a-good"), "--quiet"]) == 0
    (tmp_path / "b-bad").mkdir()
    (tmp_path / "b-bad" / "config.json").write_text("{not json")
    assert main(["--root", str(tmp_path), "train", "--preset", "attn-only-1l", "--steps", "4", "--out", str(tmp_path / "c-good"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["--root", str(tmp_path), "runs"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and "PROBLEM" in lines[1] and "b-bad" in lines[1]
    assert "last step 4" in lines[0] and "last step 4" in lines[2]


def test_cuda_without_cuda_is_one_clear_error(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["--root", str(tmp_path), "train", "--preset", "attn-only-1l", "--steps", "4", "--device", "cuda", "--quiet"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err and not (tmp_path / "attn-only-1l").exists()
    assert main(["--root", str(tmp_path), "train", "--preset", "attn-only-1l", "--steps", "4", "--quiet"]) == 0
    assert main(["--root", str(tmp_path), "analyze", "attn-only-1l", "--device", "cuda", "--quiet"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err and not (tmp_path / "attn-only-1l" / "analysis").exists()


@pytest.mark.slow
def test_sweep_runs_a_grid_and_reports_across_it(tmp_path, capsys):
    """A 2-seed grid of a short run on the process pool, re-run (skips), then the cross-run report."""
    import json

    out = tmp_path / "grid"
    args = ["grid", "--presets", "attn-only-1l", "--seeds", "0-1", "--set", "train.steps=20", "--out", str(out), "--workers", "2", "--quiet"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "attn-only-1l-seed0\tok" in first and "attn-only-1l-seed1\tok" in first
    assert main(["sweep", *args[1:]]) == 0  # the old command name is an alias
    assert "skipped (finished)" in capsys.readouterr().out
    assert main([*args, "--probes", "attention,icl,ablation"]) == 0  # more probes: the runs are analyzed again
    assert "attn-only-1l-seed0\tok" in capsys.readouterr().out
    table = (out / "attn-only-1l-seed0" / "analysis" / "sweep.jsonl").read_text()
    assert '"probe": "ablation"' in table
    assert main(["report", "--grid", str(out)]) == 0 and main(["report", "--sweep", str(out)]) == 0  # and its old name
    data = json.loads((out / "grid_report.json").read_text())
    assert data and (out / "grid_report.html").exists()


def test_analyze_follow_probes_a_finished_run_to_its_end_and_a_missing_one_times_out(tmp_path, capsys):
    """`analyze --follow RUN` on a run whose final checkpoint exists probes it all, writes the report and exits 0;
    on a run that never appears it stops at --timeout with exit code 2 and says so."""
    assert main(["--root", str(tmp_path), "train", "--preset", "attn-only-1l", "--steps", "8", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["--root", str(tmp_path), "analyze", "--follow", "attn-only-1l", "--probes", "attention,icl", "--quiet"]) == 0
    assert "probed all" in capsys.readouterr().out
    assert (tmp_path / "attn-only-1l" / "report.html").is_file()
    assert main(["--root", str(tmp_path), "analyze", "--follow", str(tmp_path / "never"), "--timeout", "0.5", "--quiet"]) == 2
    assert "follow stopped before the final checkpoint (timeout)" in capsys.readouterr().err


def test_analyze_runs_an_opt_in_probe_on_chosen_steps_and_the_report_draws_what_exists(tiny_run, tmp_path, capsys):
    """`analyze RUN --probes llc --steps final` after the default sweep: the LLC at the last checkpoint only, cached,
    beside every other probe's rows; the report's LLC section states what one checkpoint can (no stage claims)."""
    import json
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run.path, run)
    assert main(["analyze", str(run), "--quiet"]) == 0
    assert main(["analyze", str(run), "--probes", "llc", "--steps", "final", "--quiet"]) == 0
    rows = [json.loads(line) for line in (run / "analysis" / "sweep.jsonl").read_text().splitlines()]
    last = max(r["step"] for r in rows)
    assert {r["step"] for r in rows if r["probe"] == "llc"} == {last}
    assert {"attention", "icl", "ablation", "llc"} <= {r["probe"] for r in rows}
    assert main(["analyze", str(run), "--probes", "llc", "--steps", "7", "--quiet"]) == 2
    assert "step 7 is not a checkpoint of this run" in capsys.readouterr().err
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "<h2>Local learning coefficient</h2>" in page

import json
import re
import shutil

from circuits.store.runs import RunStore
from icl_workbench import main


def test_analyze_and_report_write_a_self_contained_html_report(tiny_run, tmp_path, capsys):
    shutil.copytree(tiny_run.path, tmp_path / "run")
    run = str(tmp_path / "run")
    assert main(["analyze", run, "--quiet"]) == 0
    assert "rows over 6 checkpoints" in capsys.readouterr().out
    assert main(["report", run]) == 0
    out = capsys.readouterr().out
    assert "report:" in out and "induction" in out
    page = (tmp_path / "run" / "report.html").read_text()
    assert "plotly" in page.lower() and len(page) > 3_000_000  # plotly.js is embedded, once
    assert page.count("PlotlyConfig") <= 2
    assert not re.search(r"<script[^>]+src=[\"']https?://", page)  # no CDN: opens offline
    for section in ("Training and the phase change", "Per-head scores", "drag the slider", "Induction scores before",
                    "Ablation effects", "K-composition", "Summary"):
        assert section in page
    data = json.loads((tmp_path / "run" / "analysis" / "report_data.json").read_text())
    assert {"findings", "summary", "metrics", "head_scores"} <= set(data)
    assert RunStore(run).steps() == tiny_run.steps()


def test_report_before_analyze_and_a_missing_run_are_clear_errors(tiny_run, tmp_path, capsys):
    shutil.copytree(tiny_run.path, tmp_path / "run")
    assert main(["report", str(tmp_path / "run")]) == 2
    assert "run `icl-workbench analyze" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "nowhere")]) == 2
    assert "no run at" in capsys.readouterr().err

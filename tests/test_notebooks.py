"""Every notebook executes top to bottom (outputs are not compared); runs are shared through the checkpoint store."""
import time
from pathlib import Path

import pytest

from probes.teaching.exercises import with_solutions

pytestmark = pytest.mark.slow
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))


def test_there_are_five_notebooks():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, shared_runs_root, default_run, control_run, fv_run, monkeypatch, record_property):
    """The science fixtures train the shared runs first, so a notebook's time is its own work (04 trains 3 layers)."""
    import jupytext
    from nbclient import NotebookClient

    monkeypatch.setenv("ICL_WORKBENCH_ROOT", str(shared_runs_root))
    notebook = with_solutions(jupytext.read(path), path)  # CI runs the exercises with their solutions
    start = time.perf_counter()
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    record_property("seconds", seconds)
    print(f"{path.name}: {seconds:.0f} s")


def test_notebook_01_exported_to_html_shows_its_figures_offline(shared_runs_root, default_run, control_run, monkeypatch,
                                                                 tmp_path):
    """What `jupyter nbconvert --to html --execute` does, in-process: every figure cell's output keeps a plotly div,
    plotly.js is embedded (no CDN), no tqdm/ipywidgets warning or stderr progress bar; Chromium draws every figure."""
    import re

    import jupytext
    from browser import EXPORT_CDN_SCRIPTS, FIGURE_DIV, check_page, count_figure_divs, require_chromium
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    monkeypatch.setenv("ICL_WORKBENCH_ROOT", str(shared_runs_root))
    path = NOTEBOOKS[0]
    notebook = with_solutions(jupytext.read(path), path)  # CI runs the exercises with their solutions
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    page, _ = HTMLExporter().from_notebook_node(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    figure_cells = [c for c in code if c.source.strip().splitlines()[-1].startswith("fig")
                    or any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in c.outputs)]
    assert len(figure_cells) >= 2
    for cell in figure_cells:
        assert any(FIGURE_DIV.search(o.get("data", {}).get("text/html", "")) for o in cell.outputs), cell.source[-200:]
    assert count_figure_divs(page) == len(figure_cells)
    assert page.count("* plotly.js v") == 1  # the library's own header: plotly.js is embedded, once
    assert not re.search(r"<script[^>]+src=[\"'][^\"']*plot\.ly", page)
    stderr = "".join(o.text for c in code for o in c.outputs if o.output_type == "stream" and o.name == "stderr")
    assert not re.search(r"IProgress|tqdm", stderr, re.IGNORECASE), stderr
    assert "%|" not in stderr  # progress bars are plain-text outputs, not red stderr
    exported = tmp_path / path.with_suffix(".html").name
    exported.write_text(page, encoding="utf-8")
    require_chromium()
    check = check_page(exported, ignore=EXPORT_CDN_SCRIPTS)
    assert check.figures_rendered == check.figures_in_html == len(figure_cells)
    assert check.errors == []

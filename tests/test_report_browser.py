"""The report in a real browser: headless Chromium draws every plotly figure and logs no console error."""
import shutil

from browser import check_page, require_chromium

from circuits.store.runs import RunStore
from probes.report.page import write_report
from probes.sweep.runner import run_sweep


def test_every_report_figure_renders_in_chromium_without_console_errors(tiny_run, tmp_path):
    require_chromium()
    shutil.copytree(tiny_run.path, tmp_path / "run")
    store = RunStore(tmp_path / "run")
    run_sweep(store, progress=False)
    page = check_page(write_report(store))
    assert page.figures_in_html >= 6  # the report's six sections with figures
    assert page.figures_rendered == page.figures_in_html
    assert page.errors == []


def test_the_browser_check_sees_a_figure_that_did_not_render_and_its_error(tmp_path):
    """Without plotly.js the figure stays an empty div and the page logs a ReferenceError: both must show."""
    import plotly.graph_objects as go

    require_chromium()
    page = tmp_path / "broken.html"
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4])).to_html(full_html=False, include_plotlyjs=False)
    page.write_text(f"<!doctype html><html><body>{figure}</body></html>")
    check = check_page(page, timeout=3)
    assert (check.figures_in_html, check.figures_rendered) == (1, 0)
    assert any("Plotly is not defined" in e for e in check.errors)

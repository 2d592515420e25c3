"""probes.report.display in a real kernel, without training: an executed, exported notebook keeps its figure and one bar."""
import re

import nbformat
from browser import EXPORT_CDN_SCRIPTS, FIGURE_DIV, check_page, require_chromium

from probes.report.display import setup_notebook

CELLS = [
    "from probes.report.display import setup_notebook\n\nsetup_notebook()\n\nimport plotly.graph_objects as go\n"
    "from tqdm.auto import tqdm",
    "setup_notebook()  # a second call embeds nothing more\nfor _ in tqdm(range(50), desc='work', mininterval=0):\n"
    "    pass\ngo.Figure(go.Scatter(x=[1, 2], y=[3, 4]))",
]


def _executed_notebook():
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    return notebook


def test_setup_notebook_is_a_no_op_outside_a_kernel():
    assert setup_notebook() is False


def test_an_exported_notebook_shows_its_figure_offline_and_one_text_bar(tmp_path):
    from nbconvert import HTMLExporter

    notebook = _executed_notebook()
    outputs = [o for cell in notebook.cells for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]  # no warning, no red bar
    bars = [o for o in outputs if "work:" in o.get("data", {}).get("text/plain", "")]
    assert len(bars) == 1 and "100%" in bars[0].data["text/plain"]  # updated in place: only the last state is kept
    page, _ = HTMLExporter().from_notebook_node(notebook)
    assert len(FIGURE_DIV.findall(page)) == 1 and page.count("* plotly.js v") == 1
    assert not re.search(r"<script[^>]+src=[\"'][^\"']*plot\.ly", page)
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    require_chromium()
    check = check_page(tmp_path / "page.html", ignore=EXPORT_CDN_SCRIPTS)
    assert (check.figures_in_html, check.figures_rendered, check.errors) == (1, 1, [])


def test_the_plotly_adapter_still_builds_the_renderers_bundle():
    """probes.report.plotly_adapter wraps plotly's private mime-bundle builder: this fails when a release moves it."""
    import plotly.graph_objects as go
    import plotly.io as pio

    from probes.report.display import PLOTLY_RENDERER
    from probes.report.plotly_adapter import mime_bundle

    before = pio.renderers.default
    try:
        pio.renderers.default = PLOTLY_RENDERER
        bundle = mime_bundle(go.Figure(go.Scatter(x=[0, 1], y=[1, 0])))
    finally:
        pio.renderers.default = before
    assert {"application/vnd.plotly.v1+json", "text/html"} <= set(bundle)

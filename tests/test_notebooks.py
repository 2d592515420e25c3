"""Every notebook executes top to bottom (outputs are not compared); runs are shared through the checkpoint store."""
import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))


def test_there_are_four_notebooks():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, shared_runs_root, default_run, control_run, fv_run, monkeypatch, record_property):
    """The science fixtures train the shared runs first, so a notebook's time is its own work (04 trains 3 layers)."""
    import jupytext
    from nbclient import NotebookClient

    monkeypatch.setenv("ICL_WORKBENCH_ROOT", str(shared_runs_root))
    notebook = jupytext.read(path)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    record_property("seconds", seconds)
    print(f"{path.name}: {seconds:.0f} s")
    assert os.environ["ICL_WORKBENCH_ROOT"] == str(shared_runs_root)

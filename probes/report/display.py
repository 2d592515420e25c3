"""Notebook display set-up: figures that survive an HTML export, progress bars without widget warnings.

`jupyter nbconvert --to html --execute` keeps only what the kernel's outputs hold. Two defaults spoil that:

- in a Jupyter kernel plotly's default renderer is `plotly_mimetype`, which JupyterLab draws but nbconvert's HTML
  drops, so an exported notebook shows no figure;
- `tqdm.auto` (used by `circuits.training.trainer`, `probes.sweep.runner`, `probes.claims.emergence`) picks ipywidgets bars in a kernel: it
  warns "IProgress not found" in red when ipywidgets is missing, and a widget bar does not survive an export.
  tqdm's text bar is no better there: it writes to stderr (a red box) and a stored notebook keeps every refresh.

`setup_notebook()` fixes both for the running kernel. Call it at the top of a notebook's first cell, before the
other imports: `tqdm.auto` chooses its bar when first imported, and the workbench modules bind it on import.
"""
from __future__ import annotations

import sys
import warnings

from tqdm import TqdmWarning
from tqdm.asyncio import tqdm_asyncio

PLOTLY_RENDERER = "plotly_mimetype+notebook"


def in_kernel() -> bool:
    """True inside a Jupyter (ipykernel) kernel, where notebooks and nbconvert/nbclient run code."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def setup_notebook(renderer: str = PLOTLY_RENDERER) -> bool:
    """Set plotly's notebook renderer and make `tqdm.auto` bars one-line text outputs; a no-op outside a kernel.

    The default renderer, "plotly_mimetype+notebook", gives every figure two representations: plotly's JSON
    mimetype, which JupyterLab draws, and an HTML div, which nbconvert's HTML keeps. Plotly.js itself (~4 MB) is
    embedded once, before the first figure shown, so the exported page draws its figures offline (no CDN).
    Calling it again changes nothing. Returns whether it ran (False when a notebook's .py runs as a script).
    """
    if not in_kernel():
        return False
    import plotly.io as pio

    if pio.renderers.default != renderer:  # setting it again would embed plotly.js again
        pio.renderers.default = renderer
    use_text_progress_bars()
    return True


def use_text_progress_bars() -> None:
    """Make `tqdm.auto.tqdm` the `TextBar` below, without tqdm's ipywidgets warning.

    Affects the modules that import `tqdm.auto` after this call (the workbench's do so when first imported).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)  # "IProgress not found" and the notebook-mode notice
        import tqdm.auto
    tqdm.auto.tqdm = TextBar


class _Sink:
    """tqdm's own writes go nowhere (`TextBar.display` draws the bar); utf-8, so the bar uses block characters."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class TextBar(tqdm_asyncio):
    """tqdm's text bar as one plain-text notebook output, replaced in place at each refresh.

    A live notebook shows one updating line; an executed and exported notebook keeps only its last state.
    """

    def __init__(self, *args, **kwargs):
        self._handle = None  # set before tqdm's __init__, which draws the bar a first time
        kwargs["file"] = _Sink()
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        from IPython.display import display

        bundle = {"text/plain": self.__str__() if msg is None else msg}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
        return True

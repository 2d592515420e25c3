"""Progress bars: one line per loop in a terminal or a notebook, and few lines when the output is a log.

`tqdm` redraws its bar in place with a carriage return; in a file or a CI log each redraw is a new line (one per
training step update). `progress_bar` is `tqdm.auto.tqdm` with one rule: when stderr is not a terminal and no notebook
kernel runs, it redraws at most every `LOG_INTERVAL` seconds.
"""
from __future__ import annotations

import sys
from typing import Any

import tqdm.auto

LOG_INTERVAL = 30.0  # seconds between lines of a bar written to a log


def _in_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def log_options(stream: Any = None) -> dict[str, float]:
    """tqdm keywords for `stream` (default stderr): none on a terminal or in a kernel, else a slow redraw."""
    stream = sys.stderr if stream is None else stream
    if _in_kernel() or (hasattr(stream, "isatty") and stream.isatty()):
        return {}
    return {"mininterval": LOG_INTERVAL, "maxinterval": LOG_INTERVAL}


def progress_bar(*args: Any, **kwargs: Any) -> Any:
    """`tqdm.auto.tqdm(*args, **kwargs)` (looked up at each call, so a notebook's `probes.report.display.setup_notebook`
    applies whenever it ran), redrawn rarely when writing to a log (`log_options`)."""
    return tqdm.auto.tqdm(*args, **(log_options(kwargs.get("file")) | kwargs))

"""Progress bars redraw in place on a terminal and write few lines to a log (circuits.progress)."""
from __future__ import annotations

import io
import time

from circuits.progress import LOG_INTERVAL, log_options, progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_slow_bar_and_a_terminal_the_default():
    assert log_options(io.StringIO()) == {"mininterval": LOG_INTERVAL, "maxinterval": LOG_INTERVAL}
    assert log_options(_Terminal()) == {}


def test_a_loop_of_updates_writes_a_handful_of_lines_to_a_log():
    """0.6 s of updates: tqdm's default (a redraw every 0.1 s) writes about 6; a log gets the first and last."""
    log = io.StringIO()
    for _ in progress_bar(range(300), file=log, desc="steps"):
        time.sleep(0.002)
    assert log.getvalue().count("\r") + log.getvalue().count("\n") <= 3

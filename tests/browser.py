"""Headless Chromium for tests: open an HTML file, count the plotly figures that rendered, read console errors.

Uses Debian's `chromium` and `chromium-driver` (.ci/run installs them); nothing is downloaded: the driver is passed
explicitly and SE_OFFLINE keeps Selenium Manager from looking for one. This machine refuses outside connections.
"""
from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--window-size=1280,1000")
FIGURE_DIV = re.compile(r"<div\s[^>]*\bclass=[\"']plotly-graph-div[\"']")  # nbconvert puts class before id
# What an nbconvert HTML export loads from a CDN: its template's require.js and MathJax, and plotly's MathJax (for
# LaTeX labels). No figure needs them; this machine cannot reach them, so their load failures are expected.
EXPORT_CDN_SCRIPTS = ("https://cdnjs.cloudflare.com/ajax/libs/require.js/", "https://cdnjs.cloudflare.com/ajax/libs/mathjax/")
RENDERED_FIGURES_JS = """return Array.from(document.querySelectorAll('div.plotly-graph-div')).filter(
  d => d.querySelector('.plot-container .main-svg') && d.getBoundingClientRect().width > 0).length;"""


def require_chromium() -> None:
    """Skip when the browser or its driver is missing on a developer's machine; under CI that is a failure."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    reason = f"{', '.join(missing)} missing: apt-get install -y chromium chromium-driver (.ci/run does)"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI must run the browser test: {reason}")
    pytest.skip(reason)


@dataclass
class PageCheck:
    """What a page did in the browser: figures in its HTML, figures drawn, console errors (SEVERE)."""

    figures_in_html: int
    figures_rendered: int
    errors: list[str]


def count_figure_divs(page: str) -> int:
    """Plotly figure divs in an HTML page's source (one per `fig.to_html` or notebook figure output)."""
    return len(FIGURE_DIV.findall(page))


@contextmanager
def chromium():
    """A headless Chromium WebDriver with a fresh profile and the browser console log enabled."""
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def check_page(path: Path, timeout: float = 60, ignore: tuple[str, ...] = ()) -> PageCheck:
    """Open `path` in headless Chromium, wait until every figure div has drawn (or `timeout`), and report.

    `ignore`: substrings of console errors that are expected (e.g. a CDN script this offline machine cannot load).
    """
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    expected = count_figure_divs(path.read_text(encoding="utf-8"))
    with chromium() as driver:
        driver.get(path.resolve().as_uri())
        try:
            WebDriverWait(driver, timeout, poll_frequency=0.25).until(
                lambda d: d.execute_script(RENDERED_FIGURES_JS) >= expected)
        except TimeoutException:
            pass  # the counts below say what did not render
        rendered = driver.execute_script(RENDERED_FIGURES_JS)
        logs = driver.get_log("browser")
    errors = [e["message"] for e in logs if e["level"] == "SEVERE" and not any(s in e["message"] for s in ignore)]
    return PageCheck(expected, rendered, errors)

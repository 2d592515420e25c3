"""The cross-run report of a grid: GRID/grid_report.html (self-contained: plotly.js embedded once) and
GRID/grid_report.json — the claims of `probes.claims.grid` (phase-change step and final scores over seeds, and against
model size) with their figures and the table of runs. Reads only what the runs saved; runs no model."""
from __future__ import annotations

import html
import json
import math
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from circuits.grids.grid import read_grid
from circuits.store.files import GRID_REPORT_DATA, GRID_REPORT_FILE, REPORT_FILE
from circuits.store.runs import atomic_write_text
from probes.claims.claim import Claim, fmt
from probes.claims.grid import FINAL_METRICS, SIZE_METRICS, RunSummary, by_preset, final_lines, grid_claims, run_value, size_lines, summarize_grid


# ----- figures ----------------------------------------------------------------------------------------------------
def _jitter(i: int, n: int) -> float:
    return 0.0 if n < 2 else -0.25 + 0.5 * i / (n - 1)


def fig_phase(groups: dict[str, list[RunSummary]]) -> go.Figure:
    """Strip plot of the phase-change step per preset: detected (filled), censored at the last step (open ▲)."""
    fig = go.Figure()
    for k, runs in enumerate(groups.values()):
        xs = [k + _jitter(i, len(runs)) for i in range(len(runs))]
        for censored, symbol, name in ((False, "circle", "transition"), (True, "triangle-up-open", "censored at last step")):
            pick = [(x, r) for x, r in zip(xs, runs, strict=False) if r.censored == censored]
            fig.add_trace(go.Scatter(x=[x for x, _ in pick], y=[r.phase_step or r.last_step for _, r in pick],
                                     mode="markers", marker={"symbol": symbol, "size": 11}, name=name, legendgroup=name,
                                     showlegend=k == 0, text=[f"{r.name}: {r.phase_reason or 'detected'}" for _, r in pick]))
        detected = [r.phase_step for r in runs if r.phase_step is not None]
        if detected:
            fig.add_trace(go.Scatter(x=[k], y=[statistics.median(detected)], mode="markers", name="median (detected)",
                                     marker={"symbol": "line-ew-open", "size": 40, "color": "black"}, showlegend=k == 0))
    fig.update_xaxes(tickvals=list(range(len(groups))), ticktext=list(groups))
    return fig.update_layout(height=420, yaxis_title="step", title="Phase-change step of the held-out repeat loss, "
                             "per seed (▲ = no transition, censored at the run's last step)")


def fig_finals(groups: dict[str, list[RunSummary]]) -> go.Figure:
    """Final values per preset, one point per seed, per metric."""
    fig = make_subplots(rows=1, cols=len(FINAL_METRICS), subplot_titles=list(FINAL_METRICS.values()))
    palette = px.colors.qualitative.Dark24
    for c, metric in enumerate(FINAL_METRICS, start=1):
        for k, (preset, runs) in enumerate(groups.items()):
            pts = [(k + _jitter(i, len(runs)), r) for i, r in enumerate(runs) if r.final.get(metric) is not None]
            fig.add_trace(go.Scatter(x=[x for x, _ in pts], y=[r.final[metric] for _, r in pts], mode="markers",
                                     name=preset, legendgroup=preset, showlegend=c == 1, marker_color=palette[k % 24],
                                     text=[r.name for _, r in pts]), row=1, col=c)
        fig.update_xaxes(tickvals=list(range(len(groups))), ticktext=list(groups), row=1, col=c)
    return fig.update_layout(height=420, title="Final values over seeds (last evaluation / last checkpoint)")


def fig_size(groups: dict[str, list[RunSummary]]) -> go.Figure:
    """Each metric against n_layers (top row) and parameter count (bottom row, log axis), one point per seed."""
    cols = list(SIZE_METRICS)
    fig = make_subplots(rows=2, cols=len(cols), subplot_titles=[SIZE_METRICS[m] for m in cols] + [""] * len(cols),
                        vertical_spacing=0.15)
    palette = px.colors.qualitative.Dark24
    for c, metric in enumerate(cols, start=1):
        for k, (preset, runs) in enumerate(groups.items()):
            pts = [r for r in runs if run_value(r, metric) is not None]
            for row, size in ((1, lambda r: r.n_layers), (2, lambda r: r.n_params)):
                fig.add_trace(go.Scatter(x=[size(r) for r in pts], y=[run_value(r, metric) for r in pts], mode="markers",
                                         name=preset, legendgroup=preset, showlegend=c == 1 and row == 1,
                                         marker_color=palette[k % 24], text=[r.name for r in pts]), row=row, col=c)
        fig.update_xaxes(title_text="layers", dtick=1, row=1, col=c)
        fig.update_xaxes(title_text="parameters", type="log", row=2, col=c)
    return fig.update_layout(height=650, title="Against model size (one point per seed; censored runs have no "
                             "phase-change step)")


# ----- the page ---------------------------------------------------------------------------------------------------
def _run_table(runs: list[RunSummary], grid_dir: Path) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("run", "preset", "clamps", "seed", "layers", "params", "last step", "phase-change step",
                                              *FINAL_METRICS.values(), "report"))
    rows = []
    for r in runs:
        phase = ("not trained" if not r.trained else f"censored at {r.last_step}" if r.censored else str(r.phase_step))
        finals = "".join(f"<td>{'n/a' if r.final.get(m) is None else fmt(r.final[m])}</td>" for m in FINAL_METRICS)
        report = grid_dir / r.name / REPORT_FILE
        link = f"<a href='{html.escape(r.name)}/{REPORT_FILE}'>report</a>" if report.is_file() else ""
        clamps = html.escape("; ".join(r.clamps) or "none")
        rows.append(f"<tr><td>{html.escape(r.name)}</td><td>{html.escape(r.preset)}</td><td>{clamps}</td><td>{r.seed}</td>"
                    f"<td>{r.n_layers}</td><td>{r.n_params:,}</td><td>{r.last_step}</td><td>{phase}</td>{finals}<td>{link}</td></tr>")
    return f"<table border=1 cellpadding=4><tr>{head}</tr>{''.join(rows)}</table>"


def _sections(claims: list[Claim], runs: list[RunSummary]) -> str:
    """The claims by section; the phase-step-vs-size sentence (no verdict) closes the size section."""
    untrained = [r.name for r in runs if not r.trained]
    note = (f"<p>Not trained yet (no evaluations), left out of every statistic: {html.escape(', '.join(untrained))}.</p>"
            if untrained else "")
    out = note
    for title, prefix in (("Phase change over seeds", "grid/phase_change/"), ("Final values over seeds", "grid/final/"),
                          ("Against model size", "grid/size/")):
        items = "".join(f"<li>{html.escape(c.sentence)}</li>" for c in claims if c.key.startswith(prefix))
        if prefix == "grid/final/":
            items += "".join(f"<li>{html.escape(line['sentence'])}</li>" for line in final_lines(runs))
        if prefix == "grid/size/":
            items += "".join(f"<li>{html.escape(line)}</li>" for line in size_lines(by_preset(runs)))
        out += f"<h2>{title}</h2><ul>{items}</ul>"
    return out


def write_grid_report(grid_dir: str | Path) -> Path:
    """Write GRID/grid_report.html and GRID/grid_report.json from the runs' saved files; returns the HTML path."""
    grid_dir = Path(grid_dir)
    runs = summarize_grid(grid_dir)
    groups, claims = by_preset(runs), grid_claims(runs)
    figures = [fig_phase(groups), fig_finals(groups), fig_size(groups)]
    body = "".join(fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures))
    spec = read_grid(grid_dir)["spec"]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Grid report — {html.escape(grid_dir.name)}</title>"
            f"</head><body style='font-family:sans-serif;max-width:1400px;margin:auto'><h1>Grid report: "
            f"{html.escape(grid_dir.name)}</h1><p>Presets {html.escape(', '.join(spec['presets']))}; seeds "
            f"{html.escape(', '.join(map(str, spec['seeds'])))}; overrides {html.escape(', '.join(spec['sets']) or 'none')}."
            f"</p>{_sections(claims, runs)}{body}<h2>Runs</h2>{_run_table(runs, grid_dir)}</body></html>")
    out = grid_dir / GRID_REPORT_FILE
    atomic_write_text(out, page)
    data = {"spec": spec, "runs": [asdict(r) | {"censored": r.censored} for r in runs],
            "claims": [c.to_dict() for c in claims], "final_lines": final_lines(runs), "size_lines": size_lines(groups)}
    atomic_write_text(grid_dir / GRID_REPORT_DATA, json.dumps(_finite(data), indent=1, allow_nan=False))
    return out


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities as null (strict JSON), tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return [_finite(v) for v in value] if isinstance(value, (list, tuple)) else value



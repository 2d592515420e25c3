"""The LLC section of the HTML report: λ̂ over training beside the loss and the top induction score, its stage
boundaries (Hoogland et al. 2024, arXiv 2402.02364; `probes.claims.llc_stages`) and the induction phase change, the chains'
loss traces, and their diagnostics. Every sentence is a `probes.claims.claim.Claim` computed from the table (`probes.measures.llc`
rows), with its control and its checks (thresholds in `probes.claims.thresholds`); none is fixed text.

The claims themselves are `probes.claims.llc`.
"""
from __future__ import annotations

import html
import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from probes.claims.claim import Claim
from probes.claims.llc import LLCSeries, llc_claims, llc_series, top_induction, verdicts
from probes.claims.llc_stages import smoothed
from probes.claims.phase_change import PhaseChange
from probes.claims.thresholds import (
    LLC_DRIFT_MAX,
    LLC_DRIFT_Z,
    LLC_RHAT_MAX,
    LLC_SPREAD_MAX,
)
from probes.registry import ReportContext, ReportSection
from probes.table import Row, select


def settings_line(s: LLCSeries) -> str:
    v = s.values[s.steps[0]]
    return (f"LLC (devinterp SGLD, the same settings at every checkpoint): n = {int(v['n'])} probe sequences, "
            f"nβ = {v['nbeta']:.1f}, ε = {v['lr']:g}, γ = {v['localization']:g}, {int(v['chains'])} chains × "
            f"{int(v['draws'])} draws after {int(v['burnin'])} burn-in steps, batch {int(v['batch_size'])}.")


def _section(table: list[Row], metrics: list[dict], native: bool) -> tuple[list[str], list[Claim], list[go.Figure]]:
    claims, boundaries = llc_claims(table, native)
    claims, descriptive = verdicts(claims)
    s, found = llc_series(table), top_induction(table, native)
    figures = [fig_llc(s, table, metrics, boundaries, found), fig_traces(s, found), fig_diagnostics(s)]
    return [settings_line(s)] + [c.sentence for c in claims] + descriptive, claims, figures


def llc_section(table: list[Row], metrics: list[dict], native: bool = True) -> tuple[list[str], list[go.Figure]]:
    """(sentences, figures) of the LLC section; `metrics` is the run's metrics.jsonl (train loss when the table has
    no icl rows); `native`: one of our runs (as `probes.claims.induction.compute_findings` takes it)."""
    lines, _, figures = _section(table, metrics, native)
    return lines, figures


def llc_html(table: list[Row], metrics: list[dict], native: bool = True) -> tuple[str, list[Claim]]:
    """The section as report HTML (plotly.js loaded earlier on the page) and its claims."""
    lines, claims, figures = _section(table, metrics, native)
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    plots = "".join(fig.to_html(full_html=False, include_plotlyjs=False) for fig in figures)
    return f"<h2>Local learning coefficient</h2><ul>{items}</ul>{plots}", claims


def _x(steps: list[int] | list[float]) -> list[float]:
    """x positions on the log axis: step + 1 (step 0 is the initialisation)."""
    return [float(t) + 1 for t in steps]


def _marks(fig: go.Figure, rows: dict[int, tuple[float, float]], boundaries: list[int], change: PhaseChange | None) -> None:
    """Stage boundaries (dashed) and the phase-change window (shaded) on every row, as traces (log x axis)."""
    for row, (lo, hi) in rows.items():
        for k, b in enumerate(boundaries):
            fig.add_trace(go.Scatter(x=_x([b, b]), y=[lo, hi], mode="lines", line=dict(dash="dash", color="purple"),
                                     name="LLC stage boundary", legendgroup="b", showlegend=row == 1 and k == 0), row=row, col=1)
        if change is not None and change.detected:
            fig.add_trace(go.Scatter(x=_x([change.start, change.start, change.end, change.end]), y=[lo, hi, hi, lo],
                                     fill="toself", mode="none", fillcolor="rgba(255,165,0,0.2)", name="phase-change window",
                                     legendgroup="p", showlegend=row == 1), row=row, col=1)


def _loss_series(table: list[Row], metrics: list[dict]) -> tuple[list[int], list[float], str]:
    icl = select(table, "icl", "loss").get((None, None))
    if icl:
        return [t for t, _ in icl], [v for _, v in icl], "loss (icl probe, training text)"
    rows = [r for r in metrics if "train/loss" in r]
    return [r["step"] for r in rows], [r["train/loss"] for r in rows], "train loss"


def fig_llc(s: LLCSeries, table: list[Row], metrics: list[dict], boundaries: list[int], found) -> go.Figure:
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.05, subplot_titles=(
        "λ̂ (mean ± std over chains; dots: chains; line: GP fit)", "loss (nats)", "top head's controlled induction score",
        "dλ̂/d log t of the GP fit (stage boundaries where ≈ 0)"))
    fig.add_trace(go.Scatter(x=_x(s.steps), y=s.mean, error_y=dict(array=s.std), mode="markers+lines", name="λ̂"), row=1, col=1)
    fig.add_trace(go.Scatter(x=[t + 1 for t, c in zip(s.steps, s.chains, strict=True) for _ in c], y=[v for c in s.chains for v in c],
                             mode="markers", marker=dict(size=3, color="gray"), name="per chain"), row=1, col=1)
    ok = [(t, m) for t, m in zip(s.steps, s.mean, strict=True) if math.isfinite(m)]
    if len(ok) >= 4:
        gx, gy, slope = smoothed([t for t, _ in ok], [m for _, m in ok])
        fig.add_trace(go.Scatter(x=_x(gx), y=gy, mode="lines", line=dict(color="black", width=1), name="GP fit"), row=1, col=1)
        fig.add_trace(go.Scatter(x=_x(gx), y=slope, mode="lines", name="dλ̂/d log t"), row=4, col=1)
    steps, loss, label = _loss_series(table, metrics)
    fig.add_trace(go.Scatter(x=_x(steps), y=loss, mode="lines", name=label), row=2, col=1)
    if found:
        top, points, _ = found
        fig.add_trace(go.Scatter(x=_x([t for t, _ in points]), y=[v for _, v in points], mode="lines+markers",
                                 name=f"induction score, head {top[0]}.{top[1]}"), row=3, col=1)
    finite = [v for c in s.chains for v in c if math.isfinite(v)] or [0.0]
    spans = {1: (min(finite), max(finite)), 2: (min(loss, default=0), max(loss, default=1)), 3: (0, 1)}
    _marks(fig, spans, boundaries, found[2] if found else None)
    fig.update_xaxes(type="log", title_text="training step + 1 (log scale)", row=4, col=1)
    return fig.update_xaxes(type="log").update_layout(height=950, title="Local learning coefficient over training")


def trace_steps(s: LLCSeries, found, limit: int = 6) -> list[int]:
    """Checkpoints whose traces are shown: first, the one nearest the steepest phase change, last, then flagged."""
    picks = [s.steps[0], s.steps[-1]]
    if found and found[2].detected:
        picks.insert(1, min(s.steps, key=lambda t: abs(t - found[2].steepest[1])))
    picks += [t for t in s.steps if any(t in steps for steps in s.flags.values())]
    return sorted(dict.fromkeys(picks))[:limit]


def fig_traces(s: LLCSeries, found) -> go.Figure:
    shown = trace_steps(s, found)
    fig = make_subplots(rows=1, cols=len(shown), subplot_titles=[f"step {t}" for t in shown], shared_yaxes=False)
    for col, t in enumerate(shown, start=1):
        v = s.values[t]
        points = int(v["trace_points"])
        x = [v[f"trace_step/{k}"] for k in range(points)]
        for c in range(int(v["chains"])):
            fig.add_trace(go.Scatter(x=x, y=[v[f"trace/{c}/{k}"] for k in range(points)], mode="lines", name=f"chain {c}",
                                     legendgroup=str(c), showlegend=col == 1), row=1, col=col)
        fig.add_hline(y=v["init_loss"], line_dash="dot", row=1, col=col)
        fig.add_vrect(x0=0, x1=v["burnin"], fillcolor="gray", opacity=0.15, line_width=0, row=1, col=col)
    return fig.update_layout(height=380, title="SGLD loss traces (block means; dotted: L_n(w*); gray: burn-in, dropped)")


def fig_diagnostics(s: LLCSeries) -> go.Figure:
    fig = make_subplots(rows=1, cols=3, subplot_titles=("split-R̂", "chain spread (std / |λ̂|)", f"drift (2nd − 1st half / |λ̂|, ± {LLC_DRIFT_Z:g} s.e.)"))
    for col, (metric, limit) in enumerate((("rhat", LLC_RHAT_MAX), ("spread", LLC_SPREAD_MAX), ("drift", LLC_DRIFT_MAX)), start=1):
        errors = dict(array=[LLC_DRIFT_Z * s.values[t]["drift_se"] for t in s.steps]) if metric == "drift" else None
        fig.add_trace(go.Scatter(x=_x(s.steps), y=[s.values[t][metric] for t in s.steps], mode="markers+lines",
                                 error_y=errors, name=metric), row=1, col=col)
        fig.add_hline(y=limit, line_dash="dash", line_color="red", row=1, col=col)
    fig.update_xaxes(type="log", title_text="step + 1")
    return fig.update_layout(height=350, title="Chain diagnostics per checkpoint (red: flag threshold)")


def llc_report_section(ctx: ReportContext) -> ReportSection:
    """The `llc` probe's section of the run report."""
    body, claims = llc_html(ctx.table, ctx.metrics, native=ctx.native)
    return ReportSection(body, claims)

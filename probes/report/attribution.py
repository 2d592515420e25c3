"""The attribution-patching section of the report: how well the one-backward estimate of Todd et al.'s CIE (Nanda
2023 attribution patching; `probes.measures.attribution`) agrees with the exact AIE on the same tasks and prompts, checkpoint
by checkpoint — top-k overlap (significant when its hypergeometric p < 0.05; its chance expectation k²/N beside),
Spearman ρ (against its one-sided α = 0.05 critical value), error on the exact top-k heads, and a
scatter of exact vs estimated AIE at the last checkpoint. Every sentence is a `probes.claims.claim.Claim` computed from
the table's numbers beside its control (a random ranking; the estimate "no effect" for the error). The claims are `probes.claims.attribution`."""
from __future__ import annotations

import html

import plotly.graph_objects as go

from probes.claims.attribution import attribution_claims, attribution_series, last_head_values
from probes.claims.claim import Claim
from probes.measures.attribution import PROBE
from probes.registry import ReportContext, ReportSection
from probes.table import Row, select


def _line(points: list[tuple[int, float]], name: str, **kw) -> go.Scatter:
    return go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], name=name, mode="lines+markers", **kw)


def fig_overlap(table: list[Row]) -> go.Figure:
    k = int(attribution_series(table, "k")[-1][1])
    p = dict(attribution_series(table, "p_value"))
    overlap = attribution_series(table, "overlap")
    fig = go.Figure(_line(overlap, f"overlap@{k}", text=[f"p = {p[s]:.3f} (random ranking)" for s, _ in overlap]))
    fig.add_trace(_line(attribution_series(table, "chance"), "chance k²/N (random ranking)", line_dash="dash"))
    return fig.update_layout(height=380, title=f"Top-{k} heads: attribution patching vs exact AIE, overlap over training",
                             xaxis_title="step", yaxis_title=f"|top-{k} ∩ top-{k}|", yaxis_range=[-0.1, k + 0.1])


def fig_spearman(table: list[Row]) -> go.Figure:
    fig = go.Figure([_line(attribution_series(table, "spearman"), "Spearman ρ (all heads)"),
                     _line(attribution_series(table, "top_relative_error"), "mean error on exact top-k / mean |exact|")])
    fig.add_hline(y=0, line_dash="dot", annotation_text="random ranking (ρ = 0)")
    return fig.update_layout(height=380, title="Rank agreement and top-head error over training", xaxis_title="step")


def fig_scatter(table: list[Row]) -> go.Figure:
    exact, attr = last_head_values(table, "exact_aie"), last_head_values(table, "attr_aie")
    heads = sorted(exact)
    xs, ys = [exact[h] for h in heads], [attr[h] for h in heads]
    low, high = min(xs + ys), max(xs + ys)
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="markers+text", text=[f"{l}.{h}" for l, h in heads], textposition="top center",
                               name="heads"))
    fig.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", line_dash="dash", name="attribution = exact"))
    step = select(table, PROBE, "exact_aie")[heads[0]][-1][0]
    return fig.update_layout(height=450, title=f"Exact AIE vs attribution patching per head at step {step}",
                             xaxis_title="exact AIE (Δ P(yq), Todd)", yaxis_title="attribution estimate (Δ P(yq))")


def attribution_section(table: list[Row]) -> tuple[list[str], list[go.Figure]]:
    """(sentences, figures) of the section; needs the "attribution" probe's rows."""
    return [c.sentence for c in attribution_claims(table)], [fig_overlap(table), fig_spearman(table), fig_scatter(table)]


def attribution_html(table: list[Row]) -> tuple[str, list[Claim]]:
    """The section as HTML (plotly.js not included: the report embeds it once) and its claims."""
    claims, figures = attribution_claims(table), [fig_overlap(table), fig_spearman(table), fig_scatter(table)]
    items = "".join(f"<li>{html.escape(c.sentence)}</li>" for c in claims)
    return (f"<h2>Attribution patching vs exact AIE</h2><ul>{items}</ul>"
            + "".join(fig.to_html(full_html=False, include_plotlyjs=False) for fig in figures), claims)


def attribution_report_section(ctx: ReportContext) -> ReportSection:
    """The `attribution` probe's section of the run report."""
    body, claims = attribution_html(ctx.table)
    return ReportSection(body, claims)

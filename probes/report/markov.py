"""The in-context Markov-chain section of the HTML report (Edelman et al. 2024, arXiv 2402.11004): KL of the model's
predictions to the uniform, in-context unigram and in-context bigram strategies over training, and the heads'
bigram-attention and previous-token scores. The sentences are the claims of `probes.claims.markov`."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from probes.claims.markov import PROBE, STRATEGIES, markov_claims
from probes.registry import ReportContext, ReportSection
from probes.table import Row, select


def fig_strategies(table: list[Row]) -> go.Figure:
    fig = go.Figure()
    for name in STRATEGIES:
        points = select(table, PROBE, f"kl/{name}").get((None, None), [])
        fig.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], name=f"KL({name} ‖ model)",
                                 mode="lines+markers"))
    return fig.update_layout(height=400, title="Distance to each strategy (last position of held-out chains)",
                             xaxis_title="step", yaxis_title="KL (nats)", yaxis_type="log")


def fig_heads(table: list[Row]) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("bigram attention − chance", "previous-token score"))
    for col, metric in enumerate(("bigram_attention/excess", "previous_token"), start=1):
        for (layer, head), points in sorted(select(table, PROBE, metric).items()):
            fig.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], name=f"{metric} {layer}.{head}",
                                     mode="lines"), row=1, col=col)
    return fig.update_layout(height=380, title="Heads of the statistical induction circuit")


def markov_report_section(ctx: ReportContext) -> ReportSection | None:
    """The `markov` probe's section of the run report (None without its rows)."""
    claims = markov_claims(ctx.table)
    if not claims:
        return None
    figures = [fig_strategies(ctx.table), fig_heads(ctx.table)]
    body = "<h2>In-context Markov chains</h2>" + "".join(f.to_html(full_html=False, include_plotlyjs=False) for f in figures)
    return ReportSection(body, claims)

"""The function-vector section of the HTML report: accuracies over training with each head's onsets, AIE per head,
the induction → FV transition per head, FV injection by layer (validation) with its test baselines, and ablation of
FV vs induction heads beside every same-size head set (Todd et al. 2024, arXiv 2310.15213; Yin & Steinhardt 2025,
arXiv 2502.14010). The sentences are the claims of `probes.claims.fv`, computed from the table."""
from __future__ import annotations

import html

import plotly.graph_objects as go

from probes.claims.fv import Transition, final, transition_analysis
from probes.claims.thresholds import INDUCTION_THRESHOLD
from probes.registry import ReportContext, ReportSection
from probes.table import Row, select

ACCURACIES = {"few_shot_accuracy": "10-shot", "zero_shot_accuracy": "zero-shot", "shuffled_accuracy": "10-shot shuffled labels"}
ABLATED = ("fv", "induction", "fv_excl", "induction_excl")


def _model_series(table: list[Row], metric: str) -> list[tuple[int, float]]:
    return select(table, "fv", metric).get((None, None), [])


def _line(points: list[tuple[int, float]], name: str, **kw) -> go.Scatter:
    return go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], name=name, **kw)


def fig_accuracy(table: list[Row], t: Transition) -> go.Figure:
    fig = go.Figure([_line(_model_series(table, m), label, mode="lines+markers") for m, label in ACCURACIES.items()])
    fig.add_trace(_line(_model_series(table, "fv_zero_shot_accuracy"), "zero-shot + FV (test, chosen layer)", mode="lines+markers"))
    for step, label, color in ((t.induction_onset, "first induction onset", "orange"), (t.fv_onset, "first FV-head AIE onset", "green")):
        if step is not None:
            fig.add_vline(x=step, line_dash="dash", line_color=color, annotation_text=f"{label} (step {step})")
    return fig.update_layout(height=420, title="Accuracy on the held-out tasks over training (top-1 of yq, test queries)",
                             xaxis_title="step", yaxis_title="accuracy")


def fig_aie(table: list[Row]) -> go.Figure:
    fig = go.Figure([_line(points, f"head {l}.{h}", mode="lines") for (l, h), points in sorted(select(table, "fv", "aie").items())])
    return fig.update_layout(height=420, title="Average indirect effect (Todd) per head over training, selection tasks",
                             xaxis_title="step", yaxis_title="AIE (Δ P(yq))")


def fig_plane(t: Transition) -> go.Figure:
    fig = go.Figure()
    for label, points in t.trajectories.items():
        shown = t.heads[label].is_fv
        fig.add_trace(go.Scatter(x=[i for _, i, _ in points], y=[a for _, _, a in points], mode="lines+markers", name=f"head {label}",
                                 text=[f"step {s}" for s, _, _ in points], opacity=1.0 if shown else 0.25,
                                 marker=dict(color=[s for s, _, _ in points], colorscale="Viridis", size=6 if shown else 3)))
    fig.add_vline(x=INDUCTION_THRESHOLD, line_dash="dot", annotation_text="induction threshold")
    return fig.update_layout(height=500, xaxis_title="controlled induction score", yaxis_title="AIE",
                             title="Each head's path in the (induction score, AIE) plane; marker colour = step; FV heads opaque")


def fig_layers(table: list[Row]) -> go.Figure:
    layers = sorted(int(r["metric"].rsplit("L", 1)[1]) for r in table if r["probe"] == "fv"
                    and r["metric"].startswith("fv_valid_zero_shot_accuracy/L") and r["step"] == table[-1]["step"])
    fig = go.Figure(go.Bar(x=[f"after layer {l}" for l in layers], y=[final(table, f"fv_valid_zero_shot_accuracy/L{l}") for l in layers],
                           name="zero-shot + FV (validation queries)"))
    for metric, label in (("no_fv_zero_shot_accuracy", "no FV"), ("fv_zero_shot_accuracy", "FV, test queries"),
                          ("random_heads_fv_zero_shot_accuracy/mean", "random-head FVs (mean)"),
                          ("mean_hidden_zero_shot_accuracy", "mean hidden state")):
        if final(table, metric) is not None:  # a model too small for the random-head control has no such row
            fig.add_hline(y=final(table, metric), line_dash="dash", annotation_text=label)
    return fig.update_layout(height=380, title="FV injection: layer chosen on validation queries, test accuracy and baselines",
                             yaxis_title="accuracy")


def fig_ablation(table: list[Row]) -> go.Figure:
    few = [final(table, f"ablate_{n}/few_shot_accuracy") for n in ABLATED]
    icl = [final(table, f"ablate_{n}/icl_score_change") for n in ABLATED]
    fig = go.Figure(go.Bar(x=[n.replace("_excl", " (with exclusion)") for n in ABLATED], y=few,
                           text=[f"ICL score Δ {v:+.2f}" if v is not None else "" for v in icl], textposition="outside"))
    fig.add_hline(y=final(table, "few_shot_accuracy"), line_dash="dash", annotation_text="no ablation")
    low, high = (final(table, f"ablate_random/few_shot_accuracy/{s}", "fv_controls") for s in ("min", "max"))
    if low is not None:
        fig.add_hrect(y0=low, y1=high, fillcolor="grey", opacity=0.15, line_width=0, annotation_text="every same-size head set")
    return fig.update_layout(height=420, yaxis_title="10-shot accuracy (held-out tasks)",
                             title="Few-shot accuracy after mean-ablating the top FV vs top induction heads (last checkpoint)")


def fv_section(table: list[Row]) -> tuple[list[str], list[go.Figure], Transition]:
    t = transition_analysis(table)
    figures = [fig_accuracy(table, t), fig_aie(table), fig_plane(t), fig_layers(table), fig_ablation(table)]
    return [c.sentence for c in t.claims], figures, t


def fv_report_section(ctx: ReportContext) -> ReportSection:
    """The `fv` probe's section of the run report (`probes.registry.ProbeSpec.section`)."""
    lines, figures, transition = fv_section(ctx.table)
    body = "<h2>Function vectors</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"
    body += "".join(fig.to_html(full_html=False, include_plotlyjs=False) for fig in figures)
    return ReportSection(body, list(transition.claims), [], {"fv_transition": transition.to_dict()})

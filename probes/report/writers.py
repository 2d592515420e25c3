"""The writers-and-cancellers section of the HTML report and notebook 03 (Wang 2026, arXiv 2606.07560; classified
per checkpoint by `probes.measures.writers`, followed across training by `probes.claims.writers`): each head's class over
training, writers and cancellers per task at the end, onsets, FV injection by head set and the ablation table. The
sentences are the claims of `probes.claims.writers`, computed from the table, then its sentences with no verdict (the
canceller phase); this module runs no model."""
from __future__ import annotations

import html

import plotly.graph_objects as go

from probes.claims.claim import Claim
from probes.claims.writers import PROBE, WriterDynamics, last_value, model_series, writer_dynamics
from probes.registry import ReportContext, ReportSection
from probes.table import Row, select

KINDS = ("writers", "cancellers", "both")
FV_KINDS = {"no_fv_zero_shot_accuracy": "no FV", "fv_zero_shot_accuracy/writers": "writers' FV",
            "fv_zero_shot_accuracy/cancellers": "cancellers' FV", "fv_zero_shot_accuracy/todd": "Todd's top heads' FV"}


def fig_classes(table: list[Row], d: WriterDynamics) -> go.Figure:
    """Heads × checkpoints heatmap of the checkpoint class (+1 writer head, −1 canceller head, 0 neither)."""
    series = sorted(select(table, PROBE, "class").items())
    z = [[v for _, v in points] for _, points in series]
    fig = go.Figure(go.Heatmap(z=z, x=[str(s) for s in d.steps], y=[f"head {l}.{h}" for (l, h), _ in series], zmin=-1, zmax=1,
                               colorscale=[[0, "#c0392b"], [0.5, "#eeeeee"], [1, "#2471a3"]],
                               colorbar=dict(tickvals=[-1, 0, 1], ticktext=["canceller", "neither", "writer"])))
    return fig.update_layout(height=120 + 30 * len(z), xaxis_title="step (checkpoint)", xaxis_type="category",
                             title="Writer (+1) and canceller (−1) heads per checkpoint (class on ≥ half of the selection tasks)")


def fig_counts(table: list[Row], d: WriterDynamics) -> go.Figure:
    """Writers and cancellers per task over training, with the run's induction and FV onsets."""
    fig = go.Figure([go.Scatter(x=[s for s, _ in model_series(table, k)], y=[v for _, v in model_series(table, k)],
                                mode="lines+markers", name=f"{k} per task") for k in ("writers", "cancellers")])
    for step, label, color in ((d.induction_onset, "induction onset", "orange"), (d.fv_onset, "FV onset", "green")):
        if step is not None:
            fig.add_vline(x=step, line_dash="dash", line_color=color, annotation_text=f"{label} (step {step})")
    return fig.update_layout(height=380, xaxis_title="step", yaxis_title="heads per selection task (mean)",
                             title="Writers and cancellers per selection task over training")


def fig_tasks(table: list[Row]) -> go.Figure:
    """Writers and cancellers of each selection task at the last checkpoint."""
    last = max(r["step"] for r in table if r["probe"] == PROBE)
    rows = [r for r in table if r["probe"] == PROBE and r["step"] == last and r["metric"].startswith("task/")]
    tasks = list(dict.fromkeys(r["metric"].split("/")[1] for r in rows))
    value = {r["metric"]: r["value"] for r in rows}
    fig = go.Figure([go.Bar(x=tasks, y=[value[f"task/{t}/{k}"] for t in tasks], name=k) for k in ("writers", "cancellers")])
    return fig.update_layout(height=380, barmode="group", yaxis_title="heads", title=f"Writers and cancellers per task at step {last}")


def fig_onsets(d: WriterDynamics) -> go.Figure:
    """Per head: stable onset and first checkpoint of each class (blank: never)."""
    names = list(d.heads)
    cells = [names] + [[_blank(getattr(d.heads[n], f)) for n in names]
                       for f in ("writer_onset", "writer_first", "canceller_onset", "canceller_first", "final")]
    header = ["head", "writer from (stays)", "first writer", "canceller from (stays)", "first canceller", "last class"]
    fig = go.Figure(go.Table(header=dict(values=header), cells=dict(values=cells)))
    return fig.update_layout(height=140 + 25 * len(names), title=f"Onsets (cancellers come {d.order} writers; tolerance: one checkpoint)")


def _blank(value) -> str:
    return "" if value is None else str(value)


def fig_injection(table: list[Row]) -> go.Figure:
    """Zero-shot accuracy on the held-out tasks with each head set's FV (last checkpoint)."""
    values = {label: last_value(table, metric) for metric, label in FV_KINDS.items()}
    fig = go.Figure(go.Bar(x=list(values), y=[v or 0.0 for v in values.values()],
                           text=[f"{v:.2f}" if v is not None else "no such heads" for v in values.values()], textposition="outside"))
    layer = last_value(table, "fv_layer")
    return fig.update_layout(height=380, yaxis_title="zero-shot accuracy (held-out tasks, test queries)", yaxis_range=[0, 1.1],
                             title=f"FV injection after layer {layer:.0f} (the fv probe's layer), by head set, last checkpoint")


def fig_ablation(table: list[Row]) -> go.Figure:
    """Few-shot accuracy, Δ log P(correct) with its bootstrap 95% CI over prompts, and Δ correct-answer logit with each
    set zero- and mean-ablated (last checkpoint)."""
    rows = [(k, kind) for k in KINDS for kind in ("zero", "mean")]
    get = lambda k, kind, m: last_value(table, f"ablate/{kind}/{k}/{m}")  # noqa: E731
    cell = lambda v: "—" if v is None else f"{v:+.2f}"  # noqa: E731
    columns = [[f"{k} ({kind}{', every position' if kind == 'zero' else ', last position'})" for k, kind in rows]]
    columns += [[cell(get(k, kind, m)) for k, kind in rows] for m in ("few_shot_accuracy", "logprob_change")]
    columns += [["—" if get(k, kind, "logprob_ci_low") is None else
                 f"{get(k, kind, 'logprob_ci_low'):+.2f} to {get(k, kind, 'logprob_ci_high'):+.2f}" for k, kind in rows]]
    columns += [[cell(get(k, kind, "correct_logit_change")) for k, kind in rows]]
    header = ["ablated set", "10-shot accuracy", "Δ log P(correct) (nats)", "its bootstrap 95% CI", "Δ correct logit"]
    fig = go.Figure(go.Table(header=dict(values=header), cells=dict(values=columns)))
    clean = last_value(table, "clean/few_shot_accuracy")
    return fig.update_layout(height=360, title=f"Ablating writers vs cancellers on the held-out tasks (clean accuracy "
                             f"{clean:.2f}; — : empty set)")


def writers_section(table: list[Row], transition: tuple[int | None, int | None] | None = None
                    ) -> tuple[list[str], list[go.Figure]]:
    """The section's sentences (the claims, then the sentences with no verdict) and figures, from a table holding the
    "writers" probe (`transition`: see `writer_dynamics`)."""
    d = writer_dynamics(table, transition)
    return [c.sentence for c in d.claims] + d.notes, _figures(table, d)


def _figures(table: list[Row], d: WriterDynamics) -> list[go.Figure]:
    return [fig_classes(table, d), fig_counts(table, d), fig_tasks(table), fig_onsets(d), fig_injection(table), fig_ablation(table)]


def writers_html(table: list[Row]) -> tuple[str, list[Claim]]:
    """The section as HTML for `probes.report.page` (plotly.js not included: the report embeds it once) and its claims."""
    d = writer_dynamics(table)
    figures = _figures(table, d)
    items = "".join(f"<li>{html.escape(line)}</li>" for line in [c.sentence for c in d.claims] + d.notes)
    return (f"<h2>Writer and canceller heads (Wang 2026)</h2><ul>{items}</ul>"
            + "".join(fig.to_html(full_html=False, include_plotlyjs=False) for fig in figures), d.claims)


def writers_report_section(ctx: ReportContext) -> ReportSection:
    """The `writers` probe's section of the run report."""
    body, claims = writers_html(ctx.table)
    return ReportSection(body, claims)

"""The self-contained HTML report of a run: plotly figures (plotly.js embedded once, opens offline) + text summary.

Sections: training curves and ICL score with the phase-change windows; per-head score trajectories; layer×head
heatmaps with a checkpoint slider and at before/during/after steps; the ablation-effect matrix; the K-composition
link from previous-token heads to induction heads; a generated summary with the numbers. The data behind every
figure is written beside the report as JSON.
"""
from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path

import plotly.express as px
import plotly.graph_objects as go
import torch
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from circuits.data.generators import generator_of
from circuits.errors import WorkbenchError
from circuits.store.files import ANALYSIS_DIR, REPORT_DATA_FILE, REPORT_FILE
from circuits.store.runs import RunStore, atomic_write_text
from probes.claims.grokking import grokking_measures
from probes.claims.induction import Findings, compute_findings, summary_lines
from probes.engine.checkpoint import CheckpointSource
from probes.engine.inputs import has_repeat_controls, model_period
from probes.registry import ReportContext, ReportSection, all_probes, section_of
from probes.report.grokking import grokking_section
from probes.sweep.runner import as_source, load_notes, load_table
from probes.table import Row, has_probe, select

HEAD_METRICS = (("attention", "induction"), ("attention", "previous_token"), ("attention", "prefix_matching"), ("weights", "copying"))


def head_grid(table: list[Row], probe: str, metric: str) -> tuple[list[int], torch.Tensor]:
    """(steps, values[step, layer, head]) for a per-head metric."""
    series = select(table, probe, metric)
    steps = [s for s, _ in next(iter(series.values()))]
    n_layers = 1 + max(layer for layer, _ in series)
    n_heads = 1 + max(head for _, head in series)
    grid = torch.zeros(len(steps), n_layers, n_heads)
    for (layer, head), points in series.items():
        grid[:, layer, head] = torch.tensor([v for _, v in points])
    return steps, grid


def fig_training(metrics: list[dict], table: list[Row], f: Findings) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Loss (nats)", "ICL score = loss@90% − loss@10% of context (nats; negative ⇒ uses context)"))
    steps = [r["step"] for r in metrics]
    for key, name in (("train/loss", "train loss"), ("eval/repeat_loss", "held-out repeat loss (2nd copy)"), ("eval/first_copy_loss", "first copy loss")):
        fig.add_trace(go.Scatter(x=steps, y=[r[key] for r in metrics], name=name, mode="lines"), row=1, col=1)
    icl = select(table, "icl", "icl_score")[(None, None)]
    fig.add_trace(go.Scatter(x=[s for s, _ in icl], y=[v for _, v in icl], name="ICL score", mode="lines+markers"), row=2, col=1)
    windows = ((f.induction_change, "orange", "induction window", "top right"), (f.icl_change, "green", "ICL window", "bottom left"))
    for change, color, label, where in (w for w in windows if w[0].detected):
        fig.add_vrect(x0=change.start, x1=change.end, fillcolor=color, opacity=0.15, line_width=0, annotation_text=label,
                      annotation_position=where, row="all", col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    return fig.update_layout(height=650, title="Training and the phase change")


def fig_trajectories(table: list[Row]) -> go.Figure:
    fig = make_subplots(rows=2, cols=2, subplot_titles=[m.replace("_", "-") + " score" for _, m in HEAD_METRICS])
    palette = px.colors.qualitative.Dark24
    for i, (probe, metric) in enumerate(HEAD_METRICS):
        for j, ((layer, head), points) in enumerate(sorted(select(table, probe, metric).items())):
            fig.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], mode="lines", name=f"head {layer}.{head}",
                                     legendgroup=f"{layer}.{head}", showlegend=i == 0, line_color=palette[j % len(palette)]),
                          row=1 + i // 2, col=1 + i % 2)
    return fig.update_layout(height=700, title="Per-head scores over training (copying: Elhage eigenvalue score)")


def fig_slider(table: list[Row]) -> go.Figure:
    steps, ind = head_grid(table, "attention", "induction")
    _, prev = head_grid(table, "attention", "previous_token")
    stacked = torch.stack([ind, prev], dim=1).numpy()  # [step, metric, layer, head]
    fig = px.imshow(stacked, animation_frame=0, facet_col=1, zmin=0, zmax=1, color_continuous_scale="Viridis",
                    labels=dict(animation_frame="checkpoint", x="head", y="layer", color="score"), text_auto=".2f",
                    x=[f"h{h}" for h in range(ind.shape[2])], y=[f"L{l}" for l in range(ind.shape[1])])
    for i, name in enumerate(("induction", "previous-token")):
        fig.layout.annotations[i].text = name
    for k, step in enumerate(steps):
        fig.layout.sliders[0].steps[k].label = str(step)
    return fig.update_layout(height=450, title="Layer × head scores — drag the slider through checkpoints")


def fig_snapshots(table: list[Row], f: Findings) -> go.Figure:
    steps, ind = head_grid(table, "attention", "induction")
    picks = {"before": f.induction_change.start, "during": f.induction_change.steepest[1], "after": steps[-1]}
    idx = [steps.index(s) for s in picks.values()]
    fig = px.imshow(ind[idx].numpy(), facet_col=0, zmin=0, zmax=1, text_auto=".2f", color_continuous_scale="Viridis",
                    labels=dict(x="head", y="layer", color="induction"),
                    x=[f"h{h}" for h in range(ind.shape[2])], y=[f"L{l}" for l in range(ind.shape[1])])
    for i, (name, step) in enumerate(picks.items()):
        fig.layout.annotations[i].text = f"{name} (step {step})"
    return fig.update_layout(height=350, title="Induction scores before / during / after the phase change")


def _empty(title: str, text: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, font_size=16)
    return fig.update_layout(height=200, title=title, xaxis_visible=False, yaxis_visible=False)


def fig_ablation(table: list[Row]) -> go.Figure:
    if not has_probe(table, "ablation"):
        return _empty("Ablation effects", "the ablation probe was not run on this table")
    kinds, names = ("zero", "mean", "resample"), ("loss", "icl_score", "repeat_loss")
    fig = make_subplots(rows=3, cols=3, subplot_titles=[f"{k} ablation: Δ {n.replace('_', ' ')}" for k in kinds for n in names],
                        horizontal_spacing=0.06, vertical_spacing=0.1)
    for r, kind in enumerate(kinds):
        for c, name in enumerate(names):
            grid = head_grid(table, "ablation", f"{kind}/{name}")[1][-1]
            fig.add_trace(go.Heatmap(z=grid.numpy(), texttemplate="%{z:.2f}", coloraxis="coloraxis",
                                     x=[f"h{h}" for h in range(grid.shape[1])], y=[f"L{l}" for l in range(grid.shape[0])]),
                          row=r + 1, col=c + 1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(coloraxis=dict(colorscale="RdBu_r", cmid=0), height=750,
                      title="Ablation effects at the last checkpoint (nats; each head ablated alone)")
    return fig


def fig_kcomposition(table: list[Row], f: Findings) -> go.Figure:
    last = table[-1]["step"]
    rows = [r for r in table if r["step"] == last and r["metric"].startswith("k_composition/from/")]
    if not rows:
        why = "single-layer model: no head can K-compose" if has_probe(table, "weights") else "the weights probe was not run on this table"
        return _empty("K-composition (Elhage)", why)
    senders = sorted({r["metric"].rsplit("/", 1)[1] for r in rows})
    receivers = sorted({f"{r['layer']}.{r['head']}" for r in rows})
    value = {(r["metric"].rsplit("/", 1)[1], f"{r['layer']}.{r['head']}"): r["value"] for r in rows}
    z = [[value.get((s, t), float("nan")) for t in receivers] for s in senders]  # NaN: receiver not above sender
    fig = px.imshow(z, x=receivers, y=senders, text_auto=".3f", color_continuous_scale="Viridis",
                    labels=dict(x="receiver head (key side)", y="sender head (OV)", color="K-comp"))
    return fig.update_layout(height=420, title=f"K-composition (Elhage) at step {last}; random-matrix baseline {f.k_composition_baseline:.3f}")


def _grid_data(table: list[Row], probe: str, metric: str) -> dict:
    steps, grid = head_grid(table, probe, metric)
    return {"steps": steps, "values": grid.tolist()}


def _inputs_note(source: CheckpointSource) -> str:
    """What the probes fed a model that is not ours (our runs' inputs are described in the README)."""
    if source.config is not None:
        return ""
    period = model_period(source.facts)
    return (f"<p>Probe inputs: [BOS, r, r] with |r| = {period} uniform random tokens of the model's vocabulary "
            f"({source.facts.d_vocab} ids, BOS id {source.facts.bos}). The ICL score and the ablation losses are measured "
            f"on these sequences (no natural text is shipped), so they are copy scores, not text scores.</p>")


def _page(source: CheckpointSource, lines: list[str], notes: dict[str, str], body: str, n_steps: int) -> str:
    name = source.config.name if source.config is not None else f"{source.facts.architecture} checkpoints {source.path.name}"
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    skipped = "".join(f"<li><b>{html.escape(p)}</b> skipped: {html.escape(why)}</li>" for p, why in notes.items())
    about = source.config.to_json() if source.config is not None else json.dumps(asdict(source.facts), indent=2)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>ICL circuits — {html.escape(name)}</title></head>"
            f"<body style='font-family:sans-serif;max-width:1200px;margin:auto'><h1>ICL circuits report: {html.escape(name)}</h1>"
            f"<p>Source <code>{html.escape(str(source.path))}</code>, {n_steps} checkpoints.</p>{_inputs_note(source)}"
            f"<h2>Summary</h2><ul>{summary}</ul>"
            + (f"<h2>Probes not run</h2><ul>{skipped}</ul>" if skipped else "") + body
            + f"<h2>{'Run config' if source.config is not None else 'Model'}</h2><pre>{html.escape(about)}</pre></body></html>")


def _check_table(table: list[Row], source: CheckpointSource) -> None:
    missing = [p for p in ("attention", "icl") if not has_probe(table, p)]
    if missing:
        raise WorkbenchError(f"the report needs the {' and '.join(missing)} probe in {source.path}'s table; run "
                             f"`icl-workbench analyze {source.path}` (all probes) or add them to --probes.")
    if len({r["step"] for r in table}) < 2:
        raise WorkbenchError(f"{source.path} has probe results for one checkpoint only; the report follows a series — "
                             f"analyze at least 2 checkpoints (e.g. several revision folders with --hf).")


def _write_grokking_report(source: CheckpointSource, table: list[Row], metrics: list[dict], notes: dict[str, str]) -> Path:
    """A modular-addition run's report: the grokking section (`probes.report.grokking`); its induction probes do not
    apply. One clear error when the table holds no grokking rows."""
    lines, figures = grokking_section(table, metrics)
    measures = grokking_measures(table, metrics)
    body = "<h2>Grokking</h2>" + "".join(fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures))
    out = source.path / REPORT_FILE
    atomic_write_text(out, _page(source, lines, notes, body, len({r["step"] for r in table})))
    data = {"summary": lines, "claims": [c.to_dict() for c in measures.claims], "grokking": measures.to_dict(),
            "metrics": metrics, "skipped_probes": notes}
    atomic_write_text(source.path / ANALYSIS_DIR / REPORT_DATA_FILE, json.dumps(data, indent=1, default=str))
    return out


def _write_sections_report(source: CheckpointSource, table: list[Row], metrics: list[dict], notes: dict[str, str]) -> Path:
    """A run on which the induction probes do not apply (e.g. 3-state Markov chains): its probes' sections alone."""
    sections = probe_sections(ReportContext(table, metrics, native=True, config=source.config))
    lines = [line for s in sections for line in s.lines] + [c.sentence for s in sections for c in s.claims]
    claims = [c for s in sections for c in s.claims]
    body = f"<script>{get_plotlyjs()}</script>" + "".join(s.html for s in sections)  # plotly.js once, offline
    atomic_write_text(source.path / REPORT_FILE, _page(source, lines, notes, body, len({r["step"] for r in table})))
    data = {"summary": lines, "claims": [c.to_dict() for c in claims], "metrics": metrics, "skipped_probes": notes,
            **{k: v for s in sections for k, v in s.data.items()}}
    atomic_write_text(source.path / ANALYSIS_DIR / REPORT_DATA_FILE, json.dumps(data, indent=1, default=str))
    return source.path / REPORT_FILE


def probe_sections(ctx: ReportContext) -> list[ReportSection]:
    """The report sections of every registered probe with rows in the table (`ProbeSpec.section`), in registration
    order."""
    present = {r["probe"] for r in ctx.table}
    found = [section_of(spec)(ctx) for spec in all_probes().values() if spec.section is not None and spec.name in present]
    return [s for s in found if s is not None]


def write_report(run: RunStore | CheckpointSource) -> Path:
    """Write RUN/report.html and RUN/analysis/report_data.json from the saved sweep table (no model is run)."""
    source = as_source(run)
    table, metrics, notes = load_table(source), source.metrics(), load_notes(source)
    if source.config is not None and generator_of(source.config.data).answer_pairs:
        return _write_grokking_report(source, table, metrics, notes)  # no induction rows: the grokking section alone
    if source.config is not None and not has_repeat_controls(source.config) and has_probe(table, "markov"):
        return _write_sections_report(source, table, metrics, notes)  # induction probes do not apply (4-token vocab)
    _check_table(table, source)
    findings = compute_findings(table, native=source.config is not None,
                                clamps=source.config.clamps if source.config is not None else ())
    figures = [fig_training(metrics, table, findings), fig_trajectories(table), fig_slider(table),
               fig_snapshots(table, findings), fig_ablation(table), fig_kcomposition(table, findings)]
    lines, claims = summary_lines(findings), list(findings.claims)
    sections = probe_sections(ReportContext(table, metrics, native=source.config is not None, config=source.config))
    for section in sections:
        lines, claims = lines + section.lines + [c.sentence for c in section.claims], claims + section.claims
    fv_html, data_fv = "".join(s.html for s in sections), {k: v for s in sections for k, v in s.data.items()}
    body = "".join(fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures)) + fv_html
    out = source.path / REPORT_FILE
    atomic_write_text(out, _page(source, lines, notes, body, len({r["step"] for r in table})))
    data = {"findings": findings.to_dict(), "summary": lines, "claims": [c.to_dict() for c in claims], "metrics": metrics, **data_fv,
            "head_scores": {m: _grid_data(table, p, m) for p, m in HEAD_METRICS if select(table, p, m)}}
    data["skipped_probes"] = notes
    atomic_write_text(source.path / ANALYSIS_DIR / REPORT_DATA_FILE, json.dumps(data, indent=1, default=str))
    return out

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 — Emergence or mirage?
#
# Schaeffer, Miranda & Koyejo (2023, arXiv 2304.15004) argued that "emergent" jumps can be made by the metric: if
# per-token accuracy p rises smoothly, exact match of an L-token string behaves like p^L — flat, then sudden — while
# smooth metrics (log-probability, Brier score, token edit distance ≈ L(1 − p)) change gradually. Olsson et al.'s
# induction phase change (2022, arXiv 2209.11895) is a case where a *circuit* forms abruptly, so every metric should
# jump with it. This notebook scores one capability — continuing the second copy of a held-out repeat [BOS, r, r]
# (128 fixed sequences of the run's longest held-out period) — with sharp and smooth metrics and asks both
# questions on the same runs:
#
# * **positive control for the mirage mechanism**: exact match of the first L tokens and of the whole continuation
#   beside p^L, over training and over model size (`attn-only-2l` with d_model 64 and 128; `BIG` adds 16 and 32);
# * **the phase-change locator's verdict** per metric and run: a transition needs a change of several noise floors
#   (a bootstrap over the probe sequences, or the curve's own checkpoint-to-checkpoint jitter) inside a window
#   narrow in steps and in log-steps (`probes.claims.thresholds`) — otherwise it says why not;
# * **the 1-layer control** (`attn-only-1l`), which cannot build an induction head and should show no transition.
#
# Every sentence under "What to notice" is built from these runs' numbers (`probes.claims.emergence.what_to_notice`), next
# to its control, and starts with "Not supported by this run" when the numbers do not support it.

# %%
from probes.report.display import setup_notebook

setup_notebook()  # before the other imports: figures kept in exported HTML, plain-text progress bars

import os
from pathlib import Path

import plotly.graph_objects as go
import torch
from IPython.display import Markdown, display
from plotly.subplots import make_subplots

from circuits.presets import preset
from probes.claims.emergence import (
    BIG_SIZE_AXIS,
    METRIC_NAMES,
    SHARP_METRICS,
    SIZE_AXIS,
    SMOOTH_METRICS,
    capability_curves,
    size_config,
    transitions,
    what_to_notice,
)
from probes.table import select
from workbench import analyze, train_run

torch.set_num_threads(2)
BIG = False  # True adds d_model 16 and 32 to the size axis and the 3-layer model (attn-only-3l)
ROOT = Path(os.environ.get("ICL_WORKBENCH_ROOT", "../checkpoints"))
RUN, CONTROL = "attn-only-2l", "attn-only-1l"
SIZES = {d: size_config(d) for d in (BIG_SIZE_AXIS if BIG else SIZE_AXIS)}  # d_model 64 is RUN itself
configs = {CONTROL: preset(CONTROL)} | {c.name: c for c in SIZES.values()} | ({"attn-only-3l": preset("attn-only-3l")} if BIG else {})
runs = {name: train_run(config, ROOT / name) for name, config in configs.items()}
curves = {name: capability_curves(run) for name, run in runs.items()}
by_size = [{"d_model": d} | curves[c.name][-1] for d, c in SIZES.items()]  # final checkpoints

# %% [markdown]
# ## One capability, sharp and smooth metrics, over training
# Top row: sharp metrics, with p^L dashed — what exact match would be if the per-token errors were independent.
# Bottom row: smooth metrics. Steps on a log axis (the checkpoints are log + linearly spaced).

# %%
panels = [("top1_accuracy", None), ("exact_match", "independent_match"), ("exact_match_full", "independent_match_full"),
          ("log_prob", None), ("brier", None), ("edit_distance_full", None)]
colors = dict(zip(curves, ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3"), strict=False))
fig = make_subplots(rows=2, cols=3, subplot_titles=[METRIC_NAMES[m] for m, _ in panels])
for name, rows in curves.items():
    steps = [r["step"] for r in rows]
    for i, (metric, predicted) in enumerate(panels):
        where = dict(row=i // 3 + 1, col=i % 3 + 1)
        fig.add_trace(go.Scatter(x=steps, y=[r[metric] for r in rows], name=name, legendgroup=name, showlegend=i == 0,
                                 mode="lines+markers", marker_size=4, line_color=colors[name]), **where)
        if predicted:
            fig.add_trace(go.Scatter(x=steps, y=[r[predicted] for r in rows], name=f"{name}: p^L", legendgroup=name,
                                     showlegend=False, line=dict(color=colors[name], dash="dash")), **where)
fig.update_xaxes(type="log", title_text="step (log)")
last = curves[RUN][-1]
fig.update_layout(height=650, title=f"L = {last['L']} and the whole continuation ({last['L_full']} tokens); dashed: p^L")
fig

# %% [markdown]
# ## Measured exact match against p^L (every checkpoint of every run)
# On the diagonal the per-token errors behave as independent; above it they cluster in the same sequences.

# %%
fig = make_subplots(rows=1, cols=2, subplot_titles=(f"L = {last['L']} tokens", f"whole continuation ({last['L_full']} tokens)"))
for col, (em, pred) in enumerate((("exact_match", "independent_match"), ("exact_match_full", "independent_match_full")), 1):
    for name, rows in curves.items():
        fig.add_trace(go.Scatter(x=[r[pred] for r in rows], y=[r[em] for r in rows], mode="markers", name=name,
                                 legendgroup=name, showlegend=col == 1, marker_color=colors[name],
                                 text=[f"step {r['step']}" for r in rows]), row=1, col=col)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="grey", dash="dot"),
                             name="independent errors", showlegend=col == 1), row=1, col=col)
fig.update_xaxes(title_text="p^L (independent errors)", range=[0, 1])
fig.update_yaxes(title_text="measured exact match", range=[0, 1])
fig.update_layout(height=430)
fig

# %% [markdown]
# ## The phase-change locator's verdict, per metric and run
# A transition is declared only if the change exceeds `PHASE_NOISE_MULTIPLE` noise floors and the 10%→90% window
# is narrow in steps and in log-steps (`probes.claims.thresholds`); otherwise the reason is given.

# %%
lines = ["| run | metric | verdict | 10%→90% window | first → last | noise floor |", "|---|---|---|---|---|---|"]
for name, rows in curves.items():
    for metric, c in transitions(rows, SHARP_METRICS + SMOOTH_METRICS).items():
        verdict = "**transition**" if c.detected else f"none ({c.reason})"
        lines.append(f"| {name} | {METRIC_NAMES[metric]} | {verdict} | {c.start}–{c.end} | {c.before:.3f} → {c.after:.3f} | {c.noise:.4f} |")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## Over model size: the final checkpoints of `attn-only-2l` with only d_model changed
# Left: the sharp metrics and their p^L predictions (dashed); right: the smooth ones (edit distance divided by the
# continuation length, so all lie in [0, 1] or below 0).

# %%
d = [r["d_model"] for r in by_size]
fig = make_subplots(rows=1, cols=2, subplot_titles=("sharp", "smooth"))
for metric, label, dash in (("top1_accuracy", "top-1 accuracy p", None), ("exact_match", "exact match (L)", None),
                            ("independent_match", "p^L", "dash"), ("exact_match_full", "exact match (whole)", None),
                            ("independent_match_full", "p^L (whole)", "dash")):
    fig.add_trace(go.Scatter(x=d, y=[r[metric] for r in by_size], name=label, line_dash=dash, mode="lines+markers"), row=1, col=1)
for metric, scale in (("log_prob", 1), ("brier", 1), ("edit_distance_full", 1 / last["L_full"])):
    fig.add_trace(go.Scatter(x=d, y=[r[metric] * scale for r in by_size], name=METRIC_NAMES[metric], mode="lines+markers"), row=1, col=2)
fig.update_xaxes(type="log", title_text="d_model", tickvals=d)
fig.update_layout(height=430)
fig

# %% [markdown]
# ## What the circuit did at the jump (2-layer model)
# The same checkpoints: the heads' previous-token and induction scores beside a sharp and a smooth metric.

# %%
table = analyze(runs[RUN], ("attention",))
fig = go.Figure()
for metric in ("induction", "previous_token"):
    for (layer, head), points in select(table, "attention", metric).items():
        if points[-1][1] > 0.3:
            fig.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], name=f"{metric} {layer}.{head}"))
rows = curves[RUN]
fig.add_trace(go.Scatter(x=[r["step"] for r in rows], y=[r["exact_match"] for r in rows], name=METRIC_NAMES["exact_match"], line_dash="dash"))
fig.add_trace(go.Scatter(x=[r["step"] for r in rows], y=[r["top1_accuracy"] for r in rows], name="top-1 accuracy", line_dash="dash"))
fig.add_trace(go.Scatter(x=[r["step"] for r in rows], y=[1 + r["log_prob"] / 5 for r in rows], name="1 + log P(correct) / 5", line_dash="dot"))
fig.update_layout(height=430, xaxis_title="step", title="Head scores and the capability, same checkpoints")
fig

# %% [markdown]
# ## What to notice
# Computed from the numbers above (`probes.claims.emergence.what_to_notice`); each sentence names its control.

# %%
display(Markdown("\n".join(f"* {line}" for line in what_to_notice(curves, RUN, CONTROL, by_size))))

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
# # 01 — Watch an induction head being born
#
# We train a 2-layer attention-only transformer on random tokens that repeat with a random period, and watch it
# learn to **copy from context**. For ~600 steps nothing happens; then, within a couple of hundred steps, the loss on
# repeated tokens collapses. That is the *induction phase change* (Olsson et al. 2022): a layer-0 **previous-token
# head** and a layer-1 **induction head** form together and compose. You will scrub through checkpoints and see both
# attention patterns appear, and compare against a 1-layer model, which cannot build the circuit.
#
# Set `BIG = True` for a 3-layer model with MLPs (slower).

# %%
from probes.report.display import setup_notebook

setup_notebook()  # before the other imports: figures kept in exported HTML, plain-text progress bars

import os
from pathlib import Path

import plotly.express as px
import plotly.graph_objects as go
import torch
from einops import einsum  # noqa: F401 (the exercises use it)

from circuits.presets import preset
from probes.claims.induction import compute_findings
from probes.claims.phase_change import locate_phase_change
from probes.engine.inputs import induction_probe
from probes.measures.detectors import attention_patterns
from probes.table import select
from probes.teaching.checks import check
from workbench import analyze, train_run

torch.set_num_threads(2)
BIG = False
ROOT = Path(os.environ.get("ICL_WORKBENCH_ROOT", "../checkpoints"))
PRESET = "full-3l" if BIG else "attn-only-2l"

# %% [markdown]
# ## Train the run and watch it live — about a minute on 2 cores
# The trainer runs in a background thread while `probes.sweep.follow.follow` probes each checkpoint the moment the trainer
# has written it (the attention, weight and ICL probes; each result is cached, so the next cells reuse it) and redraws
# the figure below in place. Top: the held-out repeat loss from the trainer's evaluations, up to the newest probed
# checkpoint. Bottom: the best content-controlled induction score over all heads at each probed checkpoint. A run that
# goes through the induction phase change shows both curves flat for a while, then turning within a few hundred
# steps; the next cell locates the change from the numbers, and the claims at the end say whether this run supports it.
#
# If the run already exists (this cell run again, or a shared run), the trainer returns at once and the follower
# probes the saved checkpoints and draws the finished curves. The figure is one display updated through a display
# handle, so a saved or exported notebook keeps its last state. The 1-layer control is trained afterwards.

# %%
from concurrent.futures import ThreadPoolExecutor

from circuits.store.runs import RunStore
from probes.sweep.follow import follow, live_figure, preload_bridge, show_live

config, run_dir = preset(PRESET), ROOT / PRESET
handle = show_live(go.Figure(layout_title_text=f"waiting for the first checkpoint of {PRESET}"))
preload_bridge()  # import TransformerLens here, before the trainer thread does (two threads importing it deadlock)
with ThreadPoolExecutor(max_workers=1) as pool:
    training = pool.submit(train_run, config, run_dir, progress=False)
    followed = follow(run_dir, ("attention", "weights", "icl"), poll=0.5, report=False, stall=5.0,
                      trainer_alive=lambda: not training.done(),
                      on_update=lambda step, table: show_live(live_figure(RunStore(run_dir).metrics(), table, config.train.steps), handle))
run = training.result()  # a training error is raised here
control = train_run(preset("attn-only-1l"), ROOT / "attn-only-1l")
print(followed.message)

# %% [markdown]
# ## The loss curve and the ICL score, with the phase change marked
# The ICL score is Olsson's: loss late in the context minus loss early (negative = the model uses its context).

# %%
table = analyze(run, ("attention", "weights", "icl"))
control_table = analyze(control, ("attention", "weights", "icl"))
metrics, control_metrics = run.metrics(), control.metrics()
icl = select(table, "icl", "icl_score")[(None, None)]
change = locate_phase_change([s for s, _ in icl], [v for _, v in icl])
fig = go.Figure()
fig.add_trace(go.Scatter(x=[r["step"] for r in metrics], y=[r["eval/repeat_loss"] for r in metrics], name=f"{PRESET}: repeat loss"))
fig.add_trace(go.Scatter(x=[r["step"] for r in control_metrics], y=[r["eval/repeat_loss"] for r in control_metrics], name="1-layer control: repeat loss"))
fig.add_trace(go.Scatter(x=[s for s, _ in icl], y=[v for _, v in icl], name=f"{PRESET}: ICL score (late − early)"))
fig.add_vrect(x0=change.start, x1=change.end, fillcolor="orange", opacity=0.2, line_width=0, annotation_text="phase change")
fig.update_layout(xaxis_title="step", yaxis_title="nats", height=420)
fig

# %% [markdown]
# ## Which heads? The induction head and its previous-token partner
# Scores on held-out repeat periods (never trained on): layer-1 heads attend to the token *after* the earlier
# occurrence of the current token; one layer-0 head attends to the previous position.

# %%
final_ind = {k: v[-1][1] for k, v in select(table, "attention", "induction").items()}
final_prev = {k: v[-1][1] for k, v in select(table, "attention", "previous_token").items()}
induction_head = max(final_ind, key=final_ind.get)
previous_head = max((h for h in final_prev if h[0] < induction_head[0]), key=final_prev.get)
control_best = max(v[-1][1] for v in select(control_table, "attention", "induction").values())
print(f"induction head {induction_head}: {final_ind[induction_head]:.2f}; previous-token head {previous_head}: "
      f"{final_prev[previous_head]:.2f}; best induction score in the 1-layer control: {control_best:.2f}")

# %% [markdown]
# ## Exercise 1.1 — the previous-token score
# The detectors are pure functions of attention patterns: `patterns[layer, batch, head, q, k]` is how much query
# position q attends to key position k ≤ q (each row sums to 1). Write Olsson et al.'s previous-token score: the
# attention from position i to i − 1, averaged over every sequence and every query i ≥ 1 — one number per head, a
# `[n_layers, n_heads]` tensor. The check cell compares yours with the library's
# (`probes.measures.detectors.previous_token_score`) on random patterns whose axes all have different lengths, and
# names the first difference.
#
# <details><summary>Hint</summary>
#
# `patterns.diagonal(offset=-1, dim1=-2, dim2=-1)` holds A[i, i − 1] for every i ≥ 1, as a last axis of length
# pos − 1. Average it over the batch axis and that last axis.
# </details>

# %%
# exercise 1.1: previous_token_score
def previous_token_score(patterns, tokens):
    """patterns: [n_layers, batch, n_heads, q, k], tokens: [batch, pos] -> [n_layers, n_heads]."""
    raise NotImplementedError("exercise 1.1: write previous_token_score (a solution: notebooks/solutions/01_induction_phase_change.py)")


# %%
print(check("previous_token_score", previous_token_score))

# %% [markdown]
# ## Exercise 1.2 — the induction score
# An induction head at query i attends to the key *just after* an earlier occurrence of token i: the target is
# `target[b, i, j] = tokens[b, j − 1] == tokens[b, i]` for 1 ≤ j ≤ i (so j − 1 < i). Sum each query row's attention
# on its targets and average over the query rows that have at least one target (in [BOS, r, r], the second copy):
# a perfect induction head scores 1.
#
# <details><summary>Hint</summary>
#
# Build `same = tokens[:, :, None] == tokens[:, None, :]` (`[batch, q, k]`), keep k < q with a strictly lower
# triangle, shift it one key to the right, then
# `einsum(patterns, target.float(), "layer batch head q k, batch q k -> layer batch head q")` gives each row's mass.
# Off by one key (the duplicate-token score) or averaging over all rows are the two usual slips; the check catches both.
# </details>

# %%
# exercise 1.2: induction_score
def induction_score(patterns, tokens):
    """patterns: [n_layers, batch, n_heads, q, k], tokens: [batch, pos] -> [n_layers, n_heads]."""
    raise NotImplementedError("exercise 1.2: write induction_score (a solution: notebooks/solutions/01_induction_phase_change.py)")


# %%
print(check("induction_score", induction_score))

# %% [markdown]
# ## Your scores on the trained run
# Your two functions on the last checkpoint, on held-out repeats. These are the raw scores; the table's induction
# score above also subtracts the same head's attention on sequences in which nothing repeats (the content control).

# %%
probe = induction_probe(run.config(), n=32)
final_patterns = attention_patterns(run.load_bridge(run.steps()[-1]), probe.tokens)
yours = {"previous-token": previous_token_score(final_patterns, probe.tokens), "induction": induction_score(final_patterns, probe.tokens)}
for name, score in yours.items():
    top = divmod(int(score.argmax()), score.shape[1])
    print(f"your raw {name} scores (rows: layers, columns: heads):\n{score.numpy().round(2)}\n  top head {top}")
print(f"the table's heads: induction {induction_head}, previous-token {previous_head}")

# %% [markdown]
# ## Scrub through checkpoints
# Drag the slider: the attention patterns of both heads on one repeated sequence. Before the phase change they are
# diffuse; after it, the previous-token head is a sub-diagonal and the induction head is an off-diagonal stripe one
# period back, shifted by one.

# %%
tokens = induction_probe(run.config(), n=8).tokens[-1:]  # one sequence with the longest held-out period
steps = run.steps()[::2] + ([run.steps()[-1]] if len(run.steps()) % 2 == 0 else [])
frames = []
for step in steps:
    patterns = attention_patterns(run.load_bridge(step), tokens)  # [layer, batch, head, q, k]
    frames.append(torch.stack([patterns[previous_head[0], 0, previous_head[1]], patterns[induction_head[0], 0, induction_head[1]]]))
fig = px.imshow(torch.stack(frames).numpy(), animation_frame=0, facet_col=1, zmin=0, zmax=1, color_continuous_scale="Viridis",
                labels=dict(animation_frame="checkpoint", x="key position", y="query position"))
fig.layout.annotations[0].text = f"previous-token head {previous_head}"
fig.layout.annotations[1].text = f"induction head {induction_head}"
for k, step in enumerate(steps):
    fig.layout.sliders[0].steps[k].label = str(step)
fig.update_layout(height=450)
fig

# %% [markdown]
# ## What to notice — computed from these two runs
# Each sentence is a claim with its statistic and its control, generated from the numbers above (the induction
# score here is content-controlled: raw attention to the induction targets minus the same head's attention to the
# same positions on sequences where nothing repeats). A claim the numbers do not support says so. Notebook 02 shows
# the causal side: ablating these heads.

# %%
for name, findings in ((PRESET, compute_findings(table)), ("1-layer control", compute_findings(control_table))):
    print(name)
    for claim in findings.claims:
        print("  •", claim.sentence)

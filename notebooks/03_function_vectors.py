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
# # 03 — Function vectors: a task, compressed into a few heads' outputs
#
# Here the answer is *not* in the context: each of 32 tasks maps input words to output words (random permutations,
# successor maps, categories, "capitalize"), and the model must infer the task from 10 demonstrations. Todd et al.
# (2024) found heads whose mean output carries the task: patching it into prompts with shuffled labels restores the
# answer (their **average indirect effect**, AIE), and the sum of the top heads' outputs — a **function vector** —
# can be added to a prompt with no demonstrations. Yin & Steinhardt (2025) saw in Pythia that many such FV heads
# start out as induction heads. We train a small model where both circuits form, and look.
#
# Report what the model does, whatever it is: the claims at the end are computed from this run, beside their controls.

# %%
from probes.report.display import setup_notebook

setup_notebook()  # before the other imports: figures kept in exported HTML, plain-text progress bars

import os
from pathlib import Path

import plotly.express as px
import torch

from circuits.data.tasks import default_suite
from circuits.presets import preset
from probes.engine.checkpoint import RunSource
from probes.measures.function_vectors import FVSettings, TaskBatch, indirect_effects, mean_head_activations, split_tasks, top_heads
from probes.report.fv import fv_section
from workbench import analyze, train_run

torch.set_num_threads(2)
BIG = False
ROOT = Path(os.environ.get("ICL_WORKBENCH_ROOT", "../checkpoints"))
run = train_run(preset("fv"), ROOT / "fv")  # ~2 minutes on 2 cores; reused if it exists
config = run.config()
steps = run.steps() if BIG else run.steps()[::4] + [run.steps()[-1]]  # every 4th checkpoint by default

# %% [markdown]
# ## AIE per head at the last checkpoint (all heads in batched patched passes)
# Heads are scored on half of the tasks (the *selection* tasks); every effect below is measured on the other half.

# %%
engine = RunSource(run).load(run.steps()[-1]).engine  # the intervention engine on the last checkpoint
settings = FVSettings()
selection, heldout = split_tasks(default_suite())
batch = TaskBatch.build(default_suite(), settings, config.model.n_ctx, selection)
aie = indirect_effects(engine, batch, mean_head_activations(engine, batch)).mean(0)
fv_heads = top_heads(aie, settings.top_heads)
px.imshow(aie.numpy(), text_auto=".3f", labels=dict(x="head", y="layer", color="AIE"),
          title=f"AIE on the {len(selection)} selection tasks; top heads = {fv_heads}")

# %% [markdown]
# ## Across checkpoints: accuracy, AIE, injection and ablation on the held-out tasks
# The sweep runs the `fv` probe (and, on the last checkpoint, its ablation control over every same-size head set).

# %%
table = analyze(run, ("attention", "icl", "fv", "fv_controls"), steps=steps)
lines, figures, transition = fv_section(table)
figures[0]

# %%
figures[3]  # FV injection: the layer chosen on validation queries, test accuracy and its baselines

# %%
figures[2]  # each head's path in the (induction score, AIE) plane

# %%
figures[4]  # few-shot accuracy after ablating the top FV vs the top induction heads, beside every same-size set

# %% [markdown]
# ## What to notice — computed from this run
# Each line is a claim with its statistic and its control, generated from the numbers above; a claim the numbers do
# not support says "Not supported by this run".

# %%
for claim in transition.claims:
    print("•", claim.sentence)

# %% [markdown]
# ## Writers and cancellers (Wang 2026)
# A head can push the correct answer's logit up (a **writer**) or down (a **canceller**). Wang (2026) finds them per
# task with a sign-preserving test — refined direct logit attribution against a "rule-flipped" prompt (same query,
# demonstrations of another task), a sign-flip permutation test with Benjamini–Hochberg control, then each candidate
# zero-ablated — and sees that ranking heads by AIE alone misses one of the two groups. The `writers` probe classifies
# every head on the selection tasks at three checkpoints (it costs seconds per checkpoint), builds FVs from writers
# only and cancellers only beside the FV heads', and ablates writers vs cancellers on the held-out tasks. No canceller
# at all is a possible result; each sentence says what this run's numbers support.

# %%
from probes.report.writers import writers_section

writer_steps = [steps[0], steps[len(steps) // 2], steps[-1]]  # three checkpoints (the slow test uses the same ones)
writer_table = analyze(run, ("attention", "icl", "fv", "fv_controls", "writers"), steps=writer_steps)
writer_lines, writer_figures = writers_section(writer_table)
for line in writer_lines:
    print("•", line)
for figure in writer_figures[:2] + writer_figures[4:]:  # classes over training, counts, FV kinds, the ablation table
    figure.show()

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
# # 05 — Grokking: a memorising and a generalising circuit compete
#
# A one-layer transformer learns (a + b) mod p from half of all p² pairs, with full-batch AdamW and strong weight
# decay (Nanda et al. 2023, "Progress measures for grokking via mechanistic interpretability", arXiv 2301.05217).
# Nanda et al. found that such a model first **memorises** its training pairs, then slowly builds a **Fourier
# circuit** (it embeds numbers as rotations at a few *key frequencies* and adds angles with trigonometric
# identities), and only when that circuit is strong enough — and weight decay has cleaned up the memorisation — does
# test accuracy jump. Their progress measures make the hidden competition visible:
#
# * **restricted loss** — keep only the key-frequency components of the logits (over all p² pairs): how well the
#   Fourier circuit alone would do;
# * **excluded loss** — remove them, loss on the *training* pairs: how much the memorised answers now lean on the
#   circuit;
# * **Fourier sparsity of the embedding** and the **total squared weight**.
#
# The key frequencies are read from the final checkpoint's MLP neurons. This notebook measures the memorisation
# step, the generalisation step and the gap between them on the `grokking` preset, and states each finding from the
# run's numbers — with "Not supported by this run" where the numbers do not back it.

# %%
from probes.report.display import setup_notebook

setup_notebook()  # before the other imports: figures kept in exported HTML, plain-text progress bars

import os
from pathlib import Path

import plotly.express as px
import torch

from circuits.presets import preset
from probes.claims.grokking import grokking_measures
from probes.engine.checkpoint import RunSource
from probes.measures.grokking import final_key_frequencies, mlp_activations, neuron_frequencies
from probes.report.grokking import grokking_section
from workbench import analyze, train_run

torch.set_num_threads(2)
ROOT = Path(os.environ.get("ICL_WORKBENCH_ROOT", "../checkpoints"))
PRESET = "grokking"

# %% [markdown]
# ## Train (or reuse) the run
# About two minutes on 2 cores (the preset's comment in `circuits/presets.py` says what was measured); re-running
# this cell reuses the finished run.

# %%
config = preset(PRESET)
run = train_run(config, ROOT / PRESET)
print(f"p = {config.data.modulus}, train fraction {config.data.train_fraction}, {run.steps()[-1]} steps, "
      f"{len(run.steps())} checkpoints, evaluation every {config.train.eval_every} steps")

# %% [markdown]
# ## The progress measures at every checkpoint
# One probe, `grokking`, computes train/test loss and accuracy, the restricted and excluded loss (with the final
# checkpoint's key frequencies), the embedding's Fourier spectrum and the weight norm. The induction probes do not
# apply to a modular-addition run (it only ever sees `a b =`).

# %%
table = analyze(run, ("grokking",))
metrics = run.metrics()
measures = grokking_measures(table, metrics)
lines, figures = grokking_section(table, metrics)
print(f"memorisation step (train accuracy first ≥ 99%): {measures.memorisation_step}")
print(f"generalisation step (test accuracy first ≥ 99%): {measures.generalisation_step}")
print(f"gap: {measures.gap} steps")

# %% [markdown]
# ## Memorisation first, then generalisation
# Train and test accuracy at every evaluation, both steps marked.

# %%
figures[0]

# %% [markdown]
# ## What the progress measures say
# Losses on a log scale: the restricted loss (key frequencies only) and the excluded loss (key frequencies removed)
# beside the train and test loss. Each sentence below is computed from this run's numbers.

# %%
figures[1]

# %%
for claim in measures.claims:
    print("•", claim.sentence)

# %% [markdown]
# The progress measures at the checkpoints nearest to the two steps (and just before generalisation):

# %%
names = ("train_accuracy", "test_accuracy", "train_loss", "test_loss", "restricted_loss", "excluded_loss", "embed_gini",
         "embed_key_share", "weight_norm_sq")
columns = ("memorisation", "before_generalisation", "generalisation", "last")
header = f"{'measure':<18}" + "".join(f"{c:>24}" for c in columns)
print(header)
for name in names:
    print(f"{name:<18}" + "".join(f"{measures.at[c].get(name, float('nan')):>24.4g}" for c in columns))

# %% [markdown]
# ## Cleanup: the embedding concentrates on the key frequencies, the weights shrink

# %%
figures[2]

# %%
figures[3]

# %% [markdown]
# ## The key frequencies, in the final checkpoint's neurons
# Each MLP neuron's activation at `=` over all (a, b), in the 2-D Fourier basis: the frequency whose terms explain
# most of its variance is its frequency. Below, the neuron that one frequency explains best, as a p × p map.

# %%
source = RunSource(run)
final = source.load(source.steps()[-1])
keys = final_key_frequencies(final)
acts = mlp_activations(final)
freq, share = neuron_frequencies(acts, config.data.modulus)
print(lines[-1])
print(f"share of variance explained by each neuron's frequency: median {share[freq > 0].median():.2f} over {int((freq > 0).sum())} live neurons")
best = int(share.argmax())
p = config.data.modulus
fig = px.imshow(acts[:, best].reshape(p, p).numpy(), labels=dict(x="b", y="a", color="activation"), color_continuous_scale="RdBu",
                title=f"Neuron {best}: frequency k={int(freq[best])} explains {share[best]:.0%} of its variance")
fig

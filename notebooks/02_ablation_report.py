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
# # 02 — Causal evidence: ablate heads, then script the whole report
#
# Attention patterns are correlational. To show a head *matters*, remove it and measure what breaks. We ablate every
# head of the trained 2-layer model three ways — **zero** (output := 0), **mean** (output := its mean over a reference
# batch) and **resample** (output := its value on another sequence) — and measure the change in loss, in the ICL
# score and in the loss on the repeated half of [BOS, r, r] sequences. Then we generate the full HTML report that
# `icl-workbench report` writes.

# %%
from probes.report.display import setup_notebook

setup_notebook()  # before the other imports: figures kept in exported HTML, plain-text progress bars

import os
from pathlib import Path

import plotly.express as px
import torch
from IPython.display import HTML, display

from circuits.presets import preset
from probes.claims.thresholds import INDUCTION_THRESHOLD
from probes.engine.checkpoint import RunSource
from probes.engine.inputs import ProbeInputs
from probes.measures.ablation import ABLATIONS, ablation_effects, head_set_mask
from workbench import analyze, report, train_run

torch.set_num_threads(2)
BIG = False
ROOT = Path(os.environ.get("ICL_WORKBENCH_ROOT", "../checkpoints"))
PRESET = "attn-only-3l" if BIG else "attn-only-2l"
run = train_run(preset(PRESET), ROOT / PRESET)
config = run.config()
model = RunSource(run).load(run.steps()[-1]).engine  # the intervention engine on the last checkpoint's weights
inputs = ProbeInputs.for_run(config).ablation

# %% [markdown]
# ## Every head, ablated alone, three ways (batched: heads share forward passes)

# %%
effects = ablation_effects(model, inputs, ABLATIONS)
shape = (config.model.n_layers, config.model.n_heads)
grid = torch.stack([torch.stack([effects[k][m].view(shape) for m in ("loss", "icl_score", "repeat_loss")]) for k in ABLATIONS])
fig = px.imshow(grid.flatten(0, 1).numpy(), facet_col=0, facet_col_wrap=3, text_auto=".2f", color_continuous_scale="RdBu_r",
                color_continuous_midpoint=0, labels=dict(x="head", y="layer", color="Δ (nats)"))
for i, (k, m) in enumerate((k, m) for k in ABLATIONS for m in ("Δ loss", "Δ ICL score", "Δ repeat loss")):
    fig.layout.annotations[i].text = f"{k}: {m}"
fig.update_layout(height=650)
fig

# %% [markdown]
# ## Ablating a set of heads together
# Heads can be redundant: several layer-1 heads share the induction job, so removing one costs little. Remove all
# of them at once:

# %%
scores = analyze(run, ("attention",))
final = {(r["layer"], r["head"]): r["value"] for r in scores if r["step"] == run.steps()[-1] and r["metric"] == "induction"}
induction_heads = [h for h, v in final.items() if v >= INDUCTION_THRESHOLD]  # content-controlled score
together = ablation_effects(model, inputs, ("mean",), conditions=head_set_mask(induction_heads, config.model.n_layers, config.model.n_heads)[None])["mean"]
print(f"induction heads {induction_heads}: mean-ablated together, repeat loss +{together['repeat_loss'].item():.2f} nats, "
      f"ICL score {together['clean/icl_score'].item():+.2f} → {(together['clean/icl_score'] + together['icl_score']).item():+.2f}")

# %% [markdown]
# ## The scripted report
# The same analysis for every checkpoint, as one self-contained HTML file (plotly.js embedded; opens offline).
# From a shell:
#
# ```bash
# icl-workbench analyze checkpoints/attn-only-2l   # sweep all probes over all checkpoints (cached)
# icl-workbench report  checkpoints/attn-only-2l   # → checkpoints/attn-only-2l/report.html
# ```

# %%
analyze(run)
path, _ = report(run)
print(path)
display(HTML(f'<a href="{os.path.relpath(path)}" target="_blank">open the report</a> ({path.stat().st_size / 1e6:.1f} MB)'))

"""circuits: build, train and checkpoint small transformers on embedded synthetic data.

Modules, one job each (none imports `probes`; the pipeline and CLI live above both, in workbench.py and
icl_workbench.py):
  errors    – the one exception type users see (a message naming the problem and the fix)
  config    – frozen dataclass configs (model, data, training, run), their rules and JSON form
  overrides – custom runs: preset < --config file < --set items, checked field by field
  presets   – named run configs (attn-only-1l … full-3l, fv)
  tokens    – BOS and random token helpers shared by the generators
  data      – seeded synthetic data generators (repeated tokens, in-context Markov chains, byte text, fv-mix)
  tasks     – the embedded abstractive ICL tasks (Todd et al. 2024 style) and their prompts
  model     – TransformerBridge.boot_native builder and the fast training twin (same state dict)
  schedule  – learning-rate and checkpoint schedules
  evaluation – the periodic evaluation sets and metrics
  device    – --device auto|cpu|cuda resolution
  store     – the on-disk run directory (safetensors + JSON, atomic writes, user's umask) and the run listing
  lock      – one writer per run directory (lock file with the holder's pid and command)
  train     – the trainer (AdamW, warm-up + cosine, clipping, periodic eval, resume)
  grid      – grids of runs (presets × seeds × --set), resumable
  executors – run jobs on a local process pool or on Ray
  hf        – local Hugging Face checkpoints (GPT-2, GPT-NeoX) as TransformerBridges, offline

Importing this package does not import transformer_lens; `circuits.model.transformer` does, lazily.
"""
from circuits.errors import WorkbenchError

__all__ = ["WorkbenchError"]

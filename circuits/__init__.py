"""circuits: build, train and checkpoint small transformers on embedded synthetic data.

Modules, one job each:
  errors   – the one exception type users see (a message naming the problem and the fix)
  config   – frozen dataclass configs (model, data, training, run) and their JSON form
  presets  – named run configs (attn-only-1l … full-3l)
  data     – seeded synthetic data generators (repeated tokens, in-context Markov chains, byte text)
  model    – TransformerBridge.boot_native builder and the fast training twin (same state dict)
  schedule – learning-rate and checkpoint schedules
  store    – the on-disk run directory (safetensors + JSON, atomic writes)
  train    – the trainer (AdamW, warm-up + cosine, clipping, periodic eval, resume)
  cli      – the `icl-workbench` command

Importing this package does not import transformer_lens; `circuits.model` does, lazily.
"""
from circuits.errors import WorkbenchError

__all__ = ["WorkbenchError"]

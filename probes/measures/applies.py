"""When the built-in probe families apply to a model, and why not (each `ProbeSpec.applies` returns None or the
reason, which the sweep records in notes.json and the report states)."""
from __future__ import annotations

from probes.engine.inputs import ProbeInputs


def _is_modular(inputs: ProbeInputs) -> bool:
    return inputs.config is not None and inputs.config.data.name == "modular-addition"


def induction_applies(inputs: ProbeInputs) -> str | None:
    if _is_modular(inputs):
        return ("induction probes score copying from earlier in a sequence (repeats, ICL score, copying and "
                "K-composition); a modular-addition run only ever sees 'a b =' and is trained at '=' alone")
    return None


def weights_applies(inputs: ProbeInputs) -> str | None:
    if not inputs.facts.native:
        return (f"weight scores need one of our models (known LayerNorm folding and positional scheme); "
                f"{inputs.facts.architecture} checkpoints are probed through activations only")
    if inputs.config is not None and inputs.config.clamps:
        labels = "; ".join(c.label for c in inputs.config.clamps)
        return (f"weight scores read W_Q, W_K and W_OV directly and cannot see this run's clamps ({labels}); the "
                f"attention, icl and ablation probes run the clamped model")
    return induction_applies(inputs)


def fv_applies(inputs: ProbeInputs) -> str | None:
    if inputs.config is None or inputs.config.data.name != "fv-mix":
        return "function-vector probes need a run trained on fv-mix data (preset 'fv')"
    return None


def grokking_applies(inputs: ProbeInputs) -> str | None:
    if not _is_modular(inputs):
        return "grokking progress measures need a run trained on modular-addition data (preset 'grokking')"
    if inputs.config.model.attn_only:
        return "key frequencies are read from MLP activations (Nanda et al. 2023); this model has no MLP"
    return None

"""When the built-in probe families apply to a model, and why not (each `ProbeSpec.applies` returns None or the
reason, which the sweep records in notes.json and the report states)."""
from __future__ import annotations

from circuits.data.generators import Generator, generator_of
from probes.engine.inputs import ProbeInputs


def _generator(inputs: ProbeInputs) -> Generator | None:
    """The data generator of one of our runs (None for a model that is not ours)."""
    return generator_of(inputs.config.data) if inputs.config is not None else None


def _is_modular(inputs: ProbeInputs) -> bool:
    return (g := _generator(inputs)) is not None and g.answer_pairs


def trained_on(inputs: ProbeInputs) -> str:
    """What the model was trained on, for messages."""
    return "a model that is not ours" if inputs.config is None else f"{inputs.config.name!r}, trained on {inputs.config.data.name!r}"


def induction_applies(inputs: ProbeInputs) -> str | None:
    if _is_modular(inputs):
        return ("induction probes score copying from earlier in a sequence (repeats, ICL score, copying and "
                "K-composition); a modular-addition run only ever sees 'a b =' and is trained at '=' alone")
    if inputs.induction is None:
        return (f"the induction probes' content controls need context-wide sequences without a repeated token; "
                f"d_vocab={inputs.facts.d_vocab} is smaller than the context (every token repeats: the markov probe "
                f"measures such runs)")
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
    if (g := _generator(inputs)) is None or not g.icl_tasks:
        return "function-vector probes need a run trained on fv-mix data (preset 'fv')"
    return None


def grokking_applies(inputs: ProbeInputs) -> str | None:
    if not _is_modular(inputs):
        return "grokking progress measures need a run trained on modular-addition data (preset 'grokking')"
    if inputs.config.model.attn_only:
        return "key frequencies are read from MLP activations (Nanda et al. 2023); this model has no MLP"
    return None

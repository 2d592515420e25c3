"""The named probes a sweep can run: each maps (checkpoint, inputs) to tidy rows (`probes.table`).

A probe reads what it needs from the `probes.checkpoint.Checkpoint` (loaded once per checkpoint): the bridge for
attention patterns, the intervention engine for ablations and patching, the state dict for weight scores. Probes
that do not apply to a model (weight scores on a model that is not ours, FV probes on runs without ICL tasks) are
skipped with the reason `not_applicable` gives.
"""
from __future__ import annotations

from collections.abc import Callable

from circuits.errors import WorkbenchError
from probes import detectors, icl, weights
from probes.ablation import ABLATIONS, ablation_effects
from probes.attribution import attribution_probe
from probes.checkpoint import Checkpoint
from probes.fv_analysis import fv_controls_probe, fv_probe
from probes.grokking import grokking_probe
from probes.induction_controls import induction_controls_probe
from probes.inputs import ProbeInputs
from probes.llc import NOT_APPLICABLE as LLC_NOT_APPLICABLE
from probes.llc import llc_probe
from probes.table import Row, head_rows, model_row
from probes.writers import writers_probe

Probe = Callable[[Checkpoint, ProbeInputs], list[Row]]


def attention_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Previous-token score (text); induction and duplicate-token scores (held-out periods) and Olsson's
    prefix-matching score, each as `metric` (raw − content control), `metric/raw` and `metric/control`."""
    model = ckpt.bridge
    rows = head_rows("attention", "previous_token", detectors.previous_token_score(
        detectors.attention_patterns(model, inputs.text), inputs.text))
    on_repeats = detectors.content_scores(model, inputs.induction, {
        "induction": detectors.induction_target, "duplicate_token": detectors.duplicate_token_target})
    on_prefix = detectors.content_scores(model, inputs.prefix, {"prefix_matching": detectors.induction_target})
    for metric, result in (on_repeats | on_prefix).items():
        rows += head_rows("attention", metric, result.score)
        rows += head_rows("attention", f"{metric}/raw", result.raw)
        rows += head_rows("attention", f"{metric}/control", result.control)
    return rows


def weights_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Elhage copying score per head; K-composition per (sender, receiver) pair and its random baseline."""
    cfg, state = ckpt.config.model, {k: v.cpu() for k, v in ckpt.state.items()}
    rows = head_rows("weights", "copying", weights.copying_score(state, cfg))
    kcomp = weights.k_composition(state, cfg)
    for l1 in range(cfg.n_layers):
        for h1 in range(cfg.n_heads):
            for l2 in range(l1 + 1, cfg.n_layers):
                rows += [{"layer": l2, "head": h2, "probe": "weights", "metric": f"k_composition/from/{l1}.{h1}",
                          "value": float(kcomp[l1, h1, l2, h2])} for h2 in range(cfg.n_heads)]
    rows.append(model_row("weights", "k_composition/random_baseline", weights.k_composition_baseline(cfg)))
    return rows


def icl_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Loss, ICL score (Olsson sign: late − early) and per-position loss on the text batch; repeat-copy loss."""
    losses = icl.loss_by_position(ckpt.engine, inputs.text)
    reps = icl.loss_by_position(ckpt.engine, inputs.ablation.repeats)
    n = inputs.ablation.repeat_length
    rows = [model_row("icl", "loss", losses.mean()), model_row("icl", "icl_score", icl.icl_score(losses)),
            model_row("icl", "repeat_loss", reps[n + 1 : 2 * n].mean())]
    return rows + [model_row("icl", f"loss_at/{i:03d}", v) for i, v in enumerate(losses.tolist())]


def ablation_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Every head ablated alone, by zero, mean and resample ablation: Δ loss, Δ ICL score, Δ repeat loss."""
    rows, facts = [], ckpt.facts
    effects = ablation_effects(ckpt.engine, inputs.ablation, ABLATIONS)
    for kind in ABLATIONS:
        for name in ("loss", "icl_score", "repeat_loss"):
            rows += head_rows("ablation", f"{kind}/{name}", effects[kind][name].view(facts.n_layers, facts.n_heads))
    return rows


PROBES: dict[str, Probe] = {
    "attention": attention_probe,
    "weights": weights_probe,
    "icl": icl_probe,
    "ablation": ablation_probe,
    "induction_controls": induction_controls_probe,
    "fv": fv_probe,
    "fv_controls": fv_controls_probe,
    "attribution": attribution_probe,
    "writers": writers_probe,
    "grokking": grokking_probe,
    "llc": llc_probe,  # opt-in (not in DEFAULT_PROBES): devinterp SGLD, ≈ 30 s per checkpoint
}
FINAL_ONLY = ("induction_controls", "fv_controls")  # probes run on the last checkpoint only (costly controls)
DEFAULT_PROBES = ("attention", "weights", "icl", "ablation", "induction_controls")
# Bump a probe's version whenever its definition or inputs change: the version is part of the sweep's cache key,
# so old cached scores are never reused for a changed definition.
PROBE_VERSIONS: dict[str, int] = {"attention": 2, "weights": 1, "icl": 1, "ablation": 1, "induction_controls": 2,
                                  "fv": 4, "fv_controls": 3, "attribution": 1, "writers": 2, "grokking": 1,
                                  "llc": 1}


def not_applicable(probe: str, inputs: ProbeInputs) -> str | None:
    """Why `probe` does not apply to this model (None when it does)."""
    if probe == "weights" and not inputs.facts.native:
        return (f"weight scores need one of our models (known LayerNorm folding and positional scheme); "
                f"{inputs.facts.architecture} checkpoints are probed through activations only")
    if probe in ("fv", "fv_controls", "attribution", "writers") and (inputs.config is None or inputs.config.data.name != "fv-mix"):
        return "function-vector probes need a run trained on fv-mix data (preset 'fv')"
    modular = inputs.config is not None and inputs.config.data.name == "modular-addition"
    if probe == "grokking" and not modular:
        return "grokking progress measures need a run trained on modular-addition data (preset 'grokking')"
    if probe == "grokking" and inputs.config.model.attn_only:
        return "key frequencies are read from MLP activations (Nanda et al. 2023); this model has no MLP"
    if modular and probe in ("attention", "weights", "icl", "ablation", "induction_controls"):
        return ("induction probes score copying from earlier in a sequence (repeats, ICL score, copying and "
                "K-composition); a modular-addition run only ever sees 'a b =' and is trained at '=' alone")
    if probe == "llc" and inputs.config is None:
        return LLC_NOT_APPLICABLE
    return None


def check_probe_names(names: tuple[str, ...] | list[str]) -> None:
    unknown = [n for n in names if n not in PROBES]
    if unknown:
        raise WorkbenchError(f"unknown probe(s) {unknown}; available probes: {sorted(PROBES)}.")

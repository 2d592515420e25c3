"""The named probes a sweep can run, and the fixed inputs they share.

Each probe maps (model, state dict, inputs) to tidy rows {layer, head, probe, metric, value}; model-level metrics
have layer = head = None, pair metrics (K-composition) name the sender in the metric (`from/0.2`) and sit on the
receiving head's row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

import torch
from jaxtyping import Float
from torch import Tensor

from circuits.config import RunConfig
from circuits.data import repeated_sequences
from circuits.errors import WorkbenchError
from circuits.model import FastTransformer
from probes import detectors, icl, weights
from probes.ablation import ABLATIONS, AblationInputs, ablation_effects
from probes.inputs import PROBE_SEED, RepeatProbe, induction_probe, prefix_matching_probe, training_tokens

Row = dict[str, Any]


@dataclass(frozen=True)
class ProbeInputs:
    """Every probe input of a run, built once from the run config and a fixed seed."""

    config: RunConfig
    induction: RepeatProbe
    prefix: RepeatProbe
    text: Tensor
    ablation: AblationInputs

    @classmethod
    def for_run(cls, config: RunConfig) -> "ProbeInputs":
        n_ctx, vocab = config.model.n_ctx, config.model.d_vocab
        text, text_ref = training_tokens(config, 128).split(64)
        length = max((n for n in config.data.heldout_lengths if 2 * n + 1 <= n_ctx), default=(n_ctx - 1) // 2)
        reps = repeated_sequences(128, length, 2, vocab, torch.Generator().manual_seed(PROBE_SEED + 4))
        abl = AblationInputs(text, text_ref, reps[:64], reps[64:], length)
        return cls(config, induction_probe(config), prefix_matching_probe(config), text, abl)


def head_rows(probe: str, metric: str, scores: Float[Tensor, "n_layers n_heads"]) -> list[Row]:
    return [
        {"layer": layer, "head": head, "probe": probe, "metric": metric, "value": float(scores[layer, head])}
        for layer in range(scores.shape[0]) for head in range(scores.shape[1])
    ]


def model_row(probe: str, metric: str, value: float | Tensor) -> Row:
    return {"layer": None, "head": None, "probe": probe, "metric": metric, "value": float(value)}


def attention_probe(model, state, inputs: ProbeInputs) -> list[Row]:
    """Previous-token score (training text); induction and duplicate-token scores (held-out periods) and Olsson's
    prefix-matching score, each as `metric` (raw − content control), `metric/raw` and `metric/control`."""
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


def weights_probe(model, state, inputs: ProbeInputs) -> list[Row]:
    """Elhage copying score per head; K-composition per (sender, receiver) pair and its random baseline."""
    cfg = inputs.config.model
    rows = head_rows("weights", "copying", weights.copying_score(state, cfg))
    kcomp = weights.k_composition(state, cfg)
    for l1 in range(cfg.n_layers):
        for h1 in range(cfg.n_heads):
            for l2 in range(l1 + 1, cfg.n_layers):
                rows += [{"layer": l2, "head": h2, "probe": "weights", "metric": f"k_composition/from/{l1}.{h1}",
                          "value": float(kcomp[l1, h1, l2, h2])} for h2 in range(cfg.n_heads)]
    rows.append(model_row("weights", "k_composition/random_baseline", weights.k_composition_baseline(cfg)))
    return rows


def icl_probe(model, state, inputs: ProbeInputs) -> list[Row]:
    """Loss, ICL score (Olsson sign: late − early) and per-position loss on training text; repeat-copy loss."""
    losses = icl.loss_by_position(model, inputs.text)
    reps = icl.loss_by_position(model, inputs.ablation.repeats)
    n = inputs.ablation.repeat_length
    rows = [model_row("icl", "loss", losses.mean()), model_row("icl", "icl_score", icl.icl_score(losses)),
            model_row("icl", "repeat_loss", reps[n + 1 : 2 * n].mean())]
    return rows + [model_row("icl", f"loss_at/{i:03d}", v) for i, v in enumerate(losses.tolist())]


def ablation_probe(model, state, inputs: ProbeInputs) -> list[Row]:
    """Every head ablated alone, by zero, mean and resample ablation: Δ loss, Δ ICL score, Δ repeat loss."""
    rows, cfg = [], inputs.config.model
    effects = ablation_effects(FastTransformer(cfg, state), inputs.ablation, ABLATIONS)
    for kind in ABLATIONS:
        for name in ("loss", "icl_score", "repeat_loss"):
            rows += head_rows("ablation", f"{kind}/{name}", effects[kind][name].view(cfg.n_layers, cfg.n_heads))
    return rows


def fv_probe(model, state, inputs: ProbeInputs) -> list[Row]:
    """Function-vector metrics (probes.fv_analysis); only for runs trained on fv-mix data."""
    from probes.fv_analysis import fv_probe as run

    return run(model, state, inputs)


def fv_controls_probe(model, state, inputs: ProbeInputs) -> list[Row]:
    """The FV ablation control over every same-size head set (probes.fv_analysis); last checkpoint only."""
    from probes.fv_analysis import fv_controls_probe as run

    return run(model, state, inputs)


PROBES: dict[str, Callable[[Any, dict, ProbeInputs], list[Row]]] = {
    "attention": attention_probe,
    "weights": weights_probe,
    "icl": icl_probe,
    "ablation": ablation_probe,
    "fv": fv_probe,
    "fv_controls": fv_controls_probe,
}
FINAL_ONLY = ("fv_controls",)  # probes run on the last checkpoint only (costly controls)
DEFAULT_PROBES = ("attention", "weights", "icl", "ablation")
# Bump a probe's version whenever its definition or inputs change: the version is part of the sweep's cache key,
# so old cached scores are never reused for a changed definition.
PROBE_VERSIONS: dict[str, int] = {"attention": 2, "weights": 1, "icl": 1, "ablation": 1, "fv": 4, "fv_controls": 3}


def default_probes(config: RunConfig) -> tuple[str, ...]:
    """Every probe that applies to the run: the fv probe only for runs trained on fv-mix data."""
    return DEFAULT_PROBES + (("fv", "fv_controls") if config.data.name == "fv-mix" else ())


def check_probe_names(names: tuple[str, ...] | list[str]) -> None:
    unknown = [n for n in names if n not in PROBES]
    if unknown:
        raise WorkbenchError(f"unknown probe(s) {unknown}; available probes: {sorted(PROBES)}.")

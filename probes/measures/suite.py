"""The built-in probes, declared in the registry (`probes.registry`): each maps (checkpoint, inputs) to tidy rows.

A probe reads what it needs from the `probes.engine.checkpoint.Checkpoint` (loaded once per checkpoint): the bridge for
attention patterns, the intervention engine for ablations and patching, the state dict for weight scores. Probes
that do not apply to a model (weight scores on a model that is not ours, FV probes on runs without ICL tasks) are
skipped with the reason their `applies` gives. Importing `probes.sweep.runner` imports this module.
"""
from __future__ import annotations

from collections.abc import Callable

from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.measures import detectors, icl, weights
from probes.measures.ablation import ABLATIONS, ablation_effects
from probes.measures.attribution import attribution_probe
from probes.measures.fv import fv_controls_probe, fv_probe
from probes.measures.grokking import grokking_probe
from probes.measures.induction_controls import induction_controls_probe
from probes.measures.llc import NOT_APPLICABLE as LLC_NOT_APPLICABLE
from probes.measures.llc import llc_probe
from probes.measures.writers import writers_probe
from probes.registry import ProbeSpec, ReportContext, ReportSection, register_probe
from probes.table import Row, head_rows, model_row

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
    """Loss, ICL score (Olsson sign: late − early) and per-position loss on the text batch; repeat-copy loss; their
    bootstrap standard errors and the bag-of-context baseline (`probes.measures.icl.icl_rows`)."""
    return icl.icl_rows(ckpt.engine, inputs.text, inputs.ablation.repeats, inputs.ablation.repeat_length, ckpt.facts.d_vocab)


def ablation_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Every head ablated alone, by zero, mean and resample ablation: Δ loss, Δ ICL score, Δ repeat loss."""
    rows, facts = [], ckpt.facts
    effects = ablation_effects(ckpt.engine, inputs.ablation, ABLATIONS)
    for kind in ABLATIONS:
        for name in ("loss", "icl_score", "repeat_loss"):
            rows += head_rows("ablation", f"{kind}/{name}", effects[kind][name].view(facts.n_layers, facts.n_heads))
    return rows


# Bump a probe's version whenever its definition or inputs change: the version is part of the sweep's cache key,
# so old cached scores are never reused for a changed definition.
PROBE_VERSIONS: dict[str, int] = {"attention": 2, "weights": 1, "icl": 2, "ablation": 1, "induction_controls": 4,
                                  "fv": 5, "fv_controls": 4, "attribution": 1, "writers": 2, "grokking": 2,
                                  "llc": 2}

_KINDS = "{zero|mean|resample}"
_EFFECTS = "{loss|icl_score|repeat_loss}"
_SETS = "{fv|induction|fv_excl|induction_excl}"
METRICS: dict[str, dict[str, str]] = {
    "attention": {
        "previous_token": "attention to the previous token on training text (Olsson et al. 2022)",
        "{induction|duplicate_token|prefix_matching}": "content-controlled score: raw − control (probes.measures.detectors)",
        "{induction|duplicate_token|prefix_matching}/raw": "attention mass on the targets, periods weighted equally",
        "{induction|duplicate_token|prefix_matching}/control": "the same mass on non-repeating sequences",
    },
    "weights": {
        "copying": "Elhage et al. 2021 copying score (positive eigenvalues of the OV circuit)",
        "k_composition/from/{layer}.{head}": "K-composition of a lower-layer sender into this head",
        "k_composition/random_baseline": "K-composition of random matrices of the same shapes",
    },
    "icl": {
        "{loss|icl_score|repeat_loss}": "loss, Olsson ICL score (late − early), loss on the second copy of [BOS, r, r]",
        "loss_at/{position}": "mean loss at one position",
        "{icl_score|repeat_loss}/se": "bootstrap standard error over the probe sequences (probes.measures.icl.bootstrap_se)",
        "late_loss": "loss at 90% of the context (the ICL score's late ±2-token window)",
        "bag/{late_loss|icl_score}": "the same for the best bag-of-context predictor (probes.measures.icl.bag_of_context_losses)",
        "chance_loss": "ln(d_vocab): the loss scale of the phase-change locator",
    },
    "ablation": {f"{_KINDS}/{_EFFECTS}": "Δ vs clean when this head alone is ablated"},
    "induction_controls": {
        "in_set": "1 for the heads ablated together (controlled induction score ≥ INDUCTION_THRESHOLD)",
        "partner": "1 for their previous-token partners, left out of the comparison sets (probes.measures.induction_controls)",
        f"set/{_EFFECTS}": "Δ when they are mean-ablated together",
        "random_set/{i}/repeat_loss": "Δ repeat loss of another same-size head set outside the circuit",
        "random_sets": "how many other sets were ablated",
    },
    "fv": {
        "{aie|aie_se|fv_set}": "Todd et al. 2024 AIE per head, its standard error, 1 for the FV heads",
        "{few_shot|zero_shot|shuffled}_accuracy": "held-out tasks, test queries",
        "{evaluated_prompts|few_shot_prompts}": "prompt counts behind the accuracies",
        "no_fv_{zero_shot|shuffled}_accuracy": "the no-FV baseline on the evaluated prompts",
        "fv_valid_zero_shot_accuracy/L{layer}": "FV injected after a layer, validation queries (chooses the layer)",
        "fv_best_layer": "the chosen layer",
        "{fv_zero_shot|fv_shuffled|other_task_fv_zero_shot|mean_hidden_zero_shot}_accuracy": "at the chosen layer",
        "random_heads_fv_zero_shot_accuracy/{mean|min|max}": "FVs of every same-size head set outside the FV set",
        "random_heads_fv_zero_shot_accuracy/sets": "how many such sets (0: none, no mean/min/max rows)",
        f"ablate_{_SETS}/{{few_shot_accuracy|icl_score_change}}": "a head set mean-ablated at the last position",
        "ablate_excl_difference/icl_score_change_se": "std error over sequences of induction_excl − fv_excl ICL Δ",
    },
    "fv_controls": {
        "ablate_random/few_shot_accuracy/{mean|min|max}": "every same-size head set ablated",
        "ablate_random/few_shot_accuracy/sets": "how many such sets (0: none, no mean/min/max rows)",
        f"ablate_{_SETS}/beats_random": "the share of those sets a named set hurts more than",
    },
    "attribution": {  # probes.measures.attribution (Nanda 2023 attribution patching of Todd's CIE)
        "{attr_aie|attr_logprob|exact_aie}": "per head: attribution estimate of the AIE on P(yq), on log P(yq); exact AIE",
        "agreement/{k|heads|overlap|chance|p_value|spearman|top_max_error|top_mean_error|top_relative_error}":
            "attr_aie vs exact_aie: top-k overlap, its chance k²/N and tail p, Spearman ρ, error on the exact top-k",
    },
    "writers": {  # probes.measures.writers (Wang 2026, arXiv 2606.07560): heads classified on the selection tasks
        "{writer_tasks|canceller_tasks|significant_tasks}": "per head: selection tasks where it is a writer / canceller / BH-significant",
        "{dla|validation_score|aie}": "per head, mean over selection tasks: refined DLA, validation score, Todd's signed AIE",
        "class": "per head: +1 writer head, −1 canceller head (that class on ≥ WRITER_TASK_SHARE of the tasks), 0 neither",
        "{writers|cancellers}": "writers / cancellers per selection task (mean over tasks)",
        "task/{task}/{writers|cancellers}": "per selection task (its name with '-' written '_'): how many heads",
        "{validated_tasks|ld_gap}": "tasks whose LD_clean − LD_flip clears its floor; mean LD_clean − LD_flip (nats)",
        "aie/{writer|canceller|none}": "mean per-task signed AIE of the (task, head) pairs of each class",
        "todd_topk/{writer_share|canceller_share}": "share of writer / canceller (task, head) pairs in the fv probe's FV set",
        "todd_topk/{writers|cancellers}": "per task, how many of the fv probe's FV heads are writers / cancellers (mean)",
        "set_size/{writers|cancellers|todd}": "writer heads, canceller heads, the fv probe's FV heads",
        "{fv_layer|no_fv_zero_shot_accuracy}": "the fv probe's injection layer; zero-shot accuracy without FV (held-out tasks)",
        "fv_zero_shot_accuracy/{writers|cancellers|todd}": "zero-shot accuracy with each set's FV (held-out tasks; none when empty)",
        "fv_zero_shot_accuracy/random_writers/{mean|max|sets|beaten_share}":
            "the writer FV's control: same-size head sets outside the writers (their accuracy; how many; share beaten)",
        "set_overlap/writers_todd": "heads in both the writer set and the fv probe's FV set",
        "clean/{few_shot_accuracy|loss|correct_logit}": "held-out tasks' 10-shot prompts, nothing ablated",
        "ablate/{zero|mean}/{writers|cancellers|both}/{few_shot_accuracy|loss_change|correct_logit_change|logprob_change|logprob_ci_low|logprob_ci_high}":
            "a set ablated (zero: every position, Wang; mean: last position, ours); none when the set is empty",
    },
    "grokking": {  # probes.measures.grokking (Nanda et al. 2023, arXiv 2301.05217): modular-addition runs
        "{train|test}_{loss|accuracy}": "float64 loss and accuracy of the answer at '=' over every train / test pair",
        "restricted_loss": "loss over all p² pairs of the logits' key-frequency components (+ mean of the rest)",
        "restricted_loss_random": "the control: lowest restricted loss over RANDOM_FREQUENCY_SETS sets of as many non-key frequencies",
        "dominant_frequencies": "distinct dominant frequencies of the live MLP neurons before the explained-variance floor",
        "key_frequency_variance/{k}": "share of all live MLP neurons' variance that the key frequency k explains",
        "excluded_loss": "loss on the train pairs of the logits without their key-frequency components",
        "{embed_gini|embed_key_share}": "W_E's Fourier norms per frequency: Gini coefficient; squared-norm share of the key frequencies",
        "embed_fourier_norm/{k}": "‖(cos_k, sin_k) rows of W_E in the Fourier basis‖",
        "weight_norm_sq": "total sum of squared weights",
        "key_frequency_step": "the checkpoint the key frequencies were read from (the run's final one)",
        "modulus": "p",
        "key_frequency_neurons/{k}": "neurons whose dominant frequency is the key frequency k (at that checkpoint)",
    },
    "llc": {  # probes.measures.llc (Lau et al. 2023; Hoogland et al. 2024, arXiv 2402.02364): devinterp's SGLD estimate
        "{mean|std|devinterp_mean}": "λ̂ over chains (burn-in dropped): mean, std; devinterp's llc_mean (burn-in kept)",
        "chain/{i}": "λ̂ of one chain",
        "{init_loss|nbeta}": "L_n(w*) on the probe set; the nβ used",
        "{rhat|spread|drift|drift_se}": ("split-R̂ of the loss traces; std of per-chain λ̂ / |λ̂|; "
                                         "λ̂ of the second − first half of the draws / |λ̂|, its standard error"),
        "{disagree|unsettled|diverged}": "1 when chains disagree (R̂ or spread), a trace still rises, or a chain diverged",
        "{lr|localization|chains|draws|burnin|batch_size|n|seed|trace_points}": "the LLCSettings used",
        "trace/{chain}/{k}": "mean sampled loss of one chain over block k of its SGLD steps (burn-in included)",
        "trace_step/{k}": "centre SGLD step of block k",
    },
}


def _is_modular(inputs: ProbeInputs) -> bool:
    return inputs.config is not None and inputs.config.data.name == "modular-addition"


def _induction_applies(inputs: ProbeInputs) -> str | None:
    if _is_modular(inputs):
        return ("induction probes score copying from earlier in a sequence (repeats, ICL score, copying and "
                "K-composition); a modular-addition run only ever sees 'a b =' and is trained at '=' alone")
    return None


def _weights_applies(inputs: ProbeInputs) -> str | None:
    if not inputs.facts.native:
        return (f"weight scores need one of our models (known LayerNorm folding and positional scheme); "
                f"{inputs.facts.architecture} checkpoints are probed through activations only")
    if inputs.config is not None and inputs.config.clamps:
        labels = "; ".join(c.label for c in inputs.config.clamps)
        return (f"weight scores read W_Q, W_K and W_OV directly and cannot see this run's clamps ({labels}); the "
                f"attention, icl and ablation probes run the clamped model")
    return _induction_applies(inputs)


def _fv_applies(inputs: ProbeInputs) -> str | None:
    if inputs.config is None or inputs.config.data.name != "fv-mix":
        return "function-vector probes need a run trained on fv-mix data (preset 'fv')"
    return None


def _grokking_applies(inputs: ProbeInputs) -> str | None:
    if not _is_modular(inputs):
        return "grokking progress measures need a run trained on modular-addition data (preset 'grokking')"
    if inputs.config.model.attn_only:
        return "key frequencies are read from MLP activations (Nanda et al. 2023); this model has no MLP"
    return None


def _llc_applies(inputs: ProbeInputs) -> str | None:
    return LLC_NOT_APPLICABLE if inputs.config is None else None


def _fv_section(ctx: ReportContext) -> ReportSection:
    import html

    from probes.report.fv import fv_section

    lines, figures, transition = fv_section(ctx.table)
    body = "<h2>Function vectors</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"
    body += "".join(fig.to_html(full_html=False, include_plotlyjs=False) for fig in figures)
    return ReportSection(body, list(transition.claims), [], {"fv_transition": transition.to_dict()})


def _attribution_section(ctx: ReportContext) -> ReportSection:
    from probes.report.attribution import attribution_html

    body, claims = attribution_html(ctx.table)
    return ReportSection(body, claims)


def _writers_section(ctx: ReportContext) -> ReportSection:
    from probes.report.writers import writers_html

    body, claims = writers_html(ctx.table)
    return ReportSection(body, claims)


def _llc_section(ctx: ReportContext) -> ReportSection:
    from probes.report.llc import llc_html

    body, claims = llc_html(ctx.table, ctx.metrics, native=ctx.native)
    return ReportSection(body, claims)


def _declare(name: str, run: Probe, **kw) -> None:
    register_probe(ProbeSpec(name, PROBE_VERSIONS[name], run, METRICS[name], **kw))


_declare("attention", attention_probe, applies=_induction_applies, default="always")
_declare("weights", weights_probe, applies=_weights_applies, default="always")
_declare("icl", icl_probe, applies=_induction_applies, default="always")
_declare("ablation", ablation_probe, applies=_induction_applies, default="always")
_declare("induction_controls", induction_controls_probe, applies=_induction_applies, default="always", final_only=True)
_declare("fv", fv_probe, applies=_fv_applies, default="if_applicable", section=_fv_section)
_declare("fv_controls", fv_controls_probe, applies=_fv_applies, default="if_applicable", final_only=True)
_declare("attribution", attribution_probe, applies=_fv_applies, section=_attribution_section)
_declare("writers", writers_probe, applies=_fv_applies, section=_writers_section)
_declare("grokking", grokking_probe, applies=_grokking_applies, default="if_applicable")
_declare("llc", llc_probe, applies=_llc_applies, section=_llc_section)  # opt-in: SGLD, ≈ 30 s per checkpoint

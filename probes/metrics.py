"""The names of every metric in the tidy table, and every flag threshold and noise criterion — in one place.

METRICS lists, per probe, the metric names its rows carry (a `{…}` part is filled per row: a head, a layer, an
ablation kind, a position); `tests/test_metrics.py` checks that the probes emit only these. A head or a transition is
*flagged* only by a threshold here, so a reader can see (and change) what "is an induction head" or "a phase change
happened" means without hunting through modules.
"""
from __future__ import annotations

import re

_KINDS = "{zero|mean|resample}"
_EFFECTS = "{loss|icl_score|repeat_loss}"
_SETS = "{fv|induction|fv_excl|induction_excl}"
METRICS: dict[str, dict[str, str]] = {
    "attention": {
        "previous_token": "attention to the previous token on training text (Olsson et al. 2022)",
        "{induction|duplicate_token|prefix_matching}": "content-controlled score: raw − control (probes.detectors)",
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
    },
    "ablation": {f"{_KINDS}/{_EFFECTS}": "Δ vs clean when this head alone is ablated"},
    "induction_controls": {
        "in_set": "1 for the heads ablated together (controlled induction score ≥ INDUCTION_THRESHOLD)",
        f"set/{_EFFECTS}": "Δ when they are mean-ablated together",
        "random_set/{i}/repeat_loss": "Δ repeat loss of another same-size head set",
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
        f"ablate_{_SETS}/{{few_shot_accuracy|icl_score_change}}": "a head set mean-ablated at the last position",
    },
    "fv_controls": {
        "ablate_random/few_shot_accuracy/{mean|min|max}": "every same-size head set ablated",
        f"ablate_{_SETS}/beats_random": "the share of those sets a named set hurts more than",
    },
    "attribution": {  # probes.attribution (Nanda 2023 attribution patching of Todd's CIE)
        "{attr_aie|attr_logprob|exact_aie}": "per head: attribution estimate of the AIE on P(yq), on log P(yq); exact AIE",
        "agreement/{k|heads|overlap|chance|p_value|spearman|top_max_error|top_mean_error|top_relative_error}":
            "attr_aie vs exact_aie: top-k overlap, its chance k²/N and tail p, Spearman ρ, error on the exact top-k",
    },
    "writers": {  # probes.writers (Wang 2026, arXiv 2606.07560): heads classified on the selection tasks
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
    "grokking": {  # probes.grokking (Nanda et al. 2023, arXiv 2301.05217): modular-addition runs
        "{train|test}_{loss|accuracy}": "float64 loss and accuracy of the answer at '=' over every train / test pair",
        "restricted_loss": "loss over all p² pairs of the logits' key-frequency components (+ mean of the rest)",
        "excluded_loss": "loss on the train pairs of the logits without their key-frequency components",
        "{embed_gini|embed_key_share}": "W_E's Fourier norms per frequency: Gini coefficient; squared-norm share of the key frequencies",
        "embed_fourier_norm/{k}": "‖(cos_k, sin_k) rows of W_E in the Fourier basis‖",
        "weight_norm_sq": "total sum of squared weights",
        "key_frequency_step": "the checkpoint the key frequencies were read from (the run's final one)",
        "modulus": "p",
        "key_frequency_neurons/{k}": "neurons whose dominant frequency is the key frequency k (at that checkpoint)",
    },
    "llc": {  # probes.llc (Lau et al. 2023; Hoogland et al. 2024, arXiv 2402.02364): devinterp's SGLD estimate
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


def _pattern(name: str) -> re.Pattern:
    """`{a|b}` is one of the words, any other `{…}` is a run of digits, dots or letters."""
    parts = re.split(r"(\{[^}]*\})", name)
    regex = "".join(("(?:" + "|".join(map(re.escape, p[1:-1].split("|"))) + ")" if "|" in p else r"[\w.]+")
                    if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(regex + "$")


def is_declared(probe: str, metric: str) -> bool:
    """Whether `metric` is one of `probe`'s declared metric names."""
    return any(_pattern(name).match(metric) for name in METRICS.get(probe, {}))


# ---- head scores (content-controlled: raw score − the same head's score on non-repeating sequences) --------------
INDUCTION_THRESHOLD = 0.5  # an "induction head": controlled induction score ≥ this on held-out periods
PREVIOUS_TOKEN_THRESHOLD = 0.4  # a "previous-token head": previous-token score ≥ this on training text

# ---- phase-change locator (probes.icl.locate_phase_change) -------------------------------------------------------
# A metric "has a phase change" only if all three hold. Chosen on the default run's grid (41 checkpoints, merged
# log + linear over 3,000 steps): attn-only-2l's top-1 accuracy on held-out repeats makes 10%→90% of its change in
# steps 429–857 (14% of the step range, 9% of the log(1 + step) range); the 1-layer control's log P(correct) drifts
# over steps 903–2429 (51%), and a ramp linear in log-steps spans 45% of the step range and 80% in log-steps.
PHASE_NOISE_MULTIPLE = 5.0  # |last − first| must exceed this many noise floors (bootstrap std or robust Δ spread)
PHASE_MAX_WINDOW_FRACTION = 0.3  # the 10%→90% window may cover at most this share of the step range …
PHASE_MAX_LOG_WINDOW_FRACTION = 0.2  # … and of the log(1 + step) range (else it is slow early learning)

# ---- induction claims (probes.findings) ---------------------------------------------------------------------------
K_COMPOSITION_RATIO = 1.5  # a previous-token partner K-composes at ≥ this × the random-matrix baseline
ICL_SCORE_THRESHOLD = -0.4  # "uses its context": ICL score (loss late − loss early, nats) ≤ this (Olsson: ≈ −0.4)
ABLATION_MIN_NATS = 1.0  # a head set "carries induction": mean-ablating it raises held-out repeat loss ≥ this
ABLATION_RANDOM_SETS = 70  # at most this many same-size random head sets as the ablation control
INDUCTION_NOISE_FLOOR = 0.05  # the least noise floor of the controlled induction score (the first checkpoint's
#                               largest |score| raises it)

# ---- function vectors (probes.fv_transition; Todd et al. 2024; Yin & Steinhardt 2025) ----------------------------
FV_MIN_AIE = 0.02  # an "FV head": final AIE (Δ P(yq)) ≥ this …
AIE_NOISE_MULTIPLE = 3.0  # … and ≥ this × the AIE's standard error over prompts (its noise floor)
ONSET_FRACTION = 0.5  # a head's onset of a score: the first checkpoint at floor + this × (peak − floor) (the same
#                       relative criterion for induction and AIE), counted only when the peak clears its noise floor
SIGNATURE_MIN_DROP = 0.1  # Yin & Steinhardt's signature: induction score falls ≥ this from its peak while AIE rises
FEW_SHOT_MIN_GAIN = 0.2  # "infers the task from its demonstrations": 10-shot accuracy ≥ zero-shot + this
FV_INJECTION_MIN_GAIN = 0.2  # an FV "works": zero-shot accuracy rises ≥ this over no FV, and above every baseline
ABLATION_BEATS_RANDOM = 0.9  # a head set "matters": ablating it hurts more than this share of same-size head sets

# ---- "What to notice" sentences of probes.emergence (notebook 04) -------------------------------------------------
MANUFACTURED_MAX_P_SHARE = 0.25  # "the metric makes the jump": inside exact match's transition window, per-token
#                                  accuracy makes at most this share of its own first → last change
CORRELATION_NOISE_MULTIPLE = 2.0  # "errors are correlated": ρ > this many bootstrap std
SIZE_MIN_AMPLIFICATION = 3.0  # "exact match amplifies p over size": its largest rise between neighbouring sizes is
#                               ≥ this many times p's rise over the same step …
SIZE_MAX_PREDICTION_ERROR = 0.5  # … and p^L predicts that rise within this fraction of it

# ---- attribution patching vs exact AIE (probes.report_attribution) -------------------------------------------------
ATTRIBUTION_MIN_AGREE_SHARE = 0.75  # "agrees better than chance": top-k overlap > k²/N at ≥ this share of checkpoints
ATTRIBUTION_MIN_SPEARMAN = 0.5  # "ranks the heads like the exact AIE": median Spearman ρ over checkpoints ≥ this
ATTRIBUTION_MAX_TOP_ERROR = 0.5  # "sizes the top heads": mean |attr − exact| on the exact top-k ≤ this × mean |exact|

# ---- writers and cancellers (probes.writers, probes.writer_dynamics; Wang 2026, arXiv 2606.07560) -----------------
WRITER_FDR_Q = 0.10  # Benjamini–Hochberg level of the refined-DLA permutation test (Wang)
WRITER_SCORE_THRESHOLD = 0.05  # validation score > +this: writer; < −this: canceller (Wang's ±5%)
WRITER_MIN_GAP = 0.5  # the validation score is defined only when LD_clean − LD_flip ≥ this many nats …
WRITER_GAP_NOISE_MULTIPLE = 3.0  # … and ≥ this × its standard error over the validation pairs
WRITER_TASK_SHARE = 0.5  # a "writer head" / "canceller head" of a checkpoint: that class on ≥ this share of the
#                          selection tasks (the sets whose FVs and ablations are compared on the held-out tasks)

# ---- grokking (probes.grokking; Nanda et al. 2023, arXiv 2301.05217) ----------------------------------------------
GROK_ACCURACY = 0.99  # memorisation step: train accuracy first ≥ this; generalisation step: test accuracy first ≥ this
PROGRESS_LEVEL = 0.5  # a loss "has fallen" at the first checkpoint where it is ≤ this × ln p (chance, its value at
#                       initialisation); the restricted loss should get there before the test loss (circuit formation)
EXCLUDED_MIN_RISE = 1.0  # "the excluded loss rises": its peak up to the generalisation step is ≥ this many nats above
#                          its value at the first checkpoint, while the train loss falls over the same steps
SPARSITY_MIN_GAIN = 0.2  # "the embedding becomes sparse in frequency": its Gini coefficient at the last checkpoint is
#                          ≥ this above its value at memorisation
WEIGHT_NORM_MIN_DROP = 0.1  # "weight decay cleans up": the total squared weight at the last checkpoint is ≤ (1 − this)
#                             × its value at memorisation

# ---- local learning coefficient (probes.llc, probes.stages; Hoogland et al. 2024, arXiv 2402.02364) ---------------
LLC_RHAT_MAX = 1.1  # chains "agree": split-R̂ of their post-burn-in loss traces ≤ this (Gelman et al. 2013's 1.1) …
LLC_SPREAD_MAX = 0.1  # … and the std of the per-chain λ̂ ≤ this × |λ̂|
LLC_DRIFT_MAX = 0.1  # a trace "settled": λ̂ of the second half of the draws − the first half ≤ this × |λ̂| …
LLC_DRIFT_Z = 2.0  # … or ≤ this many standard errors (over chains) of that difference (noise, not a rise)
LLC_FLOOR = 1.0  # relative spread and drift divide by max(|λ̂|, this): λ̂ ≈ 0 at initialisation is not disagreement
STAGE_FLAT_FRACTION = 0.1  # the GP-smoothed dλ̂/dlog t is "≈ 0" where |slope| ≤ this × its largest |slope| …
STAGE_SLOPE_Z = 3.0  # … or ≤ this many posterior std of the slope (not distinguishable from 0); stage boundaries sit
#                      in or at the ends of those runs (probes.stages; Hoogland et al.: where the slope is ≈ 0)

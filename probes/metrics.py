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

"""Every flag threshold and noise criterion of the claims — in one place.

A head or a transition is *flagged* only by a threshold here, so a reader can see (and change) what "is an
induction head" or "a phase change happened" means without hunting through modules. (The metric names each probe
emits are declared with the probe: `probes.registry.ProbeSpec.metrics`.)
"""
from __future__ import annotations

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

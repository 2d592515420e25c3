"""Every flag threshold and noise criterion of the claims — in one place.

A head or a transition is *flagged* only by a threshold here, so a reader can see (and change) what "is an
induction head" or "a phase change happened" means without hunting through modules. (The metric names each probe
emits are declared with the probe: `probes.registry.ProbeSpec.metrics`.)
"""
from __future__ import annotations

# ---- head scores (content-controlled: raw score − the same head's score on non-repeating sequences) --------------
INDUCTION_THRESHOLD = 0.5  # an "induction head": controlled induction score ≥ this on held-out periods
PREVIOUS_TOKEN_THRESHOLD = 0.4  # a "previous-token head": previous-token score ≥ this on training text

# ---- phase-change locator (probes.claims.phase_change.locate_phase_change) -------------------------------------------------------
# A metric "has a phase change" only if all three hold. Chosen on the default run's grid (41 checkpoints, merged
# log + linear over 3,000 steps): attn-only-2l's top-1 accuracy on held-out repeats makes 10%→90% of its change in
# steps 429–857 (14% of the step range, 9% of the log(1 + step) range); the 1-layer control's log P(correct) drifts
# over steps 903–2429 (51%), and a ramp linear in log-steps spans 45% of the step range and 80% in log-steps.
PHASE_NOISE_MULTIPLE = 5.0  # |last − first| must exceed this many noise floors (bootstrap std or robust Δ spread)
PHASE_MAX_WINDOW_FRACTION = 0.3  # the 10%→90% window may cover at most this share of the step range …
PHASE_MAX_LOG_WINDOW_FRACTION = 0.2  # … and of the log(1 + step) range (else it is slow early learning)

# ---- induction claims (probes.claims.induction) ---------------------------------------------------------------------------
K_COMPOSITION_RATIO = 1.5  # a previous-token partner K-composes at ≥ this × the random-matrix baseline
ICL_SCORE_THRESHOLD = -0.4  # "uses its context": ICL score (loss late − loss early, nats) ≤ this (Olsson: ≈ −0.4)
ABLATION_MIN_NATS = 1.0  # a head set "carries induction": mean-ablating it raises held-out repeat loss ≥ this
ABLATION_RANDOM_SETS = 70  # at most this many same-size random head sets as the ablation control
INDUCTION_NOISE_FLOOR = 0.05  # the least noise floor of the controlled induction score (the first checkpoint's
#                               largest |score| raises it)

# -- induction family and phase-change locator. Chosen on attn-only-2l seeds 0–2
#    (held-out repeat loss falls 4.1 nats = 85% of the chance loss ln 128 = 4.85) against its nulls: the
#    +no-k-comp runs' 0.18–0.21-nat drop (4%), the 1-layer control's 0.34 (7%), a bag-of-context copier's ≈ 0.5 (10%).
PHASE_MIN_LOSS_SHARE = 0.25  # a loss (repeat loss, ICL score) phase change moves ≥ this × ln(d_vocab) (chance loss)
PHASE_MIN_SCORE_CHANGE = 0.25  # a score on a [0, 1] scale (controlled induction score) moves ≥ this, absolute
PHASE_PLATEAU_CHECKPOINTS = 3  # a plateau after the window: its last checkpoint and ≥ 2 more …
PHASE_PLATEAU_TOLERANCE = 0.25  # … all within this × |change| (+ PHASE_PLATEAU_NOISE × noise) of the last value
PHASE_PLATEAU_NOISE = 3.0
PHASE_BOOTSTRAP_RESAMPLES = 200  # bootstrap resamples of the probe sequences for a metric's noise floor (its std)
ICL_MIN_GAIN_OVER_BAG = 0.5  # "uses its context beyond a bag of tokens": loss at 90% of the context ≤ the best
#                              bag-of-context predictor's loss there − this many nats (probes.measures.icl.bag_of_context_losses)
ABLATION_RANK_P = 0.05  # joint ablation: exact rank-test p = (1 + #comparison sets hurting as much) / (n + 1) ≤ this;
#                         with fewer than 1 / this − 1 comparison sets no verdict is possible (stated as such)
GRID_MIN_SEEDS = 2  # a distribution over seeds needs at least this many seeds with a value
GRID_PHASE_SEED_SHARE = 1.0  # grid/phase_change: a transition on at least this share of the seeds ("every seed")
GRID_MIN_SIZES = 3  # a trend against size needs at least this many sizes (two points are always monotone)
GRID_SIZE_NOISE_MULTIPLE = 2.0  # grid/size: every neighbouring difference of the per-size medians exceeds this × its
#                                 noise (√(std₁² + std₂²) of the two sizes' values over seeds, ≥ 2 seeds per size) …
GRID_SIZE_NOISE_FLOOR = 0.05  # … and that noise is never below this (nats, or a [0, 1] score): identical seeds do not
#                               make a 0.001-nat difference a trend (audit: pure noise was "monotone" 1/3 of the time)
# ---- clamps (probes.claims.clamps; Singh et al. 2024, arXiv 2404.07129) -----------------------------------------------
CLAMP_MIN_SHIFT_SHARE = 0.05  # clamp/earlier_phase_change: the clamped run's phase-change step comes ≥ this share of
#   training before its baseline's, same seed (3 evaluations of the default run's 50-step grid, so one evaluation of
#   jitter cannot pass). Chosen on seed 0 (attn-only-2l 650 vs +prev-token 350: 10% of 3,000 steps); validated on
#   seeds 1 (650 vs 350: 10%) and 2 (700 vs 350: 11.7%), `icl-workbench reproduce singh-clamps`; the +no-k-comp null
#   was censored on all three seeds (no located transition).

# ---- function vectors (probes.claims.fv; Todd et al. 2024; Yin & Steinhardt 2025) ----------------------------
FV_MIN_AIE = 0.02  # an "FV head": final AIE (Δ P(yq)) ≥ this …
AIE_NOISE_MULTIPLE = 3.0  # … and ≥ this × the AIE's standard error over prompts (its noise floor)
ONSET_FRACTION = 0.5  # a head's onset of a score: the first checkpoint at floor + this × (peak − floor) (the same
#                       relative criterion for induction and AIE), counted only when the peak clears its noise floor
SIGNATURE_MIN_DROP = 0.1  # Yin & Steinhardt's signature: induction score falls ≥ this from its peak while AIE rises
FEW_SHOT_MIN_GAIN = 0.2  # "infers the task from its demonstrations": 10-shot accuracy ≥ zero-shot + this
FV_INJECTION_MIN_GAIN = 0.2  # an FV "works": zero-shot accuracy rises ≥ this over no FV, and above every baseline
ABLATION_BEATS_RANDOM = 0.9  # a head set "matters": ablating it hurts more than this share of same-size head sets
# -- function vectors: with 8 heads a share of ≤ 3 FV heads against ≤ 4 other
#    heads is decided by one head, so small head counts get an exact test, and the Yin & Steinhardt predictions a
#    margin on their own scale beside their noise
FV_EXACT_P = 0.05  # fv/were_induction, fv/signature: one-sided hypergeometric (Fisher exact) p below this (fv/ablation
#                    uses ABLATION_RANK_P's rank test over every same-size head set)
YS_MIN_ACCURACY_GAP = 0.1  # fv/yin_steinhardt_few_shot: 10-shot accuracy with induction heads ablated − with FV heads
#                            ablated (each with exclusion) ≥ this …
YS_ICL_MIN_NATS = 0.1  # fv/yin_steinhardt_icl: ICL-score change with induction heads ablated − with FV heads ablated
#                        ≥ this many nats …
YS_NOISE_MULTIPLE = 2.0  # … and each difference > this many of its standard errors (binomial over prompts for the
#                          accuracy; over text sequences, paired, for the ICL score)
# -- function vectors and writers, audit of null inputs (verdicts that said "supported" on nulls)
FV_ORDER_MIN_CHECKPOINTS = 2.0  # fv/order: the FV-head AIE onset ≥ this many checkpoint intervals after the induction
#                                 onset (each onset at ONSET_FRACTION of its own curve's first → peak range)
FV_HEADS_FWER = 0.05  # fv/heads: the best head's AIE / SE must clear the one-sided Bonferroni z, Φ⁻¹(1 − this / heads)
#                       (and at least AIE_NOISE_MULTIPLE): the max over heads of noise clears a fixed 3 SE often
FV_INJECTION_MIN_MARGIN = 0.05  # fv/injection: FV accuracy ≥ the best baseline's + this (absolute accuracy; a raw ">"
#                                 passed on a tie broken by one prompt)
ZERO_SE_RATIO = 1e6  # a ratio value / SE with SE = 0 is stated as ±this (finite), never ±inf (not a verdict threshold)
WRITER_MIN_HOLD_CHECKPOINTS = 3  # writers/onsets, writers/order: an onset counts only when the class is absent at the
#                                  first checkpoint and held from the onset through the last checkpoint for ≥ this many
#                                  checkpoints — or for every checkpoint after the first when the run has fewer

# ---- "What to notice" sentences of probes.claims.emergence (notebook 04) -------------------------------------------------
MANUFACTURED_MAX_P_SHARE = 0.25  # "the metric makes the jump": inside exact match's transition window, per-token
#                                  accuracy makes at most this share of its own first → last change
CORRELATION_NOISE_MULTIPLE = 2.0  # "errors are correlated": ρ > this many bootstrap std
SIZE_MIN_AMPLIFICATION = 3.0  # "exact match amplifies p over size": its largest rise between neighbouring sizes is
#                               ≥ this many times p's rise over the same step …
SIZE_MAX_PREDICTION_ERROR = 0.5  # … and p^L predicts that rise within this fraction of it
# -- emergence over size (Schaeffer et al. 2023, arXiv 2304.15004): a "jump" needs
#    a size axis that can show one, and a bend that a straight line in log-size cannot explain
SIZE_MIN_POINTS = 3  # the size "jump" is judged only with ≥ this many sizes (two points are always a straight line)
SIZE_NONLINEARITY_NOISE_MULTIPLE = 3.0  # at an interior size next to the jump, exact match deviates from the linear
#                                         interpolation in log d_model between its neighbours by > this × the
#                                         deviation's bootstrap std

# ---- attribution patching vs exact AIE (probes.report.attribution) -------------------------------------------------
ATTRIBUTION_MIN_AGREE_SHARE = 0.75  # "agrees better than chance": top-k overlap > k²/N at ≥ this share of checkpoints
ATTRIBUTION_MIN_SPEARMAN = 0.5  # "ranks the heads like the exact AIE": median Spearman ρ over checkpoints ≥ this
ATTRIBUTION_MAX_TOP_ERROR = 0.5  # "sizes the top heads": mean |attr − exact| on the exact top-k ≤ this × mean |exact|
ATTRIBUTION_AGREE_ALPHA = 0.05  # a checkpoint's top-k overlap "agrees beyond chance" when its hypergeometric p is
#                                 below this; also the level of the Spearman critical value

# ---- writers and cancellers (probes.measures.writers, probes.claims.writers; Wang 2026, arXiv 2606.07560) -----------------
WRITER_FDR_Q = 0.10  # Benjamini–Hochberg level of the refined-DLA permutation test (Wang)
WRITER_SCORE_THRESHOLD = 0.05  # validation score > +this: writer; < −this: canceller (Wang's ±5%)
WRITER_MIN_GAP = 0.5  # the validation score is defined only when LD_clean − LD_flip ≥ this many nats …
WRITER_GAP_NOISE_MULTIPLE = 3.0  # … and ≥ this × its standard error over the validation pairs
WRITER_TASK_SHARE = 0.5  # a "writer head" / "canceller head" of a checkpoint: that class on ≥ this share of the
#                          selection tasks (the sets whose FVs and ablations are compared on the held-out tasks)
WRITER_LESION_MIN_NATS = 0.10  # Wang's verdict threshold on |Δ log P(correct)| of a group lesion (zero-ablating the
#                               writer or canceller set); not ABLATION_MIN_NATS, the induction heads' Δ repeat loss

# ---- grokking (probes.measures.grokking; Nanda et al. 2023, arXiv 2301.05217) ----------------------------------------------
GROK_ACCURACY = 0.99  # memorisation step: train accuracy first ≥ this; generalisation step: test accuracy first ≥ this
PROGRESS_LEVEL = 0.5  # a loss "has fallen" at the first checkpoint where it is ≤ this × ln p (chance, its value at
#                       initialisation); the restricted loss should get there before the test loss (circuit formation)
EXCLUDED_MIN_RISE = 1.0  # "the excluded loss rises": its peak up to the generalisation step is ≥ this many nats above
#                          its value at the first checkpoint, while the train loss falls over the same steps
SPARSITY_MIN_GAIN = 0.2  # "the embedding becomes sparse in frequency": its Gini coefficient at the last checkpoint is
#                          ≥ this above its value at memorisation
WEIGHT_NORM_MIN_DROP = 0.1  # "weight decay cleans up": the total squared weight at the last checkpoint is ≤ (1 − this)
#                             × its value at memorisation
# -- grokking. Measured on the `grokking` preset (p = 53, seed 0): at its final
#    checkpoint the 10th percentile of the MLP neurons' dominant-frequency share is 0.87; at initialisation (random
#    ReLU features, every one of the 26 frequencies "dominant" for some neuron) the 90th percentile is 0.18.
KEY_FREQUENCY_MIN_SHARE = 0.5  # a neuron's dominant frequency counts towards the key frequencies only if it explains
#                                ≥ this share of that neuron's variance over the p² inputs (explained-variance floor)
RANDOM_FREQUENCY_SETS = 20  # the random-frequency control: this many seeded sets of as many non-key frequencies …
RANDOM_FREQUENCY_MIN_GAP = 1.0  # … and the lowest restricted loss among them must be ≥ this many nats above the key
#                                 frequencies' restricted loss ("clearly worse")
GROK_SUSTAIN_EVALUATIONS = 5  # memorisation / generalisation: accuracy ≥ GROK_ACCURACY at this many consecutive
#                               evaluations (one evaluation above the line is not a transition)
GAP_MIN_EVALUATIONS = 5  # "a generalisation gap": generalisation comes ≥ this many evaluations after memorisation
WEIGHT_NORM_MIN_DROP_VS_CONTROL = 0.1  # the weight claim's control: the relative fall of Σw² from memorisation to the
#                                        end exceeds a no-weight-decay run's relative fall over the same steps by ≥ this

# ---- local learning coefficient (probes.measures.llc, probes.claims.llc_stages; Hoogland et al. 2024, arXiv 2402.02364) ---------------
LLC_RHAT_MAX = 1.1  # chains "agree": split-R̂ of their post-burn-in loss traces ≤ this (Gelman et al. 2013's 1.1) …
LLC_SPREAD_MAX = 0.1  # … and the std of the per-chain λ̂ ≤ this × |λ̂|
LLC_DRIFT_MAX = 0.1  # a trace "settled": λ̂ of the second half of the draws − the first half ≤ this × |λ̂| …
LLC_DRIFT_Z = 2.0  # … or ≤ this many standard errors (over chains) of that difference (noise, not a rise)
LLC_FLOOR = 1.0  # relative spread and drift divide by max(|λ̂|, this): λ̂ ≈ 0 at initialisation is not disagreement
# -- LLC. Windows are compared on log(1 + step), the axis on which Hoogland et al.
#    read stages: a curve linear in log-steps rises equally across every window of one log-width (ratio ≈ 1), a
#    linear trend in steps rises more across later ones (ratio < 1). Measured on attn-only-2l seed 0 (the default
#    settings, 14 checkpoints): λ̂ 9.57 → 19.76 across the induction window 429–714, ratio 1.85 to the largest rise of
#    a window of the same log-width elsewhere (5.5, just before it) — chosen on the run the positive fixture uses.
LLC_NOISE_MULTIPLE = 3.0  # λ̂ "differs" between two checkpoints: by more than this × √(std₁² + std₂²) (chain stds)
LLC_WINDOW_RATIO = 1.5  # the phase-change window's λ̂ change is ≥ this × the largest change across any other window of
#                         the same log(1 + step) width that does not overlap it
LLC_MIN_STAGES = 2  # a stage claim needs ≥ this many stages (one stage always holds the window)
LLC_BOUNDARY_CHANCE_MAX = 0.2  # "a boundary falls in the window" counts only if at most this share of the same-width
#                                windows elsewhere holds one (boundaries everywhere land in any window)
STAGE_FLAT_FRACTION = 0.1  # the GP-smoothed dλ̂/dlog t is "≈ 0" where |slope| ≤ this × its largest |slope| …
STAGE_SLOPE_Z = 3.0  # … or ≤ this many posterior std of the slope (not distinguishable from 0); stage boundaries sit
#                      in or at the ends of those runs (probes.claims.llc_stages; Hoogland et al.: where the slope is ≈ 0)

# ---- in-context Markov chains (probes.claims.markov; Edelman et al. 2024, arXiv 2402.11004) ----------------------------
# Chosen on icl-mc-2l seed 0 (KL at the last of 100 states, 512 held-out chains); validated on seeds 1 and 2 by the
# gallery entry edelman-markov (numbers in the README section "In-context Markov chains").
MARKOV_STAGE_MIN_GAP = 0.01  # a strategy is "closest" at a checkpoint when its KL is below the others' by ≥ this (nats)
MARKOV_FINAL_MAX_RATIO = 0.5  # "much below": the final bigram KL is ≤ this × the final unigram KL
MARKOV_MIN_KL_DROP_SHARE = 0.5  # markov/bigram_transition: the bigram KL falls by ≥ this share of its unigram-stage value

# ---- where the thresholds were chosen and where they are checked (probes.claims.validation) --------------------
THRESHOLD_SELECTION_RUNS = ("attn-only-2l seeds 0-2", "fv seeds 0-2")  # thresholds were chosen on these runs …
THRESHOLD_VALIDATION_RUNS = ("attn-only-2l seeds 3-5", "fv seeds 3-5", "attn-only-3l seed 0", "full-2l seed 0")  # … and
#                           their verdicts are checked on these, which no threshold was chosen on

"""The gallery's entries: what a paper claims, what we train to test it, and which of our claims carries the verdict.

The paper's number is shown beside ours and never used as a tolerance. Where only an abstract, a summary page or a
README of the paper was read, its number is "unverified" (what was read second-hand is stated beside it). The claim
keys are those of `probes.claims` (every verdict there has met its null fixtures, tests/test_conformance.py): each
claim's direction is one of its checks (e.g. the phase-change locator's required sign), so "supported" already means
"in the paper's direction". An entry's control preset is a run in which the paper says the effect is absent.
"""
from __future__ import annotations

from dataclasses import dataclass

from circuits.errors import WorkbenchError


@dataclass(frozen=True)
class PaperClaim:
    citation: str  # authors, year, arXiv id
    claim: str  # what the paper reports, as we read it
    number: str  # quoted with its section or figure, or "unverified (…)"
    setup: str  # how our setup differs: model size, data, steps


@dataclass(frozen=True)
class Entry:
    name: str
    paper: PaperClaim
    preset: str  # the runs: seeds 0 … n−1 of this preset
    claims: tuple[str, ...]  # claim keys that carry the verdict (every one must reproduce)
    control: str | None = None  # a preset in which the paper says the effect is absent …
    control_claims: tuple[str, ...] = ()  # … so these claims must not hold there
    seeds: int = 3
    probes: tuple[str, ...] = ()  # opt-in probes run after the default sweep (e.g. "llc", "writers")
    long: bool = False  # more than 5 minutes on 2 cores at its default seeds: run with --runlong / on demand
    notes: str = ""
    baseline: str | None = None  # pair claims: each run (and control run) against this preset's run of its seed


OLSSON = Entry(
    "olsson-phase-change",
    PaperClaim("Olsson et al. 2022, arXiv 2209.11895",
               "Induction heads form in a sudden phase change early in training, in the same window in which the "
               "in-context-learning score improves sharply; one-layer attention-only models show no phase change.",
               "unverified (second-hand: ICL score = loss at token 500 − loss at token 50 of natural text; the phase "
               "change is visible as a bump in the training loss)",
               "ours: 2-layer attention-only, d_model 64, 4 heads, repeated random tokens (periods 4–31), 3,000 steps, "
               "scores on held-out periods; theirs: natural text, 512-token contexts, 1–40-layer models"),
    "attn-only-2l", ("induction/head", "induction/phase_change", "icl/uses_context"), control="attn-only-1l",
    control_claims=("induction/head", "induction/phase_change"))

NANDA = Entry(
    "nanda-grokking",
    PaperClaim("Nanda, Chan, Lieberum, Smith & Steinhardt 2023, arXiv 2301.05217",
               "On modular addition with weight decay the network first memorises, then a Fourier circuit on a few key "
               "frequencies forms (the restricted loss falls before the test loss) and the memorised solution is "
               "cleaned up (the excluded loss rises); test accuracy jumps late.",
               "unverified (second-hand: p = 113, 30% of pairs trained on, weight decay 1; memorisation by ≈ 1.4k "
               "steps, cleanup by ≈ 10k; ≈ 5 key frequencies)",
               "ours: p = 53, 40% of pairs, a smaller 1-layer model (preset 'grokking'); steps as the preset"),
    "grokking", ("grokking/memorisation", "grokking/generalisation", "grokking/key_frequencies",
                 "grokking/restricted_leads"), seeds=3)

TODD = Entry(
    "todd-function-vectors",
    PaperClaim("Todd, Li, Sen Sharma, Mueller, Wallace & Bau 2024, arXiv 2310.15213",
               "A few attention heads carry a compact representation of the demonstrated task (a function vector, the sum "
               "of their mean outputs); added to the residual stream of zero-shot prompts it triggers the task.",
               "unverified (second-hand: GPT-J, layer 9, top 10 heads: zero-shot accuracy 5.5% → 57.5% with the FV)",
               "ours: a 2-layer model trained on 32 abstractive tasks mixed with repeated tokens (preset 'fv'), FVs "
               "evaluated on held-out tasks against same-size head sets, other tasks' FVs and the mean hidden state"),
    "fv", ("fv/heads", "fv/injection"), long=True)

YIN = Entry(
    "yin-steinhardt-fv-vs-induction",
    PaperClaim("Yin & Steinhardt 2025, arXiv 2502.14010",
               "Ablating FV heads (excluding induction heads) hurts few-shot ICL more than ablating induction heads "
               "(excluding FV heads), and many FV heads were induction heads earlier in training.",
               "unverified (read second-hand: 12 models from 70M to 7B parameters)",
               "ours: the 2-layer 'fv' preset; ablation at the last position with mutual exclusion"),
    "fv", ("fv/yin_steinhardt_few_shot", "fv/were_induction"), long=True)

HOOGLAND = Entry(
    "hoogland-llc-stages",
    PaperClaim("Hoogland, Wang, Farrugia-Roberts, Carroll, Wei & Murfet 2024, arXiv 2402.02364",
               "The local learning coefficient rises over training in stages whose boundaries are critical points of its "
               "curve; the induction heads form within one of those stages.",
               "unverified (second-hand: a 2-layer attention-only LM of ≈ 3M parameters, stage ends at ≈ 900, 6.5k, 8.5k, "
               "17k and 50k steps)",
               "ours: attn-only-2l on repeated tokens, 3,000 steps; λ̂ at every checkpoint with the settings stated in "
               "probes.measures.llc"),
    "attn-only-2l", ("llc/rises", "llc/phase_change", "llc/stage_of_phase_change"), probes=("llc",), long=True)

WANG = Entry(
    "wang-writers-cancellers",
    PaperClaim("Wang 2026, arXiv 2606.07560",
               "Heads that raise the correct answer (writers) and heads that suppress it (cancellers) both form; the "
               "top heads by Todd's AIE miss the cancellers.",
               "unverified",
               "ours: the 2-layer 'fv' preset, classification by refined direct-logit attribution on rule-flipped "
               "prompt pairs (probes.measures.writers)"),
    "fv", ("writers/writers", "writers/cancellers"), probes=("writers",), long=True)

SINGH = Entry(
    "singh-clamps",
    PaperClaim("Singh, Moskovitz, Hill, Chan & Saxe 2024, arXiv 2404.07129",
               "Clamping a subcircuit of the induction circuit to its ideal values from the start of training moves the "
               "phase change: with the previous-token step given (condition \"1\"), induction forms earlier than "
               "without clamps.",
               "unverified (second-hand: Fig. 5b, conditions \"1\", \"1,2\", \"1,2,3qk,4\", \"3v,5\" on Omniglot "
               "few-shot classification; we compare the direction of the effect, not step counts)",
               "ours: attn-only-2l on repeated random tokens, 3,000 steps; only their condition \"1\" maps onto a clamp "
               "here (+prev-token, which gives the exact previous-token pattern to every layer-0 head, not one head); "
               "\"1,2\", \"1,2,3qk,4\" and \"3v,5\" have no clamp here; theirs: a 2-layer model with 8 heads in "
               "layer 2, 5-token Omniglot sequences, 10⁴–10⁵ steps. Our null: +no-k-comp (layer-1 keys cannot read "
               "layer 0), whose phase change should not come earlier (a censored run is the expected result)"),
    "attn-only-2l+prev-token", ("clamp/earlier_phase_change",), control="attn-only-2l+no-k-comp",
    control_claims=("clamp/earlier_phase_change",), baseline="attn-only-2l", long=True,
    notes="paired per seed: each clamped run against the unclamped attn-only-2l run of the same seed; 9 runs, "
          "813 s on 2 shared cores (long)")


EDELMAN = Entry(
    "edelman-markov",
    PaperClaim("Edelman, Tsilivis, Edelman, Malach & Goel 2024, arXiv 2402.11004",
               "Trained on in-context Markov chains, a 2-layer attention-only transformer's predictions are first "
               "uniform, then follow in-context unigram statistics, then — after a rapid phase transition — in-context "
               "bigram statistics (a statistical induction head: a layer-0 previous-token head feeding a layer-1 head); "
               "measured by the KL of the model's predictions to each strategy.",
               "unverified (read second-hand: the abstract in the authors' code README — \"after an initial stage in "
               "which predictions are uniform, they learn to sub-optimally predict using in-context single-token "
               "statistics (unigrams); then, there is a rapid phase transition to the correct in-context bigram "
               "solution\"; their code's defaults: 2 states, 100 tokens, batch 64, 2,000 iterations)",
               "ours (preset icl-mc-2l): 3 states (theirs 2), rows ~ Dirichlet(1), first state stationary, 100 states "
               "after a BOS; 2 attention-only layers × 1 head, d_model 16, LayerNorm, batch 64, 2,000 steps, as theirs; "
               "learned absolute positions where their code uses relative position embeddings inside attention, no "
               "dropout (theirs 0.1), AdamW lr 3e-3 (theirs 5e-4); KL(strategy ‖ model) at the last position, add-one "
               "smoothing as their code, over the 3 state logits (our BOS logit dropped)"),
    "icl-mc-2l", ("markov/stages", "markov/bigram_transition"), control="icl-mc-1l",
    control_claims=("markov/stages", "markov/bigram_transition"),
    notes="control: one layer, so no previous-token head can feed a bigram head; icl-mc-2l-fixed (one shared "
          "transition matrix) is a further null of the claims' conformance tests")

ENTRIES: dict[str, Entry] = {e.name: e for e in (OLSSON, SINGH, EDELMAN, NANDA, TODD, YIN, HOOGLAND, WANG)}


def gallery_entry(name: str) -> Entry:
    if name not in ENTRIES:
        raise WorkbenchError(f"no gallery entry {name!r}; list them with `icl-workbench reproduce --list` ({', '.join(ENTRIES)}).")
    return ENTRIES[name]

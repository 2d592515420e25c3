"""The induction → FV transition, per head, from the sweep table (Yin & Steinhardt 2025, arXiv 2502.14010; Todd et
al. 2024, arXiv 2310.15213), and the FV claims of a run.

Per head, with one relative criterion for both scores (`probes.claims.thresholds`):
  noise floor     induction: max(INDUCTION_NOISE_FLOOR, the largest |controlled score| at the first checkpoint);
                  AIE: max(FV_MIN_AIE, AIE_NOISE_MULTIPLE × the AIE's standard error at the last checkpoint)
  onset           first checkpoint where the score reaches floor + ONSET_FRACTION·(peak − floor), defined only when
                  the peak clears the floor
  FV head         final AIE ≥ its floor, among the top-n by final AIE
  was induction   peak controlled induction score ≥ INDUCTION_THRESHOLD *and* induction onset before AIE onset
  signature       after its induction peak the score falls ≥ max(SIGNATURE_MIN_DROP, floor) while AIE rises by more
                  than its floor (Yin & Steinhardt's heads that "start as induction heads")
The base rate of "was induction" for non-FV heads uses the FV heads' median AIE onset as their reference step.

FV heads vs other heads (fv/were_induction, fv/signature) is an exact test, not a comparison of shares (with
8 heads, ≤ 3 FV heads against ≤ 4 other heads above layer 0, one head decides a share): the one-sided
hypergeometric (Fisher exact) p that a random set of |FV| heads of the pool (heads above layer 0, and the FV heads)
holds as many heads with the property, against FV_EXACT_P. The smallest attainable p is 1/C(pool, |FV|): 1/C(4, 3)
= 0.25 for the `fv` preset's 4 layer-1 heads, so on that model size the sentence is stated with no verdict possible
(deviation: Yin & Steinhardt compare head populations of models with hundreds of heads). Every condition of every
claim is a `probes.claims.claim.Check` against a threshold of `probes.claims.thresholds`; the Yin & Steinhardt predictions have a
margin on their own scale and a standard error (YS_*).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass

import torch

from probes.claims.claim import Check, Claim, ClaimFamily, ClaimSpec, flag, fmt, make_claim, register_claims
from probes.claims.induction import induction_noise_floor
from probes.claims.thresholds import (
    ABLATION_BEATS_RANDOM,
    ABLATION_RANK_P,
    AIE_NOISE_MULTIPLE,
    FEW_SHOT_MIN_GAIN,
    FV_EXACT_P,
    FV_HEADS_FWER,
    FV_INJECTION_MIN_GAIN,
    FV_INJECTION_MIN_MARGIN,
    FV_MIN_AIE,
    FV_ORDER_MIN_CHECKPOINTS,
    INDUCTION_THRESHOLD,
    ONSET_FRACTION,
    SIGNATURE_MIN_DROP,
    YS_ICL_MIN_NATS,
    YS_MIN_ACCURACY_GAP,
    YS_NOISE_MULTIPLE,
    ZERO_SE_RATIO,
)
from probes.measures.function_vectors import FVSettings, fv_heads
from probes.table import Row, select

Series = list[tuple[int, float]]


def onset(points: Series, floor: float) -> int | None:
    """First step at first + ONSET_FRACTION·(peak − first), the curve's own first → peak range (so two curves of the
    same shape have the same onset whatever their floors; audit: floor + 0.5·(peak − floor) with different floors put
    identical sigmoids 20 steps apart); None when the peak does not clear the floor or the curve never rises."""
    first, peak = points[0][1], max(v for _, v in points)
    if peak <= floor or peak <= first:
        return None
    return next(s for s, v in points if v >= first + ONSET_FRACTION * (peak - first))


@dataclass(frozen=True)
class HeadHistory:
    induction_peak: float
    induction_final: float
    induction_onset: int | None
    aie_final: float
    aie_se: float
    aie_floor: float
    aie_onset: int | None
    is_fv: bool
    was_induction_first: bool
    signature: bool


def _history(induction: Series, aie: Series, se: float, floor: float, is_fv: bool) -> HeadHistory:
    aie_floor = max(FV_MIN_AIE, AIE_NOISE_MULTIPLE * se)
    peak_step, peak = max(induction, key=lambda p: (p[1], -p[0]))
    ind_onset, aie_onset = onset(induction, floor), onset(aie, aie_floor)
    first = peak >= INDUCTION_THRESHOLD and ind_onset is not None and aie_onset is not None and ind_onset < aie_onset
    aie_at_peak = dict(aie)[peak_step]
    falls = peak >= INDUCTION_THRESHOLD and peak - induction[-1][1] >= max(SIGNATURE_MIN_DROP, floor)
    signature = falls and aie[-1][1] - aie_at_peak > aie_floor
    return HeadHistory(peak, induction[-1][1], ind_onset, aie[-1][1], se, aie_floor, aie_onset, is_fv, first, signature)


@dataclass(frozen=True)
class Transition:
    heads: dict[str, HeadHistory]
    fv_heads: list[str]  # best first
    induction_floor: float
    induction_onset: int | None  # earliest onset of a head whose peak ≥ INDUCTION_THRESHOLD
    fv_onset: int | None  # earliest AIE onset of an FV head
    base_rate: float | None  # share of non-FV heads that were induction heads before the FV heads' median onset
    trajectories: dict[str, list[tuple[int, float, float]]]  # head -> [(step, induction, aie)]
    claims: list[Claim]

    def to_dict(self) -> dict:
        return asdict(self)


def transition_analysis(table: list[Row], top_n: int = FVSettings().top_heads) -> Transition:
    induction, aie = select(table, "attention", "induction"), select(table, "fv", "aie")
    se = {h: pts[-1][1] for h, pts in select(table, "fv", "aie_se").items()}
    floor = induction_noise_floor(induction)
    passing = fv_heads(_grid(aie, -1), _grid({h: [(0, v)] for h, v in se.items()}, -1), top_n)
    heads = {f"{l}.{h}": _history(induction[(l, h)], aie[(l, h)], se[(l, h)], floor, (l, h) in passing) for l, h in aie}
    fv = [f"{l}.{h}" for l, h in passing]
    ind_onsets = [h.induction_onset for h in heads.values() if h.induction_peak >= INDUCTION_THRESHOLD and h.induction_onset is not None]
    fv_onsets = [heads[h].aie_onset for h in fv if heads[h].aie_onset is not None]
    reference = statistics.median(fv_onsets) if fv_onsets else None
    base = _base_rate(heads, reference)
    trajectories = {f"{l}.{h}": [(s, i, a) for (s, i), (_, a) in zip(induction[(l, h)], aie[(l, h)], strict=False)] for l, h in aie}
    facts = dict(heads=heads, fv_heads=fv, induction_floor=floor, induction_onset=min(ind_onsets, default=None),
                 fv_onset=min(fv_onsets, default=None), base_rate=base, trajectories=trajectories)
    steps = sorted({s for pts in induction.values() for s, _ in pts} | {s for pts in aie.values() for s, _ in pts})
    return Transition(**facts, claims=transition_claims(facts | {"reference": reference, "steps": steps}, table))


def _grid(series: dict[tuple, Series], index: int) -> torch.Tensor:
    """[n_layers, n_heads] of each head's value at checkpoint `index`."""
    grid = torch.zeros(1 + max(l for l, _ in series), 1 + max(h for _, h in series))
    for (layer, head), points in series.items():
        grid[layer, head] = points[index][1]
    return grid


def _base_rate(heads: dict[str, HeadHistory], reference: float | int | None) -> float | None:
    """Among the non-FV heads above layer 0 (a layer-0 head has no earlier layer to compose with, so it cannot be
    an induction head), the share that were induction heads before `reference`."""
    others = [h for name, h in heads.items() if not h.is_fv and not name.startswith("0.")]
    if reference is None or not others:
        return None
    return sum(_was_induction(h, reference) for h in others) / len(others)


def _was_induction(h: HeadHistory, reference: float | int | None) -> bool:
    """An induction head (peak ≥ INDUCTION_THRESHOLD) whose onset comes before `reference` (False without one)."""
    return (reference is not None and h.induction_peak >= INDUCTION_THRESHOLD and h.induction_onset is not None
            and h.induction_onset < reference)


def final(table: list[Row], metric: str, probe: str = "fv") -> float | None:
    points = select(table, probe, metric).get((None, None))
    return points[-1][1] if points else None


def transition_claims(f: dict, table: list[Row]) -> list[Claim]:
    claims = [_fv_heads_claim(f), _order_claim(f), _were_induction_claim(f), _signature_claim(f),
              _few_shot_claim(table), _injection_claim(f, table), _ablation_claim(f, table)]
    return claims + _yin_steinhardt_claims(f, table)


def _fv_found(f: dict) -> Check:
    return flag("FV heads above their AIE noise floor", bool(f["fv_heads"]))


def _fv_heads_claim(f: dict) -> Claim:
    ranked = sorted(f["heads"].items(), key=lambda kv: (not kv[1].is_fv, -kv[1].aie_final))  # the best FV head first
    name, top = ranked[0]
    listed = ", ".join(f"{h} (AIE {fmt(f['heads'][h].aie_final)})" for h in f["fv_heads"]) or "none"
    z = bonferroni_z(len(f["heads"]))
    checks = [Check(f"head {name}'s final AIE (Δ P(yq))", top.aie_final, ">=", FV_MIN_AIE),
              Check(f"head {name}'s AIE / its standard error (Bonferroni over {len(f['heads'])} heads)",
                    _ratio(top.aie_final, top.aie_se), ">=", max(AIE_NOISE_MULTIPLE, z))]
    return make_claim("fv/heads", "some heads carry the task (FV heads: final AIE above its noise floor)", True,
                      top.aie_final, top.aie_floor, f"best head {name}: AIE {fmt(top.aie_final)} (Δ P(yq), selection "
                      f"tasks) vs noise floor {fmt(top.aie_floor)}; the best of {len(f['heads'])} heads must clear "
                      f"max({AIE_NOISE_MULTIPLE}, z {z:.2f}) standard errors (one-sided Bonferroni at family-wise level "
                      f"{FV_HEADS_FWER} across the heads); FV heads: {listed}.", checks)


def bonferroni_z(heads: int) -> float:
    """The one-sided normal z of a Bonferroni-corrected test across `heads` heads at family-wise level FV_HEADS_FWER:
    Φ⁻¹(1 − FV_HEADS_FWER / heads) (the best of many noise heads clears a fixed 3 SE often: 144 heads of pure noise,
    17% of draws)."""
    return statistics.NormalDist().inv_cdf(1 - FV_HEADS_FWER / max(heads, 1))


def _ratio(value: float, se: float) -> float:
    """value / se; NaN when either is NaN (the check fails), ±ZERO_SE_RATIO (0 for a zero value) when se = 0, so no
    check shows an infinite margin."""
    if math.isnan(value) or math.isnan(se):
        return float("nan")
    if se <= 0:
        return math.copysign(ZERO_SE_RATIO, value) if value else 0.0
    return max(-ZERO_SE_RATIO, min(ZERO_SE_RATIO, value / se))


def _order_claim(f: dict) -> Claim:
    a, b = f["induction_onset"], f["fv_onset"]
    gap = float(b - a) if a is not None and b is not None else float("nan")
    steps = f.get("steps") or []
    apart = float(steps.index(b) - steps.index(a)) if a in steps and b in steps else float("nan")
    checks = [flag("an induction onset", a is not None), flag("an FV-head AIE onset", b is not None),
              Check("FV onset − induction onset (checkpoints)", apart, ">=", FV_ORDER_MIN_CHECKPOINTS)]
    return make_claim("fv/order", "induction heads formed before FV heads", True, gap, None,
                      f"earliest induction onset step {a} (a head with peak controlled score ≥ {INDUCTION_THRESHOLD}), "
                      f"earliest FV-head AIE onset step {b}: gap {fmt(gap)} steps, {fmt(apart)} checkpoints (each onset at "
                      f"{ONSET_FRACTION:.0%} of its own curve's first → peak range; the gap must be ≥ "
                      f"{FV_ORDER_MIN_CHECKPOINTS:.0f} checkpoint intervals).", checks)


def hypergeometric_upper(population: int, marked: int, drawn: int, observed: int) -> float:
    """P(X ≥ observed) for X ~ Hypergeometric(population, marked, drawn): the one-sided Fisher exact p that a random
    `drawn`-subset of the population holds ≥ `observed` of its `marked` items (1.0 when observed ≤ 0)."""
    top = min(marked, drawn)
    hits = sum(math.comb(marked, i) * math.comb(population - marked, drawn - i) for i in range(max(observed, 0), top + 1))
    return hits / math.comb(population, drawn) if drawn <= population else float("nan")


@dataclass(frozen=True)
class Contrast:
    """FV heads against the other heads on one yes/no property, with its exact test (with ≤ 3 FV heads and
    ≤ 4 others, a share comparison is decided by one head)."""

    fv_hits: int
    fv: int
    other_hits: int
    others: int
    p: float  # one-sided hypergeometric p of ≥ fv_hits among a random |FV|-subset of the pool
    best_p: float  # the smallest p attainable at these sizes: 1 / C(pool, |FV|) (every FV head and no other has it)

    def describe(self) -> str:
        pool = self.fv + self.others
        return (f"{self.fv_hits} of {self.fv} FV heads vs {self.other_hits} of {self.others} other heads; one-sided "
                f"Fisher exact p {self.p:.3g} (the chance that a random set of {self.fv} of these {pool} heads holds as "
                f"many); the smallest p attainable at these sizes is {self.best_p:.3g}"
                + (", so no verdict is possible at this model size" if self.best_p >= FV_EXACT_P else ""))

    def checks(self) -> list[Check]:
        return [flag("FV heads above their AIE noise floor", self.fv > 0),
                Check("one-sided Fisher exact p (FV heads vs the other heads)", self.p, "<", FV_EXACT_P)]


def contrast(f: dict, has: dict[str, bool]) -> Contrast:
    """The pool is every head above layer 0 (a layer-0 head cannot be an induction head: it has no earlier layer to
    compose with) and every FV head (a layer-0 FV head counts against the claim)."""
    pool = [h for h, v in f["heads"].items() if v.is_fv or not h.startswith("0.")]
    fv = [h for h in pool if f["heads"][h].is_fv]
    fv_hits, hits = sum(has[h] for h in fv), sum(has[h] for h in pool)
    p = hypergeometric_upper(len(pool), hits, len(fv), fv_hits) if fv else float("nan")
    best = 1 / math.comb(len(pool), len(fv)) if fv else float("nan")
    return Contrast(fv_hits, len(fv), hits - fv_hits, len(pool) - len(fv), p, best)


def _were_induction_claim(f: dict) -> Claim:
    """Each FV head: induction onset before its own AIE onset; each other head: before the FV heads' median AIE
    onset (`_base_rate`'s reference)."""
    fv = [f["heads"][h] for h in f["fv_heads"]]
    share = sum(h.was_induction_first for h in fv) / len(fv) if fv else float("nan")
    c = contrast(f, {h: v.was_induction_first if v.is_fv else _was_induction(v, f["reference"]) for h, v in f["heads"].items()})
    names = ", ".join(f"{h} (induction peak {fmt(f['heads'][h].induction_peak)}, onset {f['heads'][h].induction_onset}; "
                      f"AIE onset {f['heads'][h].aie_onset})" for h in f["fv_heads"]) or "no FV heads"
    return make_claim("fv/were_induction", "FV heads were induction heads before they became FV heads, more often "
                      "than other heads", True, share, f["base_rate"],
                      f"{fmt(share)} of FV heads had an induction onset (peak ≥ {INDUCTION_THRESHOLD}) before their AIE "
                      f"onset, vs a base rate of {fmt(f['base_rate'])} among the other heads above layer 0 (before the FV "
                      f"heads' median AIE onset): {c.describe()}; {names}.", c.checks())


def _signature_claim(f: dict) -> Claim:
    c = contrast(f, {h: v.signature for h, v in f["heads"].items()})
    share = c.fv_hits / c.fv if c.fv else float("nan")
    base = c.other_hits / c.others if c.others else float("nan")
    shown = ", ".join(h for h, v in f["heads"].items() if v.signature) or "none"
    return make_claim("fv/signature", "FV heads show Yin & Steinhardt's signature (an induction head whose induction "
                      "score falls while its AIE rises), more often than other heads", True, share, base,
                      f"{fmt(share)} of FV heads vs {fmt(base)} of the other heads above layer 0: {c.describe()}; heads "
                      f"with the signature: {shown}.", c.checks())


def _few_shot_claim(table: list[Row]) -> Claim:
    few, zero = final(table, "few_shot_accuracy"), final(table, "zero_shot_accuracy")
    return make_claim("fv/few_shot", "the model infers the task from its demonstrations (10-shot ≫ zero-shot)", True,
                      few, zero, f"10-shot accuracy {fmt(few)} vs zero-shot {fmt(zero)} on the test queries of the tasks "
                      f"not used to choose FV heads (all 32 tasks are trained on).",
                      [Check("10-shot − zero-shot accuracy", few - zero, ">=", FEW_SHOT_MIN_GAIN)])


def _sets(table: list[Row], metric: str, probe: str = "fv") -> float | None:
    """How many comparison sets a control had (None for tables written before the count was a row)."""
    return final(table, f"{metric}/sets", probe)


def _injection_claim(f: dict, table: list[Row]) -> Claim:
    value, none = final(table, "fv_zero_shot_accuracy"), final(table, "no_fv_zero_shot_accuracy")
    baselines = {"another task's FV": final(table, "other_task_fv_zero_shot_accuracy"),
                 "mean hidden state": final(table, "mean_hidden_zero_shot_accuracy"),
                 "random heads (best set)": final(table, "random_heads_fv_zero_shot_accuracy/max")}
    sets = _sets(table, "random_heads_fv_zero_shot_accuracy")
    best = max((v for v in baselines.values() if v is not None), default=float("nan"))
    shown = "; ".join(f"{k} {fmt(v)}" for k, v in baselines.items())
    checks = [_fv_found(f), flag("same-size head sets outside the FV set", baselines["random heads (best set)"] is not None),
              Check("FV − no-FV zero-shot accuracy", value - none, ">=", FV_INJECTION_MIN_GAIN),
              Check("FV − best baseline accuracy", value - best, ">=", FV_INJECTION_MIN_MARGIN)]
    return make_claim("fv/injection", "adding the FV of a task not used to choose the FV heads to its zero-shot prompts "
                      "recovers the task", True, value, best,
                      f"zero-shot accuracy {fmt(none)} → {fmt(value)} with the FV of heads {_used(table)} added after "
                      f"layer {_int(final(table, 'fv_best_layer'))} (chosen on validation queries; test queries reported); "
                      f"baselines: {shown} (n/a: none); {_int(sets)} same-size head sets outside the FV set, mean "
                      f"{fmt(final(table, 'random_heads_fv_zero_shot_accuracy/mean'))}; shuffled-label prompts "
                      f"{fmt(final(table, 'no_fv_shuffled_accuracy'))} → {fmt(final(table, 'fv_shuffled_accuracy'))}.", checks)


def _int(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _ablation_claim(f: dict, table: list[Row]) -> Claim:
    """Beside the share of same-size sets beaten, the exact rank test of `probes.claims.thresholds.ABLATION_RANK_P`: p = (1 +
    sets hurting at least as much) / (sets + 1) (beating all 55 other 3-of-8 sets is p = 1/56)."""
    value, beats = final(table, "ablate_fv/few_shot_accuracy"), final(table, "ablate_fv/beats_random", "fv_controls")
    control = final(table, "ablate_random/few_shot_accuracy/mean", "fv_controls")
    lo, hi = (final(table, f"ablate_random/few_shot_accuracy/{s}", "fv_controls") for s in ("min", "max"))
    sets = _sets(table, "ablate_random/few_shot_accuracy", "fv_controls")
    sets = _all_other_sets(table) if sets is None else sets
    rank_p = (1 + sets * (1 - beats)) / (sets + 1) if beats is not None and sets else float("nan")
    checks = [_fv_found(f), Check("share of same-size head sets it hurts more than", _nan(beats), ">=", ABLATION_BEATS_RANDOM),
              Check("rank p, (1 + sets hurting as much) / (sets + 1)", rank_p, "<=", ABLATION_RANK_P)]
    return make_claim("fv/ablation", "ablating the FV heads hurts few-shot accuracy more than ablating random heads",
                      True, _nan(value), control,
                      f"10-shot accuracy {fmt(final(table, 'few_shot_accuracy'))} → {fmt(value)} with FV heads "
                      f"{_used(table)} mean-ablated vs {fmt(control)} [{fmt(lo)}–{fmt(hi)}] over the {_int(sets)} other "
                      f"same-size head sets (it hurts more than {fmt(beats)} of them; n/a: no such sets; the top induction "
                      f"heads: {fmt(final(table, 'ablate_induction/few_shot_accuracy'))}).", checks)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _all_other_sets(table: list[Row]) -> float:
    """Every same-size head set but the FV set itself, C(heads, |FV set|) − 1 (tables without the count row)."""
    used = select(table, "fv", "fv_set")
    return float(math.comb(len(used), sum(pts[-1][1] > 0 for pts in used.values())) - 1) if used else 0.0


def _used(table: list[Row]) -> str:
    """The heads the probe used as the FV set at the last checkpoint."""
    return ", ".join(f"{l}.{h}" for (l, h), pts in sorted(select(table, "fv", "fv_set").items()) if pts[-1][1] > 0) or "none"


def _default_prompt_count() -> float:
    """Few-shot prompts per checkpoint under the default settings (for tables written before the count was a row)."""
    from circuits.data.tasks import default_suite
    from probes.measures.function_vectors import split_tasks

    return float(FVSettings().eval_prompts * len(split_tasks(default_suite())[1]))


def _yin_steinhardt_claims(f: dict, table: list[Row]) -> list[Claim]:
    """Yin & Steinhardt's two predictions, each with exclusion, each a margin on its own scale (YS_MIN_ACCURACY_GAP,
    YS_ICL_MIN_NATS) and beyond YS_NOISE_MULTIPLE standard errors: binomial over prompts for the accuracy, and over
    text sequences (paired) for the ICL score — that check is left out, and the sentence says so, for tables written
    before the standard error was a row (fv probe version < 5)."""
    note = ("exclusion removes the other ranking's top-n heads first (Yin & Steinhardt remove the top 2%, less than one "
            "head of 8)")
    found = [_fv_found(f), flag("an induction head (peak controlled score ≥ INDUCTION_THRESHOLD)", f["induction_onset"] is not None)]
    return [_ys_few_shot(table, found, note), _ys_icl(table, found, note)]


def _ys_few_shot(table: list[Row], found: list[Check], note: str) -> Claim:
    fv, ind = (final(table, f"ablate_{n}_excl/few_shot_accuracy") for n in ("fv", "induction"))
    n = final(table, "few_shot_prompts") or _default_prompt_count()
    se = ((fv * (1 - fv) + ind * (1 - ind)) / n) ** 0.5  # binomial standard error of the difference
    gap = ind - fv
    outcome = ("the prediction holds" if gap > YS_NOISE_MULTIPLE * se else "the opposite holds"
               if -gap > YS_NOISE_MULTIPLE * se else "not distinguishable at this sample size")
    checks = [*found, Check("accuracy with induction heads ablated − with FV heads ablated", gap, ">=", YS_MIN_ACCURACY_GAP),
              Check("that difference / its standard error", _ratio(gap, se), ">", YS_NOISE_MULTIPLE)]
    return make_claim("fv/yin_steinhardt_few_shot", "FV-head ablation hurts few-shot accuracy more than induction-head "
                      "ablation, each with exclusion (Yin & Steinhardt's prediction)", True, fv, ind,
                      f"10-shot accuracy {fmt(fv)} with FV heads ablated vs {fmt(ind)} with induction heads ablated "
                      f"(difference {fmt(gap)}, standard error {fmt(se)} over {n:.0f} prompts: {outcome}); {note}.", checks)


def _ys_icl(table: list[Row], found: list[Check], note: str) -> Claim:
    fv, ind = (final(table, f"ablate_{n}_excl/icl_score_change") for n in ("fv", "induction"))
    se, gap = final(table, "ablate_excl_difference/icl_score_change_se"), ind - fv
    checks = [*found, Check("ICL-score change with induction heads ablated − with FV heads ablated (nats)", gap, ">=",
                            YS_ICL_MIN_NATS)]
    if se is not None:
        checks.append(Check("that difference / its standard error over sequences", _ratio(gap, se), ">", YS_NOISE_MULTIPLE))
    noise = (f"standard error of the paired difference over text sequences {fmt(se)}" if se is not None else
             "no standard error in this table (written before the fv probe recorded it): margin only")
    return make_claim("fv/yin_steinhardt_icl", "induction-head ablation hurts the ICL score (token-loss difference) more "
                      "than FV-head ablation, each with exclusion", True, ind, fv,
                      f"ICL-score change {fmt(ind)} nats (induction heads ablated) vs {fmt(fv)} (FV heads), difference "
                      f"{fmt(gap)}; {noise}; positive = less in-context learning; {note}.", checks)


# ---- the claim family (fixtures in tests/nulls_fv.py) ---------------------------
def evaluate_claims(table: list[Row]) -> list[Claim]:
    return transition_analysis(table).claims


_NULL_RUNS = ("fv/untrained", "fv/one-layer")  # the init through the probes; the 1-layer control (no induction head)
_HISTORY = (*_NULL_RUNS, "fv/flat-final")  # … and the trained run's final values at every checkpoint (nothing forms)
register_claims(ClaimFamily("fv", evaluate_claims, claims=(
    ClaimSpec("fv/heads", ("fv/untrained",), "fv/trained"),  # a 1-layer model may well have FV heads
    ClaimSpec("fv/order", _HISTORY, "fv/trained"),
    ClaimSpec("fv/were_induction", (*_HISTORY, "fv/small-transition-table"), "fv/transition-table"),
    ClaimSpec("fv/signature", (*_HISTORY, "fv/small-transition-table"), "fv/transition-table"),
    ClaimSpec("fv/few_shot", ("fv/untrained",), "fv/trained"),
    ClaimSpec("fv/injection", _NULL_RUNS, "fv/trained"),  # one layer: no same-size head set outside the FV set
    ClaimSpec("fv/ablation", _NULL_RUNS, "fv/trained"),  # one layer: 3 other sets, rank p ≥ 1/4
    ClaimSpec("fv/yin_steinhardt_few_shot", _NULL_RUNS, "fv/trained-seed3"),
    ClaimSpec("fv/yin_steinhardt_icl", _NULL_RUNS, "fv/trained"),
)))

"""The induction → FV transition, per head, from the sweep table (Yin & Steinhardt 2025, arXiv 2502.14010; Todd et
al. 2024, arXiv 2310.15213), and the FV claims of a run.

Per head, with one relative criterion for both scores (`probes.metrics`):
  noise floor     induction: max(INDUCTION_NOISE_FLOOR, the largest |controlled score| at the first checkpoint);
                  AIE: max(FV_MIN_AIE, AIE_NOISE_MULTIPLE × the AIE's standard error at the last checkpoint)
  onset           first checkpoint where the score reaches floor + ONSET_FRACTION·(peak − floor), defined only when
                  the peak clears the floor
  FV head         final AIE ≥ its floor, among the top-n by final AIE
  was induction   peak controlled induction score ≥ INDUCTION_THRESHOLD *and* induction onset before AIE onset
  signature       after its induction peak the score falls ≥ max(SIGNATURE_MIN_DROP, floor) while AIE rises by more
                  than its floor (Yin & Steinhardt's heads that "start as induction heads")
The base rate of "was induction" for non-FV heads uses the FV heads' median AIE onset as their reference step.
"""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

import torch

from probes.claims import Claim, fmt, make_claim
from probes.findings import induction_noise_floor
from probes.function_vectors import FVSettings, fv_heads
from probes.metrics import (
    ABLATION_BEATS_RANDOM,
    AIE_NOISE_MULTIPLE,
    FEW_SHOT_MIN_GAIN,
    FV_INJECTION_MIN_GAIN,
    FV_MIN_AIE,
    INDUCTION_THRESHOLD,
    ONSET_FRACTION,
    SIGNATURE_MIN_DROP,
)
from probes.table import Row, select

Series = list[tuple[int, float]]


def onset(points: Series, floor: float) -> int | None:
    """First step at floor + ONSET_FRACTION·(peak − floor); None when the peak does not clear the floor."""
    peak = max(v for _, v in points)
    if peak <= floor:
        return None
    return next(s for s, v in points if v >= floor + ONSET_FRACTION * (peak - floor))


@dataclass(frozen=True)
class HeadHistory:
    induction_peak: float
    induction_final: float
    induction_onset: int | None
    aie_final: float
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
    return HeadHistory(peak, induction[-1][1], ind_onset, aie[-1][1], aie_floor, aie_onset, is_fv, first, signature)


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
    base = _base_rate(heads, statistics.median(fv_onsets) if fv_onsets else None)
    trajectories = {f"{l}.{h}": [(s, i, a) for (s, i), (_, a) in zip(induction[(l, h)], aie[(l, h)], strict=False)] for l, h in aie}
    facts = dict(heads=heads, fv_heads=fv, induction_floor=floor, induction_onset=min(ind_onsets, default=None),
                 fv_onset=min(fv_onsets, default=None), base_rate=base, trajectories=trajectories)
    return Transition(**facts, claims=transition_claims(facts, table))


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
    were = [h.induction_peak >= INDUCTION_THRESHOLD and h.induction_onset is not None and h.induction_onset < reference
            for h in others]
    return sum(were) / len(others)


def final(table: list[Row], metric: str, probe: str = "fv") -> float | None:
    points = select(table, probe, metric).get((None, None))
    return points[-1][1] if points else None


def transition_claims(f: dict, table: list[Row]) -> list[Claim]:
    claims = [_fv_heads_claim(f), _order_claim(f), _were_induction_claim(f), _signature_claim(f),
              _few_shot_claim(table), _injection_claim(table), _ablation_claim(table)]
    return claims + _yin_steinhardt_claims(table)


def _fv_heads_claim(f: dict) -> Claim:
    ranked = sorted(f["heads"].items(), key=lambda kv: -kv[1].aie_final)
    name, top = ranked[0]
    listed = ", ".join(f"{h} (AIE {fmt(f['heads'][h].aie_final)})" for h in f["fv_heads"]) or "none"
    return make_claim("fv/heads", "some heads carry the task (FV heads: final AIE above its noise floor)",
                      bool(f["fv_heads"]), top.aie_final, top.aie_floor,
                      f"best head {name}: AIE {fmt(top.aie_final)} (Δ P(yq), selection tasks) vs noise floor "
                      f"{fmt(top.aie_floor)}; FV heads: {listed}.")


def _order_claim(f: dict) -> Claim:
    a, b = f["induction_onset"], f["fv_onset"]
    ok = a is not None and b is not None and a < b
    gap = float(b - a) if a is not None and b is not None else float("nan")
    return make_claim("fv/order", "induction heads formed before FV heads", ok, gap, None,
                      f"earliest induction onset step {a} (a head with peak controlled score ≥ {INDUCTION_THRESHOLD}), "
                      f"earliest FV-head AIE onset step {b}: gap {fmt(gap)} steps (same onset criterion for both).")


def _were_induction_claim(f: dict) -> Claim:
    fv = [f["heads"][h] for h in f["fv_heads"]]
    first = sum(h.was_induction_first for h in fv)
    share = first / len(fv) if fv else float("nan")
    base = f["base_rate"]
    ok = bool(fv) and first > 0 and base is not None and share > base
    names = ", ".join(f"{h} (induction peak {fmt(f['heads'][h].induction_peak)}, onset {f['heads'][h].induction_onset}; "
                      f"AIE onset {f['heads'][h].aie_onset})" for h in f["fv_heads"]) or "no FV heads"
    return make_claim("fv/were_induction", "FV heads were induction heads before they became FV heads, more often "
                      "than other heads", ok, share, base,
                      f"{first} of {len(fv)} FV heads ({fmt(share)}) had an induction onset (peak ≥ {INDUCTION_THRESHOLD}) "
                      f"before their AIE onset, vs a base rate of {fmt(base)} among the other heads above layer 0 (before "
                      f"the FV heads' median AIE onset); {names}.")


def _signature_claim(f: dict) -> Claim:
    fv = list(f["fv_heads"])
    others = [h for h, v in f["heads"].items() if not v.is_fv and not h.startswith("0.")]
    share = sum(f["heads"][h].signature for h in fv) / len(fv) if fv else float("nan")
    base = sum(f["heads"][h].signature for h in others) / len(others) if others else 0.0
    shown = ", ".join(h for h, v in f["heads"].items() if v.signature) or "none"
    return make_claim("fv/signature", "FV heads show Yin & Steinhardt's signature (an induction head whose induction "
                      "score falls while its AIE rises), more often than other heads", bool(fv) and share > base,
                      share, base, f"{fmt(share)} of FV heads vs {fmt(base)} of the other heads above layer 0; heads "
                      f"with the signature: {shown}.")


def _few_shot_claim(table: list[Row]) -> Claim:
    few, zero = final(table, "few_shot_accuracy"), final(table, "zero_shot_accuracy")
    return make_claim("fv/few_shot", "the model infers the task from its demonstrations (10-shot ≫ zero-shot)",
                      few >= zero + FEW_SHOT_MIN_GAIN, few, zero,
                      f"10-shot accuracy {fmt(few)} vs zero-shot {fmt(zero)} on the test queries of the tasks not used to "
                      f"choose FV heads (all 32 tasks are trained on).")


def _injection_claim(table: list[Row]) -> Claim:
    value, none = final(table, "fv_zero_shot_accuracy"), final(table, "no_fv_zero_shot_accuracy")
    baselines = {"another task's FV": final(table, "other_task_fv_zero_shot_accuracy"),
                 "mean hidden state": final(table, "mean_hidden_zero_shot_accuracy"),
                 "random heads (best set)": final(table, "random_heads_fv_zero_shot_accuracy/max")}
    best = max(baselines.values())
    layer = int(final(table, "fv_best_layer"))
    shown = "; ".join(f"{k} {fmt(v)}" for k, v in baselines.items())
    return make_claim("fv/injection", "adding the FV of a task not used to choose the FV heads to its zero-shot prompts "
                      "recovers the task",
                      value >= none + FV_INJECTION_MIN_GAIN and value > best, value, best,
                      f"zero-shot accuracy {fmt(none)} → {fmt(value)} with the FV of heads {_used(table)} added after "
                      f"layer {layer} (chosen on "
                      f"validation queries; test queries reported); baselines: {shown}; random-head mean "
                      f"{fmt(final(table, 'random_heads_fv_zero_shot_accuracy/mean'))}; shuffled-label prompts "
                      f"{fmt(final(table, 'no_fv_shuffled_accuracy'))} → {fmt(final(table, 'fv_shuffled_accuracy'))}.")


def _ablation_claim(table: list[Row]) -> Claim:
    value, beats = final(table, "ablate_fv/few_shot_accuracy"), final(table, "ablate_fv/beats_random", "fv_controls")
    control = final(table, "ablate_random/few_shot_accuracy/mean", "fv_controls")
    lo, hi = (final(table, f"ablate_random/few_shot_accuracy/{s}", "fv_controls") for s in ("min", "max"))
    return make_claim("fv/ablation", "ablating the FV heads hurts few-shot accuracy more than ablating random heads",
                      beats is not None and beats >= ABLATION_BEATS_RANDOM, value, control,
                      f"10-shot accuracy {fmt(final(table, 'few_shot_accuracy'))} → {fmt(value)} with FV heads "
                      f"{_used(table)} mean-ablated vs {fmt(control)} [{fmt(lo)}–{fmt(hi)}] over every same-size head set (it hurts "
                      f"more than {fmt(beats)} of them; the top induction heads: "
                      f"{fmt(final(table, 'ablate_induction/few_shot_accuracy'))}).")


def _used(table: list[Row]) -> str:
    """The heads the probe used as the FV set at the last checkpoint."""
    return ", ".join(f"{l}.{h}" for (l, h), pts in sorted(select(table, "fv", "fv_set").items()) if pts[-1][1] > 0) or "none"


def _default_prompt_count() -> float:
    """Few-shot prompts per checkpoint under the default settings (for tables written before the count was a row)."""
    from circuits.tasks import default_suite
    from probes.function_vectors import split_tasks

    return float(FVSettings().eval_prompts * len(split_tasks(default_suite())[1]))


def _yin_steinhardt_claims(table: list[Row]) -> list[Claim]:
    fv, ind = (final(table, f"ablate_{n}_excl/few_shot_accuracy") for n in ("fv", "induction"))
    fv_icl, ind_icl = (final(table, f"ablate_{n}_excl/icl_score_change") for n in ("fv", "induction"))
    n = final(table, "few_shot_prompts") or _default_prompt_count()
    two_se = 2 * ((fv * (1 - fv) + ind * (1 - ind)) / n) ** 0.5  # binomial standard error of the difference
    outcome = ("the prediction holds" if ind - fv > two_se else "the opposite holds" if fv - ind > two_se
               else "not distinguishable at this sample size")
    note = ("exclusion removes the other ranking's top-n heads first (Yin & Steinhardt remove the top 2%, less than one "
            "head of 8)")
    return [
        make_claim("fv/yin_steinhardt_few_shot", "FV-head ablation hurts few-shot accuracy more than induction-head "
                   "ablation, each with exclusion (Yin & Steinhardt's prediction)", ind - fv > two_se, fv, ind,
                   f"10-shot accuracy {fmt(fv)} with FV heads ablated vs {fmt(ind)} with induction heads ablated "
                   f"(difference {fmt(ind - fv)}, 2 standard errors {fmt(two_se)} over {n:.0f} prompts: {outcome}); {note}."),
        make_claim("fv/yin_steinhardt_icl", "induction-head ablation hurts the ICL score (token-loss difference) more "
                   "than FV-head ablation, each with exclusion", ind_icl > fv_icl, ind_icl, fv_icl,
                   f"ICL-score change {fmt(ind_icl)} nats (induction heads ablated) vs {fmt(fv_icl)} (FV heads); "
                   f"positive = less in-context learning; {note}."),
    ]

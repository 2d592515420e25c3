"""The headline facts of an induction run, as claims computed from the sweep table (Olsson et al. 2022, arXiv
2209.11895): which heads are induction heads (content-controlled score), whether and when they formed, which
previous-token head feeds them, and what ablating them costs next to same-size random head sets. The report, the
seed summary and the science tests all read these, so the numbers in a sentence are the numbers the tests check.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from probes.claims import Claim, fmt, label, make_claim
from probes.icl import PhaseChange, locate_phase_change
from probes.metrics import (
    ABLATION_BEATS_RANDOM,
    ABLATION_MIN_NATS,
    ICL_SCORE_THRESHOLD,
    INDUCTION_NOISE_FLOOR,
    INDUCTION_THRESHOLD,
    K_COMPOSITION_RATIO,
    PREVIOUS_TOKEN_THRESHOLD,
)
from probes.table import Row, select

Head = tuple[int, int]


def final_scores(table: list[Row], probe: str, metric: str) -> dict[tuple, float]:
    return {key: points[-1][1] for key, points in select(table, probe, metric).items()}


def induction_noise_floor(induction: dict[tuple, list[tuple[int, float]]]) -> float:
    """The controlled induction score's noise floor: the largest |score| of any head at the first checkpoint (no
    content circuit exists yet), and never below INDUCTION_NOISE_FLOOR."""
    return max(INDUCTION_NOISE_FLOOR, max(abs(points[0][1]) for points in induction.values()))


def first_crossing(points: list[tuple[int, float]], threshold: float) -> int | None:
    return next((step for step, value in points if value >= threshold), None)


@dataclass(frozen=True)
class Findings:
    top_induction_head: Head
    induction_heads: list[Head]  # controlled score ≥ threshold at the last checkpoint, best first
    induction_scores: dict[str, float]  # final controlled score, "L.H" -> score
    raw_scores: dict[str, float]  # final raw score
    control_scores: dict[str, float]  # final content control
    crossing_step: int | None  # first checkpoint where the top head's controlled score ≥ threshold
    induction_change: PhaseChange  # the top head's controlled induction score
    icl_change: PhaseChange  # the ICL score
    previous_token_head: Head | None  # the layer-below head that K-composes most with the top induction head
    previous_token_score: float | None
    k_composition: float | None
    k_composition_baseline: float | None  # None when the weights probe does not apply (not one of our models)
    ablation: dict[str, dict[str, float]]  # "L.H" -> {kind/metric: Δ} at the last checkpoint
    set_ablation: dict[str, float]  # mean-ablating all flagged induction heads together
    random_set_ablation: list[float]  # Δ repeat loss of every other same-size head set (the control)
    clean: dict[str, float]  # clean loss / ICL score / repeat loss at the last checkpoint
    icl_start: float  # the ICL score at the first checkpoint
    native: bool  # one of our runs (held-out periods, training text, first checkpoint at initialisation)
    claims: list[Claim]

    def to_dict(self) -> dict:
        return asdict(self)


def _partner(table: list[Row], top: Head) -> tuple[Head | None, float | None, float | None]:
    """The sender in a lower layer whose K-composition into `top` is largest, with its previous-token score."""
    last = table[-1]["step"]
    rows = [r for r in table if r["probe"] == "weights" and r["metric"].startswith("k_composition/from/")
            and (r["layer"], r["head"]) == top and r["step"] == last]
    if not rows:
        return None, None, None
    best = max(rows, key=lambda r: r["value"])
    sender = tuple(int(x) for x in best["metric"].rsplit("/", 1)[1].split("."))
    return sender, final_scores(table, "attention", "previous_token")[sender], best["value"]


def _ablation_table(table: list[Row]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for metric in sorted({r["metric"] for r in table if r["probe"] == "ablation"}):
        for head, value in final_scores(table, "ablation", metric).items():
            out.setdefault(label(head), {})[metric] = value
    return out


def compute_findings(table: list[Row], native: bool = True) -> Findings:
    """Facts from the sweep table (no model is run: the joint ablation comes from the `induction_controls` probe).

    `native`: a run of ours, whose first checkpoint is the initialisation (its largest |score| is the induction noise
    floor) and whose probes use held-out repeat periods and training text. Otherwise (a Hugging Face series, which
    may start at a trained revision) the floor is INDUCTION_NOISE_FLOOR and the sentences name the [BOS, r, r]
    probes instead."""
    induction = select(table, "attention", "induction")
    final = {head: points[-1][1] for head, points in induction.items()}
    top = max(final, key=final.get)
    flagged = sorted((h for h, v in final.items() if v >= INDUCTION_THRESHOLD), key=lambda h: -final[h])
    steps = [s for s, _ in induction[top]]
    icl = [v for _, v in select(table, "icl", "icl_score")[(None, None)]]
    partner, prev, kcomp = _partner(table, top)
    _, joint, random_sets = _set_ablations(table)
    facts = dict(
        top_induction_head=top, induction_heads=flagged, induction_scores={label(h): v for h, v in final.items()},
        raw_scores={label(h): v for h, v in final_scores(table, "attention", "induction/raw").items()},
        control_scores={label(h): v for h, v in final_scores(table, "attention", "induction/control").items()},
        crossing_step=first_crossing(induction[top], INDUCTION_THRESHOLD),
        induction_change=locate_phase_change(steps, [v for _, v in induction[top]],
                                             noise=induction_noise_floor(induction) if native else INDUCTION_NOISE_FLOOR),
        icl_change=locate_phase_change(steps, icl), previous_token_head=partner, previous_token_score=prev,
        k_composition=kcomp,
        k_composition_baseline=final_scores(table, "weights", "k_composition/random_baseline").get((None, None)),
        ablation=_ablation_table(table), set_ablation=joint, random_set_ablation=random_sets,
        clean={m: final_scores(table, "icl", m)[(None, None)] for m in ("loss", "icl_score", "repeat_loss")},
        icl_start=icl[0], native=native,
    )
    return Findings(**facts, claims=induction_claims(facts))


def _set_ablations(table: list[Row]) -> tuple[list[Head], dict[str, float], list[float]]:
    """The ablated induction heads, their joint mean ablation and every other same-size head set's Δ repeat loss,
    as the `induction_controls` probe put them in the table (last checkpoint; empty when it did not run)."""
    rows = [r for r in table if r["probe"] == "induction_controls"]
    heads = [(r["layer"], r["head"]) for r in rows if r["metric"] == "in_set" and r["value"] == 1.0]
    joint = {r["metric"].split("/", 1)[1]: r["value"] for r in rows if r["metric"].startswith("set/")}
    others = [r["value"] for r in rows if r["metric"].startswith("random_set/")]
    return heads, joint, others


def induction_claims(f: dict) -> list[Claim]:
    """The run's claims, each beside its control (see `probes.claims`)."""
    claims = [_head_claim(f), _phase_claim(f), _icl_claim(f)]
    if f["previous_token_head"] is not None:
        claims.append(_partner_claim(f))
    if f["set_ablation"]:
        claims.append(_ablation_claim(f))
    return claims


def _head_claim(f: dict) -> Claim:
    top = label(f["top_induction_head"])
    value, raw, control = f["induction_scores"][top], f["raw_scores"][top], f["control_scores"][top]
    heads = ", ".join(f"{label(h)} ({fmt(f['induction_scores'][label(h)])})" for h in f["induction_heads"]) or "none"
    return make_claim(
        "induction/head", f"a head becomes an induction head (content-controlled score ≥ {INDUCTION_THRESHOLD})",
        value >= INDUCTION_THRESHOLD, value, control,
        f"best head {top}: controlled induction score {fmt(value)} on {_repeats(f)} (raw {fmt(raw)} − "
        f"content control {fmt(control)}); flagged heads: {heads}.")


def _phase_claim(f: dict) -> Claim:
    c: PhaseChange = f["induction_change"]
    top = label(f["top_induction_head"])
    where = (f"between steps {c.start} and {c.end} (fastest {c.steepest[0]}–{c.steepest[1]})" if c.detected
             else f"no transition located ({c.reason})")
    return make_claim(
        "induction/phase_change", "the top head's induction score changes in a sudden transition",
        c.detected and f["crossing_step"] is not None, c.change, c.noise,
        f"head {top}'s controlled score moves {fmt(c.before)} → {fmt(c.after)} (change {fmt(c.change)}, noise floor "
        f"{fmt(c.noise)}) {where}; first ≥ {INDUCTION_THRESHOLD} at step {f['crossing_step']}.")


def _icl_claim(f: dict) -> Claim:
    value, start, c = f["clean"]["icl_score"], f["icl_start"], f["icl_change"]
    window = f"; the change is located between steps {c.start} and {c.end}" if c.detected else f"; no transition located ({c.reason})"
    return make_claim(
        "icl/uses_context", f"the model uses its context (ICL score ≤ {ICL_SCORE_THRESHOLD} nats)",
        value <= ICL_SCORE_THRESHOLD, value, start,
        f"ICL score on {'training text' if f['native'] else _repeats(f) + ' (no natural text is shipped: a copy score)'} "
        f"(loss at 90% − loss at 10% of the context, ±2-token windows; negative ⇒ uses context) {fmt(value)} nats at the last "
        f"checkpoint vs {fmt(start)} at the first{window}.")


def _repeats(f: dict) -> str:
    return "held-out repeat periods" if f["native"] else "[BOS, r, r] probes of random tokens in the model's vocabulary"


def _partner_claim(f: dict) -> Claim:
    value, base, prev = f["k_composition"], f["k_composition_baseline"], f["previous_token_score"]
    ok = prev >= PREVIOUS_TOKEN_THRESHOLD and value >= K_COMPOSITION_RATIO * base
    return make_claim(
        "circuit/previous_token_partner",
        "a previous-token head in a lower layer K-composes with the top induction head",
        ok, value, base,
        f"head {label(f['previous_token_head'])} (previous-token score {fmt(prev)}, threshold "
        f"{PREVIOUS_TOKEN_THRESHOLD}) K-composes with {label(f['top_induction_head'])} at {fmt(value)} vs "
        f"{fmt(base)} for random matrices (needs ≥ {K_COMPOSITION_RATIO}×).")


def _ablation_claim(f: dict) -> Claim:
    value, others = f["set_ablation"]["repeat_loss"], f["random_set_ablation"]
    control = float(torch.tensor(others).median()) if others else 0.0
    beaten = sum(value > o for o in others) / len(others) if others else 1.0
    clean = f["clean"]["icl_score"]
    share = f["set_ablation"]["icl_score"] / -clean if clean < 0 else float("nan")
    return make_claim(
        "ablation/induction_heads",
        f"mean-ablating the induction heads together breaks induction (Δ repeat loss ≥ {ABLATION_MIN_NATS} nats, "
        f"more than {ABLATION_BEATS_RANDOM:.0%} of the other same-size head sets)",
        value >= ABLATION_MIN_NATS and beaten >= ABLATION_BEATS_RANDOM, value, control,
        f"ablating {len(f['induction_heads'])} head(s) raises the repeat loss on {_repeats(f)} by {fmt(value)} nats vs a median "
        f"{fmt(control)} for the {len(others)} other same-size head sets (larger than {beaten:.0%} of them) and "
        f"removes {share:.0%} of the ICL score.")


def summary_lines(f: Findings) -> list[str]:
    """The report's text summary: one computed sentence per claim."""
    return [claim.sentence for claim in f.claims]

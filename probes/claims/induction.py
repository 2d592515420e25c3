"""The headline facts of an induction run, as claims computed from the sweep table (Olsson et al. 2022, arXiv
2209.11895): which heads are induction heads (content-controlled score), whether and when they formed, whether the
model uses its context beyond a bag of earlier tokens, which previous-token head feeds them, and what ablating them
costs next to same-size head sets outside their circuit. The report, the seed summary and the science tests all read
these, so the numbers in a sentence are the numbers the tests check. Every condition of a claim is a `Check`.

The rules, stated:
* `icl/uses_context` — *context use beyond a bag of tokens*: the ICL score ≤ ICL_SCORE_THRESHOLD (Olsson's −0.4
  nats) AND the loss at 90% of the context ≥ ICL_MIN_GAIN_OVER_BAG nats below that of the best bag-of-context
  predictor on the same batch (`probes.measures.icl.bag_of_context_losses`). Deviation from Olsson, stated: their −0.4 is for
  512-token natural text; on our repeated-token text the 1-layer control scores −1.54 and a uniform-attention copying
  head −0.6 to −1.7, all of which an order-free counter matches; only order (induction) beats it.
* `induction/phase_change` — every criterion of `probes.claims.phase_change.locate_phase_change` on the top head's controlled score,
  which must *rise* (direction +1: a score falling from a trained revision is no formation) by ≥
  PHASE_MIN_SCORE_CHANGE (absolute) and plateau afterwards.
* `ablation/induction_heads` — the flagged heads' joint mean ablation raises the held-out repeat loss ≥
  ABLATION_MIN_NATS, and an exact rank test against every same-size head set outside the circuit (the flagged heads
  and their previous-token partners, `probes.measures.induction_controls`) gives p = (1 + sets hurting at least as much) /
  (n + 1) ≤ ABLATION_RANK_P. No flagged heads, no comparison sets, or too few sets for p to reach the threshold give
  "not supported" (the sentence says the count allows no verdict), never a silent omission.
* `circuit/previous_token_partner` is not stated on a run whose clamp cuts K-composition into the top head's layer
  (`block_k_composition`, circuits.model.clamp); `Findings.notes` says so. It is conditioned on an induction head existing
  (the top head's controlled induction score ≥ INDUCTION_THRESHOLD: a partner of no induction head is no circuit).
  Deviation, stated: the best of the lower layer's senders is compared with the weights probe's single random-matrix
  baseline (`k_composition/random_baseline`, the *mean* K-composition of random Gaussian weights), not with the best
  of as many random baselines as there are senders — the probe writes only that one value, so a max over n senders
  meets a mean and the ratio is biased upwards; K_COMPOSITION_RATIO (1.5×) is the margin that has to absorb it.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from circuits.model.clamp import Clamp
from probes.claims.claim import Check, Claim, ClaimFamily, ClaimSpec, flag, fmt, label, make_claim, register_claims
from probes.claims.phase_change import PhaseChange, locate_phase_change, phase_checks
from probes.claims.thresholds import (
    ABLATION_MIN_NATS,
    ABLATION_RANK_P,
    ICL_MIN_GAIN_OVER_BAG,
    ICL_SCORE_THRESHOLD,
    INDUCTION_NOISE_FLOOR,
    INDUCTION_THRESHOLD,
    K_COMPOSITION_RATIO,
    PHASE_MIN_LOSS_SHARE,
    PHASE_MIN_SCORE_CHANGE,
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
    random_set_ablation: list[float]  # Δ repeat loss of every same-size head set outside the circuit (the control)
    clean: dict[str, float]  # clean loss / ICL score / repeat loss at the last checkpoint
    icl_start: float  # the ICL score at the first checkpoint
    native: bool  # one of our runs (held-out periods, training text, first checkpoint at initialisation)
    claims: list[Claim]
    context: dict[str, float | None] = field(default_factory=dict)  # late loss, the bag-of-context baseline's
    controls_ran: bool = False  # the induction_controls probe has rows
    ablated_heads: list[Head] = field(default_factory=list)  # the probe's in_set heads
    partners: list[Head] = field(default_factory=list)  # previous-token partners left out of the comparison sets
    notes: list[str] = field(default_factory=list)  # claims not stated, and why (e.g. a clamp cuts their path)

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


def compute_findings(table: list[Row], native: bool = True, clamps: Sequence[Clamp] = ()) -> Findings:
    """Facts from the sweep table (no model is run: the joint ablation comes from the `induction_controls` probe).

    `native`: a run of ours, whose first checkpoint is the initialisation (its largest |score| is the induction noise
    floor) and whose probes use held-out repeat periods and training text. Otherwise (a Hugging Face series, which
    may start at a trained revision) the floor is INDUCTION_NOISE_FLOOR and the sentences name the [BOS, r, r]
    probes instead. `clamps`: the run's clamps (`RunConfig.clamps`, passed by the report): a claim whose path one of
    them cuts is not stated (a note says why)."""
    induction = select(table, "attention", "induction")
    final = {head: points[-1][1] for head, points in induction.items()}
    top = max(final, key=final.get)
    steps, icl = [s for s, _ in induction[top]], [v for _, v in select(table, "icl", "icl_score")[(None, None)]]
    partner, prev, kcomp = _partner(table, top)
    controls = _set_ablations(table)
    facts = dict(
        top_induction_head=top, induction_heads=sorted((h for h, v in final.items() if v >= INDUCTION_THRESHOLD),
                                                       key=lambda h: -final[h]),
        induction_scores={label(h): v for h, v in final.items()},
        raw_scores={label(h): v for h, v in final_scores(table, "attention", "induction/raw").items()},
        control_scores={label(h): v for h, v in final_scores(table, "attention", "induction/control").items()},
        crossing_step=first_crossing(induction[top], INDUCTION_THRESHOLD),
        induction_change=locate_phase_change(steps, [v for _, v in induction[top]], min_change=PHASE_MIN_SCORE_CHANGE,
                                             direction=+1,
                                             noise=induction_noise_floor(induction) if native else INDUCTION_NOISE_FLOOR),
        icl_change=_icl_change(table, steps, icl), previous_token_head=partner, previous_token_score=prev,
        k_composition=kcomp,
        k_composition_baseline=final_scores(table, "weights", "k_composition/random_baseline").get((None, None)),
        ablation=_ablation_table(table), clean={m: final_scores(table, "icl", m)[(None, None)]
                                                for m in ("loss", "icl_score", "repeat_loss")},
        icl_start=icl[0], native=native, context=_context(table), notes=_cut_paths(clamps, top, steps[-1]), **controls,
    )
    return Findings(**facts, claims=induction_claims(facts))


def _model_value(table: list[Row], probe: str, metric: str) -> float | None:
    return final_scores(table, probe, metric).get((None, None))


def _icl_change(table: list[Row], steps: list[int], icl: list[float]) -> PhaseChange:
    """The ICL score's transition: a loss difference, on the scale ln(d_vocab) (the `chance_loss` row), with the
    largest bootstrap standard error over checkpoints as its noise floor (`icl_score/se`)."""
    chance = _model_value(table, "icl", "chance_loss")
    se = [v for _, v in select(table, "icl", "icl_score/se").get((None, None), [])]
    noise = float("nan") if any(not math.isfinite(v) for v in se) else max(se, default=None)  # max() drops a NaN
    return locate_phase_change(steps, icl, noise=noise, scale=chance or float("nan"),
                               min_change=PHASE_MIN_LOSS_SHARE)


def _context(table: list[Row]) -> dict[str, float | None]:
    """The last checkpoint's late-position loss beside the bag-of-context baseline's (None for an old table)."""
    return {"late_loss": _model_value(table, "icl", "late_loss"), "bag_late_loss": _model_value(table, "icl", "bag/late_loss"),
            "bag_icl_score": _model_value(table, "icl", "bag/icl_score")}


def _cut_paths(clamps: Sequence[Clamp], top: Head, last_step: int) -> list[str]:
    """Notes for the claims a clamp makes meaningless: K-composition blocked into the top induction head's layer."""
    return [f"circuit/previous_token_partner is not stated: this run's clamp {c.kind} on layer {c.layer} (from step "
            f"{c.start_step}) computes that layer's keys from the embeddings, so no lower head can K-compose with "
            f"head {label(top)}." for c in clamps
            if c.kind == "block_k_composition" and c.layer == top[0] and c.start_step <= last_step]


def _set_ablations(table: list[Row]) -> dict:
    """What the `induction_controls` probe put in the table (last checkpoint): whether it ran, the ablated heads and
    their excluded partners, their joint mean ablation and every comparison set's Δ repeat loss."""
    rows = [r for r in table if r["probe"] == "induction_controls"]
    heads = lambda metric: [(r["layer"], r["head"]) for r in rows if r["metric"] == metric and r["value"] == 1.0]  # noqa: E731
    return {"controls_ran": bool(rows), "ablated_heads": heads("in_set"), "partners": heads("partner"),
            "set_ablation": {r["metric"].split("/", 1)[1]: r["value"] for r in rows if r["metric"].startswith("set/")},
            "random_set_ablation": [r["value"] for r in rows if r["metric"].startswith("random_set/")]}


def induction_claims(f: dict) -> list[Claim]:
    """The run's claims, each beside its control (see `probes.claims.claim`). The partner claim needs the weights probe
    (one of our models, unclamped) and is withheld when a clamp cuts its path."""
    claims = [_head_claim(f), _phase_claim(f), _icl_claim(f)]
    if f["previous_token_head"] is not None and not f["notes"]:
        claims.append(_partner_claim(f))
    return claims + [_ablation_claim(f)]


def _head_claim(f: dict) -> Claim:
    top = label(f["top_induction_head"])
    value, raw, control = f["induction_scores"][top], f["raw_scores"][top], f["control_scores"][top]
    heads = ", ".join(f"{label(h)} ({fmt(f['induction_scores'][label(h)])})" for h in f["induction_heads"]) or "none"
    return make_claim(
        "induction/head", f"a head becomes an induction head (content-controlled score ≥ {INDUCTION_THRESHOLD})",
        True, value, control,
        f"best head {top}: controlled induction score {fmt(value)} on {_repeats(f)} (raw {fmt(raw)} − "
        f"content control {fmt(control)}); flagged heads: {heads}.",
        [Check("controlled induction score", value, ">=", INDUCTION_THRESHOLD)])


def _phase_claim(f: dict) -> Claim:
    c: PhaseChange = f["induction_change"]
    top = label(f["top_induction_head"])
    where = (f"between steps {c.start} and {c.end} (fastest {c.steepest[0]}–{c.steepest[1]})" if c.detected
             else f"no transition located ({c.reason})")
    return make_claim(
        "induction/phase_change", "the top head's induction score changes in a sudden transition",
        True, c.change, c.noise,
        f"head {top}'s controlled score moves {fmt(c.before)} → {fmt(c.after)} (change {fmt(c.change)}, noise floor "
        f"{fmt(c.noise)}) {where}; first ≥ {INDUCTION_THRESHOLD} at step {f['crossing_step']}.",
        [*phase_checks(c), flag(f"crosses {INDUCTION_THRESHOLD}", f["crossing_step"] is not None)])


def _icl_claim(f: dict) -> Claim:
    value, start, c, ctx = f["clean"]["icl_score"], f["icl_start"], f["icl_change"], f["context"]
    late, bag = ctx.get("late_loss"), ctx.get("bag_late_loss")
    gap = late - bag if late is not None and bag is not None else float("nan")
    window = f"; the change is located between steps {c.start} and {c.end}" if c.detected else f"; no transition located ({c.reason})"
    baseline = (f"loss at 90% of the context {fmt(late)} nats vs {fmt(bag)} for the best bag-of-context predictor "
                f"(ICL score {fmt(ctx.get('bag_icl_score'))})" if not math.isnan(gap)
                else "no bag-of-context baseline in the table (re-run the icl probe)")
    return make_claim(
        "icl/uses_context", f"the model uses its context beyond a bag of earlier tokens (ICL score ≤ "
        f"{ICL_SCORE_THRESHOLD} nats, and its loss late in the context ≥ {ICL_MIN_GAIN_OVER_BAG} nats below an "
        f"order-free bag-of-context predictor's)", True, value, ctx.get("bag_icl_score"),
        f"ICL score on {'training text' if f['native'] else _repeats(f) + ' (no natural text is shipped: a copy score)'} "
        f"(loss at 90% − loss at 10% of the context, ±2-token windows; negative ⇒ uses context) {fmt(value)} nats at the last "
        f"checkpoint vs {fmt(start)} at the first; {baseline}{window}.",
        [Check("ICL score", value, "<=", ICL_SCORE_THRESHOLD),
         Check("late loss − bag-of-context late loss", gap, "<=", -ICL_MIN_GAIN_OVER_BAG)])


def _repeats(f: dict) -> str:
    return "held-out repeat periods" if f["native"] else "[BOS, r, r] probes of random tokens in the model's vocabulary"


def _partner_claim(f: dict) -> Claim:
    value, base, prev = f["k_composition"], f["k_composition_baseline"], f["previous_token_score"]
    return make_claim(
        "circuit/previous_token_partner",
        "a previous-token head in a lower layer K-composes with the top induction head",
        True, value, base,
        f"head {label(f['previous_token_head'])} (previous-token score {fmt(prev)}, threshold "
        f"{PREVIOUS_TOKEN_THRESHOLD}) K-composes with {label(f['top_induction_head'])} (controlled induction score "
        f"{fmt(f['induction_scores'][label(f['top_induction_head'])])}, an induction head needs ≥ {INDUCTION_THRESHOLD}) "
        f"at {fmt(value)} vs {fmt(base)} for random matrices (the mean of random Gaussian weights, not the best of as "
        f"many as there are senders; needs ≥ {K_COMPOSITION_RATIO}×).",
        [Check("top head's controlled induction score", f["induction_scores"][label(f["top_induction_head"])], ">=",
               INDUCTION_THRESHOLD),
         Check("previous-token score", prev, ">=", PREVIOUS_TOKEN_THRESHOLD),
         Check("K-composition / random baseline", value / base if base else float("nan"), ">=", K_COMPOSITION_RATIO)])


def rank_p(value: float, others: list[float]) -> tuple[int, float]:
    """Exact rank test of one statistic against n comparison values: (k, p) with k = 1 + #{others ≥ value} and
    p = k / (n + 1), the chance of ranking this high if every set were exchangeable (NaN with n = 0)."""
    k = 1 + sum(o >= value for o in others)
    return k, k / (len(others) + 1) if others else float("nan")


def _ablation_claim(f: dict) -> Claim:
    value, others = f["set_ablation"].get("repeat_loss", float("nan")), f["random_set_ablation"]
    heads = f["ablated_heads"] if f["controls_ran"] else f["induction_heads"]
    k, p = rank_p(value, others)
    clean = f["clean"]["icl_score"]
    share = f["set_ablation"].get("icl_score", float("nan")) / -clean if clean < 0 else float("nan")
    excluded = ", ".join(label(h) for h in f["partners"]) or "none"
    return make_claim(
        "ablation/induction_heads",
        f"mean-ablating the induction heads together breaks induction (Δ repeat loss ≥ {ABLATION_MIN_NATS} nats, "
        f"exact rank test against the same-size head sets outside their circuit p ≤ {ABLATION_RANK_P})",
        True, value, statistics.median(others) if others else None, _ablation_detail(f, heads, value, others, k, p)
        + f"; previous-token partner(s) {excluded} left out of the comparison sets"
        + (f"; it removes {share:.0%} of the ICL score." if math.isfinite(share) else "."),
        [flag("the induction_controls probe ran", f["controls_ran"]), flag("flagged induction heads", bool(heads)),
         flag("comparison sets exist", bool(others)),
         Check("Δ repeat loss (nats)", value, ">=", ABLATION_MIN_NATS), Check("rank-test p", p, "<=", ABLATION_RANK_P)])


def _ablation_detail(f: dict, heads: list[Head], value: float, others: list[float], k: int, p: float) -> str:
    """The ablation sentence's numbers, or why there are none (no heads, no comparison sets, too few for a verdict)."""
    if not f["controls_ran"]:
        return "the induction_controls probe did not run on this table"
    if not heads:
        return f"no head reaches the controlled induction score {INDUCTION_THRESHOLD}, so there is nothing to ablate"
    n, names = len(others), ", ".join(label(h) for h in heads)
    if not n:
        return f"ablating {names} raises the repeat loss by {fmt(value)} nats, but no same-size head set is left outside the circuit to compare with"
    text = (f"ablating {names} raises the repeat loss on {_repeats(f)} by {fmt(value)} nats vs a median "
            f"{fmt(statistics.median(others))} for the {n} same-size head sets outside the circuit (rank {k} of {n + 1}: "
            f"p = {k}/{n + 1} = {p:.3f})")
    if 1 / (n + 1) > ABLATION_RANK_P:
        text += (f"; too few comparison sets for a verdict: the least attainable p is 1/{n + 1} = {1 / (n + 1):.3f} > "
                 f"{ABLATION_RANK_P} (descriptive only)")
    return text


def summary_lines(f: Findings) -> list[str]:
    """The report's text summary: one computed sentence per claim, then the notes on claims not stated."""
    return [claim.sentence for claim in f.claims] + list(f.notes)


@dataclass(frozen=True)
class InductionEvidence:
    """What the induction claims are computed from: a run's sweep table, whether it is one of ours, its clamps."""

    table: list[Row]
    native: bool = True
    clamps: tuple[Clamp, ...] = ()


def evaluate(evidence: InductionEvidence) -> list[Claim]:
    return compute_findings(evidence.table, evidence.native, evidence.clamps).claims


_NULLS = ("induction/untrained", "induction/untrained-planted-partner", "induction/random-tokens",
          "induction/positional-impostor", "induction/bag-of-context", "induction/no-k-comp")
INDUCTION_FAMILY = register_claims(ClaimFamily("induction", evaluate, claims=tuple(
    ClaimSpec(key, _NULLS, "induction/handbuilt-circuit") for key in (
        "induction/head", "induction/phase_change", "icl/uses_context", "circuit/previous_token_partner",
        "ablation/induction_heads"))))

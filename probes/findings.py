"""The headline facts of a sweep, computed from the tidy table: which heads are induction heads, when they formed,
which previous-token head feeds them, and what ablating them costs. The report's text and the science tests both
read these, so the numbers in the summary are the numbers the tests check.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


from circuits.model import FastTransformer
from circuits.store import RunStore
from probes.ablation import ablation_effects, head_set_mask
from probes.icl import PhaseChange, locate_phase_change
from probes.suite import ProbeInputs, Row
from probes.sweep import select

INDUCTION_THRESHOLD = 0.5  # an "induction head": induction score ≥ this on held-out periods
PREVIOUS_TOKEN_THRESHOLD = 0.4
Head = tuple[int, int]


def final_scores(table: list[Row], probe: str, metric: str) -> dict[tuple, float]:
    return {key: points[-1][1] for key, points in select(table, probe, metric).items()}


def first_crossing(points: list[tuple[int, float]], threshold: float) -> int | None:
    return next((step for step, value in points if value >= threshold), None)


@dataclass(frozen=True)
class Findings:
    top_induction_head: Head
    induction_heads: list[Head]  # flagged at the last checkpoint, best first
    induction_scores: dict[str, float]  # final, "L.H" -> score
    crossing_step: int | None  # first checkpoint where the top head's induction score ≥ threshold
    induction_change: PhaseChange  # window of the top head's induction score
    icl_change: PhaseChange  # window of the ICL score
    previous_token_head: Head | None  # the layer-below head that K-composes most with the top induction head
    previous_token_score: float | None
    k_composition: float | None
    k_composition_baseline: float
    ablation: dict[str, dict[str, float]]  # "L.H" -> {kind/metric: Δ} at the last checkpoint
    set_ablation: dict[str, float]  # mean-ablating all flagged induction heads together
    clean: dict[str, float]  # clean loss / ICL score / repeat loss at the last checkpoint

    def to_dict(self) -> dict:
        return asdict(self)


def _label(head: Head) -> str:
    return f"{head[0]}.{head[1]}"


def _partner(table: list[Row], top: Head) -> tuple[Head | None, float | None, float | None]:
    """The sender in a lower layer whose K-composition into `top` is largest, with its previous-token score."""
    if top[0] == 0:
        return None, None, None
    rows = [r for r in table if r["probe"] == "weights" and r["metric"].startswith("k_composition/from/")
            and (r["layer"], r["head"]) == top and r["step"] == table[-1]["step"]]
    best = max(rows, key=lambda r: r["value"])
    sender = tuple(int(x) for x in best["metric"].rsplit("/", 1)[1].split("."))
    prev = final_scores(table, "attention", "previous_token")[sender]
    return sender, prev, best["value"]


def compute_findings(table: list[Row], store: RunStore | None = None) -> Findings:
    """Facts from the sweep table; with `store`, also the joint ablation of all induction heads (one forward)."""
    induction = select(table, "attention", "induction")
    final = {head: points[-1][1] for head, points in induction.items()}
    top = max(final, key=final.get)
    flagged = sorted((h for h, v in final.items() if v >= INDUCTION_THRESHOLD), key=lambda h: -final[h])
    steps = [s for s, _ in induction[top]]
    icl = [v for _, v in select(table, "icl", "icl_score")[(None, None)]]
    partner, prev, kcomp = _partner(table, top)
    baseline = final_scores(table, "weights", "k_composition/random_baseline")[(None, None)]
    ablation: dict[str, dict[str, float]] = {}
    for metric in {r["metric"] for r in table if r["probe"] == "ablation"}:
        for head, value in final_scores(table, "ablation", metric).items():
            ablation.setdefault(_label(head), {})[metric] = value
    clean = {m: final_scores(table, "icl", m)[(None, None)] for m in ("loss", "icl_score", "repeat_loss")}
    return Findings(
        top_induction_head=top, induction_heads=flagged, induction_scores={_label(h): v for h, v in final.items()},
        crossing_step=first_crossing(induction[top], INDUCTION_THRESHOLD),
        induction_change=locate_phase_change(steps, [v for _, v in induction[top]]),
        icl_change=locate_phase_change(steps, icl), previous_token_head=partner, previous_token_score=prev,
        k_composition=kcomp, k_composition_baseline=baseline, ablation=ablation,
        set_ablation=_set_ablation(store, flagged) if store is not None and flagged else {}, clean=clean,
    )


def _set_ablation(store: RunStore, heads: list[Head]) -> dict[str, float]:
    config = store.config()
    fast = FastTransformer(config.model, store.load_weights(store.steps()[-1]))
    mask = head_set_mask(heads, config.model.n_layers, config.model.n_heads)[None]
    effects = ablation_effects(fast, ProbeInputs.for_run(config).ablation, ("mean",), conditions=mask)["mean"]
    return {name: float(value[0]) for name, value in effects.items() if not name.startswith("clean/")}


def summary_lines(f: Findings) -> list[str]:
    """The report's text summary, with the numbers."""
    top = _label(f.top_induction_head)
    ab = f.ablation.get(top, {})
    if f.crossing_step is None:
        first = (f"No head becomes an induction head: the best induction score on held-out repeat periods is "
                 f"{f.induction_scores[top]:.2f} (head {top}) at the last checkpoint, below {INDUCTION_THRESHOLD}.")
    else:
        first = (f"Head {top} becomes an induction head between steps {f.induction_change.start} and {f.induction_change.end} "
        f"(fastest between {f.induction_change.steepest[0]} and {f.induction_change.steepest[1]}); its induction score on "
        f"held-out repeat periods goes {f.induction_change.before:.2f} → {f.induction_change.after:.2f}, first ≥ "
        f"{INDUCTION_THRESHOLD} at step {f.crossing_step}.")
    lines = [
        first,
        f"{len(f.induction_heads)} head(s) end with an induction score ≥ {INDUCTION_THRESHOLD}: "
        + (", ".join(f"{_label(h)} ({f.induction_scores[_label(h)]:.2f})" for h in f.induction_heads) or "none") + ".",
        f"The ICL score (loss at 90% of the context − loss at 10%; negative = uses context) moves "
        f"{f.icl_change.before:+.2f} → {f.icl_change.after:+.2f} nats between steps {f.icl_change.start} and {f.icl_change.end}.",
    ]
    if f.previous_token_head is not None:
        lines.append(
            f"Previous-token head {_label(f.previous_token_head)} (score {f.previous_token_score:.2f}) K-composes most with "
            f"{top}: {f.k_composition:.3f} vs {f.k_composition_baseline:.3f} for random matrices.")
    if ab:
        lines.append(f"Mean-ablating {top} alone raises the repeated-half loss by {ab['mean/repeat_loss']:.2f} nats "
                     f"and changes the ICL score by {ab['mean/icl_score']:+.2f}.")
    if f.set_ablation:
        share = f.set_ablation["icl_score"] / -f.clean["icl_score"] if f.clean["icl_score"] < 0 else float("nan")
        lines.append(f"Mean-ablating all {len(f.induction_heads)} induction heads together raises it by "
                     f"{f.set_ablation['repeat_loss']:.2f} nats and removes {share:.0%} of the ICL score "
                     f"({f.clean['icl_score']:+.2f} → {f.clean['icl_score'] + f.set_ablation['icl_score']:+.2f}).")
    return lines

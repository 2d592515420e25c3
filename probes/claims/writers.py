"""Writers and cancellers across training (Wang 2026, arXiv 2606.07560, classified per checkpoint by
`probes.measures.writers`), read from the sweep table, and the claims a report states about them.

Per head, from its checkpoint class (+1 writer head, −1 canceller head, 0 neither: that class on ≥
WRITER_TASK_SHARE of the selection tasks):
  onset        the first checkpoint from which the head keeps the class through the last checkpoint (None when it
               does not hold it at the end); `first` is the first checkpoint it has the class at all
  order        the earliest canceller onset against the earliest writer onset, in checkpoints: "with" when they are
               at most one checkpoint apart (one checkpoint interval of tolerance), else "before" or "after"; the
               claim needs both onsets after the first checkpoint (heads that are there from the start did not form)
  canceller phase  between the induction onset and the FV onset of the run (`probes.claims.fv`, Yin & Steinhardt
               2025, arXiv 2502.14010): the checkpoints with a canceller head, and cancellers per task there against
               their peak outside that window. ▸ Stated with no verdict (a descriptive sentence, `WriterDynamics.notes`,
               not a claim, so it is not in the registered family): no run of the `fv` preset's size has a canceller
               head (seeds 0 and 1, all 40 checkpoints: one canceller (task, head) pair in 80 × 17; seeds 2–5 at step
               6000: none, and one pair on seed 2), so the test has no real positive, and the one canceller we
               have, planted into the trained model at its last checkpoint, is no phase (with two checkpoints both
               onsets fall on the last one and the "window" is that checkpoint alone).
Claims on the last checkpoint, each beside its control:
  heads       a writer (canceller) head *set* is non-empty (`probes.measures.writers.head_sets`: the class on ≥ half the
              tasks), and the (task, head) pairs exceed the expected false positives, tasks × WRITER_FDR_Q
  Todd        the share of canceller (writer) pairs inside Todd's FV set against chance, |Todd set| / heads; both
              pair counts must exceed the expected false positives (one pair can be the test's own error)
  injection   the writers' FV beats no FV by FV_INJECTION_MIN_GAIN and the mean of every same-size outside set
  ablation    Δ log P(correct) (= −Δ loss, nats, as Wang's +0.13 to +0.29) with its bootstrap 95% CI over prompts: the
              cancellers' CI lies above 0 and the writers' below, each |Δ| ≥ WRITER_LESION_MIN_NATS (Wang's verdict
              threshold). ▸ Not implemented from Wang's verdict: the |Δ_both| check, the sign-shuffle null, and his
              500 prompts per task (ours: the fv probe's 16 per held-out task).
Every other sentence is a `probes.claims.claim.Claim` computed from the table ("Not supported by this run" otherwise),
declared with its fixtures in the "writers" claim family below (`tests/nulls_writers.py`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from circuits.data.tasks import default_suite
from probes.claims.claim import Check, Claim, ClaimFamily, ClaimSpec, flag, fmt, make_claim, register_claims
from probes.claims.fv import transition_analysis
from probes.claims.thresholds import (
    ABLATION_RANK_P,
    FV_INJECTION_MIN_GAIN,
    WRITER_FDR_Q,
    WRITER_LESION_MIN_NATS,
    WRITER_MIN_HOLD_CHECKPOINTS,
)
from probes.measures.writers import CANCELLER, WRITER, task_metric
from probes.table import Row, has_probe, select

Series = list[tuple[int, float]]
PROBE = "writers"


def stable_onset(points: Series, value: int) -> int | None:
    """The first step from which the series equals `value` through its end (None when its last value differs)."""
    onset = None
    for step, v in points:
        onset = (step if onset is None else onset) if v == value else None
    return onset


def required_hold(checkpoints: int) -> int:
    """How many checkpoints a formed class must hold through the end: WRITER_MIN_HOLD_CHECKPOINTS, or every
    checkpoint after the first when the run has fewer (the class must be absent at the first)."""
    return max(1, min(WRITER_MIN_HOLD_CHECKPOINTS, checkpoints - 1))


def formed_onset(points: Series, value: int) -> int | None:
    """The stable onset of a class that *formed*: absent at the first checkpoint and held from the onset through
    the last checkpoint for ≥ `required_hold` checkpoints (audit: a head classed at initialisation passed after one
    flicker, since the stable onset is the start of the last unbroken run); None otherwise."""
    start = stable_onset(points, value)
    if start is None or not points or points[0][1] == value:
        return None
    held = sum(step >= start for step, _ in points)
    return start if held >= required_hold(len(points)) else None


def first_step(points: Series, value: int) -> int | None:
    return next((step for step, v in points if v == value), None)


@dataclass(frozen=True)
class HeadClassHistory:
    writer_onset: int | None
    canceller_onset: int | None
    writer_first: int | None
    canceller_first: int | None
    final: int
    writer_tasks_peak: tuple[int, float]  # (step, most selection tasks on which the head is a writer)
    canceller_tasks_peak: tuple[int, float]
    writer_formed: int | None = None  # `formed_onset`: the onset when the class formed (absent at first, held)
    canceller_formed: int | None = None


def model_series(table: list[Row], metric: str) -> Series:
    return select(table, PROBE, metric).get((None, None), [])


def last_value(table: list[Row], metric: str) -> float | None:
    """A model-level writers metric at the probe's last checkpoint (None when it has no row there: an empty set)."""
    points = model_series(table, metric)
    last = max((r["step"] for r in table if r["probe"] == PROBE), default=None)
    return points[-1][1] if points and points[-1][0] == last else None


def order(steps: list[int], canceller: int | None, writer: int | None) -> str:
    """Cancellers' onset against writers', with one checkpoint interval of tolerance."""
    if canceller is None or writer is None:
        return "undetermined"
    gap = steps.index(writer) - steps.index(canceller)
    return "with" if abs(gap) <= 1 else "before" if gap > 0 else "after"


@dataclass(frozen=True)
class WriterDynamics:
    steps: list[int]
    heads: dict[str, HeadClassHistory]
    writer_onset: int | None  # earliest formed writer onset of any head (`formed_onset`)
    canceller_onset: int | None
    order: str  # cancellers "before" / "with" / "after" writers, or "undetermined"
    induction_onset: int | None  # the run's transition (probes.claims.fv); None without attention/fv rows
    fv_onset: int | None
    claims: list[Claim]
    notes: list[str]  # descriptive sentences with no verdict (the canceller phase: see the module docstring)

    def to_dict(self) -> dict:
        return asdict(self)


def _histories(table: list[Row]) -> dict[str, HeadClassHistory]:
    writer_tasks, canceller_tasks = select(table, PROBE, "writer_tasks"), select(table, PROBE, "canceller_tasks")
    peak = lambda points: max(points, key=lambda p: (p[1], -p[0]))  # noqa: E731 - the earliest step of the largest count
    out = {}
    for key, points in sorted(select(table, PROBE, "class").items()):
        out["{}.{}".format(*key)] = HeadClassHistory(
            stable_onset(points, WRITER), stable_onset(points, CANCELLER), first_step(points, WRITER),
            first_step(points, CANCELLER), int(points[-1][1]), peak(writer_tasks[key]), peak(canceller_tasks[key]),
            formed_onset(points, WRITER), formed_onset(points, CANCELLER))
    return out


def _transition(table: list[Row]) -> tuple[int | None, int | None]:
    """The run's induction onset and FV onset (`probes.claims.fv`), when the table holds those probes."""
    if not (has_probe(table, "attention") and has_probe(table, "fv")):
        return None, None
    t = transition_analysis(table)
    return t.induction_onset, t.fv_onset


def writer_dynamics(table: list[Row], transition: tuple[int | None, int | None] | None = None) -> WriterDynamics:
    """Onsets, their order and the canceller-phase test of a run whose table holds the "writers" probe;
    `transition` = (induction onset, FV onset), by default `probes.claims.fv`'s from the same table."""
    heads = _histories(table)
    steps = [s for s, _ in model_series(table, "writers")]
    writer = min((h.writer_formed for h in heads.values() if h.writer_formed is not None), default=None)
    canceller = min((h.canceller_formed for h in heads.values() if h.canceller_formed is not None), default=None)
    induction, fv = transition if transition is not None else _transition(table)
    facts = dict(steps=steps, heads=heads, writer_onset=writer, canceller_onset=canceller,
                 order=order(steps, canceller, writer), induction_onset=induction, fv_onset=fv)
    return WriterDynamics(**facts, claims=writer_claims(facts, table), notes=[phase_line(facts, table)])


def writer_claims(f: dict, table: list[Row]) -> list[Claim]:
    return [_count_claim(table, "writers"), _count_claim(table, "cancellers"), _todd_claim(table), _injection_claim(table),
            _ablation_claim(table), _onset_claim(f), _order_claim(f)]


def task_counts(table: list[Row], kind: str) -> dict[str, float]:
    """Per selection task (its metric name), the writer or canceller heads at the probe's last checkpoint."""
    step = model_series(table, kind)[-1][0]
    return {r["metric"].split("/")[1]: r["value"] for r in table if r["probe"] == PROBE and r["step"] == step
            and r["metric"].startswith("task/") and r["metric"].endswith(f"/{kind}")}


def _pairs_check(table: list[Row], kind: str) -> Check:
    """The (task, head) pairs of one class against the expected false positives, tasks × WRITER_FDR_Q."""
    tasks = task_counts(table, kind)
    return Check(f"{kind[:-1]} (task, head) pairs − expected false positives", sum(tasks.values()) - len(tasks) * WRITER_FDR_Q,
                 ">", 0.0)


def _count_claim(table: list[Row], kind: str) -> Claim:
    points = model_series(table, kind)
    step = points[-1][0]
    names = {task_metric(n): n for n in default_suite().names}
    tasks = task_counts(table, kind)
    listed = ", ".join(f"{names.get(k, k)} {v:.0f}" for k, v in tasks.items() if v > 0) or "none"
    size = last_value(table, f"set_size/{kind}")
    pairs, expected = sum(tasks.values()), len(tasks) * WRITER_FDR_Q
    power = (" The test has little power for weak cancellers (a half-strength canceller copy was found on 2 of 10 "
             "tasks in our tests): no canceller set does not mean the model has no cancellers.") if kind == "cancellers" else ""
    checks = [Check(f"{kind[:-1]} heads at step {step}", _nan(size), ">=", 1.0), _pairs_check(table, kind)]
    return make_claim(f"writers/{kind}", f"the trained model has {kind[:-1]} heads (a head with that class on ≥ half of the "
                      "selection tasks; Wang's classification: significant refined DLA, then the ablation validation score)",
                      True, _nan(size), expected,
                      f"{_int(table, f'set_size/{kind}')} {kind[:-1]} heads at step {step}; {pairs:.0f} {kind[:-1]} (task, "
                      f"head) pairs over {len(tasks)} tasks vs {fmt(expected)} expected false positives (tasks × FWER "
                      f"level {WRITER_FDR_Q}); {fmt(points[-1][1])} per task at step {step} vs "
                      f"{fmt(points[0][1])} at step {points[0][0]}; per task: {listed}.{power}", checks)


def _todd_claim(table: list[Row]) -> Claim:
    c, w = last_value(table, "todd_topk/canceller_share"), last_value(table, "todd_topk/writer_share")
    size, heads = last_value(table, "set_size/todd"), len(select(table, PROBE, "class"))
    chance = float("nan") if size is None or not heads else size / heads
    checks = [_pairs_check(table, "cancellers"), _pairs_check(table, "writers"),
              Check("writer share − canceller share inside Todd's set", _nan(w) - _nan(c), ">", 0.0),
              Check("chance share − canceller share", chance - _nan(c), ">", 0.0)]
    tasks = len(task_counts(table, "cancellers"))
    count = lambda metric: "n/a" if (v := last_value(table, metric)) is None else f"{v * tasks:.0f}"  # noqa: E731
    return make_claim("writers/todd_misses_cancellers", "a smaller share of the canceller (task, head) pairs than of the "
                      "writer pairs falls inside Todd's FV set (the fv probe's top heads by AIE), and less than chance", True,
                      _nan(c), chance,
                      f"share of canceller pairs inside the FV set {fmt(c)} ({count('todd_topk/cancellers')} of "
                      f"{count('cancellers')}), of writer pairs {fmt(w)} ({count('todd_topk/writers')} of "
                      f"{count('writers')}) (n/a: no such pair); chance share |FV set| / heads = {_int(table, 'set_size/todd')}"
                      f"/{heads} = {fmt(chance)}; mean signed AIE of writers {fmt(last_value(table, 'aie/writer'))}, "
                      f"cancellers {fmt(last_value(table, 'aie/canceller'))}, other pairs {fmt(last_value(table, 'aie/none'))}.",
                      checks)


def _injection_claim(table: list[Row]) -> Claim:
    acc = {k: last_value(table, f"fv_zero_shot_accuracy/{k}") for k in ("writers", "cancellers", "todd")}
    none, random = last_value(table, "no_fv_zero_shot_accuracy"), last_value(table, "fv_zero_shot_accuracy/random_writers/mean")
    beaten = last_value(table, "fv_zero_shot_accuracy/random_writers/beaten_share")
    sets = last_value(table, "fv_zero_shot_accuracy/random_writers/sets")
    rank_p = (1 + sets * (1 - beaten)) / (sets + 1) if beaten is not None and sets else float("nan")
    checks = [Check("writers' FV − no-FV zero-shot accuracy", _nan(acc["writers"]) - _nan(none), ">=", FV_INJECTION_MIN_GAIN),
              Check("rank p against the same-size outside sets, (1 + sets not beaten) / (sets + 1)", rank_p, "<=",
                    ABLATION_RANK_P)]
    label = {"writers": "the writer heads", "cancellers": "the canceller heads", "todd": "Todd's top heads (the fv probe's)"}
    shown = "; ".join(f"{label[k]} {fmt(v)}" if v is not None else f"{label[k]}: none, no FV" for k, v in acc.items())
    return make_claim("writers/fv_injection", "an FV of the writer heads alone recovers the held-out tasks from zero-shot "
                      "prompts, better than no FV and than same-size random head sets", True,
                      _nan(acc["writers"]), _nan(random) if none is None else none if random is None else max(none, random),
                      f"zero-shot accuracy on the held-out tasks {fmt(none)} without FV; with the FV of {shown} (added after "
                      f"layer {_int(table, 'fv_layer')}, the fv probe's layer; sets of {_int(table, 'set_size/writers')}, "
                      f"{_int(table, 'set_size/cancellers')} and {_int(table, 'set_size/todd')} heads); the control, every "
                      f"same-size head set outside the writers ({_int(table, 'fv_zero_shot_accuracy/random_writers/sets')} "
                      f"sets; n/a: none): mean {fmt(random)}, max {fmt(last_value(table, 'fv_zero_shot_accuracy/random_writers/max'))}, "
                      f"the writers' FV beats a share {fmt(beaten)} of them, exact rank p {rank_p:.3g} (≤ {ABLATION_RANK_P} needs ≥ "
                      f"{1 / ABLATION_RANK_P - 1:.0f} sets, as fv/ablation); writer heads also in Todd's set: "
                      f"{_int(table, 'set_overlap/writers_todd')}.", checks)


def _nan(value: float | int | None) -> float:
    return float("nan") if value is None else float(value)


def _int(table: list[Row], metric: str) -> str:
    value = last_value(table, metric)
    return "n/a" if value is None else f"{value:.0f}"


def _ablation_text(table: list[Row], name: str) -> str:
    if last_value(table, f"ablate/zero/{name}/loss_change") is None:
        return f"{name}: no such heads"
    get = lambda kind, m: fmt(last_value(table, f"ablate/{kind}/{name}/{m}"))  # noqa: E731
    parts = [f"{kind} Δ log P {get(kind, 'logprob_change')} (95% CI {get(kind, 'logprob_ci_low')} to "
             f"{get(kind, 'logprob_ci_high')}), Δ logit {get(kind, 'correct_logit_change')}, accuracy "
             f"{get(kind, 'few_shot_accuracy')}" for kind in ("zero", "mean")]
    return f"{name}: " + "; ".join(parts)


def ablation_effect(table: list[Row], name: str) -> int:
    """+1 (−1) when zero-ablating the set raises (lowers) log P(correct) — its bootstrap 95% CI excludes 0 on that
    side and |Δ| ≥ WRITER_LESION_MIN_NATS — else 0 (also without the rows)."""
    values = [last_value(table, f"ablate/zero/{name}/{m}") for m in ("logprob_change", "logprob_ci_low", "logprob_ci_high")]
    if any(v is None for v in values):
        return 0
    mean, low, high = values
    return 1 if low > 0 and mean >= WRITER_LESION_MIN_NATS else -1 if high < 0 and mean <= -WRITER_LESION_MIN_NATS else 0


def _ablation_claim(table: list[Row]) -> Claim:
    c, w = (last_value(table, f"ablate/zero/{n}/logprob_change") for n in ("cancellers", "writers"))
    c_low, w_high = last_value(table, "ablate/zero/cancellers/logprob_ci_low"), last_value(table, "ablate/zero/writers/logprob_ci_high")
    checks = [Check("cancellers' Δ log P (nats)", _nan(c), ">=", WRITER_LESION_MIN_NATS),
              Check("cancellers' 95% CI lower end", _nan(c_low), ">", 0.0),
              Check("−(writers' Δ log P) (nats)", -_nan(w), ">=", WRITER_LESION_MIN_NATS),
              Check("writers' 95% CI upper end", _nan(w_high), "<", 0.0)]
    return make_claim("writers/ablation", "zero-ablating the canceller heads raises log P(correct) while zero-ablating "
                      f"the writer heads lowers it (each 95% CI excludes 0 and |Δ| ≥ {WRITER_LESION_MIN_NATS} nats; Wang: +0.13 "
                      "to +0.29 nats for cancellers)", True, _nan(c), 0.0 if w is None else w,
                      f"held-out tasks' 10-shot prompts (accuracy {fmt(last_value(table, 'clean/few_shot_accuracy'))} "
                      f"clean; bootstrap over prompts): {_ablation_text(table, 'cancellers')} | {_ablation_text(table, 'writers')} | "
                      f"{_ablation_text(table, 'both')} (zero: every position, Wang; mean: last position, ours).", checks)


def _onset_claim(f: dict) -> Claim:
    listed = "; ".join(story for name, h in f["heads"].items() if (story := _head_story(name, h))) or "no head is ever a writer or a canceller"
    onsets = [s for h in f["heads"].values() for s in (h.writer_formed, h.canceller_formed) if s is not None]
    first = f["steps"][0] if f["steps"] else None
    earliest = float(min(onsets)) if onsets else float("nan")
    hold = required_hold(len(f["steps"]))
    checks = [flag(f"a head whose class formed (absent at the first checkpoint, then held ≥ {hold} checkpoints through "
                   "the last)", bool(onsets)),
              Check("earliest onset − first checkpoint (steps)", earliest - _nan(first), ">", 0.0)]
    return make_claim("writers/onsets", "heads become writer or canceller heads during training (not at initialisation)",
                      True, earliest, None if first is None else float(first),
                      f"earliest formed onset step {min(onsets) if onsets else 'none'} vs the first checkpoint {first} (an "
                      f"onset counts when the class is absent at the first checkpoint and held from it through the last "
                      f"for ≥ {hold} checkpoints: {WRITER_MIN_HOLD_CHECKPOINTS}, or every checkpoint after the first when "
                      f"the run has fewer); {listed}.", checks)


def _head_story(name: str, h: HeadClassHistory) -> str:
    """When a head is a writer/canceller head, and on how many tasks at most ("" when never on any task)."""
    parts = []
    for kind, onset, first, (step, most) in (("writer", h.writer_onset, h.writer_first, h.writer_tasks_peak),
                                              ("canceller", h.canceller_onset, h.canceller_first, h.canceller_tasks_peak)):
        if most > 0:
            head = f"a {kind} head from step {onset} (first at {first})" if first is not None else f"never a {kind} head"
            parts.append(f"{head}, a {kind} on at most {most:.0f} tasks (step {step})")
    return f"{name}: " + ", ".join(parts) if parts else ""


def _order_claim(f: dict) -> Claim:
    w, c = f["writer_onset"], f["canceller_onset"]
    gap = float(f["steps"].index(w) - f["steps"].index(c)) if w is not None and c is not None else float("nan")
    direction = "earlier" if gap > 0 else "later" if gap < 0 else "apart"
    relation = (f"cancellers come {f['order']} writers ({abs(gap):.0f} checkpoints {direction}; within 1 checkpoint counts as 'with')"
                if f["order"] != "undetermined" else "no order without both onsets")
    first = _nan(f["steps"][0] if f["steps"] else None)
    hold = required_hold(len(f["steps"]))
    checks = [flag(f"a writer-head onset (absent at the first checkpoint, held ≥ {hold} checkpoints)", w is not None),
              flag(f"a canceller-head onset (absent at the first checkpoint, held ≥ {hold} checkpoints)", c is not None),
              Check("writer-head onset − first checkpoint (steps)", _nan(w) - first, ">", 0.0),
              Check("canceller-head onset − first checkpoint (steps)", _nan(c) - first, ">", 0.0)]
    return make_claim("writers/order", "both writer and canceller heads form during training, so their onsets can be ordered",
                      True, gap, 1.0,
                      f"earliest canceller-head onset step {c}, earliest writer-head onset step {w}: {relation}.", checks)


PHASE_NO_VERDICT = ("no run of the fv preset's size has a canceller head (seeds 0 and 1 at every checkpoint, seeds 2–5 "
                    "at the last), so the test has no real positive; a canceller planted at the last checkpoint is no phase")


def phase_line(f: dict, table: list[Row]) -> str:
    """The canceller phase between the induction and FV onsets, as a sentence with no verdict (module docstring)."""
    a, b = f["induction_onset"], f["fv_onset"]
    series, classes = model_series(table, "cancellers"), select(table, PROBE, "class")
    window = a is not None and b is not None
    inside = [v for s, v in series if window and a <= s <= b]
    outside = [v for s, v in series if not window or not a <= s <= b]
    with_head = [s for s, _ in series if window and a <= s <= b and any(dict(p)[s] == CANCELLER for p in classes.values())]
    peak_in, peak_out = max(inside, default=None), max(outside, default=None)
    return (f"Canceller phase (descriptive, no verdict: {PHASE_NO_VERDICT}) — between the induction onset (step {a}) and "
            f"the FV onset (step {b}) cancellers per task peak at {fmt(peak_in)} vs {fmt(peak_out)} outside that window; "
            f"checkpoints there with a canceller head: {with_head or 'none'}.")


# ---- the claim family (fixtures in tests/nulls_writers.py) ----------------------
def evaluate_claims(table: list[Row]) -> list[Claim]:
    """The writers claims of a table, exactly as the report's writers section states them."""
    return writer_dynamics(table).claims


_UNTRAINED = ("writers/untrained",)  # the fv preset's initialisation through the probes: no head is classified
_FLAT = ("writers/flat-trained", "writers/flat-planted")  # final values at every checkpoint: nothing forms
register_claims(ClaimFamily(PROBE, evaluate_claims, claims=(
    ClaimSpec("writers/writers", _UNTRAINED, "writers/trained"),
    ClaimSpec("writers/cancellers", _UNTRAINED, "writers/planted-canceller"),  # no trained run has a canceller head
    ClaimSpec("writers/todd_misses_cancellers", _UNTRAINED, "writers/planted-canceller"),
    # the trained run at step 5714 (gain 0.24) has 7 same-size outside sets: rank p ≥ 1/8, no verdict possible
    ClaimSpec("writers/fv_injection", (*_UNTRAINED, "writers/trained-step5714"), "writers/injection-table"),
    ClaimSpec("writers/ablation", _UNTRAINED, "writers/planted-canceller"),
    # writers/trained (checkpoints 0, 1429, 6000) has its writer at the last checkpoint only: held 1 < 2
    ClaimSpec("writers/onsets", (*_UNTRAINED, *_FLAT, "writers/trained"), "writers/planted-canceller"),
    ClaimSpec("writers/order", (*_UNTRAINED, *_FLAT), "writers/planted-canceller"),
)))

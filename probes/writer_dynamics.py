"""Writers and cancellers across training (Wang 2026, arXiv 2606.07560, classified per checkpoint by
`probes.writers`), read from the sweep table, and the claims a report states about them.

Per head, from its checkpoint class (+1 writer head, −1 canceller head, 0 neither: that class on ≥
WRITER_TASK_SHARE of the selection tasks):
  onset        the first checkpoint from which the head keeps the class through the last checkpoint (None when it
               does not hold it at the end); `first` is the first checkpoint it has the class at all
  order        the earliest canceller onset against the earliest writer onset, in checkpoints: "with" when they are
               at most one checkpoint apart (one checkpoint interval of tolerance), else "before" or "after"
  canceller phase  between the induction onset and the FV onset of the run (`probes.fv_transition`, Yin & Steinhardt
               2025, arXiv 2502.14010): a checkpoint with a canceller head, whose cancellers per task peak above
               their peak outside that window (the control)
Every sentence is a `probes.claims.Claim` computed from the table ("Not supported by this run" otherwise).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from circuits.tasks import default_suite
from probes.claims import Claim, fmt, make_claim
from probes.fv_transition import transition_analysis
from probes.metrics import FV_INJECTION_MIN_GAIN
from probes.table import Row, has_probe, select
from probes.writers import CANCELLER, WRITER, task_metric

Series = list[tuple[int, float]]
PROBE = "writers"


def stable_onset(points: Series, value: int) -> int | None:
    """The first step from which the series equals `value` through its end (None when its last value differs)."""
    onset = None
    for step, v in points:
        onset = (step if onset is None else onset) if v == value else None
    return onset


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
    writer_onset: int | None  # earliest writer onset of any head
    canceller_onset: int | None
    order: str  # cancellers "before" / "with" / "after" writers, or "undetermined"
    induction_onset: int | None  # the run's transition (probes.fv_transition); None without attention/fv rows
    fv_onset: int | None
    claims: list[Claim]

    def to_dict(self) -> dict:
        return asdict(self)


def _histories(table: list[Row]) -> dict[str, HeadClassHistory]:
    writer_tasks, canceller_tasks = select(table, PROBE, "writer_tasks"), select(table, PROBE, "canceller_tasks")
    peak = lambda points: max(points, key=lambda p: (p[1], -p[0]))  # noqa: E731 - the earliest step of the largest count
    out = {}
    for key, points in sorted(select(table, PROBE, "class").items()):
        out["{}.{}".format(*key)] = HeadClassHistory(
            stable_onset(points, WRITER), stable_onset(points, CANCELLER), first_step(points, WRITER),
            first_step(points, CANCELLER), int(points[-1][1]), peak(writer_tasks[key]), peak(canceller_tasks[key]))
    return out


def _transition(table: list[Row]) -> tuple[int | None, int | None]:
    """The run's induction onset and FV onset (`probes.fv_transition`), when the table holds those probes."""
    if not (has_probe(table, "attention") and has_probe(table, "fv")):
        return None, None
    t = transition_analysis(table)
    return t.induction_onset, t.fv_onset


def writer_dynamics(table: list[Row], transition: tuple[int | None, int | None] | None = None) -> WriterDynamics:
    """Onsets, their order and the canceller-phase test of a run whose table holds the "writers" probe;
    `transition` = (induction onset, FV onset), by default `probes.fv_transition`'s from the same table."""
    heads = _histories(table)
    steps = [s for s, _ in model_series(table, "writers")]
    writer = min((h.writer_onset for h in heads.values() if h.writer_onset is not None), default=None)
    canceller = min((h.canceller_onset for h in heads.values() if h.canceller_onset is not None), default=None)
    induction, fv = transition if transition is not None else _transition(table)
    facts = dict(steps=steps, heads=heads, writer_onset=writer, canceller_onset=canceller,
                 order=order(steps, canceller, writer), induction_onset=induction, fv_onset=fv)
    return WriterDynamics(**facts, claims=writer_claims(facts, table))


def writer_claims(f: dict, table: list[Row]) -> list[Claim]:
    return [_count_claim(table, "writers"), _count_claim(table, "cancellers"), _todd_claim(table), _injection_claim(table),
            _ablation_claim(table), _onset_claim(f), _order_claim(f), _phase_claim(f, table)]


def _count_claim(table: list[Row], kind: str) -> Claim:
    points = model_series(table, kind)
    end, start = points[-1][1], points[0][1]
    names = {task_metric(n): n for n in default_suite().names}
    per_task = {names.get(r["metric"].split("/")[1], r["metric"].split("/")[1]): r["value"] for r in table
                if r["probe"] == PROBE and r["step"] == points[-1][0] and r["metric"].startswith("task/")
                and r["metric"].endswith(f"/{kind}") and r["value"] > 0}
    listed = ", ".join(f"{k} {v:.0f}" for k, v in per_task.items()) or "none"
    return make_claim(f"writers/{kind}", f"the trained model has {kind[:-1]} heads on the selection tasks (Wang's "
                      "classification: BH-significant refined DLA, then the ablation validation score)", end > 0 and end > start,
                      end, start, f"{fmt(end)} {kind} per task at step {points[-1][0]} vs {fmt(start)} at step "
                      f"{points[0][0]} (the control: the first checkpoint); per task: {listed}.")


def _todd_claim(table: list[Row]) -> Claim:
    c, w = last_value(table, "todd_topk/canceller_share"), last_value(table, "todd_topk/writer_share")
    ok = c is not None and w is not None and c < w
    return make_claim("writers/todd_misses_cancellers", "Todd's top heads by AIE (the fv probe's FV heads) hold a smaller "
                      "share of the cancellers than of the writers", ok, float("nan") if c is None else c, w,
                      f"share of canceller (task, head) pairs among the FV heads {fmt(c)} vs writers {fmt(w)} (n/a: no such "
                      f"pair); per task {fmt(last_value(table, 'todd_topk/cancellers'))} of the FV heads are cancellers and "
                      f"{fmt(last_value(table, 'todd_topk/writers'))} writers; mean signed AIE of writers "
                      f"{fmt(last_value(table, 'aie/writer'))}, cancellers {fmt(last_value(table, 'aie/canceller'))}, other "
                      f"pairs {fmt(last_value(table, 'aie/none'))}.")


def _injection_claim(table: list[Row]) -> Claim:
    acc = {k: last_value(table, f"fv_zero_shot_accuracy/{k}") for k in ("writers", "cancellers", "todd")}
    none = last_value(table, "no_fv_zero_shot_accuracy")
    ok = acc["writers"] is not None and acc["writers"] >= none + FV_INJECTION_MIN_GAIN
    label = {"writers": "the writer heads", "cancellers": "the canceller heads", "todd": "Todd's top heads (the fv probe's)"}
    shown = "; ".join(f"{label[k]} {fmt(v)}" if v is not None else f"{label[k]}: none, no FV" for k, v in acc.items())
    return make_claim("writers/fv_injection", "an FV of the writer heads alone recovers the held-out tasks from zero-shot "
                      "prompts", ok, float("nan") if acc["writers"] is None else acc["writers"], none,
                      f"zero-shot accuracy on the held-out tasks {fmt(none)} without FV; with the FV of {shown} (added after "
                      f"layer {_int(table, 'fv_layer')}, the fv probe's layer; sets of {_int(table, 'set_size/writers')}, "
                      f"{_int(table, 'set_size/cancellers')} and {_int(table, 'set_size/todd')} heads).")


def _int(table: list[Row], metric: str) -> str:
    value = last_value(table, metric)
    return "n/a" if value is None else f"{value:.0f}"


def _ablation_text(table: list[Row], name: str) -> str:
    if last_value(table, f"ablate/zero/{name}/correct_logit_change") is None:
        return f"{name}: no such heads"
    parts = [f"{kind} Δ logit {fmt(last_value(table, f'ablate/{kind}/{name}/correct_logit_change'))}, Δ loss "
             f"{fmt(last_value(table, f'ablate/{kind}/{name}/loss_change'))}, accuracy "
             f"{fmt(last_value(table, f'ablate/{kind}/{name}/few_shot_accuracy'))}" for kind in ("zero", "mean")]
    return f"{name}: " + "; ".join(parts)


def _ablation_claim(table: list[Row]) -> Claim:
    c, w = (last_value(table, f"ablate/zero/{n}/correct_logit_change") for n in ("cancellers", "writers"))
    ok = c is not None and w is not None and c > 0 > w
    return make_claim("writers/ablation", "zero-ablating the canceller heads raises the correct answer's logit while "
                      "zero-ablating the writer heads lowers it (Wang: +0.13 to +0.29 nats for cancellers)", ok,
                      float("nan") if c is None else c, w,
                      f"held-out tasks' 10-shot prompts (accuracy {fmt(last_value(table, 'clean/few_shot_accuracy'))} "
                      f"clean): {_ablation_text(table, 'cancellers')} | {_ablation_text(table, 'writers')} | "
                      f"{_ablation_text(table, 'both')} (zero: every position, Wang; mean: last position, ours).")


def _onset_claim(f: dict) -> Claim:
    listed = "; ".join(story for name, h in f["heads"].items() if (story := _head_story(name, h))) or "no head is ever a writer or a canceller"
    onsets = [s for h in f["heads"].values() for s in (h.writer_onset, h.canceller_onset) if s is not None]
    first = f["steps"][0] if f["steps"] else None
    ok = bool(onsets) and min(onsets) > first
    return make_claim("writers/onsets", "heads become writer or canceller heads during training (not at initialisation)",
                      ok, float(min(onsets)) if onsets else float("nan"), None if first is None else float(first),
                      f"earliest onset step {min(onsets) if onsets else 'none'} vs the first checkpoint {first}; {listed}.")


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
    relation = (f"cancellers come {f['order']} writers ({gap:.0f} checkpoints earlier; within 1 checkpoint counts as 'with')"
                if f["order"] != "undetermined" else "no order without both onsets")
    return make_claim("writers/order", "both writer and canceller heads form, so their onsets can be ordered",
                      f["order"] != "undetermined", gap, 1.0,
                      f"earliest canceller-head onset step {c}, earliest writer-head onset step {w}: {relation}.")


def _phase_claim(f: dict, table: list[Row]) -> Claim:
    a, b = f["induction_onset"], f["fv_onset"]
    series, classes = model_series(table, "cancellers"), select(table, PROBE, "class")
    inside = [v for s, v in series if a is not None and b is not None and a <= s <= b]
    outside = [v for s, v in series if a is None or b is None or not a <= s <= b]
    with_head = [s for s, _ in series if a is not None and b is not None and a <= s <= b
                 and any(dict(p)[s] == CANCELLER for p in classes.values())]
    peak_in, peak_out = max(inside, default=float("nan")), max(outside, default=float("nan"))
    ok = bool(with_head) and peak_in > peak_out
    return make_claim("writers/canceller_phase", "the induction → FV transition passes through a canceller phase", ok,
                      peak_in, peak_out, f"between the induction onset (step {a}) and the FV onset (step {b}) cancellers "
                      f"per task peak at {fmt(peak_in)} vs {fmt(peak_out)} outside that window; checkpoints there with a "
                      f"canceller head: {with_head or 'none'}.")

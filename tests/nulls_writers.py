"""Fixtures of the writers-and-cancellers claim family (`probes.claims.writers`; Wang 2026, arXiv 2606.07560).

Evidence: the run's tidy table with the attention, fv and writers rows — what the report's writers section reads
(`probes.claims.writers.evaluate_claims`, the claims of `writer_dynamics(table)`).

Nulls:
- `writers/untrained` (fast, ≈ 4 s): the `fv` preset's initialisation (`nulls_fv.untrained_run`, shared with the fv and
  attribution fixtures), probed at its last checkpoint only — every checkpoint of that run holds the same weights, so
  more checkpoints would repeat the same rows at ≈ 3.7 s each. No head is classified at all: 0 writer and 0
  canceller (task, head) pairs over 17 tasks (1.7 expected false positives), no FV of a writer set, nothing to ablate.
- `writers/flat-trained` (slow): `writers/trained` with every checkpoint holding the final checkpoint's values (the
  run's writer head is a writer from the first checkpoint on: nothing forms during training).
- `writers/flat-planted` (slow): the same for `writers/planted-canceller` — a writer and a canceller head at every
  checkpoint, formed at none.

Positives:
- `writers/trained` (slow): the `fv` preset at the checkpoints notebook 03 and tests/test_writers.py sweep the writers
  probe over (`writer_steps`: 0, 1429, 6000; they share the sweep cache). Seed 0: one writer head (1.1, a writer on 10
  of 17 selection tasks at step 6000, from step 4571 on), no canceller head.
- `writers/trained-step5714` (slow): the same run stopped at its penultimate checkpoint, step 5714 — a real trained
  model on which the writer head's FV lifts zero-shot accuracy by 0.24 (0.35 vs 0.12 without FV; same-size outside
  sets 0.20). ▸ At the final checkpoint the gain is 0.19, just under FV_INJECTION_MIN_GAIN = 0.20 (margin −0.013), and
  seeds 1–5 have no writer head at step 6000 at all, so no run's *final* checkpoint supports `writers/fv_injection`;
  step 5143 also does (0.24).
- `writers/planted-canceller` (slow): a hand-built canceller inside the trained model — the trained run's init at
  step 0 and, at step 6000, the final weights with the layer-1 head of least validation effect made the top writer's
  negated copy (same QK and V, OV output × −1: `writers_models.with_negated_copy`, the classifier control of
  tests/test_writers.py). No trained run of ours has a canceller head (seeds 0–5, step 6000: 0, 0, 0, 0, 0, 0; seed 2
  has one canceller (task, head) pair, below the 1.7 expected false positives), so the canceller claims rest on it.
"""
from __future__ import annotations

from pathlib import Path

from nulls import fixture, trained_run, written_run
from nulls_fv import flat_final, untrained_run
from writers_models import planted_heads, with_negated_copy

from circuits.config import replace
from circuits.presets import preset
from circuits.store.runs import RunStore

FAMILY = "writers"
PROBES = ("attention", "fv", "writers")


def writer_steps(store: RunStore) -> list[int]:
    """The checkpoints notebook 03 sweeps the writers probe over (first, middle of every fourth, last)."""
    steps = store.steps()[::4] + [store.steps()[-1]]
    return [steps[0], steps[len(steps) // 2], steps[-1]]


def writers_table(store: RunStore, steps: list[int]) -> list[dict]:
    from probes.sweep.runner import run_sweep

    return run_sweep(store, probes=PROBES, steps=steps, progress=False)


PLANTED_CHECKPOINTS = 3  # WRITER_MIN_HOLD_CHECKPOINTS: a class must be held this long to count as formed


def planted_run(root: Path, trained: RunStore, table: list[dict]) -> RunStore:
    """The trained run's first checkpoint, and its last PLANTED_CHECKPOINTS checkpoints each with a negated copy of its
    top writer (chosen at the last checkpoint) planted into the same head. (Audit of null inputs: with the canceller at
    the final checkpoint only, the onset claims rested on one checkpoint; "fv-planted-canceller", that 2-checkpoint
    run, is kept as it was for other readers of the shared store.)"""
    first, planted = trained.steps()[0], trained.steps()[-PLANTED_CHECKPOINTS:]
    writer, target = planted_heads(table, planted[-1])
    config = replace(trained.config(), name="fv-planted-canceller-3")
    d_head = config.model.d_head

    def weights(step: int) -> dict:
        state = trained.load_weights(step)
        return with_negated_copy(state, writer, target, d_head) if step in planted else state

    return written_run(root, "fv-planted-canceller-3", config, weights, [first, *planted])


def _fv(root: Path) -> RunStore:
    return trained_run(root, "fv", preset("fv"))


@fixture("writers/untrained", FAMILY, slow=True)  # ≈ 2 s: CI only
def untrained(root: Path) -> list[dict]:
    store = untrained_run(root)
    return writers_table(store, store.steps()[-1:])


@fixture("writers/trained", FAMILY, slow=True)
def trained(root: Path) -> list[dict]:
    store = _fv(root)
    return writers_table(store, writer_steps(store))


@fixture("writers/trained-step5714", FAMILY, slow=True)
def trained_penultimate(root: Path) -> list[dict]:
    store = _fv(root)
    return writers_table(store, [*writer_steps(store)[:-1], store.steps()[-2]])


@fixture("writers/planted-canceller", FAMILY, slow=True)
def planted(root: Path) -> list[dict]:
    store = planted_run(root, _fv(root), trained(root))
    return writers_table(store, store.steps())


@fixture("writers/flat-trained", FAMILY, slow=True)
def flat_trained(root: Path) -> list[dict]:
    return flat_final(trained(root))


@fixture("writers/flat-planted", FAMILY, slow=True)
def flat_planted(root: Path) -> list[dict]:
    return flat_final(planted(root))


@fixture("writers/injection-table", FAMILY)
def injection_table(root: Path) -> list[dict]:
    """A hand-made writers table on which the writers' FV lifts zero-shot accuracy 0.10 → 0.40 and beats every one of
    35 same-size outside sets (rank p 1/36 ≤ ABLATION_RANK_P). ▸ A table written to pass, not a trained run: in the
    `fv` preset's 8 heads a 1-head writer set has 7 same-size outside sets, so the exact rank p is ≥ 1/8 and no run of
    our size can support `writers/fv_injection` (audit: it compared with the sets' mean)."""
    steps, rows = [0, 100, 200, 300], []
    row = lambda step, metric, value, layer=None, head=None: dict(  # noqa: E731
        step=step, tokens=step, layer=layer, head=head, probe=FAMILY, metric=metric, value=float(value))
    for i, step in enumerate(steps):
        writer = i >= 1
        rows += [row(step, "class", float(writer), 1, 0), row(step, "writer_tasks", 9.0 * writer, 1, 0),
                 row(step, "canceller_tasks", 0.0, 1, 0)]
        rows += [row(step, m, 0.0, 1, h) for h in (1, 2, 3) for m in ("class", "writer_tasks", "canceller_tasks")]
        rows += [row(step, "writers", float(writer)), row(step, "cancellers", 0.0),
                 row(step, "task/perm_0/writers", float(writer)), row(step, "task/perm_0/cancellers", 0.0)]
    last = {"set_size/writers": 1, "set_size/todd": 3, "fv_layer": 0, "no_fv_zero_shot_accuracy": 0.1,
            "fv_zero_shot_accuracy/writers": 0.4, "fv_zero_shot_accuracy/todd": 0.5,
            "fv_zero_shot_accuracy/random_writers/mean": 0.2, "fv_zero_shot_accuracy/random_writers/max": 0.3,
            "fv_zero_shot_accuracy/random_writers/sets": 35, "fv_zero_shot_accuracy/random_writers/beaten_share": 1.0}
    return rows + [row(steps[-1], m, v) for m, v in last.items()]

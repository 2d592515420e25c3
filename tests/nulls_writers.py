"""Fixtures of the writers-and-cancellers claim family (`probes.writer_dynamics`; Wang 2026, arXiv 2606.07560).

Evidence: the run's tidy table with the attention, fv and writers rows — what the report's writers section reads
(`probes.writer_dynamics.evaluate_claims`, the claims of `writer_dynamics(table)`).

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
from circuits.store import RunStore

FAMILY = "writers"
PROBES = ("attention", "fv", "writers")


def writer_steps(store: RunStore) -> list[int]:
    """The checkpoints notebook 03 sweeps the writers probe over (first, middle of every fourth, last)."""
    steps = store.steps()[::4] + [store.steps()[-1]]
    return [steps[0], steps[len(steps) // 2], steps[-1]]


def writers_table(store: RunStore, steps: list[int]) -> list[dict]:
    from probes.sweep import run_sweep

    return run_sweep(store, probes=PROBES, steps=steps, progress=False)


def planted_run(root: Path, trained: RunStore, table: list[dict]) -> RunStore:
    """The trained run's first checkpoint, and its last with a negated copy of its top writer planted."""
    first, last = trained.steps()[0], trained.steps()[-1]
    writer, target = planted_heads(table, last)
    config = replace(trained.config(), preset="fv-planted-canceller")
    d_head = config.model.d_head

    def weights(step: int) -> dict:
        state = trained.load_weights(step)
        return with_negated_copy(state, writer, target, d_head) if step == last else state

    return written_run(root, "fv-planted-canceller", config, weights, [first, last])


def _fv(root: Path) -> RunStore:
    return trained_run(root, "fv", preset("fv"))


@fixture("writers/untrained", FAMILY)
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

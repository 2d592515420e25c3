"""Fixtures of the grokking claim family (`probes.measures.grokking`, Nanda et al. 2023, arXiv 2301.05217).

Evidence: a `probes.claims.grokking.GrokkingEvidence` (the run's tidy table and metrics, and those of a no-weight-decay
control run when the fixture has one).

- `grokking/trained` (positive, slow): the `grokking` preset (shared with tests/test_grokking.py and notebook 05),
  with the same preset trained without weight decay (`grokking-no-decay`) as the weight-norm control.
- `grokking/memoriser` (slow): the preset without weight decay on 30% of the pairs (1,500 steps): it memorises and
  never generalises; the no-decay run is its weight-norm control as well.
- `grokking/untrained` (fast): the preset's initialisation written at five steps (random ReLU features: without the
  explained-variance floor all 26 frequencies are "key" at p = 53).
- `grokking/memorise-table` (fast): a synthetic table of a run that memorises, whose restricted loss falls, and whose
  test loss never does (today's `restricted_leads` said "supported" on it).
"""
from __future__ import annotations

from pathlib import Path

from nulls import fixture, probed_table, trained_run, untrained_weights, written_run

from circuits.config import RunConfig, replace
from circuits.presets import preset
from circuits.store.runs import RunStore
from probes.claims.grokking import GrokkingEvidence
from probes.table import model_row

FAMILY = "grokking"


def no_decay_config() -> RunConfig:
    """The grokking preset with weight decay 0 (everything else, the 50% split included, unchanged)."""
    base = preset("grokking")
    return replace(base, name="grokking-no-decay", train=replace(base.train, weight_decay=0.0))


def memoriser_config() -> RunConfig:
    """The grokking preset without weight decay on 30% of the pairs (full batch), shortened to 1,500 steps: it
    memorises the train pairs by step ~100 and its test accuracy stays near chance."""
    base = preset("grokking")
    data = replace(base.data, train_fraction=0.3)
    train = replace(base.train, weight_decay=0.0, steps=1500, n_checkpoints=30, batch_size=data.train_size)
    return replace(base, name="grokking-memorise", data=data, train=train)


def run_evidence(store: RunStore, control: RunStore | None = None) -> GrokkingEvidence:
    """The evidence of a run (its grokking rows through the real sweep, its metrics) and its control run's rows."""
    evidence = GrokkingEvidence(probed_table(store, ("grokking",)), store.metrics())
    if control is None:
        return evidence
    return replace(evidence, control_table=probed_table(control, ("grokking",)))


def _no_decay_run(root: Path) -> RunStore:
    return trained_run(root, "grokking-no-decay", no_decay_config())


@fixture("grokking/trained", FAMILY, slow=True)
def trained(root: Path) -> GrokkingEvidence:
    return run_evidence(trained_run(root, "grokking", preset("grokking")), _no_decay_run(root))


@fixture("grokking/memoriser", FAMILY, slow=True)
def memoriser(root: Path) -> GrokkingEvidence:
    return run_evidence(trained_run(root, "grokking-memorise", memoriser_config()), _no_decay_run(root))


@fixture("grokking/untrained", FAMILY)
def untrained(root: Path) -> GrokkingEvidence:
    config = replace(preset("grokking"), name="grokking-untrained")
    return run_evidence(written_run(root, "grokking-untrained", config, untrained_weights(config), [0, 10, 100, 1000, 3000]))


def memorise_table(p: int = 53) -> list[dict]:
    """Checkpoints every 100 steps: train accuracy 1 from step 200, test accuracy 0.02 and test loss ≥ 12 nats
    throughout; the restricted loss falls to 0.05 at step 600 (as with all 26 "key" frequencies of random features),
    and so does the restricted loss with as many random frequencies; the weight norm falls 40%."""
    rows = []
    for step in range(0, 3001, 100):
        values = {"train_accuracy": float(step >= 200), "test_accuracy": 0.02, "train_loss": 0.01 if step >= 200 else 3.9,
                  "test_loss": 3.9 if step < 200 else 12.0 + step / 1000, "restricted_loss": 3.9 if step < 600 else 0.05,
                  "restricted_loss_random": 3.9 if step < 600 else 0.05, "excluded_loss": 3.9 if step < 200 else 8.0,
                  "embed_gini": 0.1 if step < 1000 else 0.35, "embed_key_share": 1.0, "weight_norm_sq": 500.0 - 0.1 * step,
                  "key_frequency_step": 3000, "modulus": p, "dominant_frequencies": p // 2}
        values |= {f"key_frequency_neurons/{k}": 5.0 for k in range(1, p // 2 + 1)}
        values |= {f"key_frequency_share/{k}": 0.5 for k in range(1, p // 2 + 1)}
        rows += [{"step": step, "tokens": 0, **model_row(FAMILY, k, float(v))} for k, v in values.items()]
    return rows


@fixture("grokking/memorise-table", FAMILY)
def memorise_table_fixture(root: Path) -> GrokkingEvidence:
    return GrokkingEvidence(memorise_table(), [])

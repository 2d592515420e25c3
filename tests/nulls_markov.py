"""Fixtures of the in-context Markov-chain claim family (`probes.claims.markov`; Edelman et al. 2024, arXiv 2402.11004).

Evidence: a run's tidy table with the `markov` probe's rows.

- `markov/trained` (positive, slow): the `icl-mc-2l` preset, seed 0 (≈ 1 minute).
- `markov/fixed-matrix` (slow): `icl-mc-2l-fixed`, trained on one fixed transition matrix (the context carries nothing
  the weights cannot hold), probed on fresh per-sequence matrices.
- `markov/one-layer` (slow): `icl-mc-1l`, one layer: no previous-token head can feed a bigram head.
- `markov/untrained` (fast): the preset's initialisation written at five steps.
- `markov/flat-table`, `markov/linear-table`, `markov/unigram-table` (fast): synthetic tables — constant KLs; KLs
  moving linearly from uniform-like to bigram-like with no unigram window; a model that reaches the unigram strategy
  and stays there.
"""
from __future__ import annotations

from pathlib import Path

from nulls import fixture, probed_table, trained_run, untrained_weights, written_run

from circuits.config import replace
from circuits.presets import preset
from probes.table import model_row

FAMILY = "markov"
STEPS = list(range(0, 2001, 50))


def _probed(root: Path, name: str) -> list[dict]:
    return probed_table(trained_run(root, name, preset(name)), ("markov",))


@fixture("markov/trained", FAMILY, slow=True)
def trained(root: Path) -> list[dict]:
    return _probed(root, "icl-mc-2l")


@fixture("markov/fixed-matrix", FAMILY, slow=True)
def fixed_matrix(root: Path) -> list[dict]:
    return _probed(root, "icl-mc-2l-fixed")


@fixture("markov/one-layer", FAMILY, slow=True)
def one_layer(root: Path) -> list[dict]:
    return _probed(root, "icl-mc-1l")


@fixture("markov/untrained", FAMILY)
def untrained(root: Path) -> list[dict]:
    config = replace(preset("icl-mc-2l"), name="icl-mc-2l-untrained")
    store = written_run(root, config.name, config, untrained_weights(config), [0, 10, 100, 1000, 2000])
    return probed_table(store, ("markov",))


def table(curves) -> list[dict]:
    """A markov table whose KL to each strategy at step t is curves(t / 2000) (uniform, unigram, bigram)."""
    rows = []
    for step in STEPS:
        for name, value in zip(("uniform", "unigram", "bigram"), curves(step / STEPS[-1]), strict=True):
            rows += [{"step": step, "tokens": 0, **model_row(FAMILY, f"kl/{name}", value)},
                     {"step": step, "tokens": 0, **model_row(FAMILY, f"kl_se/{name}", 0.002)}]
    return rows


@fixture("markov/flat-table", FAMILY)
def flat_table(root: Path) -> list[dict]:
    return table(lambda t: (0.001, 0.12, 0.25))


@fixture("markov/linear-table", FAMILY)
def linear_table(root: Path) -> list[dict]:
    """From a uniform-like to a bigram-like model linearly in steps; the unigram KL never leads."""
    return table(lambda t: (0.001 + 0.25 * t, 0.12 + 0.02 * t, 0.25 - 0.23 * t))


@fixture("markov/unigram-table", FAMILY)
def unigram_table(root: Path) -> list[dict]:
    """Uniform until step 100, then the unigram strategy to the end: no bigram stage."""
    return table(lambda t: (0.001, 0.12, 0.25) if t < 0.05 else (0.12, 0.01, 0.14))

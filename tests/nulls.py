"""The shared library of null and positive fixtures every claim is tested on (`tests/test_conformance.py`).

A fixture builds the *evidence* one claim family evaluates (`probes.claims.claim.ClaimFamily.evaluate`): for run-level
families the tidy table of a real run that went through the probes, for the cross-run families a list of run
summaries, for curve claims a synthetic table. Nulls are inputs in which the phenomenon is absent — an untrained
model, a model trained on uniformly random tokens, hand-built positional impostors and a bag-of-context copier,
flat / linear / noisy curves, a featureless LLC curve, a memorise-only grokking table, a two-point size axis, a
K-composition-blocked run — and every claim must say "not supported" on its family's nulls; positives are trained
runs or hand-built circuits (never a table written to pass) on which it must say "supported".

Family fixtures live in `tests/nulls_<family>.py` and register here with `@fixture(...)`. Run-backed fixtures train
or write their run once under the session's shared store (`shared_runs_root`, or ICL_WORKBENCH_TEST_RUNS), so the
conformance test and the science tests share them.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from circuits.config import RunConfig
from circuits.model.transformer import initial_state_dict
from circuits.store.runs import RunStore
from circuits.training.trainer import train


@dataclass(frozen=True)
class Fixture:
    name: str
    family: str  # the ClaimFamily whose evidence it builds
    build: Callable[[Path], Any]  # shared store root -> evidence
    slow: bool  # trains a real run (CI only, --runslow)


FIXTURES: dict[str, Fixture] = {}
_EVIDENCE: dict[tuple[str, str], Any] = {}


def fixture(name: str, family: str, slow: bool = False):
    """Register `build(root) -> evidence` as fixture `name` of `family`."""
    def register(build: Callable[[Path], Any]) -> Callable[[Path], Any]:
        if name in FIXTURES:
            raise ValueError(f"fixture {name!r} is registered twice")
        FIXTURES[name] = Fixture(name, family, build, slow)
        return build
    return register


def load_all() -> dict[str, Fixture]:
    """Import every `tests/nulls_*.py` (each registers its family's fixtures)."""
    here = Path(__file__).parent
    for info in pkgutil.iter_modules([str(here)]):
        if info.name.startswith("nulls_"):
            importlib.import_module(info.name)
    return FIXTURES


def evidence(name: str, root: Path) -> Any:
    """The fixture's evidence, built once per session and store."""
    key = (name, str(root))
    if key not in _EVIDENCE:
        _EVIDENCE[key] = FIXTURES[name].build(root)
    return _EVIDENCE[key]


def trained_run(root: Path, name: str, config: RunConfig) -> RunStore:
    """Train `config` into ROOT/name (reused or resumed when it exists, as the science fixtures do)."""
    return train(config, root / name, progress=False)


def probed_table(store: RunStore, probes: tuple[str, ...] | None = None) -> list[dict]:
    """The run's tidy table through the real sweep (cached per checkpoint and probe)."""
    from probes.sweep.runner import run_sweep

    return run_sweep(store, probes=probes, progress=False)


def written_run(root: Path, name: str, config: RunConfig, weights: Callable[[int], dict[str, torch.Tensor]],
                steps: list[int]) -> RunStore:
    """A run directory whose checkpoint at each step holds `weights(step)` (hand-built models, untrained series):
    probed exactly like a trained run."""
    store = RunStore.create(root / name, config)
    have = set(store.steps())
    for step in steps:
        if step not in have:
            store.save_checkpoint(step, weights(step), {}, torch.zeros(1), {"tokens": step * config.train.batch_size
                                                                            * config.data.seq_len})
    return store


def untrained_weights(config: RunConfig) -> Callable[[int], dict[str, torch.Tensor]]:
    """The initialisation at every step: a run in which nothing is learned."""
    state = initial_state_dict(config.model)
    return lambda step: state

"""Sweep probes over every checkpoint of a run into one tidy table, cached per (checkpoint, probe).

Table rows: {step, tokens, layer, head, probe, metric, value} (layer/head null for model-level metrics), saved as
JSON lines at RUN/analysis/sweep.jsonl. Each (checkpoint, probe) result is cached in RUN/analysis/cache/ the moment
it is computed (atomic write), so an interrupted or failed sweep keeps its partial results and a re-run computes
only what is missing. Probe inputs are seeded and identical for every checkpoint.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from circuits.store import ANALYSIS_DIR, RunStore, atomic_write_text, step_dirname
from probes.suite import FINAL_ONLY, PROBE_VERSIONS, PROBES, ProbeInputs, Row, check_probe_names, default_probes

SWEEP_FILE = "sweep.jsonl"
CACHE_DIR = "cache"
logger = logging.getLogger(__name__)


def cache_file(store: RunStore, step: int, probe: str) -> Path:
    """The cached rows of one (checkpoint, probe), keyed by the probe's version (`probes.suite.PROBE_VERSIONS`)."""
    return store.path / ANALYSIS_DIR / CACHE_DIR / f"{step_dirname(step)}.{probe}.v{PROBE_VERSIONS[probe]}.jsonl"


def _read_rows(file: Path) -> list[Row]:
    return [json.loads(line) for line in file.read_text().splitlines() if line]


def _write_rows(file: Path, rows: list[Row]) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(file, "".join(json.dumps(r) + "\n" for r in rows))


def run_sweep(store: RunStore, probes: tuple[str, ...] | None = None, steps: list[int] | None = None,
              progress: bool = True) -> list[Row]:
    """Run `probes` (default: every probe that applies) on every checkpoint (or `steps`), reusing cached results;
    returns and saves the tidy table."""
    config = store.config()
    probes = probes if probes is not None else default_probes(config)
    check_probe_names(probes)
    all_steps = store.require_steps()
    chosen = all_steps if steps is None else [s for s in steps if s in all_steps]
    missing = [(s, p) for s, p in _planned(chosen, probes, all_steps[-1]) if not cache_file(store, s, p).exists()]
    inputs = ProbeInputs.for_run(config) if missing else None
    todo: dict[int, list[str]] = {}
    for step, probe in missing:
        todo.setdefault(step, []).append(probe)
    for step in tqdm(sorted(todo), desc=f"probes {config.preset}", disable=not progress, unit="ckpt"):
        _probe_checkpoint(store, step, todo[step], inputs)
    table = _assemble(store, _planned(chosen, probes, all_steps[-1]))
    _write_rows(store.path / ANALYSIS_DIR / SWEEP_FILE, table)
    return table


def _probe_checkpoint(store: RunStore, step: int, probes: list[str], inputs: ProbeInputs) -> None:
    state = store.load_weights(step)
    model = store.load_bridge(step)
    for probe in probes:
        rows = PROBES[probe](model, state, inputs)
        _write_rows(cache_file(store, step, probe), rows)


def _planned(steps: list[int], probes: tuple[str, ...], last: int) -> list[tuple[int, str]]:
    """(step, probe) pairs to run: every probe on every chosen step, FINAL_ONLY probes on the last step only."""
    return [(s, p) for s in steps for p in probes if p not in FINAL_ONLY or s == last]


def _assemble(store: RunStore, planned: list[tuple[int, str]]) -> list[Row]:
    table, tokens = [], {}
    for step, probe in planned:
        tokens.setdefault(step, store.state(step)["tokens"])
        table += [{"step": step, "tokens": tokens[step], **row} for row in _read_rows(cache_file(store, step, probe))]
    return table


def load_table(store: RunStore) -> list[Row]:
    """The saved sweep table of a run (run `icl-workbench analyze` first)."""
    from circuits.errors import WorkbenchError

    file = store.path / ANALYSIS_DIR / SWEEP_FILE
    if not file.exists():
        raise WorkbenchError(f"{store.path} has no probe table yet; run `icl-workbench analyze {store.path}` first.")
    return _read_rows(file)


def select(table: list[Row], probe: str, metric: str) -> dict[tuple[Any, Any], list[tuple[int, float]]]:
    """{(layer, head): [(step, value), …]} for one metric, steps ascending."""
    out: dict[tuple[Any, Any], list[tuple[int, float]]] = {}
    for row in table:
        if row["probe"] == probe and row["metric"] == metric:
            out.setdefault((row["layer"], row["head"]), []).append((row["step"], row["value"]))
    return {key: sorted(points) for key, points in out.items()}

"""Sweep probes over every checkpoint of a source into one tidy table, cached per (checkpoint, probe).

Table rows: {step, tokens, layer, head, probe, metric, value} (`probes.table`), saved as JSON lines at
SOURCE/analysis/sweep.jsonl. Each (checkpoint, probe) result is cached in SOURCE/analysis/cache/ the moment it is
computed (atomic write), so an interrupted or failed sweep keeps its partial results and a re-run computes only what
is missing. Probe inputs are seeded and identical for every checkpoint; each checkpoint's weights are read once
(`probes.checkpoint.Checkpoint`). Probes that do not apply to the model are skipped; the reasons are saved in
SOURCE/analysis/notes.json for the report.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from tqdm.auto import tqdm

from circuits.store import ANALYSIS_DIR, RunStore, atomic_write_text, step_dirname
from probes.checkpoint import CheckpointSource, RunSource
from probes.inputs import ProbeInputs
from probes.suite import DEFAULT_PROBES, FINAL_ONLY, PROBE_VERSIONS, PROBES, check_probe_names, not_applicable
from probes.table import Row, read_rows, read_table, write_rows

SWEEP_FILE = "sweep.jsonl"
NOTES_FILE = "notes.json"
CACHE_DIR = "cache"
logger = logging.getLogger(__name__)


def as_source(run: RunStore | CheckpointSource) -> CheckpointSource:
    return RunSource(run) if isinstance(run, RunStore) else run


def probe_inputs(source: CheckpointSource) -> ProbeInputs:
    return ProbeInputs.for_run(source.config) if source.config is not None else ProbeInputs.for_model(source.facts)


def cache_file(source: RunStore | CheckpointSource, step: int, probe: str) -> Path:
    """The cached rows of one (checkpoint, probe), keyed by the probe's version (`probes.suite.PROBE_VERSIONS`)."""
    return source.path / ANALYSIS_DIR / CACHE_DIR / f"{step_dirname(step)}.{probe}.v{PROBE_VERSIONS[probe]}.jsonl"


def run_sweep(run: RunStore | CheckpointSource, probes: tuple[str, ...] | None = None, steps: list[int] | None = None,
              progress: bool = True, device: str | torch.device = "cpu") -> list[Row]:
    """Run `probes` (default: every probe of `DEFAULT_PROBES` that applies to the model, plus the FV probes on
    fv-mix runs) on every checkpoint (or `steps`), reusing cached results;
    returns and saves the tidy table."""
    source = as_source(run)
    inputs = probe_inputs(source)
    probes = _applicable(source, inputs, probes if probes is not None else DEFAULT_PROBES)
    all_steps = source.steps()
    chosen = all_steps if steps is None else [s for s in steps if s in all_steps]
    planned = _planned(chosen, probes, all_steps[-1])
    todo: dict[int, list[str]] = {}
    for step, probe in planned:
        if not cache_file(source, step, probe).exists():
            todo.setdefault(step, []).append(probe)
    for step in tqdm(sorted(todo), desc=f"probes {source.path.name}", disable=not progress, unit="ckpt"):
        ckpt = source.load(step, device)  # the engine moves probe inputs to the device and results back
        for probe in todo[step]:
            write_rows(cache_file(source, step, probe), PROBES[probe](ckpt, inputs))
    table = _assemble(source, planned)
    write_rows(source.path / ANALYSIS_DIR / SWEEP_FILE, table)
    return table


def default_probes(inputs: ProbeInputs) -> tuple[str, ...]:
    """What a sweep runs when no probes are named: `DEFAULT_PROBES`, plus the probes of the run's own data when they
    apply (fv and fv_controls on fv-mix runs, grokking on modular-addition runs). Opt-in probes (writers, attribution,
    llc) run only when named."""
    return DEFAULT_PROBES + tuple(p for p in ("fv", "fv_controls", "grokking") if not_applicable(p, inputs) is None)


def _applicable(source: CheckpointSource, inputs: ProbeInputs, probes: tuple[str, ...]) -> tuple[str, ...]:
    """The requested probes that apply; the others are logged and noted in SOURCE/analysis/notes.json. The FV
    probes join the default set on fv-mix runs."""
    check_probe_names(probes)
    if probes == DEFAULT_PROBES:
        probes = default_probes(inputs)
    notes = {p: reason for p in probes if (reason := not_applicable(p, inputs)) is not None}
    for probe, reason in notes.items():
        logger.warning("skipping probe %s: %s", probe, reason)
    (source.path / ANALYSIS_DIR).mkdir(parents=True, exist_ok=True)
    atomic_write_text(source.path / ANALYSIS_DIR / NOTES_FILE, json.dumps({"skipped": notes}, indent=2))
    return tuple(p for p in probes if p not in notes)


def _planned(steps: list[int], probes: tuple[str, ...], last: int) -> list[tuple[int, str]]:
    """(step, probe) pairs to run: every probe on every chosen step, FINAL_ONLY probes on the last step only."""
    return [(s, p) for s in steps for p in probes if p not in FINAL_ONLY or s == last]


def _assemble(source: CheckpointSource, planned: list[tuple[int, str]]) -> list[Row]:
    table, tokens = [], {}
    for step, probe in planned:
        tokens.setdefault(step, source.tokens(step))
        table += [{"step": step, "tokens": tokens[step], **row} for row in read_rows(cache_file(source, step, probe))]
    return table


def load_table(run: RunStore | CheckpointSource) -> list[Row]:
    """The saved sweep table of a run (run `icl-workbench analyze` first)."""
    return read_table(run.path / ANALYSIS_DIR / SWEEP_FILE, run.path)


def load_notes(run: RunStore | CheckpointSource) -> dict[str, str]:
    """{probe: why it was skipped} from the last sweep (empty when none was skipped or no sweep ran)."""
    file = run.path / ANALYSIS_DIR / NOTES_FILE
    return json.loads(file.read_text())["skipped"] if file.exists() else {}

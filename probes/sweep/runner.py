"""Sweep probes over every checkpoint of a source into one tidy table, cached per (checkpoint, probe).

Table rows: {step, tokens, layer, head, probe, metric, value} (`probes.table`), saved as JSON lines at
SOURCE/analysis/sweep.jsonl. Each (checkpoint, probe) result is cached in SOURCE/analysis/cache/ the moment it is
computed (atomic write), so an interrupted or failed sweep keeps its partial results and a re-run computes only what
is missing. Probe inputs are seeded and identical for every checkpoint; each checkpoint's weights are read once
(`probes.engine.checkpoint.Checkpoint`). Probes that do not apply to the model are skipped, and a probe that fails on a checkpoint is left
out while the sweep goes on; both reasons are saved in SOURCE/analysis/notes.json for the report.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from circuits.errors import WorkbenchError
from circuits.progress import progress_bar
from circuits.store.files import ANALYSIS_DIR, CACHE_DIR, NOTES_FILE, SWEEP_FILE, step_dirname
from circuits.store.runs import RunStore, atomic_write_text
from probes.engine.checkpoint import CheckpointSource, RunSource
from probes.engine.inputs import ProbeInputs
from probes.registry import all_probes, cache_tag, check_probe_names, default_probes, get_probe, not_applicable, with_needs
from probes.table import Row, read_rows, read_table, write_rows

logger = logging.getLogger(__name__)


def as_source(run: RunStore | CheckpointSource) -> CheckpointSource:
    return RunSource(run) if isinstance(run, RunStore) else run


def probe_inputs(source: CheckpointSource) -> ProbeInputs:
    return ProbeInputs.for_run(source.config) if source.config is not None else ProbeInputs.for_model(source.facts)


def cache_file(source: RunStore | CheckpointSource, step: int, probe: str) -> Path:
    """The cached rows of one (checkpoint, probe), keyed by the probe's version and those of the probes it needs
    (`probes.registry.cache_tag`)."""
    return source.path / ANALYSIS_DIR / CACHE_DIR / f"{step_dirname(step)}.{probe}.{cache_tag(probe)}.jsonl"


def run_sweep(run: RunStore | CheckpointSource, probes: tuple[str, ...] | None = None, steps: list[int] | None = None,
              progress: bool = True, device: str | torch.device = "cpu") -> list[Row]:
    """Run `probes` (default: `probes.registry.default_probes` of this run) and the probes they need on every
    checkpoint (or `steps`), reusing cached results; returns and saves the tidy table.

    A probe that raises on a checkpoint is logged and recorded in SOURCE/analysis/notes.json ("failed"), its rows
    are left out (a re-run tries it again), and the sweep goes on with the other probes and checkpoints."""
    source = as_source(run)
    inputs = probe_inputs(source)
    probes, skipped = _applicable(inputs, probes)
    all_steps = source.steps()
    chosen = all_steps if steps is None else [s for s in steps if s in all_steps]
    planned = _planned(chosen, probes, all_steps[-1])
    todo: dict[int, list[str]] = {}
    for step, probe in planned:
        if not cache_file(source, step, probe).exists():
            todo.setdefault(step, []).append(probe)
    failed: dict[str, str] = {}
    for step in progress_bar(sorted(todo), desc=f"probes {source.path.name}", disable=not progress, unit="ckpt"):
        ckpt = source.load(step, device)  # the engine moves probe inputs to the device and results back
        failed |= _probe_checkpoint(source, ckpt, inputs, todo[step])
    _write_notes(source, skipped, failed)
    table = _assemble(source, all_steps)
    write_rows(source.path / ANALYSIS_DIR / SWEEP_FILE, table)
    return table


def _probe_checkpoint(source: CheckpointSource, ckpt, inputs: ProbeInputs, names: list[str]) -> dict[str, str]:
    """Run `names` (in dependency order) on one checkpoint, caching each result; {probe: why it failed}."""
    failed: dict[str, str] = {}
    ckpt.rows = {}
    for name in with_needs(tuple(names)):
        file = cache_file(source, ckpt.step, name)
        missing = [n for n in get_probe(name).needs if n not in ckpt.rows]
        if file.exists():
            ckpt.rows[name] = read_rows(file)
        elif missing:
            failed[name] = f"step {ckpt.step}: needs {', '.join(missing)}, which failed"
        else:
            try:
                ckpt.rows[name] = get_probe(name).run(ckpt, inputs)
            except Exception as exc:  # a probe that cannot run on this model must not stop the sweep
                logger.exception("probe %s failed at step %d of %s", name, ckpt.step, source.path)
                failed[name] = f"step {ckpt.step}: {type(exc).__name__}: {exc}"
                continue
            write_rows(file, ckpt.rows[name])
    return failed


def _applicable(inputs: ProbeInputs, probes: tuple[str, ...] | None) -> tuple[tuple[str, ...], dict[str, str]]:
    """(the requested probes and what they need that apply, {probe: why it does not apply}); the reasons are logged."""
    requested = default_probes(inputs) if probes is None else tuple(probes)
    check_probe_names(requested)
    wanted = with_needs(requested)
    notes = {p: reason for p in wanted if (reason := not_applicable(p, inputs)) is not None}
    for probe, reason in notes.items():
        logger.warning("skipping probe %s: %s", probe, reason)
    return tuple(p for p in wanted if p not in notes), notes


def _write_notes(source: CheckpointSource, skipped: dict[str, str], failed: dict[str, str]) -> None:
    (source.path / ANALYSIS_DIR).mkdir(parents=True, exist_ok=True)
    atomic_write_text(source.path / ANALYSIS_DIR / NOTES_FILE, json.dumps({"skipped": skipped, "failed": failed}, indent=2))


def _planned(steps: list[int], probes: tuple[str, ...], last: int) -> list[tuple[int, str]]:
    """(step, probe) pairs to run: every probe on every chosen step, final-only probes on the last step only."""
    return [(s, p) for s in steps for p in probes if not get_probe(p).final_only or s == last]


def _assemble(source: CheckpointSource, steps: list[int]) -> list[Row]:
    """The table of every (step, probe) with cached results at the probe's current version — this sweep's and earlier
    ones' (an opt-in probe run on chosen steps adds its rows; a failed one has none)."""
    table, tokens = [], {}
    for step in steps:
        for probe in all_probes():
            file = cache_file(source, step, probe)
            if file.exists():
                tokens.setdefault(step, source.tokens(step))
                table += [{"step": step, "tokens": tokens[step], **row} for row in read_rows(file)]
    return table


def select_steps(text: str, steps: list[int]) -> list[int]:
    """The checkpoints a step selection names, e.g. "final", "0,500,final", "200-1000" (every checkpoint in the
    range), "every:4" (every 4th checkpoint of the run's schedule, and the final one); items combine with commas."""
    chosen: set[int] = set()
    for item in (i.strip() for i in text.split(",")):
        chosen |= _select_item(item, steps)
    return sorted(chosen)


def _select_item(item: str, steps: list[int]) -> set[int]:
    if item == "final":
        return {steps[-1]}
    if item.startswith("every:"):
        n = _int(item[len("every:"):], item)
        if n <= 0:
            raise WorkbenchError(f"every:N needs a positive N, got {item!r}; e.g. every:4 takes every 4th checkpoint.")
        return set(steps[::n]) | {steps[-1]}
    if "-" in item.lstrip("-"):
        low, high = (_int(part, item) for part in item.split("-", 1))
        if low > high:
            raise WorkbenchError(f"range {item} runs backwards; write it as {high}-{low}.")
        inside = {s for s in steps if low <= s <= high}
        if not inside:
            raise WorkbenchError(f"no checkpoint lies in {item}; this run's checkpoints run from {steps[0]} to {steps[-1]}.")
        return inside
    step = _int(item, item)
    if step not in steps:
        below, above = max((s for s in steps if s < step), default=None), min((s for s in steps if s > step), default=None)
        raise WorkbenchError(f"step {step} is not a checkpoint of this run; the nearest are "
                             f"{' and '.join(str(s) for s in (below, above) if s is not None)} (`icl-workbench runs` lists them).")
    return {step}


def _int(text: str, item: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise WorkbenchError(f"cannot read {item!r} as a step; use N, A-B, every:N or final, joined by commas.") from None


def load_table(run: RunStore | CheckpointSource) -> list[Row]:
    """The saved sweep table of a run (run `icl-workbench analyze` first)."""
    return read_table(run.path / ANALYSIS_DIR / SWEEP_FILE, run.path)


def load_notes(run: RunStore | CheckpointSource) -> dict[str, str]:
    """{probe: why it was skipped or failed} from the last sweep (empty when every probe ran or no sweep ran)."""
    file = run.path / ANALYSIS_DIR / NOTES_FILE
    if not file.exists():
        return {}
    notes = json.loads(file.read_text())
    return notes["skipped"] | {p: f"failed ({why}); see the log" for p, why in notes.get("failed", {}).items()}

"""The pipeline: train → analyze → report → demo, and grids of runs — plain functions over `circuits` and `probes`.

The CLI (`icl_workbench`), the notebooks and the benchmarks all call these; nothing here parses arguments or
prints. Layering: `circuits` (data, model, training, checkpoint store, grids) never imports `probes`; `probes`
(detectors, interventions, probe sweeps, reports) reads runs through `circuits`; this module sits above both.

    store = train_run(preset("attn-only-2l"), "checkpoints/attn-only-2l")
    table = analyze(store)                       # every probe on every checkpoint → RUN/analysis/sweep.jsonl
    page, summary = report(store)                # RUN/report.html (reads the table; runs no model)
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from circuits.config import RunConfig
from circuits.device import resolve_device
from circuits.grids.executors import JobResult
from circuits.grids.grid import GridJob, GridSpec, is_finished, run_grid, seed_config, seed_run_name
from circuits.presets import preset
from circuits.store.files import GALLERY_DIR
from circuits.store.runs import RunStore
from circuits.training.trainer import train
from probes.claims.seeds import write_seed_report
from probes.engine.checkpoint import CheckpointSource
from probes.engine.hf_source import HFSource, is_hf_analysis
from probes.gallery.entries import gallery_entry
from probes.gallery.page import entry_record, write_entry_page, write_index
from probes.report.grid import write_grid_report
from probes.report.page import write_report
from probes.sweep.follow import FollowResult, follow
from probes.sweep.runner import run_sweep, select_steps
from probes.table import Row

logger = logging.getLogger(__name__)
GRID_PROBES = ("attention", "icl")  # what a grid run is analyzed with by default (the cross-run report reads them)


def train_run(config: RunConfig, out: str | Path, *, device: str = "cpu", progress: bool = True) -> RunStore:
    """Train `config` into `out` (resuming it if it exists) on `device` ("auto", "cpu", "cuda", "cuda:N")."""
    return train(config, out, progress=progress, device=resolve_device(device))


def open_source(run: str | Path | RunStore | CheckpointSource) -> RunStore | CheckpointSource:
    """A run directory, an analyzed Hugging Face series (OUT/hf_source.json), or an already open source."""
    if isinstance(run, (str, Path)):
        return HFSource.reopen(Path(run)) if is_hf_analysis(Path(run)) else RunStore(run)
    return run


def analyze(run: str | Path | RunStore | CheckpointSource, probes: Sequence[str] | None = None, *,
            steps: str | list[int] | None = None, device: str = "cpu", progress: bool = True) -> list[Row]:
    """Every probe that applies (or `probes`) on every checkpoint (or `steps`: a list, or a selection such as
    "final", "0-500", "every:4", see `probes.sweep.runner.select_steps`), cached; returns the tidy table, which
    holds every probe's cached rows (earlier sweeps' included)."""
    source = open_source(run)
    chosen = tuple(probes) if probes is not None else None
    picked = select_steps(steps, source.steps()) if isinstance(steps, str) else steps
    return run_sweep(source, chosen, picked, progress=progress, device=resolve_device(device))


def analyze_follow(run: str | Path, probes: Sequence[str] | None = None, *, timeout: float | None = None,
                   device: str = "cpu", progress: bool = True) -> FollowResult:
    """Probe each checkpoint of `run` as training writes it, refreshing RUN/report.html, until the final checkpoint
    is probed (or `timeout` seconds pass, or the trainer is gone): `probes.sweep.follow.follow`."""
    return follow(run, probes, timeout=timeout, device=device, progress=progress)


def analyze_hf(paths: Sequence[str | Path], out: str | Path | None = None, probes: Sequence[str] | None = None, *,
               steps: str | list[int] | None = None, device: str = "cpu", progress: bool = True) -> tuple[HFSource, list[Row]]:
    """Probe a series of local Hugging Face checkpoints (GPT-2, GPT-NeoX/Pythia folders) into OUT/analysis."""
    source = HFSource(list(paths), out)
    return source, analyze(source, probes, steps=steps, device=device, progress=progress)


def report(run: str | Path | RunStore | CheckpointSource) -> tuple[Path, list[str]]:
    """Write the run's HTML report from its table; returns its path and the summary sentences."""
    import json

    from circuits.store.files import ANALYSIS_DIR, REPORT_DATA_FILE

    source = open_source(run)
    page = write_report(source)
    return page, json.loads((source.path / ANALYSIS_DIR / REPORT_DATA_FILE).read_text())["summary"]


def full_run(config: RunConfig, out: str | Path, *, device: str = "cpu", progress: bool = True) -> tuple[Path, list[str]]:
    """Train (unless complete) → analyze → report one run."""
    store = train_run(config, out, device=device, progress=progress)
    analyze(store, device=device, progress=progress)
    return report(store)


def demo(preset_name: str, root: str | Path, *, device: str = "cpu", progress: bool = True) -> tuple[Path, list[str]]:
    """The main job: the preset's run under ROOT/PRESET, trained unless it exists, analyzed and reported."""
    return full_run(preset(preset_name), Path(root) / preset_name, device=device, progress=progress)


def demo_seeds(preset_name: str, root: str | Path, seeds: int, *, device: str = "cpu", progress: bool = True) -> Path:
    """Seeds 0 … N−1 of a preset (runs PRESET-seedK) trained, analyzed and reported, then the claims over seeds
    (ROOT/PRESET-seeds/report.html)."""
    config, root = preset(preset_name), Path(root)
    runs = []
    for seed in range(seeds):
        out = root / seed_run_name(preset_name, seed)
        full_run(seed_config(config, seed), out, device=device, progress=progress)
        runs.append(RunStore(out))
    return write_seed_report(runs, root / f"{preset_name}-seeds")


def reproduce(name: str, root: str | Path, seeds: int | None = None, *, device: str = "cpu",
              progress: bool = True) -> tuple[Path, dict]:
    """One gallery entry (`probes.gallery.entries`): seeds 0 … n−1 of its preset, of its control and of its baseline
    (for pair claims) trained (reusing finished runs under ROOT), analyzed and reported; then ROOT/gallery/NAME/report.html and the gallery's index."""
    import time

    entry = gallery_entry(name)
    root, start, n = Path(root), time.perf_counter(), seeds if seeds is not None else entry.seeds
    runs = [_seed_report(entry.preset, s, root, entry.probes, device, progress) for s in range(n)]
    controls = [_seed_report(entry.control, s, root, entry.probes, device, progress) for s in range(n)] if entry.control else []
    baselines = [_seed_report(entry.baseline, s, root, entry.probes, device, progress) for s in range(n)] if entry.baseline else None
    record = entry_record(entry, runs, controls, time.perf_counter() - start, baselines)
    page = write_entry_page(record, root / GALLERY_DIR / name)
    write_index(root / GALLERY_DIR)
    return page, record


def _seed_report(preset_name: str, seed: int, root: Path, probes: tuple[str, ...], device: str, progress: bool) -> RunStore:
    """Seed `seed` of a preset trained (unless done), analyzed (default probes, then `probes`) and reported."""
    out = root / seed_run_name(preset_name, seed)
    full_run(seed_config(preset(preset_name), seed), out, device=device, progress=progress)
    if probes:
        analyze(out, probes, device=device, progress=progress)
        report(out)
    return RunStore(out)


def run_grid_job(job: GridJob, probes: tuple[str, ...] = GRID_PROBES, device: str = "cpu") -> dict[str, Any]:
    """One grid run: train (resuming), analyze with `probes`, on `device`. Top-level so that worker processes can
    import it."""
    store = train(job.config, job.out, progress=False, device=resolve_device(device))
    run_sweep(store, probes, progress=False, device=resolve_device(device))
    last = store.metrics()[-1]
    return {"name": job.name, "final_step": store.steps()[-1], "eval/loss": last["eval/loss"],
            "eval/repeat_loss": last.get("eval/repeat_loss")}  # none on modular-addition runs


def grid(spec: GridSpec, out: str | Path, *, probes: Sequence[str] = GRID_PROBES, backend: str = "process",
          workers: int | None = None, address: str | None = None, device: str = "cpu",
          progress: bool = True) -> tuple[list[JobResult], Path]:
    """Train and analyze every run of a grid (presets × seeds, with `--set` overrides) in DIR on a local process
    pool or Ray; finished runs are skipped, unfinished ones resume. Then the cross-run report DIR/grid_report.html."""
    resolve_device(device)  # one clear error before any run starts
    job = functools.partial(run_grid_job, probes=tuple(probes), device=device)
    done = functools.partial(is_finished, probes=tuple(probes))
    results = run_grid(spec, out, job, backend=backend, workers=workers, address=address, progress=progress, done=done)
    return results, write_grid_report(Path(out))

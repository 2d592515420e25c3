"""Grids of runs: presets × seeds (× `--set` overrides), run side by side on a process pool or Ray.

A grid folder DIR holds `grid.json` (the spec and its runs) and one run directory per run, named `PRESET-seedK` —
the naming of `icl-workbench demo --seeds`, so a grid and a seed demo in the same folder share runs. Seed K sets
both the data seed and the initialisation seed (`seed_config`). Re-running a grid skips finished runs and resumes
the others: training resumes from its last complete checkpoint, the sweep reuses its per-checkpoint cache. A DIR
that holds a different grid, or a run directory holding a different config, is refused before anything runs.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from circuits.config import RunConfig, replace
from circuits.errors import WorkbenchError
from circuits.grids.executors import JobResult, run_jobs
from circuits.model.transformer import BRIDGE_MODULES
from circuits.store.files import ANALYSIS_DIR, CONFIG_FILE, GRID_FILE, GRID_RESULTS_FILE, SWEEP_FILE
from circuits.store.runs import RunStore, atomic_write_text

_SEED_ITEM = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
logger = logging.getLogger(__name__)


def seed_run_name(preset: str, seed: int) -> str:
    """The run name of seed `seed` of `preset`: `PRESET-seedK`."""
    return f"{preset}-seed{seed}"


def seed_config(config: RunConfig, seed: int) -> RunConfig:
    """The preset with data seed and initialisation seed both set to `seed`."""
    return replace(config, train=replace(config.train, seed=seed), model=replace(config.model, seed=seed))


@dataclass(frozen=True)
class GridSpec:
    """Presets (names, or paths to a config JSON) × seeds, each with the same `section.field=value` overrides."""

    presets: tuple[str, ...]
    seeds: tuple[int, ...] = (0,)
    sets: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list]:
        return {"presets": list(self.presets), "seeds": list(self.seeds), "sets": list(self.sets)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GridSpec:
        return cls(tuple(raw["presets"]), tuple(raw["seeds"]), tuple(raw.get("sets", ())))


@dataclass(frozen=True)
class GridRun:
    """One run of a grid: its name, config, and the preset label and seed it came from."""

    name: str
    config: RunConfig
    preset: str
    seed: int


@dataclass(frozen=True)
class GridJob:
    """What a job function receives: one run and the directory to train (and analyze) it in."""

    name: str
    config: RunConfig
    out: Path
    preset: str
    seed: int


def parse_seeds(text: str) -> tuple[int, ...]:
    """"0-7" → (0, …, 7); "0,2,5" → (0, 2, 5); items may mix ("0-3,8"). A single "3" is seed 3 alone."""
    seeds: list[int] = []
    for item in text.split(","):
        match = _SEED_ITEM.match(item)
        if not match:
            raise WorkbenchError(f"cannot read seeds {text!r} (item {item.strip()!r}); write a range like 0-7 or a "
                                 f"list like 0,2,5 of non-negative integers.")
        low, high = int(match[1]), int(match[2] or match[1])
        if high < low:
            raise WorkbenchError(f"seed range {item.strip()!r} runs backwards; write it as {high}-{low}.")
        seeds += range(low, high + 1)
    duplicates = sorted({s for s in seeds if seeds.count(s) > 1})
    if duplicates:
        raise WorkbenchError(f"seeds {text!r} name seed(s) {duplicates} twice; list each seed once.")
    return tuple(seeds)


def is_config_path(preset: str) -> bool:
    """True if a grid preset names a config JSON file rather than a preset."""
    return preset.endswith(".json")


def base_config(preset: str, sets: tuple[str, ...] = ()) -> RunConfig:
    """The config of a preset name or a (full or partial) config JSON path, with `sets` applied, via
    `circuits.overrides.build_run_config` (a partial file applies over the default preset)."""
    from circuits.overrides import build_run_config

    if is_config_path(preset):
        return build_run_config(None, Path(preset), list(sets))
    return build_run_config(preset, None, list(sets))


def grid_runs(spec: GridSpec) -> list[GridRun]:
    """Every (preset, seed) run of the grid, preset-major, each config validated. Runs are named after their
    config's `name` (the preset name, a config file's "name", or `--set name=NAME`)."""
    _check_spec(spec)
    runs = []
    for preset in spec.presets:
        base = base_config(preset, spec.sets)
        for seed in spec.seeds:
            config = seed_config(base, seed)
            config.validate()
            runs.append(GridRun(seed_run_name(base.name, seed), config, base.name, seed))
    names = [r.name for r in runs]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise WorkbenchError(f"grid runs {clashes} would share a directory: two presets build configs named "
                             f"{clashes[0].rsplit('-seed', 1)[0]!r}; give each config file its own \"preset\" name "
                             f"(and use --set name=NAME only with a single preset).")
    return runs


def _check_spec(spec: GridSpec) -> None:
    if not spec.presets or not spec.seeds:
        raise WorkbenchError(f"a grid needs at least one preset and one seed (got presets {list(spec.presets)}, "
                             f"seeds {list(spec.seeds)}); e.g. --presets attn-only-2l --seeds 0-3.")
    if any(not isinstance(s, int) or s < 0 for s in spec.seeds):
        raise WorkbenchError(f"seeds must be non-negative integers, got {list(spec.seeds)}.")
    seeded = [s for s in spec.sets if s.split("=", 1)[0].strip() in ("train.seed", "model.seed")]
    if seeded:
        raise WorkbenchError(f"--set {seeded[0]} conflicts with the grid's seeds; choose seeds with --seeds instead.")


def grid_jobs(spec: GridSpec, out: str | Path) -> list[GridJob]:
    """The grid's jobs in DIR=`out`, after writing DIR/grid.json (or checking the one there is this grid) and
    checking that no run directory holds a different config."""
    out = Path(out)
    runs = grid_runs(spec)
    _claim_folder(out, spec, runs)
    jobs = [GridJob(r.name, r.config, out / r.name, r.preset, r.seed) for r in runs]
    for job in jobs:
        if (job.out / CONFIG_FILE).is_file() and RunStore(job.out).config() != job.config:
            raise WorkbenchError(f"{job.out} holds a run with a different config than this grid's {job.name}; "
                                 f"use another grid folder, or delete {job.out} to discard that run.")
    return jobs


def _claim_folder(out: Path, spec: GridSpec, runs: list[GridRun]) -> None:
    record = {"spec": spec.to_dict(), "runs": [{"name": r.name, "preset": r.preset, "seed": r.seed} for r in runs]}
    file = out / GRID_FILE
    if file.is_file():
        held = read_grid(out)["spec"]
        if held != record["spec"]:
            raise WorkbenchError(f"{out} already holds a different grid (presets {held['presets']}, seeds "
                                 f"{held['seeds']}, sets {held['sets']}); choose another folder for this grid, or "
                                 f"re-run that grid exactly.")
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(file, json.dumps(record, indent=1))


def read_grid(out: str | Path) -> dict[str, Any]:
    """DIR/grid.json: {"spec": {presets, seeds, sets}, "runs": [{name, preset, seed}, …]}."""
    file = Path(out) / GRID_FILE
    if not file.is_file():
        raise WorkbenchError(f"{out} is not a grid folder (no {GRID_FILE}); run a grid into it first.")
    try:
        record = json.loads(file.read_text())
        GridSpec.from_dict(record["spec"])
        return record
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise WorkbenchError(f"{file} is malformed ({exc}); restore it, or delete it and re-run the grid.") from exc


def is_trained(job: GridJob) -> bool:
    """True if the run's final checkpoint (step = train.steps) is complete."""
    try:
        steps = RunStore(job.out).steps() if (job.out / CONFIG_FILE).is_file() else []
    except WorkbenchError:  # a damaged checkpoint: the job itself reports it with the fix
        return False
    return bool(steps) and steps[-1] >= job.config.train.steps


def is_finished(job: GridJob, probes: tuple[str, ...] = ()) -> bool:
    """Trained to its final checkpoint AND analyzed: RUN/analysis/sweep.jsonl present and holding rows of every
    probe in `probes` (so a grid re-run with more probes analyzes its runs again; cached results are reused)."""
    table = job.out / ANALYSIS_DIR / SWEEP_FILE
    if not (is_trained(job) and table.is_file()):
        return False
    found = {json.loads(line)["probe"] for line in table.read_text().splitlines() if line} if probes else set()
    return set(probes) <= found


def train_job(job: GridJob) -> dict[str, Any]:
    """Train one grid run (resuming it if it was interrupted); returns its final step and last losses."""
    from circuits.training.trainer import train

    store = train(job.config, job.out, progress=False)
    steps, last = store.steps(), store.metrics()[-1]
    return {"name": job.name, "final_step": steps[-1], "checkpoints": len(steps), "eval/loss": last["eval/loss"],
            "eval/repeat_loss": last.get("eval/repeat_loss")}  # none on modular-addition runs


def run_grid(spec: GridSpec, out: str | Path, job_fn: Callable[[GridJob], Any] = train_job, *,
             backend: str = "process", workers: int | None = None, address: str | None = None,
             progress: bool = True, done: Callable[[GridJob], bool] = is_finished) -> list[JobResult]:
    """Run `job_fn` (top-level, picklable) on every run of the grid in DIR=`out` not yet `done` (default: trained
    and analyzed; pass `done=is_trained` with `train_job`), on `backend` ("process" or "ray", see
    `circuits.grids.executors.run_jobs`). Writes DIR/grid_results.json; returns one JobResult per run, in grid order
    (finished runs as skipped=True)."""
    jobs = grid_jobs(spec, out)
    todo = [i for i, job in enumerate(jobs) if not done(job)]
    ran = run_jobs(job_fn, [jobs[i] for i in todo], backend=backend, workers=workers, address=address,
                   progress=progress, preload=BRIDGE_MODULES)
    by_index = {todo[r.index]: replace(r, index=todo[r.index]) for r in ran}
    results = [by_index.get(i) or JobResult(i, job.name, True, skipped=True) for i, job in enumerate(jobs)]
    failed = [r for r in results if not r.ok]
    for r in failed:
        logger.error("grid run %s failed: %s", r.name, r.error)
    atomic_write_text(Path(out) / GRID_RESULTS_FILE, json.dumps([r.to_dict() for r in results], indent=1, default=str))
    return results

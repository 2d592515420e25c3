"""Every file and folder name of a run directory, of a grid folder and of an analysis folder — defined here only.

A run directory (`circuits.store.runs.RunStore`):
    RUN/config.json                       the RunConfig (frozen dataclasses as JSON)
    RUN/metrics.jsonl                     one line per evaluation
    RUN/.lock                             held while a process trains into RUN (`circuits.store.lock`)
    RUN/steps/step_NNNNNN/                one checkpoint: model.safetensors, optimizer.pt, rng.safetensors, state.json
    RUN/analysis/                         the probes' output (`probes.sweep.runner`) and the report
        sweep.jsonl, notes.json, cache/   the tidy table, skipped or failed probes, per-(checkpoint, probe) rows
        report.html, report_data.json     the page and the numbers it states
        seeds.json                        a multi-seed summary (`probes.claims.seeds`)
        hf_source.json                    the revisions of a Hugging Face series (`probes.engine.hf_source`)
A gallery folder (`icl-workbench reproduce`, `probes.gallery`): index.html, and per entry ENTRY/report.html and
ENTRY/reproduction.json beside its seed runs.
A grid folder (`circuits.grids.grid`): grid.json, grid_results.json, one run directory per job, and
grid_report.html / grid_report.json (`probes.report.grid`).
"""
from __future__ import annotations

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LOCK_FILE = ".lock"
STEPS_DIR = "steps"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
RNG_FILE = "rng.safetensors"
STATE_FILE = "state.json"
CHECKPOINT_FILES = (MODEL_FILE, OPTIMIZER_FILE, RNG_FILE, STATE_FILE)

ANALYSIS_DIR = "analysis"
SWEEP_FILE = "sweep.jsonl"
NOTES_FILE = "notes.json"
CACHE_DIR = "cache"
REPORT_FILE = "report.html"
REPORT_DATA_FILE = "report_data.json"
SEED_REPORT_DATA = "seeds.json"
HF_SOURCE_FILE = "hf_source.json"

GALLERY_DIR = "gallery"
GALLERY_INDEX_FILE = "index.html"
GALLERY_ENTRY_FILE = "reproduction.json"

GRID_FILE = "grid.json"
GRID_RESULTS_FILE = "grid_results.json"
GRID_REPORT_FILE = "grid_report.html"
GRID_REPORT_DATA = "grid_report.json"


def step_dirname(step: int) -> str:
    """The folder of one checkpoint under RUN/steps/."""
    return f"step_{step:06d}"

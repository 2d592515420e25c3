"""Grids of runs on the process pool and on a real local Ray cluster (started once for this module, 2 CPUs)."""
from __future__ import annotations

import json
import math
import socket
import sys

import pytest
from builders import tiny_config

from circuits.errors import WorkbenchError
from circuits.grids.executors import run_jobs
from circuits.grids.grid import GridSpec, grid_jobs, grid_runs, is_finished, is_trained, parse_seeds, run_grid
from circuits.store.files import GRID_FILE, GRID_RESULTS_FILE, LOCK_FILE
from circuits.store.runs import RunStore

STEPS = 40


def _config_files(folder) -> tuple[str, str]:
    """Two tiny 'presets' as config JSON files (2 layers and 1 layer), named tiny-a and tiny-b."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, layers in (("tiny-a", 2), ("tiny-b", 1)):
        path = folder / f"{name}.json"
        path.write_text(tiny_config(model={"n_layers": layers}, train={"steps": STEPS, "n_checkpoints": 4}, name=name).to_json())
        paths.append(str(path))
    return tuple(paths)


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> GridSpec:
    return GridSpec(_config_files(tmp_path_factory.mktemp("configs")), (0, 1))


@pytest.fixture(scope="module")
def process_grid(spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("grid") / "g"
    results = run_grid(spec, out, backend="process", workers=2, progress=False, done=is_trained)
    return out, results


# ----- seeds and specs ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, seeds", [("0-3", (0, 1, 2, 3)), ("0,2,5", (0, 2, 5)), ("0-1, 7", (0, 1, 7)), ("4", (4,))])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text, message", [("", "cannot read seeds"), ("a-b", "cannot read seeds"), ("-1", "cannot read"),
                                           ("5-2", "runs backwards; write it as 2-5"), ("0-2,1", r"seed\(s\) \[1\] twice")])
def test_parse_seeds_errors(text, message):
    with pytest.raises(WorkbenchError, match=message):
        parse_seeds(text)


def test_grid_runs_share_the_seed_demo_naming_and_apply_sets():
    from circuits.grids.grid import seed_run_name  # what `demo --seeds` names its runs with

    runs = grid_runs(GridSpec(("attn-only-1l", "attn-only-2l"), (0, 3), ("train.steps=300",)))
    assert [r.name for r in runs] == ["attn-only-1l-seed0", "attn-only-1l-seed3", "attn-only-2l-seed0", "attn-only-2l-seed3"]
    assert [r.name for r in runs] == [seed_run_name(r.preset, r.seed) for r in runs]
    assert all(r.config.train.steps == 300 and r.config.train.seed == r.seed == r.config.model.seed for r in runs)
    assert runs[3].config.model.n_layers == 2 and runs[0].config.model.n_layers == 1


@pytest.mark.parametrize("spec, message", [(GridSpec(("attn-only-2l",), (0,), ("train.seed=3",)), "conflicts with the grid's seeds"),
                                           (GridSpec((), (0,)), "at least one preset"),
                                           (GridSpec(("attn-only-1l", "attn-only-2l"), (0,), ("preset=same",)), "would share a directory"),
                                           (GridSpec(("attn-only-9l",), (0,)), "unknown preset")])
def test_bad_grids_are_refused_clearly(spec, message):
    with pytest.raises(WorkbenchError, match=message):
        grid_runs(spec)


# ----- the process pool --------------------------------------------------------------------------------------------
def test_process_grid_trains_every_run(process_grid, spec):
    out, results = process_grid
    names = ["tiny-a-seed0", "tiny-a-seed1", "tiny-b-seed0", "tiny-b-seed1"]
    assert [r.name for r in results] == names and all(r.ok and not r.skipped for r in results), results
    assert [r.value["final_step"] for r in results] == [STEPS] * 4
    for name in names:
        store = RunStore(out / name)
        assert store.steps()[-1] == STEPS and not (out / name / LOCK_FILE).exists()
    assert RunStore(out / "tiny-a-seed1").config().model.seed == 1
    record = json.loads((out / GRID_FILE).read_text())
    assert record["spec"] == spec.to_dict() and [r["name"] for r in record["runs"]] == names
    assert [r["ok"] for r in json.loads((out / GRID_RESULTS_FILE).read_text())] == [True] * 4
    assert RunStore(out / "tiny-a-seed0").load_weights(STEPS)["embed.weight"].ne(
        RunStore(out / "tiny-a-seed1").load_weights(STEPS)["embed.weight"]).any()  # the seeds differ


def test_grid_report_reads_the_real_runs(process_grid):
    from circuits.store.files import GRID_REPORT_DATA
    from probes.report.grid import write_grid_report

    out, _ = process_grid
    write_grid_report(out)
    runs = json.loads((out / GRID_REPORT_DATA).read_text())["runs"]
    assert len(runs) == 4 and all(r["trained"] and r["last_step"] == STEPS for r in runs)
    assert all(r["censored"] == (r["phase_step"] is None) and r["final"]["icl_score"] is None for r in runs)


def test_rerun_skips_finished_runs(process_grid, spec):
    out, _ = process_grid
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != GRID_RESULTS_FILE}
    again = run_grid(spec, out, backend="process", workers=2, progress=False, done=is_trained)
    assert all(r.ok and r.skipped for r in again)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert not any(is_finished(job) for job in grid_jobs(spec, out))  # not analyzed: the default `done` would run them


def test_interrupted_run_resumes_and_a_failed_run_does_not_stop_it(process_grid, spec):
    """A run killed before its last checkpoint (its lock left behind) is resumed, not retrained: its earlier
    checkpoints stay untouched and its final weights equal the uninterrupted run's. Beside it, a run with a damaged
    checkpoint fails with its error reported, and the healthy runs are skipped."""
    import shutil
    import subprocess

    out, _ = process_grid
    run = RunStore(out / "tiny-b-seed1")
    final = run.checkpoint_dir(STEPS)
    expected = (final / "model.safetensors").read_bytes()
    earlier = {p: p.stat().st_mtime_ns for p in run.checkpoint_dir(run.steps()[-2]).iterdir()}
    shutil.rmtree(final)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run.path / LOCK_FILE).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "command": "killed"}))
    (RunStore(out / "tiny-a-seed0").checkpoint_dir(STEPS) / "state.json").unlink()
    results = run_grid(spec, out, backend="process", workers=1, progress=False, done=is_trained)
    assert [r.skipped for r in results] == [False, True, True, False]
    assert not results[0].ok and "is incomplete (missing state.json); delete that folder" in results[0].error
    assert results[3].ok, results[3].error
    assert (final / "model.safetensors").read_bytes() == expected
    assert {p: p.stat().st_mtime_ns for p in earlier} == earlier and not (run.path / LOCK_FILE).exists()
    assert [r["ok"] for r in json.loads((out / GRID_RESULTS_FILE).read_text())] == [False, True, True, True]


def test_a_folder_holding_another_grid_or_run_is_refused(process_grid, spec, tmp_path):
    out, _ = process_grid
    with pytest.raises(WorkbenchError, match="already holds a different grid .*choose another folder"):
        run_grid(GridSpec(spec.presets, (0, 1, 2)), out, progress=False)
    other = tmp_path / "g"
    (other / "tiny-a-seed0").mkdir(parents=True)
    (other / "tiny-a-seed0" / "config.json").write_text(tiny_config(name="tiny-a").to_json())
    with pytest.raises(WorkbenchError, match="holds a run with a different config"):
        run_grid(spec, other, progress=False)


@pytest.mark.parametrize("kwargs, message", [({"backend": "dask"}, "unknown backend"), ({"workers": 0}, "workers must be"),
                                             ({"address": "ray://x:10001"}, "only used by the ray backend")])
def test_bad_executor_options(kwargs, message):
    with pytest.raises(WorkbenchError, match=message):
        run_jobs(math.sqrt, [1.0], **kwargs)


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(WorkbenchError, match=r"pip install 'icl-workbench\[cluster\]'"):
        run_jobs(math.sqrt, [1.0], backend="ray")


# ----- a real local Ray cluster ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_grid_finishes_runs_identically_and_reports_failures(ray_cluster, process_grid, spec, tmp_path):
    """The process-pool grid, copied with every run cut back before its last checkpoint, finished on Ray: the final
    weights equal the pool's (train resumes exactly). Starting from checkpoints also keeps each Ray worker from
    importing transformer_lens, which is what fresh weights need (~10 s per worker on 2 cores)."""
    import shutil

    out, _ = process_grid
    shutil.copytree(out, tmp_path / "g")
    names = ["tiny-a-seed1", "tiny-b-seed0", "tiny-b-seed1"]  # tiny-a-seed0 was damaged on purpose above
    for name in names:
        shutil.rmtree(RunStore(tmp_path / "g" / name).checkpoint_dir(STEPS))
    results = run_grid(spec, tmp_path / "g", backend="ray", progress=False, done=is_trained)
    assert [r.skipped for r in results] == [False, False, False, False] and not results[0].ok
    assert all(r.ok and r.value["final_step"] == STEPS for r in results[1:]), results
    for name in names:
        ours, theirs = (RunStore(root / name).checkpoint_dir(STEPS) / "model.safetensors" for root in (tmp_path / "g", out))
        assert ours.read_bytes() == theirs.read_bytes(), name
    failed = run_jobs(math.sqrt, [-1.0, 16.0], backend="ray", progress=False)
    assert [r.ok for r in failed] == [False, True] and failed[1].value == 4.0 and "math domain" in failed[0].error
    assert ray_cluster.is_initialized()  # run_jobs leaves a cluster it did not start running

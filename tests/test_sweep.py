import json
import os
import shutil

import pytest

from circuits.errors import WorkbenchError
from circuits.store import STATE_FILE, RunStore
from probes import suite
from probes.sweep import SWEEP_FILE, cache_file, load_table, run_sweep
from probes.table import select

COLUMNS = {"step", "tokens", "layer", "head", "probe", "metric", "value"}


@pytest.fixture
def run(tiny_run, tmp_path):
    shutil.copytree(tiny_run.path, tmp_path / "run")
    return RunStore(tmp_path / "run")


def test_sweep_writes_one_tidy_table_over_every_checkpoint(run):
    table = run_sweep(run, progress=False)
    assert all(set(row) == COLUMNS for row in table)
    assert {r["step"] for r in table} == set(run.steps())
    assert {r["probe"] for r in table} == {"attention", "weights", "icl", "ablation", "induction_controls"}
    assert {r["step"] for r in table if r["probe"] == "induction_controls"} == {run.steps()[-1]}  # final-only control
    induction = select(table, "attention", "induction")
    assert sorted(induction) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [s for s, _ in induction[(1, 0)]] == run.steps()
    assert len(select(table, "ablation", "resample/repeat_loss")) == 4
    saved = [json.loads(line) for line in (run.path / "analysis" / SWEEP_FILE).read_text().splitlines()]
    assert saved == table == load_table(run)
    assert all(r["tokens"] == run.state(r["step"])["tokens"] for r in table)


def test_a_rerun_computes_only_what_is_missing(run, monkeypatch):
    run_sweep(run, ("icl",), progress=False)
    calls = []
    original = suite.PROBES["attention"]
    monkeypatch.setitem(suite.PROBES, "attention", lambda *a: calls.append(1) or original(*a))
    monkeypatch.setitem(suite.PROBES, "icl", lambda *a: pytest.fail("icl results were cached"))
    run_sweep(run, ("icl", "attention"), progress=False)
    assert len(calls) == len(run.steps())
    run_sweep(run, ("icl", "attention"), progress=False)
    assert len(calls) == len(run.steps())


def test_a_failing_sweep_keeps_its_partial_results(run, monkeypatch):
    steps = run.steps()
    original = suite.PROBES["icl"]

    def flaky(ckpt, inputs):
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        calls.append(1)
        return original(ckpt, inputs)

    calls: list[int] = []
    monkeypatch.setitem(suite.PROBES, "icl", flaky)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_sweep(run, ("icl",), progress=False)
    assert [cache_file(run, s, "icl").exists() for s in steps] == [True, True, True] + [False] * (len(steps) - 3)
    monkeypatch.setitem(suite.PROBES, "icl", original)
    assert {r["step"] for r in run_sweep(run, ("icl",), progress=False)} == set(steps)


def test_bad_sweep_input_gives_one_clear_error(run, tmp_path):
    with pytest.raises(WorkbenchError, match="unknown probe\\(s\\) \\['inductoin'\\]; available probes"):
        run_sweep(run, ("inductoin",), progress=False)
    empty = RunStore.create(tmp_path / "empty", run.config())
    with pytest.raises(WorkbenchError, match="has no complete checkpoints; train it first"):
        run_sweep(empty, progress=False)
    os.remove(run.checkpoint_dir(run.steps()[1]) / STATE_FILE)
    with pytest.raises(WorkbenchError, match="is incomplete \\(missing state.json\\)"):
        run_sweep(run, progress=False)
    with pytest.raises(WorkbenchError, match="has no probe table yet"):
        load_table(empty)


def test_a_changed_probe_version_is_recomputed_not_read_from_the_cache(run, monkeypatch):
    run_sweep(run, ("icl",), progress=False)
    calls = []
    original = suite.PROBES["icl"]
    monkeypatch.setitem(suite.PROBES, "icl", lambda *a: calls.append(1) or original(*a))
    monkeypatch.setitem(suite.PROBE_VERSIONS, "icl", suite.PROBE_VERSIONS["icl"] + 1)
    run_sweep(run, ("icl",), progress=False)
    assert len(calls) == len(run.steps())

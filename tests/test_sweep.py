import dataclasses
import json
import os
import shutil

import pytest

from circuits.errors import WorkbenchError
from circuits.store.files import STATE_FILE, SWEEP_FILE
from circuits.store.runs import RunStore
from probes.registry import all_probes
from probes.sweep.runner import cache_file, load_notes, load_table, run_sweep
from probes.table import select

PROBES = all_probes()
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


def replace_run(monkeypatch, name, run, **changes):
    """Swap a registered probe's `run` (and other declared fields) for the test's duration."""
    monkeypatch.setitem(PROBES, name, dataclasses.replace(PROBES[name], run=run, **changes))


def test_a_rerun_computes_only_what_is_missing(run, monkeypatch):
    run_sweep(run, ("icl",), progress=False)
    calls = []
    original = PROBES["attention"].run
    replace_run(monkeypatch, "attention", lambda *a: calls.append(1) or original(*a))
    replace_run(monkeypatch, "icl", lambda *a: pytest.fail("icl results were cached"))
    run_sweep(run, ("icl", "attention"), progress=False)
    assert len(calls) == len(run.steps())
    run_sweep(run, ("icl", "attention"), progress=False)
    assert len(calls) == len(run.steps())


def test_a_failing_probe_is_noted_and_the_sweep_goes_on(run, monkeypatch):
    steps = run.steps()
    original = PROBES["icl"].run

    def flaky(ckpt, inputs):
        if ckpt.step == steps[3]:
            raise RuntimeError("simulated crash")
        return original(ckpt, inputs)

    replace_run(monkeypatch, "icl", flaky)
    table = run_sweep(run, ("icl", "attention"), progress=False)
    assert [cache_file(run, s, "icl").exists() for s in steps] == [s != steps[3] for s in steps]
    assert {r["step"] for r in table if r["probe"] == "attention"} == set(steps)  # the other probe ran everywhere
    assert "simulated crash" in load_notes(run)["icl"] and f"step {steps[3]}" in load_notes(run)["icl"]
    replace_run(monkeypatch, "icl", original)
    assert {r["step"] for r in run_sweep(run, ("icl",), progress=False)} == set(steps)  # the re-run fills the gap
    assert "icl" not in load_notes(run)


def test_a_probe_reads_the_rows_of_the_probes_it_needs(run, monkeypatch):
    from probes.registry import ProbeSpec, register_probe
    from probes.table import model_row

    seen = []

    def reader(ckpt, inputs):
        seen.append(len(ckpt.rows["icl"]))
        return [model_row("icl_reader", "n", float(len(ckpt.rows["icl"])))]

    monkeypatch.setitem(PROBES, "icl_reader", None)
    register_probe(ProbeSpec("icl_reader", 1, reader, {"n": "rows of icl"}, needs=("icl",)))
    table = run_sweep(run, ("icl_reader",), progress=False)
    assert {r["probe"] for r in table} == {"icl", "icl_reader"} and len(seen) == len(run.steps()) and min(seen) > 0
    assert cache_file(run, run.steps()[0], "icl_reader").name.endswith(f".icl_reader.v1+icl.v{PROBES['icl'].version}.jsonl")


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
    original = PROBES["icl"].run
    replace_run(monkeypatch, "icl", lambda *a: calls.append(1) or original(*a), version=PROBES["icl"].version + 1)
    run_sweep(run, ("icl",), progress=False)
    assert len(calls) == len(run.steps())


def test_step_selections_name_checkpoints_of_the_run():
    from probes.sweep.runner import select_steps

    steps = [0, 1, 2, 4, 8, 16, 32, 64]
    assert select_steps("final", steps) == [64]
    assert select_steps("0,final", steps) == [0, 64]
    assert select_steps("2-16", steps) == [2, 4, 8, 16]
    assert select_steps("every:3", steps) == [0, 4, 32, 64]  # every 3rd checkpoint, and the final one
    assert select_steps("every:3,1", steps) == [0, 1, 4, 32, 64]
    for bad, message in [("5", r"step 5 is not a checkpoint of this run; the nearest are 4 and 8"),
                         ("16-2", r"range 16-2 runs backwards"), ("every:0", r"every:N needs a positive N"),
                         ("last", r"cannot read 'last' as a step"), ("40-50", r"no checkpoint lies in 40-50")]:
        with pytest.raises(WorkbenchError, match=message):
            select_steps(bad, steps)


def test_an_opt_in_probe_on_chosen_steps_adds_to_the_table_and_keeps_the_rest(run):
    """`analyze --probes weights --steps 0,final` after a full sweep: the table keeps every cached probe's rows."""
    from probes.sweep.runner import select_steps

    full = run_sweep(run, progress=False)
    shutil.rmtree(run.path / "analysis" / "cache")
    kept = [r for r in full if r["probe"] != "weights"]
    run_sweep(run, ("attention", "icl", "ablation", "induction_controls"), progress=False)
    table = run_sweep(run, ("weights",), select_steps("0,final", run.steps()), progress=False)
    assert {r["step"] for r in table if r["probe"] == "weights"} == {0, run.steps()[-1]}
    assert sorted(map(json.dumps, kept)) == sorted(json.dumps(r) for r in table if r["probe"] != "weights")
    assert load_table(run) == table

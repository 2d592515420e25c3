"""`probes.sweep.follow`: live analysis while a run trains — a reader that never changes what the trainer writes."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest
import torch
from builders import tiny_config

from circuits.errors import WorkbenchError
from circuits.store.files import ANALYSIS_DIR, LOCK_FILE, REPORT_FILE
from circuits.store.runs import RunStore
from circuits.training.trainer import train
from probes.registry import all_probes
from probes.sweep.follow import follow, live_figure, lock_holder_alive
from probes.sweep.runner import run_sweep

PROBES = all_probes()

CONFIG = tiny_config(train=dict(steps=60, n_checkpoints=6))  # checkpoints 0, 1, 8, 20, 40, 60
PAUSE_AT = 20  # the trainer waits here until the follower has probed this checkpoint: a read during training
FOLLOW_PROBES = ("icl", "induction_controls")  # induction_controls is FINAL_ONLY; the attention probe costs more


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread here (restored after): trainer and follower share the process, and on a loaded 2-core
    machine two spinning OpenMP threads made the tiny training ~15× slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _counting(calls: Counter, name: str):
    original = PROBES[name].run

    def probe(ckpt, inputs):
        calls[(ckpt.step, name)] += 1
        return original(ckpt, inputs)

    return probe


@pytest.fixture(scope="module")
def followed(tmp_path_factory):
    """CONFIG trained twice: plain, and with a follower thread started before the trainer (polling every 20 ms);
    the trainer pauses after checkpoint PAUSE_AT until the follower has probed it. Probe calls are counted."""
    root = tmp_path_factory.mktemp("follow")
    plain = train(CONFIG, root / "plain", progress=False)  # imports TransformerLens before the follower thread starts
    calls, updates, seen, out = Counter(), [], threading.Event(), {}

    def on_update(step, table):
        updates.append(step)
        if step >= PAUSE_AT:
            seen.set()

    def pause(step):
        if step == PAUSE_AT + 1:  # checkpoint PAUSE_AT is on disk
            out["read_while_training"] = seen.wait(timeout=60)

    with pytest.MonkeyPatch.context() as mp:
        for name in FOLLOW_PROBES:
            mp.setitem(PROBES, name, dataclasses.replace(PROBES[name], run=_counting(calls, name)))
        reader = threading.Thread(target=lambda: out.update(result=follow(
            root / "followed", FOLLOW_PROBES, poll=0.02, timeout=120.0, on_update=on_update)))
        reader.start()
        train(CONFIG, root / "followed", progress=False, on_step=pause)
        reader.join(timeout=120)
    return plain.path, root / "followed", out, calls, updates


def _files(run: Path) -> dict[str, bytes]:
    """Every file the trainer writes (the reader's RUN/analysis and RUN/report.html left out), by relative path."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and p.relative_to(run).parts[0] not in (ANALYSIS_DIR, REPORT_FILE)}


def test_checkpoints_are_byte_identical_with_and_without_a_follower(followed):
    plain, live, out, _, _ = followed
    assert out["read_while_training"], "the follower did not probe a checkpoint while the trainer was running"
    a, b = _files(plain), _files(live)
    assert sorted(a) == sorted(b)  # no file added (no lock left behind, no temp folder) and none missing
    assert any(name.endswith("optimizer.pt") for name in a) and any(name.endswith("model.safetensors") for name in a)
    different = [name for name in a if a[name] != b[name]]
    assert different == [], different


def test_the_follower_probes_every_checkpoint_once_and_stops_after_the_final_one(followed):
    _, live, out, calls, updates = followed
    result, steps = out["result"], RunStore(live).steps()
    assert result.complete and result.status == "complete", result.message
    assert result.probed == tuple(steps) and steps[-1] == CONFIG.train.steps
    per_step = {(s, "icl") for s in steps} | {(steps[-1], "induction_controls")}
    assert set(calls) == per_step  # the FINAL_ONLY probe ran on the final checkpoint only, never on a newest-so-far one
    assert set(calls.values()) == {1}
    assert updates == steps  # one update per checkpoint, in order
    assert [s for s, _ in result.timeline] == steps
    table = [json.loads(line) for line in (live / ANALYSIS_DIR / "sweep.jsonl").read_text().splitlines()]
    assert {r["step"] for r in table} == set(steps)


def _cut(followed, out: Path, last: int) -> RunStore:
    """A copy of the plain run as if training had stopped after checkpoint `last` (no training needed)."""
    shutil.copytree(followed[0], out)
    store = RunStore(out)
    for step in store.steps():
        if step > last:
            shutil.rmtree(store.checkpoint_dir(step))
    store.truncate_metrics(after_step=last)
    return store


def _hold_lock(run: Path, pid: int) -> str:
    text = json.dumps({"pid": pid, "host": socket.gethostname(), "command": "test trainer", "token": "t"})
    (run / LOCK_FILE).write_text(text)
    return text


def test_timeout_returns_what_was_probed_and_leaves_the_lock_alone(followed, tmp_path):
    run = _cut(followed, tmp_path / "run", last=20)
    run_sweep(run, ("icl",), progress=False)  # cached: probing cannot outlast the timeout, even on a loaded machine
    lock = _hold_lock(run.path, os.getpid())  # a live "trainer" that writes nothing more
    result = follow(run.path, ("icl",), timeout=1.0, poll=0.05)
    assert result.status == "timeout" and not result.complete
    assert result.probed == (0, 1, 8, 20) and result.final_step == 60
    assert "timed out after 1 s" in result.message and "0, 1, 8, 20" in result.message and "60" in result.message
    assert (run.path / LOCK_FILE).read_text() == lock
    assert result.report is None  # the report needs the attention probe: not written


def test_a_dead_trainer_is_reported_instead_of_waited_for(followed, tmp_path):
    run = _cut(followed, tmp_path / "run", last=1)  # checkpoints 0 and 1
    dead = subprocess.Popen(["true"])
    dead.wait()
    _hold_lock(run.path, dead.pid)  # a stale lock: its process is gone
    result = follow(run.path, ("attention", "icl"), stall=0.2, poll=0.05)
    assert result.status == "trainer_gone" and result.probed == (0, 1)
    assert "no trainer is running" in result.message and "icl-workbench train --out" in result.message
    assert result.report is not None and result.report.is_file()  # two checkpoints: the report was written


def test_the_report_waits_for_a_second_checkpoint(followed, tmp_path):
    run = _cut(followed, tmp_path / "run", last=0)
    result = follow(run.path, ("attention", "icl"), stall=0.0, poll=0.05)
    assert result.status == "trainer_gone" and result.probed == (0,)
    assert result.report is None and not (run.path / REPORT_FILE).exists()


def test_a_run_that_never_appears_ends_at_the_timeout_or_the_stall_limit(tmp_path):
    result = follow(tmp_path / "nothing", timeout=0.2, poll=0.05)
    assert result.status == "timeout" and result.probed == () and "no run appeared" in result.message
    result = follow(tmp_path / "nothing", stall=0.2, poll=0.05)
    assert result.status == "trainer_gone" and "icl-workbench train --out" in result.message


def test_a_finished_run_is_analyzed_once_and_the_follower_stops(followed, tmp_path):
    shutil.copytree(followed[0], tmp_path / "run")  # the plain run: trained, never analyzed
    updates = []
    result = follow(tmp_path / "run", ("icl",), timeout=120.0, on_update=lambda s, t: updates.append((s, t)))
    steps = RunStore(tmp_path / "run").steps()
    assert result.complete and result.probed == tuple(steps)
    assert [s for s, _ in updates] == steps  # one update per checkpoint, each with the table so far
    assert [{r["step"] for r in table} for _, table in updates] == [set(steps[: i + 1]) for i in range(len(steps))]
    assert result.report is None  # the report needs the attention probe, not requested here


def test_lock_holder_alive_reads_the_lock(tmp_path):
    assert not lock_holder_alive(tmp_path)
    _hold_lock(tmp_path, os.getpid())
    assert lock_holder_alive(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait()
    _hold_lock(tmp_path, dead.pid)
    assert not lock_holder_alive(tmp_path)


def test_bad_limits_are_one_clear_error(tmp_path):
    with pytest.raises(WorkbenchError, match="poll=0.0"):
        follow(tmp_path, poll=0.0)
    with pytest.raises(WorkbenchError, match="timeout=-1.0"):
        follow(tmp_path, timeout=-1.0)


def test_live_figure_shows_the_evaluations_up_to_the_newest_probe_and_the_top_induction_score():
    metrics = [{"step": s, "eval/repeat_loss": 4.0 - s / 10} for s in range(0, 12, 2)]
    table = [{"step": s, "tokens": 0, "layer": layer, "head": head, "probe": "attention", "metric": "induction",
              "value": s / 10 + layer / 100 + head / 1000} for s in (0, 1, 8) for layer in (0, 1) for head in (0, 1)]
    fig = live_figure(metrics, table, 60)
    loss, induction = fig.data
    assert list(loss.x) == [0, 2, 4, 6, 8] and list(loss.y) == [4.0, 3.8, 3.6, 3.4, 3.2]  # nothing past step 8
    assert list(induction.x) == [0, 1, 8] and list(induction.y) == pytest.approx([0.011, 0.111, 0.811])  # head 1.1
    assert "step 8 of 60" in fig.layout.title.text

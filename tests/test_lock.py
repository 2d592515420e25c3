from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys

import pytest
from builders import tiny_config

from circuits.errors import WorkbenchError
from circuits.store.files import LOCK_FILE
from circuits.store.lock import read_lock, run_lock


def _plant_lock(run, pid: int, command: str = "icl-workbench train --preset x", host: str | None = None) -> None:
    run.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": host or socket.gethostname(), "started": "2026-01-01T00:00:00+00:00",
              "command": command, "token": "planted"}
    (run / LOCK_FILE).write_text(json.dumps(record))


@pytest.fixture
def live_pid():
    """The pid of another process that stays alive for the test."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_records_its_holder_and_is_removed_on_exit(tmp_path):
    with run_lock(tmp_path / "run", command="train x") as lock:
        holder = read_lock(lock)
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        assert holder["command"] == "train x" and holder["started"]
    assert not lock.exists()


def test_second_holder_gets_one_clear_error(tmp_path):
    with run_lock(tmp_path / "run", command="icl-workbench train --preset a"), \
            pytest.raises(WorkbenchError) as err, run_lock(tmp_path / "run"):
        pass
    message = str(err.value)
    assert f"pid {os.getpid()}" in message and "icl-workbench train --preset a" in message
    assert f"delete {tmp_path / 'run' / LOCK_FILE}" in message and "wait for it" in message


def test_lock_held_by_another_live_process_is_refused_and_kept(tmp_path, live_pid):
    _plant_lock(tmp_path / "run", live_pid, command="python other.py")
    with pytest.raises(WorkbenchError, match=f"pid {live_pid} .*python other.py"), run_lock(tmp_path / "run"):
        pass
    assert read_lock(tmp_path / "run" / LOCK_FILE)["pid"] == live_pid


def test_lock_of_another_host_is_never_taken_over(tmp_path):
    _plant_lock(tmp_path / "run", _dead_pid(), host="elsewhere.example")
    with pytest.raises(WorkbenchError, match="on elsewhere.example"), run_lock(tmp_path / "run"):
        pass


def test_stale_lock_is_taken_over_with_a_warning(tmp_path, caplog):
    dead = _dead_pid()
    _plant_lock(tmp_path / "run", dead)
    with caplog.at_level(logging.WARNING, logger="circuits.store.lock"), run_lock(tmp_path / "run") as lock:
        assert read_lock(lock)["pid"] == os.getpid()
    assert any("stale lock" in r.getMessage() and str(dead) in r.getMessage() for r in caplog.records)
    assert not lock.exists() and list((tmp_path / "run").iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_lock_is_released_on_exception(tmp_path, error):
    with pytest.raises(error), run_lock(tmp_path / "run"):
        raise error()
    assert not (tmp_path / "run" / LOCK_FILE).exists()
    with run_lock(tmp_path / "run"):  # and can be taken again
        pass


def test_a_taken_over_lock_is_not_removed_by_its_old_holder(tmp_path, live_pid):
    with run_lock(tmp_path / "run") as lock:
        _plant_lock(tmp_path / "run", live_pid)  # someone deleted ours and another process locked the run
    assert read_lock(lock)["pid"] == live_pid


def test_train_into_a_locked_run_raises_without_touching_its_files(tmp_path, live_pid):
    from circuits.training.trainer import train

    run = tmp_path / "run"
    config = tiny_config()
    run.mkdir()
    (run / "config.json").write_text(config.to_json())
    (run / "metrics.jsonl").write_text('{"step": 0}\n')
    _plant_lock(run, live_pid)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir()}
    with pytest.raises(WorkbenchError, match=f"in use by pid {live_pid}"):
        train(config, run, progress=False)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir()} == before

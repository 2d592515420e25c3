"""One writer per run directory: `run_lock(RUN)` holds RUN/.lock for as long as a process trains into RUN.

The lock file is created with O_CREAT | O_EXCL (atomic on local and NFSv3+ file systems) and written in one call; it
holds {pid, host, started, command, token}. A second process gets one WorkbenchError naming the holder and the fix.
A lock left by a process that is gone (same host, pid no longer alive) is taken over with a warning. The lock is
removed on exit from the block, also on an exception or KeyboardInterrupt — and only if it is still this holder's.
Not re-entrant: a process that already holds RUN/.lock and asks again is refused like any other process.
"""
from __future__ import annotations

import json
import logging
import os
import shlex
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from circuits.errors import WorkbenchError
from circuits.store.files import LOCK_FILE

_PARTIAL_RETRIES = 20  # a holder writes its lock in one call; an empty/partial read is retried for ~1 s
logger = logging.getLogger(__name__)


@contextmanager
def run_lock(path: str | Path, command: str | None = None) -> Iterator[Path]:
    """Hold PATH/.lock for the duration of the block (PATH is created if missing); yields the lock file."""
    lock = Path(path) / LOCK_FILE
    lock.parent.mkdir(parents=True, exist_ok=True)
    token = _acquire(lock, command if command is not None else shlex.join(sys.argv))
    try:
        yield lock
    finally:
        _release(lock, token)


def read_lock(lock: Path) -> dict | None:
    """The holder recorded in a lock file, None if the file is gone; {} if it cannot be parsed."""
    try:
        text = lock.read_text()
    except FileNotFoundError:
        return None
    try:
        holder = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _acquire(lock: Path, command: str) -> str:
    token = uuid.uuid4().hex
    record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "token": token,
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    for _ in range(_PARTIAL_RETRIES + 3):
        if _create(lock, json.dumps(record)):
            return token
        holder = read_lock(lock)
        if holder is None:  # released between our attempt and the read: try again
            continue
        if holder == {}:  # being written right now (or left damaged): give the writer a moment
            time.sleep(0.05)
            continue
        if not is_stale(holder):
            raise WorkbenchError(_held_message(lock, holder))
        _take_over(lock, holder)
    holder = read_lock(lock) or {}
    raise WorkbenchError(_held_message(lock, holder))


def _create(lock: Path, text: str) -> bool:
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)  # the umask decides the mode
    except FileExistsError:
        return False
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def is_stale(holder: dict) -> bool:
    """True only if the holder ran on this host and its pid is no longer alive (another host: never assumed)."""
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False


def _take_over(lock: Path, holder: dict) -> None:
    """Move the stale lock aside (one process wins the rename); if what moved was a fresh lock, put it back."""
    aside = lock.with_name(f"{lock.name}.stale.{os.getpid()}.{uuid.uuid4().hex[:8]}")
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return
    moved = read_lock(aside)
    if moved is not None and moved.get("token") != holder.get("token"):
        try:
            os.link(aside, lock)  # restore the live lock we raced with (fails if yet another holder exists)
        except FileExistsError:
            pass
    else:
        logger.warning("taking over the stale lock %s of pid %s (%s), which is no longer running",
                       lock, holder.get("pid"), holder.get("command"))
    aside.unlink(missing_ok=True)


def _release(lock: Path, token: str) -> None:
    holder = read_lock(lock)
    if holder is not None and holder.get("token") == token:
        lock.unlink(missing_ok=True)
    else:
        logger.warning("lock %s is no longer ours at release (removed or taken over); leaving it", lock)


def _held_message(lock: Path, holder: dict) -> str:
    who = (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('started', '?')} "
           f"(command: {holder.get('command') or '?'})") if holder else "a process whose lock file cannot be read"
    return (f"run {lock.parent} is in use by {who}; wait for it or, if that process is gone, delete {lock}.")

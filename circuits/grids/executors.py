"""Run independent jobs in parallel: a local process pool, or Ray (a local cluster or an existing one).

`run_jobs(fn, jobs)` calls the top-level (picklable) function `fn` once per job and returns one `JobResult` per
job, in job order. A job that raises is reported — its error text and traceback in its JobResult — and never stops
the others. Each worker runs with one torch thread: the models are small, so whole runs side by side use the cores
better than one run's intra-op threads.

Start-up is paid once per worker, never per job: the pool's workers (and Ray's) are reused across jobs, and the
modules a job needs (`preload`, e.g. TransformerLens, ≈ 5 s to import) are imported when a worker starts. Where the
platform has it (Linux, macOS) the process pool forks its workers from a forkserver that imported `preload` once,
so N workers pay one import between them; elsewhere each spawned worker imports them itself. Each JobResult records
its worker's pid and the wall-clock time its job started (`bench/grid_speed.py` reads the start-up share from them).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from circuits.errors import WorkbenchError
from circuits.progress import progress_bar

BACKENDS = ("process", "ray")
RAY_INSTALL_HINT = "pip install 'icl-workbench[cluster]'"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    """The outcome of one job: `value` if it returned, else `error` (one line) and `detail` (the traceback)."""

    index: int
    name: str
    ok: bool
    value: Any = None
    error: str = ""
    detail: str = ""
    seconds: float = 0.0
    skipped: bool = False  # set by callers that did not run the job (e.g. a finished grid run)
    worker: int = 0  # pid of the process that ran it
    started: float = 0.0  # wall-clock time (time.time()) at which it started

    def to_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "skipped": self.skipped, "value": self.value, "error": self.error,
                "seconds": round(self.seconds, 3)}


def job_name(job: Any) -> str:
    """A job's `name` attribute if it has one, else its repr."""
    return str(getattr(job, "name", job))


def run_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], backend: str = "process", workers: int | None = None,
             address: str | None = None, progress: bool = True, preload: Sequence[str] = ()) -> list[JobResult]:
    """`fn(job)` for every job on `backend` ("process": a process pool of `workers` (default: the CPU count)
    processes; "ray": Ray tasks of one CPU each, on the cluster at `address` or a local one of `workers` CPUs), with
    the modules `preload` (and `fn`'s own) imported once per worker before its first job. Returns the results in job
    order; failed jobs have ok=False and their error."""
    if backend not in BACKENDS:
        raise WorkbenchError(f"unknown backend {backend!r}; use one of {list(BACKENDS)}.")
    if workers is not None and workers < 1:
        raise WorkbenchError(f"workers must be a positive integer, got {workers}.")
    if address is not None and backend != "ray":
        raise WorkbenchError(f"an address ({address}) is only used by the ray backend; run with --ray ADDRESS (backend='ray') or drop the address.")
    if not jobs:
        return []
    workers = workers or os.cpu_count() or 1
    modules = tuple(dict.fromkeys((*preload, fn.__module__)))
    run = _run_process if backend == "process" else _run_ray
    results = run(fn, list(jobs), workers, address, progress, modules)
    return sorted(results, key=lambda r: r.index)


def call_job(fn: Callable[[Any], Any], index: int, job: Any) -> JobResult:
    """Run one job in the current process, catching its failure into the JobResult."""
    start, wall, pid = time.perf_counter(), time.time(), os.getpid()
    try:
        value = fn(job)
    except Exception as exc:  # noqa: BLE001 - a job's failure is reported, never fatal to the others
        return JobResult(index, job_name(job), False, None, f"{type(exc).__name__}: {exc}", traceback.format_exc(),
                         time.perf_counter() - start, worker=pid, started=wall)
    return JobResult(index, job_name(job), True, value, seconds=time.perf_counter() - start, worker=pid, started=wall)


def _worker_call(fn: Callable[[Any], Any], index: int, job: Any, preload: tuple[str, ...] = ()) -> JobResult:
    """`call_job` inside a worker process: one torch thread, `preload` imported (both per call: cheap once done,
    and Ray reuses its workers)."""
    _prepare_worker(preload)
    return call_job(fn, index, job)


def _prepare_worker(preload: tuple[str, ...] = ()) -> None:
    import importlib

    import torch

    torch.set_num_threads(1)
    for module in preload:
        importlib.import_module(module)


def _pool_context(preload: tuple[str, ...]) -> multiprocessing.context.BaseContext:
    """A forkserver that imported `preload` once (workers fork from it), where the platform has one; else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", *preload])
    return context


def _lost(index: int, job: Any, exc: BaseException) -> JobResult:
    """A job whose worker died (killed, out of memory) or whose result could not be returned."""
    return JobResult(index, job_name(job), False, None, f"worker failed: {type(exc).__name__}: {exc}",
                     "".join(traceback.format_exception(exc)))


def _run_process(fn, jobs: list, workers: int, address: str | None, progress: bool, preload: tuple[str, ...]) -> list[JobResult]:
    results: list[JobResult] = []
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=_pool_context(preload),
                             initializer=_prepare_worker, initargs=(preload,)) as pool:
        futures: dict[Future, int] = {pool.submit(_worker_call, fn, i, job): i for i, job in enumerate(jobs)}
        try:
            for future in progress_bar(as_completed(futures), total=len(jobs), desc="jobs", disable=not progress, unit="job"):
                results.append(_outcome(future, futures[future], jobs))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


def _outcome(future: Future, index: int, jobs: list) -> JobResult:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - BrokenProcessPool, unpicklable result, …
        return _lost(index, jobs[index], exc)


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise WorkbenchError(f"the ray backend needs Ray, which is not installed; {RAY_INSTALL_HINT} "
                             f"(or drop --ray to use the local process pool).") from exc
    return ray


def _run_ray(fn, jobs: list, workers: int, address: str | None, progress: bool, preload: tuple[str, ...]) -> list[JobResult]:
    ray = _import_ray()
    connected_here = not ray.is_initialized()
    if connected_here:
        _ray_init(ray, address or os.environ.get("RAY_ADDRESS"), workers)
    try:
        task = ray.remote(num_cpus=1)(_worker_call)
        pending = {task.remote(fn, i, job, preload): i for i, job in enumerate(jobs)}
        return _collect_ray(ray, pending, jobs, progress)
    finally:
        if connected_here:
            ray.shutdown()  # stops a local cluster we started; only disconnects from one at `address`


def _ray_init(ray, address: str | None, workers: int) -> None:
    """Connect to the cluster at `address`, or start a local one with `workers` CPUs."""
    options = {"address": address} if address else {"num_cpus": workers}
    try:
        ray.init(**options, include_dashboard=False, logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise WorkbenchError(f"could not start or reach {where} ({exc}); check `ray status` on the head node, or "
                             f"drop --ray to use the local process pool.") from exc


def _collect_ray(ray, pending: dict, jobs: list, progress: bool) -> list[JobResult]:
    results: list[JobResult] = []
    with progress_bar(total=len(jobs), desc="jobs (ray)", disable=not progress, unit="job") as bar:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                index = pending.pop(ref)
                try:
                    results.append(ray.get(ref))
                except Exception as exc:  # noqa: BLE001 - worker crash, task cancelled, …
                    results.append(_lost(index, jobs[index], exc))
                bar.update(1)
    return results

"""A grid of runs on the process pool vs the same trainings one after another in one process.

    python bench/grid_speed.py [--preset attn-only-2l] [--runs 8] [--steps 300] [--workers 2] [--threads 2] [--repeats 3]

Pool: `circuits.grids.grid.run_grid` of seeds 0…RUNS−1 of PRESET with `train.steps=STEPS` on a spawn process pool of
WORKERS processes, one torch thread each. Sequential (the issue's baseline): the same RUNS trainings as RUNS
`icl-workbench train` commands one after another (torch's default threads); `--sequential process` instead trains
them all in one fresh Python process with `torch.set_num_threads(THREADS)` (imports paid once: a stricter baseline).
The pool's start-up share is each worker's time from the pool's start to its first job (spawn or fork, imports),
averaged over workers, over the pool's wall time. Both are timed end to end from this process (interpreter
start, imports — transformer_lens included — and checkpoint writes), each into a new temp folder; the two arms
alternate and the median over repeats is reported, since this shared VM's speed drifts over a minute.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def spec(args: argparse.Namespace):
    from circuits.grids.grid import GridSpec

    return GridSpec((args.preset,), tuple(range(args.runs)), (f"train.steps={args.steps}",))


STARTUP: list[float] = []  # per pool repeat: the workers' mean start-up as a share of the wall time


def startup_share(results, start: float, wall: float) -> float:
    """Mean over workers of (their first job's start − the pool's start) / wall: spawn or fork, imports, preload."""
    first: dict[int, float] = {}
    for r in results:
        first[r.worker] = min(first.get(r.worker, r.started), r.started)
    return sum(t - start for t in first.values()) / len(first) / wall


def time_pool(args: argparse.Namespace) -> float:
    from circuits.grids.grid import is_trained, run_grid

    with tempfile.TemporaryDirectory() as tmp:
        start, wall_start = time.perf_counter(), time.time()
        results = run_grid(spec(args), Path(tmp) / "grid", backend="process", workers=args.workers, progress=False,
                           done=is_trained)
        elapsed = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"pool run {failed[0].name} failed: {failed[0].error}")
    STARTUP.append(startup_share(results, wall_start, elapsed))
    return elapsed


def time_sequential(args: argparse.Namespace) -> float:
    """Wall time of the same runs one after another: RUNS `icl-workbench train` commands (the default, what a user
    types), or with --sequential process one fresh process training them all (imports paid once: stricter)."""
    if args.sequential == "process":
        command = [sys.executable, __file__, "--sequential-child", "--preset", args.preset, "--runs", str(args.runs),
                   "--steps", str(args.steps), "--threads", str(args.threads)]
        start = time.perf_counter()
        subprocess.run(command, check=True)
        return time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for seed in range(args.runs):
            subprocess.run([sys.executable, "-m", "icl_workbench", "--root", tmp, "train", "--preset", args.preset,
                            "--set", f"train.steps={args.steps}", f"train.seed={seed}", f"model.seed={seed}",
                            "--out", str(Path(tmp) / f"run{seed}"), "--quiet"], check=True, capture_output=True)
        return time.perf_counter() - start


def sequential_child(args: argparse.Namespace) -> None:
    from circuits.grids.grid import grid_runs
    from circuits.training.trainer import train

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        for run in grid_runs(spec(args)):
            train(run.config, Path(tmp) / run.name, progress=False)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="attn-only-2l")
    parser.add_argument("--runs", type=int, default=8, help="seeds 0…RUNS−1")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2, help="pool processes")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the sequential process")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sequential", choices=("commands", "process"), default="commands",
                        help="the baseline: RUNS `icl-workbench train` commands, or one process training them all")
    parser.add_argument("--sequential-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse()
    if args.sequential_child:
        return sequential_child(args)
    torch.set_num_threads(1)
    print(f"{args.runs} runs of {args.preset}, {args.steps} steps each; pool of {args.workers} workers × 1 thread "
          f"vs {'one process × ' + str(args.threads) + ' threads' if args.sequential == 'process' else 'train commands one after another'}; "
          f"{args.repeats} repeats")
    pool, sequential = [], []
    for r in range(args.repeats):
        arms = (("pool", time_pool, pool), ("sequential", time_sequential, sequential))
        for _name, timer, times in arms if r % 2 == 0 else arms[::-1]:
            times.append(timer(args))
        print(f"repeat {r}: pool {pool[-1]:7.1f} s (start-up {STARTUP[-1]:.0%} of it)   sequential {sequential[-1]:7.1f} s   "
              f"pool / sequential {pool[-1] / sequential[-1]:.2f}")
    t_pool, t_seq = statistics.median(pool), statistics.median(sequential)
    print(f"median: pool {t_pool:.1f} s, sequential {t_seq:.1f} s; pool / sequential = {t_pool / t_seq:.2f} "
          f"(target ≤ 0.75); pool start-up {statistics.median(STARTUP):.0%} of its wall time (target ≤ 25%)")


if __name__ == "__main__":
    main()

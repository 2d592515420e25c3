"""Wall time of the README demo on a fresh run, against another git revision in the same run.

    python bench/pipeline_speed.py [--preset attn-only-2l] [--threads 2] [--baseline REV] [--rounds 1] [--stages]

Each arm runs `python -m icl_workbench --root TMP demo --preset P --quiet` in a fresh process (imports, compilation
and warm-up included) from its own source tree: this checkout, and with --baseline a `git worktree` of REV (removed
afterwards). Arms alternate within each round (baseline first in odd rounds) so that load from other processes
falls on both alike; the median over rounds is printed with the ratio current / baseline (the goal of issue 19:
≤ 0.5 against the main of its day). --stages times train → analyze → report as separate processes instead.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(tree: Path, args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "icl_workbench", *args], check=True, stdout=subprocess.DEVNULL, cwd=tree, env=env)
    return time.perf_counter() - start


def one_arm(tree: Path, preset: str, stages: bool, env: dict[str, str]) -> dict[str, float]:
    """Seconds of the demo (or of each stage) on a fresh root, run from `tree`."""
    with tempfile.TemporaryDirectory() as root:
        if not stages:
            return {"demo": timed(tree, ["--root", root, "demo", "--preset", preset, "--quiet"], env)}
        run = f"{root}/{preset}"
        times = {"train": timed(tree, ["--root", root, "train", "--preset", preset, "--quiet"], env),
                 "analyze": timed(tree, ["analyze", run, "--quiet"], env), "report": timed(tree, ["report", run], env)}
    return times | {"total": sum(times.values())}


def worktree(rev: str, into: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), rev], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="attn-only-2l")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline", metavar="REV", help="a git revision to time beside this checkout")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--stages", action="store_true", help="time train, analyze and report as separate processes")
    args = parser.parse_args()
    env = os.environ | {"OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": ""}
    with tempfile.TemporaryDirectory() as scratch:
        arms = {"current": ROOT}
        if args.baseline:
            arms["baseline"] = worktree(args.baseline, Path(scratch) / "baseline")
        try:
            results = {name: [] for name in arms}
            for r in range(args.rounds):
                for name in (sorted(arms) if r % 2 else sorted(arms, reverse=True)):  # "current" < "baseline" reversed
                    results[name].append(one_arm(arms[name], args.preset, args.stages, env))
        finally:
            if args.baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(arms["baseline"])], check=False)
    report(results, args)


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    print(f"preset {args.preset}, {args.threads} threads, {args.rounds} round(s), median seconds (fresh processes)")
    medians = {arm: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for arm, runs in results.items()}
    keys = list(medians["current"])
    print(f"{'':>10}" + "".join(f"{k:>10}" for k in keys))
    for arm, m in medians.items():
        label = arm if arm == "current" else f"{args.baseline[:10]}"
        print(f"{label:>10}" + "".join(f"{m[k]:10.1f}" for k in keys))
    if "baseline" in medians:
        print(f"{'ratio':>10}" + "".join(f"{medians['current'][k] / medians['baseline'][k]:10.2f}" for k in keys)
              + "   (current / baseline)")


if __name__ == "__main__":
    main()

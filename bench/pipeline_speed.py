"""Wall time of the README demo, stage by stage, on a fresh run: train → analyze (full sweep) → report.

    python bench/pipeline_speed.py [--preset attn-only-2l] [--threads 2]

Prints each stage against its budget (issue 2: training incl. checkpoints ≤ 120 s; issue 3: full sweep of every
checkpoint ≤ 60 s, the whole demo ≤ 180 s), and the sweep's per-probe cost on one checkpoint.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

BUDGETS = {"train": 120.0, "analyze": 60.0, "report": None, "demo total": 180.0}


def stage(name: str, args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "icl_workbench", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="attn-only-2l")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import os

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory() as root:
        run = f"{root}/{args.preset}"
        times = {
            "train": stage("train", ["--root", root, "train", "--preset", args.preset, "--quiet"]),
            "analyze": stage("analyze", ["analyze", run, "--quiet"]),
            "report": stage("report", ["report", run]),
        }
    times["demo total"] = sum(times.values())
    print(f"preset {args.preset}, {args.threads} threads (each stage a fresh process, imports included)")
    for name, seconds in times.items():
        budget = BUDGETS[name]
        print(f"{name:>10}: {seconds:6.1f} s" + (f"   budget {budget:.0f} s → {seconds / budget:.2f} of budget" if budget else ""))


if __name__ == "__main__":
    main()

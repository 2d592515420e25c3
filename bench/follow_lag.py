"""Follow mode: how far the follower lags behind training, and what following costs the trainer (issue 11).

    python bench/follow_lag.py [--preset attn-only-2l] [--steps N] [--threads 1] [--probes attention,icl] [--rounds 1]

Each round trains the same config twice in a subprocess, into fresh folders: once alone, once while this process
follows it with `probes.sweep.follow.follow` (default probes: what `icl-workbench analyze` runs). Prints, per checkpoint,
the lag from the checkpoint's completion (mtime of its state.json, the trainer's last write before the rename) to the
end of its probes; the median and max lag (also without the final checkpoint, whose final-only controls run then);
the trainer's wall time alone and followed (the child times `train` itself, imports excluded) and their ratio: the
added cost of following, measured in the same run. It also checks that both runs wrote byte-identical checkpoints.
Trainer and follower each get `--threads` torch threads (on 2 cores, 1 each). This VM is shared: alone/followed
alternate with --rounds > 1, and the ratio is reported per round and as the median.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def run_config(preset_name: str, steps: int | None):
    from circuits.presets import preset

    config = preset(preset_name)
    return config if steps is None else dataclasses.replace(config, train=dataclasses.replace(config.train, steps=steps))


def child(args: argparse.Namespace) -> None:
    """Train into args.child and print {"seconds": wall time of `train`} as the last line."""
    torch.set_num_threads(args.threads)
    from circuits.training.trainer import train

    config = run_config(args.preset, args.steps)
    start = time.perf_counter()
    train(config, args.child, progress=False)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def start_trainer(args: argparse.Namespace, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--child", str(out), "--preset", args.preset, "--threads", str(args.threads)]
    cmd += ["--steps", str(args.steps)] if args.steps is not None else []
    env = os.environ | {"OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)


def trainer_seconds(proc: subprocess.Popen) -> float:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"trainer failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])["seconds"]


def one_round(args: argparse.Namespace, root: Path, k: int) -> dict:
    from probes.sweep.follow import checkpoint_written_at, follow

    alone = trainer_seconds(start_trainer(args, root / f"alone-{k}"))
    proc = start_trainer(args, root / f"followed-{k}")
    probes = tuple(args.probes.split(",")) if args.probes else None
    result = follow(root / f"followed-{k}", probes, poll=args.poll, report=False, stall=120.0)
    followed = trainer_seconds(proc)
    from circuits.store.runs import RunStore

    store = RunStore(root / f"followed-{k}")
    lags = [(step, done - checkpoint_written_at(store, step)) for step, done in result.timeline]
    return {"alone": alone, "followed": followed, "lags": lags, "status": result.status,
            "identical": same_checkpoints(root / f"alone-{k}", root / f"followed-{k}")}


def same_checkpoints(a: Path, b: Path) -> bool:
    files = lambda run: {str(p.relative_to(run)): p.read_bytes() for p in sorted((run / "steps").rglob("*")) if p.is_file()}  # noqa: E731
    return files(a) == files(b)


def report(rounds: list[dict], args: argparse.Namespace) -> None:
    last = rounds[-1]
    print(f"preset {args.preset}, steps {args.steps or 'preset'}, {args.threads} torch thread(s) each for trainer and "
          f"follower, probes {args.probes or 'default'}, poll {args.poll} s")
    print(f"{'step':>6} {'lag (s)':>8}   (last round)")
    for step, lag in last["lags"]:
        print(f"{step:>6} {lag:8.2f}")
    for k, r in enumerate(rounds):
        lags = [lag for _, lag in r["lags"]]
        before_final = lags[:-1] or lags
        print(f"round {k}: follow {r['status']}; lag median {statistics.median(lags):.2f} s, max {max(lags):.2f} s "
              f"(without the final checkpoint: median {statistics.median(before_final):.2f} s, max {max(before_final):.2f} s); "
              f"trainer alone {r['alone']:.1f} s, followed {r['followed']:.1f} s → ratio {r['followed'] / r['alone']:.2f}; "
              f"checkpoints byte-identical: {r['identical']}")
    ratios = [r["followed"] / r["alone"] for r in rounds]
    print(f"trainer wall time followed / alone, median over {len(rounds)} round(s): {statistics.median(ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="attn-only-2l")
    parser.add_argument("--steps", type=int, default=None, help="shorter run (default: the preset's steps)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the trainer and for the follower")
    parser.add_argument("--probes", default=None, help="comma-separated probes (default: analyze's default set)")
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(dir=os.environ.get("FOLLOW_BENCH_DIR")) as root:
        report([one_round(args, Path(root), k) for k in range(args.rounds)], args)


if __name__ == "__main__":
    main()

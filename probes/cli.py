"""CLI subcommands that need the probes: analyze, report, demo (wired into `icl-workbench` by circuits.cli)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from circuits.errors import WorkbenchError


def _run_path(args: argparse.Namespace) -> Path:
    path = Path(args.run)
    if not path.exists() and (args.root / args.run).exists():
        path = args.root / args.run  # a bare run name under --root
    if not path.exists():
        raise WorkbenchError(f"no run at {args.run}; list runs with `icl-workbench runs` or train one with `icl-workbench train`.")
    return path


def _analyze(args: argparse.Namespace) -> None:
    from circuits.store import RunStore
    from probes.sweep import SWEEP_FILE, run_sweep

    store = RunStore(_run_path(args))
    probes = tuple(args.probes.split(",")) if args.probes else None
    table = run_sweep(store, probes, progress=not args.quiet)
    steps = sorted({r["step"] for r in table})
    print(f"{len(table)} rows over {len(steps)} checkpoints: {store.path / 'analysis' / SWEEP_FILE}")


def _report(args: argparse.Namespace) -> None:
    from circuits.store import ANALYSIS_DIR, RunStore
    from probes.report import REPORT_DATA_FILE, write_report

    store = RunStore(_run_path(args))
    out = write_report(store)
    for line in json.loads((store.path / ANALYSIS_DIR / REPORT_DATA_FILE).read_text())["summary"]:
        print(line)
    print(f"report: {out}")


def _demo(args: argparse.Namespace) -> None:
    from circuits.presets import preset
    from circuits.train import train

    config = preset(args.preset)
    if args.seeds:
        return _demo_seeds(args, config)
    out = args.root / config.preset
    train(config, out, progress=not args.quiet)  # resumes / returns at once when the run is complete
    args.run = str(out)
    _analyze(args)
    _report(args)


def _demo_seeds(args: argparse.Namespace, config) -> None:
    """Train, analyze and report seeds 0 … N−1 (runs PRESET-seedK), then the claims over seeds."""
    from circuits.store import RunStore
    from circuits.train import train
    from probes.seeds import seed_config, seed_run_name, write_seed_report

    runs = []
    for seed in range(args.seeds):
        out = args.root / seed_run_name(config.preset, seed)
        train(seed_config(config, seed), out, progress=not args.quiet)
        args.run = str(out)
        _analyze(args)
        _report(args)
        runs.append(RunStore(out))
    report = write_seed_report(runs, args.root / f"{config.preset}-seeds")
    print(f"\nover {args.seeds} seeds:")
    for line in json.loads((report.parent / "seeds.json").read_text()):
        print(line["sentence"])
    print(f"seed report: {report}")


def add_commands(sub) -> None:
    a = sub.add_parser("analyze", help="sweep the probes over every checkpoint of a run (cached)")
    a.add_argument("run", help="run directory (or a run name under --root)")
    a.add_argument("--probes", help="comma-separated subset of: attention,weights,icl,ablation,fv (default: all that apply)")
    a.add_argument("--quiet", action="store_true")
    a.set_defaults(func=_analyze)
    r = sub.add_parser("report", help="write the self-contained HTML report of an analyzed run")
    r.add_argument("run")
    r.set_defaults(func=_report)
    d = sub.add_parser("demo", help="train the default run unless it exists, analyze it, write its report")
    d.add_argument("--preset", default="attn-only-2l")
    d.add_argument("--seeds", type=int, default=0, help="train seeds 0…N−1 (runs PRESET-seedK) and report every claim over them")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_demo, probes=None)

"""CLI subcommands that need the probes: analyze, report, demo (wired into `icl-workbench` by circuits.cli)."""
from __future__ import annotations

import argparse
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
    import json

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
    out = args.root / config.preset
    train(config, out, progress=not args.quiet)  # resumes / returns at once when the run is complete
    args.run = str(out)
    _analyze(args)
    _report(args)


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
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_demo, probes=None)

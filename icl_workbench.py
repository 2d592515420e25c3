"""`icl-workbench` — train / config / runs / analyze / report / demo / grid. Also `python -m icl_workbench`.

One meaning per word: a *sweep* is the probe pass over one run's checkpoints (`analyze`, `probes.sweep.runner`); a *grid* is
a set of runs (presets × seeds, `grid`). `sweep` and `report --sweep` are kept as aliases of `grid` and `report --grid`.

A thin argparse layer over the pipeline functions in `workbench`; transformer_lens (≈5 s to import) is only
imported by the subcommands that need it.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from circuits.errors import WorkbenchError

SHORTHANDS = (("steps", "train.steps"), ("seed", "train.seed"), ("model_seed", "model.seed"), ("lr", "train.lr"))


def _config(args: argparse.Namespace):
    """preset < --config < --set (the shorthands --steps/--seed/--model-seed/--lr are --set items)."""
    from circuits.overrides import build_run_config

    sets = list(args.set or []) + [f"{key}={getattr(args, name)}" for name, key in SHORTHANDS if getattr(args, name) is not None]
    return build_run_config(args.preset, Path(args.config) if args.config else None, sets)


def _train(args: argparse.Namespace) -> None:
    from workbench import train_run

    config = _config(args)
    store = train_run(config, Path(args.out) if args.out else args.root / config.name, device=args.device, progress=not args.quiet)
    steps = store.steps()
    print(f"run {config.name}: {len(steps)} checkpoints (steps {steps[0]}…{steps[-1]}) in {store.path}")


def _show_config(args: argparse.Namespace) -> None:
    from circuits.overrides import preset_json

    print(preset_json(args.preset))


def _runs(args: argparse.Namespace) -> None:
    from circuits.store.runs import list_runs

    runs = list_runs(args.root)
    if not runs:
        print(f"no runs under {args.root}; train one with `icl-workbench train`")
    for run in runs:
        print(run.summary())
        if args.steps:
            print("  steps: " + " ".join(map(str, run.steps)))


def _run_path(args: argparse.Namespace, name: str) -> Path:
    path = Path(name)
    if not path.exists() and (args.root / name).exists():
        path = args.root / name  # a bare run name under --root
    if not path.exists():
        raise WorkbenchError(f"no run at {name}; list runs with `icl-workbench runs` or train one with `icl-workbench train`.")
    return path


def _analyze(args: argparse.Namespace) -> None:
    from circuits.store.files import ANALYSIS_DIR, SWEEP_FILE
    from workbench import analyze, analyze_hf

    probes = tuple(args.probes.split(",")) if args.probes else None
    if args.follow:
        if args.steps:
            raise WorkbenchError("--follow probes every checkpoint as it is written; drop --steps, or analyze the finished run with --steps.")
        _follow(args, probes)
        return
    if args.hf:
        if args.run:
            raise WorkbenchError("give either a RUN or --hf DIR …, not both; write the analysis of --hf folders elsewhere with --out.")
        source, table = analyze_hf(args.hf, args.out, probes, steps=args.steps, device=args.device, progress=not args.quiet)
        path = source.path
    else:
        if not args.run:
            raise WorkbenchError("name a RUN to analyze (or local Hugging Face folders with --hf DIR …).")
        path = _run_path(args, args.run)
        table = analyze(path, probes, steps=args.steps, device=args.device, progress=not args.quiet)
    steps = sorted({r["step"] for r in table})
    print(f"{len(table)} rows over {len(steps)} checkpoints: {path / ANALYSIS_DIR / SWEEP_FILE}")


def _follow(args: argparse.Namespace, probes: tuple[str, ...] | None) -> None:
    """`analyze --follow RUN`: the run may not exist yet (the follower can start before the trainer)."""
    from workbench import analyze_follow

    if args.hf or not args.run:
        raise WorkbenchError("--follow takes one RUN directory (being trained or about to be), not --hf folders.")
    path = Path(args.run)
    if not path.exists() and len(path.parts) == 1:
        path = args.root / args.run  # a bare run name under --root
    result = analyze_follow(path, probes, timeout=args.timeout, device=args.device, progress=not args.quiet)
    print(result.message + (f"; report: {result.report}" if result.report else ""))
    if not result.complete:
        raise WorkbenchError(f"follow stopped before the final checkpoint ({result.status}); run the same command again to go on.")


def _report(args: argparse.Namespace) -> None:
    from workbench import report

    if args.grid:
        from probes.report.grid import write_grid_report

        print(f"grid report: {write_grid_report(Path(args.grid))}")
        return
    if not args.run:
        raise WorkbenchError("name a RUN to report on (or a grid folder with --grid DIR).")
    page, summary = report(_run_path(args, args.run))
    print("\n".join(summary) + f"\nreport: {page}")


def _demo(args: argparse.Namespace) -> None:
    import json

    from circuits.store.files import SEED_REPORT_DATA
    from workbench import demo, demo_seeds

    if args.seeds:
        page = demo_seeds(args.preset, args.root, args.seeds, device=args.device, progress=not args.quiet)
        print(f"over {args.seeds} seeds:")
        print("\n".join(line["sentence"] for line in json.loads((page.parent / SEED_REPORT_DATA).read_text())))
        print(f"seed report: {page}")
        return
    page, summary = demo(args.preset, args.root, device=args.device, progress=not args.quiet)
    print("\n".join(summary) + f"\nreport: {page}")


def _grid(args: argparse.Namespace) -> None:
    from circuits.grids.grid import GridSpec, parse_seeds
    from workbench import GRID_PROBES, grid

    spec = GridSpec(tuple(p for p in args.presets.split(",") if p), parse_seeds(args.seeds), tuple(args.set or ()))
    backend = "ray" if args.ray is not None else "process"
    address = args.ray or None
    results, page = grid(spec, Path(args.out), probes=tuple(args.probes.split(",")) if args.probes else GRID_PROBES,
                          backend=backend, workers=args.workers, address=address, device=args.device, progress=not args.quiet)
    for r in results:
        state = "skipped (finished)" if r.skipped else ("ok" if r.ok else f"FAILED: {r.error}")
        print(f"{r.name}\t{state}")
    print(f"grid report: {page}")
    if not all(r.ok for r in results):
        raise WorkbenchError(f"{sum(not r.ok for r in results)} run(s) failed (above); fix the cause and run the same command again to resume.")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default=None, help="attn-only-1l|attn-only-2l (default)|attn-only-3l|full-2l|full-3l|fv")
    p.add_argument("--config", help="a RunConfig JSON (whole or partial) applied over --preset "
                   "(its \"preset\" key names the run, it does not pick the base preset)")
    p.add_argument("--set", nargs="+", metavar="KEY=VALUE", help="dotted overrides with JSON values, e.g. model.n_layers=4 train.steps=8000")


def _add_train(sub) -> None:
    t = sub.add_parser("train", help="train a run (resumes if it exists); preset < --config < --set")
    _run_options(t)
    t.add_argument("--out", help="run directory (default: ROOT/PRESET-NAME)")
    for flag, key, kind in (("--steps", "train.steps", int), ("--seed", "train.seed", int), ("--model-seed", "model.seed", int), ("--lr", "train.lr", float)):
        t.add_argument(flag, type=kind, help=f"shorthand for --set {key}=…")
    t.add_argument("--device", default="cpu", help="auto|cpu|cuda|cuda:N (default cpu)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_train)
    c = sub.add_parser("config", help="print a preset's run config as JSON (a starting point for --config)")
    c.add_argument("preset")
    c.set_defaults(func=_show_config)
    r = sub.add_parser("runs", help="list runs, their checkpoints and last losses; flags malformed ones")
    r.add_argument("--steps", action="store_true", help="also list every checkpoint step")
    r.set_defaults(func=_runs)


def _add_analysis(sub) -> None:
    a = sub.add_parser("analyze", help="sweep the probes over every checkpoint of a run, or of local Hugging Face folders (cached)")
    a.add_argument("run", nargs="?", help="run directory (or a run name under --root)")
    a.add_argument("--hf", nargs="+", metavar="DIR", help="save_pretrained folders (GPT-2, GPT-NeoX/Pythia), or one folder of "
                   "revision folders; the number in a folder's name is its step")
    a.add_argument("--out", help="with --hf: where the analysis and report go (default: the folder holding the revisions)")
    a.add_argument("--probes", help="comma-separated subset of: attention,weights,icl,ablation,induction_controls,fv,fv_controls,writers,attribution,"
                   "llc,grokking (default: all that apply, without writers, attribution and llc)")
    a.add_argument("--steps", metavar="SEL", help="only these checkpoints: N, A-B, every:N (every Nth checkpoint), final, "
                   "joined by commas (e.g. --probes llc --steps every:4,final); the table keeps every probe's cached rows")
    a.add_argument("--device", default="cpu", help="auto|cpu|cuda|cuda:N (default cpu)")
    a.add_argument("--follow", action="store_true", help="probe each checkpoint as training writes it and refresh the "
                   "report; stop when the final checkpoint is probed")
    a.add_argument("--timeout", type=float, metavar="S", help="with --follow: stop after S seconds")
    a.add_argument("--quiet", action="store_true")
    a.set_defaults(func=_analyze)
    r = sub.add_parser("report", help="write the self-contained HTML report of an analyzed run (or of a grid)")
    r.add_argument("run", nargs="?")
    r.add_argument("--grid", "--sweep", dest="grid", metavar="DIR", help="the cross-run report of a grid folder (--sweep: old name)")
    r.set_defaults(func=_report)
    d = sub.add_parser("demo", help="train the preset's run unless it exists, analyze it, write its report")
    d.add_argument("--preset", default="attn-only-2l")
    d.add_argument("--seeds", type=int, default=0, help="train seeds 0…N−1 (runs PRESET-seedK) and report every claim over them")
    d.add_argument("--device", default="cpu")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_demo)
    s = sub.add_parser("grid", aliases=["sweep"], help="train and analyze presets × seeds (process pool or Ray); cross-run report. Alias: sweep")
    s.add_argument("--presets", default="attn-only-2l", help="comma-separated preset names (or config JSON paths)")
    s.add_argument("--seeds", default="0", help="e.g. 0-7 or 0,2,5")
    s.add_argument("--set", nargs="+", metavar="KEY=VALUE", help="overrides applied to every run")
    s.add_argument("--out", required=True, help="the grid folder (re-run the same command to resume)")
    s.add_argument("--probes", help="probes for each run (default: attention,icl)")
    s.add_argument("--workers", type=int, help="parallel runs (default: CPU count)")
    s.add_argument("--ray", nargs="?", const="", metavar="ADDRESS", help="run on Ray (a local cluster when no address is given)")
    s.add_argument("--device", default="cpu", help="auto|cpu|cuda|cuda:N for every run (default cpu)")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_grid)


def _parser() -> argparse.ArgumentParser:
    from circuits.store.runs import runs_root

    parser = argparse.ArgumentParser(prog="icl-workbench", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=runs_root(), help="folder holding runs (default: $ICL_WORKBENCH_ROOT or checkpoints/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_analysis(sub)
    _add_reproduce(sub)
    return parser


def _add_reproduce(sub) -> None:
    g = sub.add_parser("reproduce", help="a paper's headline result beside ours, with a verdict over seeds (gallery)")
    g.add_argument("name", nargs="?", help="the gallery entry (see --list)")
    g.add_argument("--list", action="store_true", help="list the entries")
    g.add_argument("--seeds", type=int, help="seeds 0…N−1 (default: the entry's)")
    g.add_argument("--device", default="cpu")
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(func=_reproduce)


def _reproduce(args: argparse.Namespace) -> None:
    from probes.gallery.entries import ENTRIES

    if args.list or not args.name:
        for entry in ENTRIES.values():
            print(f"{entry.name}\t{entry.paper.citation}\t{entry.seeds} seeds{chr(9) + 'long' if entry.long else ''}")
        return
    from workbench import reproduce

    page, record = reproduce(args.name, args.root, args.seeds, device=args.device, progress=not args.quiet)
    for claim in record["claims"]:
        print(f"{claim['key']}: {claim['verdict']} ({claim['supported']}/{claim['seeds']} seeds; ours {claim['ours']})")
    print(f"{record['entry']}: {record['verdict']} — {page}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: complete checkpoints and probe results are kept; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

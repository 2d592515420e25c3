"""`icl-workbench` — train / runs / analyze / report / demo. Also `python -m circuits`.

transformer_lens (≈5 s to import) is only imported by the subcommands that need it.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from circuits.errors import WorkbenchError



def _train(args: argparse.Namespace) -> None:
    from circuits.config import replace
    from circuits.presets import preset
    from circuits.train import train

    config = preset(args.preset)
    changes = {k: v for k, v in (("steps", args.steps), ("seed", args.seed), ("lr", args.lr)) if v is not None}
    if args.steps is not None and config.train.warmup_steps >= args.steps:
        changes["warmup_steps"] = args.steps // 10  # a short run keeps a proportionate warm-up
    if changes:
        config = replace(config, train=replace(config.train, **changes))
    if args.model_seed is not None:
        config = replace(config, model=replace(config.model, seed=args.model_seed))
    out = Path(args.out) if args.out else args.root / config.preset
    store = train(config, out, progress=not args.quiet)
    steps = store.steps()
    print(f"run {config.preset}: {len(steps)} checkpoints (steps {steps[0]}…{steps[-1]}) in {store.path}")


def _runs(args: argparse.Namespace) -> None:
    from circuits.store import list_runs

    runs = list_runs(args.root)
    if not runs:
        print(f"no runs under {args.root}; train one with `icl-workbench train`")
    for store in runs:
        steps = store.steps()
        last = store.metrics()[-1] if store.metrics() else {}
        loss = f"eval/loss {last['eval/loss']:.3f}, repeat loss {last['eval/repeat_loss']:.3f}" if last else "no metrics"
        print(f"{store.path}\t{store.config().preset}\t{len(steps)} checkpoints, last step {steps[-1] if steps else '-'}\t{loss}")
        if args.steps:
            print("  steps: " + " ".join(map(str, steps)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="icl-workbench", description=__doc__.splitlines()[0])
    from circuits.store import runs_root

    parser.add_argument("--root", type=Path, default=runs_root(), help="folder holding runs (default: $ICL_WORKBENCH_ROOT or checkpoints/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a preset run (resumes if the run exists)")
    t.add_argument("--preset", default="attn-only-2l", help="attn-only-1l|attn-only-2l|attn-only-3l|full-2l|full-3l|fv")
    t.add_argument("--out", help="run directory (default: ROOT/PRESET)")
    t.add_argument("--steps", type=int)
    t.add_argument("--seed", type=int, help="data seed")
    t.add_argument("--model-seed", type=int, help="initialisation seed")
    t.add_argument("--lr", type=float)
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_train)
    r = sub.add_parser("runs", help="list runs and their checkpoints")
    r.add_argument("--steps", action="store_true", help="also list every checkpoint step")
    r.set_defaults(func=_runs)
    _add_probe_commands(sub)
    return parser


def _add_probe_commands(sub) -> None:
    """analyze / report / demo live in probes.cli (light to import; the probes themselves load lazily)."""
    from probes.cli import add_commands

    add_commands(sub)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: complete checkpoints are kept; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

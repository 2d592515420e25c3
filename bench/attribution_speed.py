"""Attribution patching vs exact patching of every head's CIE, as a function of head count, one run.

    python bench/attribution_speed.py [--threads 1] [--repeats 3] [--tasks 4] [--d-model 128] [--run RUN]

Models: the `fv` preset's shape (MLP 4·d_model, GELU, no LayerNorm, learned positions, vocabulary 128, context 24)
with (layers, heads) = (2, 4), (4, 8), (8, 16) — 8, 32 and 128 heads — at d_model = --d-model (default 128, so
d_head = 32, 16, 8), RANDOM weights (the preset's init), plus the last checkpoint of RUN if given (a trained `fv`
run). Inputs: the AIE prompts of the FV selection tasks (`split_tasks`, the first --tasks of them; default FVSettings:
16 shuffled-label prompts per task). Paths, each timed as the median of --repeats, interleaved:
  naive        one `run_with_hooks` per (task, head) on the bridge — bench/fv_speed.py's Todd-style loop
  exact fast   `indirect_effects` on the FastEngine (our batched exact AIE, fast path)
  exact hook   `indirect_effects` on the HookEngine (the batched exact AIE any TransformerBridge gets)
  attr fast    `attribution_cie` on the FastEngine (clean forward + last-position forward with grad + 1 backward)
  attr hook    `attribution_cie` on the HookEngine (1 hooked forward + 1 backward)
Printed per model: seconds, naive / path, exact / attribution on the same engine, and the agreement of the
attribution AIE with the exact one on that model (top-3 overlap against chance 9/N, Spearman ρ, mean relative error on
the exact top 3). The exact paths must equal the naive loop (max |difference| < 1e-4). On random weights every
effect is small and nearly linear, so their agreement says little; the trained RUN's row is the one that informs.
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import torch
from ablation_speed import TOLERANCE, timed_paths
from fv_speed import naive_indirect_effects

SHAPES = ((2, 4), (4, 8), (8, 16))
PATHS = ("naive", "exact fast", "exact hook", "attr fast", "attr hook")


def random_checkpoint(n_layers: int, n_heads: int, d_model: int) -> Any:
    """A `Checkpoint` of the fv preset reshaped to (n_layers, n_heads, d_model), at its seeded random init."""
    from circuits.model.transformer import initial_state_dict
    from circuits.presets import preset
    from probes.engine.checkpoint import Checkpoint

    config = preset("fv")
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, n_layers=n_layers, n_heads=n_heads, d_model=d_model))
    return Checkpoint.native(config, initial_state_dict(config.model))


def measure(ckpt: Any, n_tasks: int, repeats: int) -> dict[str, Any]:
    """Seconds per path, the exact paths' max |difference| from the naive loop, and the attribution agreement."""
    from circuits.data.tasks import default_suite
    from probes.engine.interventions import HookEngine
    from probes.measures.attribution import attribution_agreement, attribution_cie
    from probes.measures.function_vectors import FVSettings, TaskBatch, indirect_effects, mean_head_activations, split_tasks

    suite = default_suite()
    batch = TaskBatch.build(suite, FVSettings(), ckpt.facts.n_ctx, split_tasks(suite)[0][:n_tasks])
    fast, hook = ckpt.engine, HookEngine(ckpt.bridge)
    mean_z = mean_head_activations(fast, batch)
    fns = {"naive": lambda: naive_indirect_effects(ckpt.bridge, batch, mean_z),
           "exact fast": lambda: indirect_effects(fast, batch, mean_z), "exact hook": lambda: indirect_effects(hook, batch, mean_z),
           "attr fast": lambda: attribution_cie(fast, batch, mean_z)[0], "attr hook": lambda: attribution_cie(hook, batch, mean_z)[0]}
    timed = timed_paths(fns, repeats)
    naive = timed["naive"][1]
    difference = max((timed[p][1] - naive).abs().max().item() for p in ("exact fast", "exact hook"))
    agreement = attribution_agreement(naive.mean(0), timed["attr fast"][1].mean(0), 3)
    return {"seconds": {p: timed[p][0] for p in PATHS}, "difference": difference, "agreement": agreement,
            "attr paths": (timed["attr fast"][1] - timed["attr hook"][1]).abs().max().item()}


def table(rows: list[tuple[str, int, dict[str, Any]]]) -> str:
    """model | heads | each path's seconds (× vs naive) | exact / attribution per engine | agreement."""
    head = f"{'model':<28}| heads | " + " | ".join(f"{p:>16}" for p in PATHS) + " | exact/attr fast, hook | overlap@3 (chance) ρ  rel.err"
    lines = [head, "-" * len(head)]
    for name, heads, m in rows:
        s, a = m["seconds"], m["agreement"]
        cells = " | ".join(f"{s[p]:7.3f}s {s['naive'] / s[p]:6.1f}x" for p in PATHS)
        lines.append(f"{name:<28}| {heads:5d} | {cells} | {s['exact fast'] / s['attr fast']:6.1f}x {s['exact hook'] / s['attr hook']:6.1f}x"
                     f"      | {a.overlap} ({a.chance:.2f})  {a.spearman:+.2f}  {a.top_relative_error:.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=4, help="the first N FV selection tasks (of 17; the naive loop costs N × heads passes)")
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--run", default=None, help="also time the last checkpoint of this trained fv run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for n_layers, n_heads in SHAPES:
        rows.append((f"random {n_layers}L×{n_heads}H d{args.d_model}", n_layers * n_heads,
                     measure(random_checkpoint(n_layers, n_heads, args.d_model), args.tasks, args.repeats)))
    if args.run is not None:
        from circuits.store.runs import RunStore
        from probes.engine.checkpoint import RunSource

        source = RunSource(RunStore(args.run))
        facts = source.facts
        rows.append((f"trained {source.path.name} d{facts.d_model}", facts.n_layers * facts.n_heads,
                     measure(source.load(source.steps()[-1]), args.tasks, args.repeats)))
    print(f"threads={args.threads}, median of {args.repeats}, {args.tasks} tasks × 16 prompts; seconds and naive / path")
    print(table(rows))
    worst = max(m["difference"] for _, _, m in rows)
    assert worst < TOLERANCE, f"an exact path disagrees with the naive loop: max |difference| {worst:.2e}"
    worst = max(m["attr paths"] for _, _, m in rows)
    assert worst < TOLERANCE, f"the two attribution paths disagree: max |difference| {worst:.2e}"


if __name__ == "__main__":
    main()

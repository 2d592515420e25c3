"""AIE of every head: the intervention engine vs a Todd-style per-head patching loop, same checkpoint, one run.

    python bench/fv_speed.py [RUN] [--threads 2] [--repeats 3] [--tasks 32]

RUN defaults to checkpoints/fv (train it with `icl-workbench train --preset fv`). All three patch each head's
task-mean output ā (`mean_head_activations`) into the last position of the same shuffled-label prompts (Todd et al.
2024, arXiv:2310.15213):
  naive   one `run_with_hooks` on the bridge per (task, head), as ericwtodd/function_vectors does
  fast    `indirect_effects(checkpoint.engine, …)`: the FastEngine on our FastTransformer
  hook    `indirect_effects(HookEngine(checkpoint.bridge), …)`: the generic path any TransformerBridge takes
The script prints the median time of each over --repeats (the three interleaved, so load from other processes falls
on all alike), the ratios naive / engine, and checks that all three agree (max |difference| < 1e-4). The naive loop
is also the reference of tests/test_function_vectors.py.
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import torch
from ablation_speed import report, timed_paths
from jaxtyping import Float
from torch import Tensor

if TYPE_CHECKING:
    from probes.measures.function_vectors import TaskBatch


@torch.no_grad()
def naive_indirect_effects(bridge: Any, batch: TaskBatch, mean_z: Float[Tensor, "task n_layers n_heads d_head"]
                           ) -> Float[Tensor, "task n_layers n_heads"]:
    """[task, layer, head] mean CIE with one hooked forward per (task, head)."""
    n_tasks = batch.corrupted.shape[0]
    n_layers, n_heads = bridge.cfg.n_layers, bridge.cfg.n_heads
    out = torch.zeros(n_tasks, n_layers, n_heads)
    for t in range(n_tasks):
        tokens, answers = batch.corrupted[t], batch.corrupted_answers[t]
        base = bridge(tokens)[:, -1].softmax(-1).gather(1, answers[:, None]).squeeze(1)
        for layer in range(n_layers):
            for head in range(n_heads):
                def patch(z: Tensor, hook: Any, t: int = t, layer: int = layer, head: int = head) -> Tensor:
                    z = z.clone()
                    z[:, -1, head] = mean_z[t, layer, head]
                    return z

                logits = bridge.run_with_hooks(tokens, fwd_hooks=[(f"blocks.{layer}.attn.hook_z", patch)])
                probs = logits[:, -1].softmax(-1).gather(1, answers[:, None]).squeeze(1)
                out[t, layer, head] = (probs - base).mean()
    return out


def compare(bridge: Any, engines: dict[str, Any], batch: TaskBatch, repeats: int) -> dict[str, tuple[float, float]]:
    """Per path ("naive" and each engine's name), (median seconds, max |difference| from the naive loop). ā comes
    from the first engine, outside the timing: every path patches the same values."""
    from probes.measures.function_vectors import indirect_effects, mean_head_activations

    mean_z = mean_head_activations(next(iter(engines.values())), batch)
    fns = {"naive": lambda: naive_indirect_effects(bridge, batch, mean_z)}
    fns |= {name: (lambda engine=engine: indirect_effects(engine, batch, mean_z)) for name, engine in engines.items()}
    timed = timed_paths(fns, repeats)
    naive = timed["naive"][1]
    return {name: (seconds, (result - naive).abs().max().item()) for name, (seconds, result) in timed.items()}


def task_batch(n_ctx: int, n_tasks: int) -> TaskBatch:
    """The AIE prompts of the first `n_tasks` tasks of the default suite at the default `FVSettings`."""
    from circuits.data.tasks import default_suite
    from probes.measures.function_vectors import FVSettings, TaskBatch

    suite = default_suite()
    return TaskBatch.build(suite, FVSettings(), n_ctx, tuple(suite.names[:n_tasks]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default="checkpoints/fv")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from circuits.store.runs import RunStore
    from probes.engine.checkpoint import RunSource
    from probes.engine.interventions import HookEngine

    source = RunSource(RunStore(args.run))
    step = source.steps()[-1]
    ckpt = source.load(step)
    batch = task_batch(source.facts.n_ctx, args.tasks)
    results = compare(ckpt.bridge, {"fast": ckpt.engine, "hook": HookEngine(ckpt.bridge)}, batch, args.repeats)
    tasks, prompts = batch.corrupted.shape[:2]
    print(f"{args.run} step {step}: {tasks} tasks × {source.facts.n_layers * source.facts.n_heads} heads × {prompts} "
          f"prompts, threads={args.threads}, median of {args.repeats}")
    report(results, {"naive": "per-head patching loop (bridge)", "fast": "FastEngine (our model, fast path)",
                     "hook": "HookEngine on the bridge (generic path)"})


if __name__ == "__main__":
    main()

"""AIE of every head: our batched `indirect_effects` vs a Todd-style per-head patching loop, same checkpoint.

    python bench/fv_speed.py [RUN] [--threads 2] [--tasks 8]

RUN defaults to checkpoints/fv (train it with `icl-workbench train --preset fv`). Both patch each head's task-mean
output into the last position of the same shuffled-label prompts; the loop does one `run_with_hooks` on the bridge per
(task, head), as ericwtodd/function_vectors does. The script checks the two agree and prints times and their ratio.
This loop is also the reference of tests/test_function_vectors.py.
"""
from __future__ import annotations

import argparse
import time

import torch


@torch.no_grad()
def naive_indirect_effects(bridge, batch, mean_z: torch.Tensor) -> torch.Tensor:
    """[task, layer, head] mean CIE with one hooked forward per (task, head)."""
    n_tasks = batch.corrupted.shape[0]
    n_layers, n_heads = bridge.cfg.n_layers, bridge.cfg.n_heads
    out = torch.zeros(n_tasks, n_layers, n_heads)
    for t in range(n_tasks):
        tokens, answers = batch.corrupted[t], batch.corrupted_answers[t]
        base = bridge(tokens)[:, -1].softmax(-1).gather(1, answers[:, None]).squeeze(1)
        for layer in range(n_layers):
            for head in range(n_heads):
                def patch(z, hook, layer=layer, head=head):
                    z = z.clone()
                    z[:, -1, head] = mean_z[t, layer, head]
                    return z

                logits = bridge.run_with_hooks(tokens, fwd_hooks=[(f"blocks.{layer}.attn.hook_z", patch)])
                probs = logits[:, -1].softmax(-1).gather(1, answers[:, None]).squeeze(1)
                out[t, layer, head] = (probs - base).mean()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", nargs="?", default="checkpoints/fv")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from circuits.model import FastTransformer
    from circuits.store import RunStore
    from circuits.tasks import default_suite
    from probes.function_vectors import FVSettings, TaskBatch, indirect_effects, mean_head_activations

    store = RunStore(args.run)
    step = store.steps()[-1]
    bridge, fast = store.load_bridge(step), FastTransformer(store.config().model, store.load_weights(step))
    suite = default_suite()
    batch = TaskBatch.build(suite, FVSettings(), store.config().model.n_ctx, tuple(suite.names[: args.tasks]))
    mean_z = mean_head_activations(fast, batch)
    start = time.perf_counter()
    ours = indirect_effects(fast, batch, mean_z)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    naive = naive_indirect_effects(bridge, batch, mean_z)
    t_naive = time.perf_counter() - start
    print(f"{args.run} step {step}: {args.tasks} tasks × {ours.shape[1] * ours.shape[2]} heads × {batch.corrupted.shape[1]} prompts, threads={args.threads}")
    print(f"batched indirect_effects : {t_ours:7.3f} s")
    print(f"per-head patching loop   : {t_naive:7.3f} s")
    print(f"speed-up: {t_naive / t_ours:.2f}x   (max |difference| {(ours - naive).abs().max().item():.2e})")


if __name__ == "__main__":
    main()

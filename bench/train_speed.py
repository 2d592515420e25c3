"""Training throughput: our trainer vs TransformerLens's `tools.training.train`, same model, same batches, same run.

    python bench/train_speed.py [--steps 100] [--rounds 5] [--threads 2] [--full-run]

Both start from the identical native attn-only-2l weights and see the identical pre-generated batches (32 × 64
tokens). Ours: `circuits.training.trainer._step` (FastTransformer with fused QKV and batched attention, AdamW, cosine schedule, grad clipping). Theirs:
`transformer_lens.tools.training.train` on the TransformerBridge (AdamW, grad clipping, no decay). With --full-run
it also times the complete default `attn-only-2l` run (training + evals + ~40 checkpoints) from scratch.
The two trainers alternate for several rounds and the median ratio is reported: this shared VM's speed drifts by
±20% over a minute, which a single back-to-back pair turns into ratio noise.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch


def batches(config, steps: int) -> torch.Tensor:
    from circuits.data.generators import make_sampler

    gen = torch.Generator().manual_seed(0)
    sample = make_sampler(config.data, config.model)
    return torch.stack([sample(config.train.batch_size, gen) for _ in range(steps)])


def ours(config, data: torch.Tensor) -> float:
    from circuits.model.transformer import FastTransformer, initial_state_dict
    from circuits.training.trainer import TrainingState, _step

    model = FastTransformer(config.model, initial_state_dict(config.model))
    opt = torch.optim.AdamW(model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay)
    state = TrainingState(model, opt, torch.Generator(), 0, [], torch.device("cpu"))
    it = iter(data)
    start = time.perf_counter()
    for _ in range(len(data)):
        _step(config, state, lambda batch, gen: next(it))
    return time.perf_counter() - start


def theirs(config, data: torch.Tensor) -> float:
    from transformer_lens.tools.training import TrainConfig, train

    from circuits.model.transformer import build_bridge

    bridge = build_bridge(config.model)
    bridge.train()
    flat = data.flatten(0, 1)
    dataset = [{"tokens": row} for row in flat]
    cfg = TrainConfig(num_epochs=1, batch_size=config.train.batch_size, lr=config.train.lr, weight_decay=config.train.weight_decay,
                      optimizer_name="AdamW", max_grad_norm=config.train.grad_clip, device="cpu", print_every=None)
    torch.manual_seed(0)
    start = time.perf_counter()
    train(bridge, cfg, dataset)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100, help="steps per trainer per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--full-run", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from circuits.presets import preset

    config = preset("attn-only-2l")
    data = batches(config, args.steps)
    tokens = data.numel()
    ours(config, data[:20]), theirs(config, data[:20])  # warm-up
    print(f"threads={args.threads} steps/round={args.steps} batch={tuple(data.shape[1:])}")
    ratios = []
    for r in range(args.rounds):
        t_ours, t_theirs = ours(config, data), theirs(config, data)
        ratios.append(t_theirs / t_ours)
        print(f"round {r}: ours {tokens / t_ours:8.0f} tok/s  TransformerLens train {tokens / t_theirs:8.0f} tok/s  "
              f"ratio {ratios[-1]:.2f}x")
    print(f"speed-up (median of {args.rounds} rounds): {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")
    if args.full_run:
        from circuits.training.trainer import train

        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            store = train(config, f"{tmp}/run", progress=False)
            elapsed = time.perf_counter() - start
            n_checkpoints = len(store.steps())
        print(f"full default run ({config.train.steps} steps, {n_checkpoints} checkpoints, evals every "
              f"{config.train.eval_every} steps): {elapsed:.1f} s")


if __name__ == "__main__":
    main()

"""Training throughput: our trainer vs TransformerLens's `tools.training.train` and vs our trainer at an earlier git
revision, same model, same batches, same run; the levers one by one; model-FLOPs utilisation on a compute-bound model.

    python bench/train_speed.py [--steps 100] [--rounds 5] [--threads 2] [--baseline 9f221f7] [--levers] [--mfu]
                                [--profile] [--full-run]

Every arm starts from the identical native attn-only-2l weights and sees the identical pre-generated batches
(32 × 64 tokens). Ours: `circuits.training.trainer._step` (the one forward, AdamW from `make_optimizer`, cosine
schedule, grad clipping). TransformerLens: `transformer_lens.tools.training.train` on the TransformerBridge (AdamW,
grad clipping, no decay). Baseline: the `ours` arm of this file at REV, run from a `git worktree` of REV in a
subprocess on the same batches (its import time is not counted; removed afterwards). The arms alternate for several
rounds and the median ratio is reported: this shared VM's speed drifts by ±20% over a minute.

--levers times one change at a time on the same loop (ms per step; the current trainer's choice is marked):
AdamW fused vs foreach vs per-tensor, the fused attention kernel vs the explicit masked softmax (forced by
capturing `hook_pattern`), a per-step host sync (`loss.item()`), `torch.compile` (inductor; compile time shown
apart), bf16 autocast, one vs two intra-op threads.
--mfu: a compute-bound model (4 layers, d_model 256, n_ctx 256, batch 16, MLP 1024, LayerNorm), FLOPs per token
= 6·N + 12·n_layers·n_ctx·d_model, against the best of 5 fp32 (bf16) 2048³ matmuls on the same threads.
--profile: the torch.profiler split of one step of attn-only-2l (50 steps averaged).
--full-run: the complete default `attn-only-2l` run from scratch (training + evals + 41 checkpoints).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
BASELINE_ARM = """
import sys, torch
sys.path.insert(0, 'bench')
torch.set_num_threads({threads})
import train_speed as bench
from circuits.presets import preset
config = preset('attn-only-2l')
data = torch.load({data!r}, weights_only=True)
bench.ours(config, data[:20])
print(bench.ours(config, data))
"""


def batches(config, steps: int) -> torch.Tensor:
    from circuits.data.generators import make_sampler

    gen = torch.Generator().manual_seed(0)
    sample = make_sampler(config.data, config.model)
    return torch.stack([sample(config.train.batch_size, gen) for _ in range(steps)])


def ours(config, data: torch.Tensor) -> float:
    from circuits.model.transformer import FastTransformer, initial_state_dict
    from circuits.training.trainer import TrainingState, _step, make_optimizer

    model = FastTransformer(config.model, initial_state_dict(config.model))
    state = TrainingState(model, make_optimizer(model, config.train), torch.Generator(), 0, [], torch.device("cpu"))
    it = iter(data)
    start = time.perf_counter()
    for _ in range(len(data)):
        _step(config, state, lambda batch, gen: next(it))
    float(state.recent_losses[-1])  # the last step's work has finished
    return time.perf_counter() - start


def theirs(config, data: torch.Tensor) -> float:
    from transformer_lens.tools.training import TrainConfig, train

    from circuits.model.transformer import build_bridge

    bridge = build_bridge(config.model)
    bridge.train()
    dataset = [{"tokens": row} for row in data.flatten(0, 1)]
    cfg = TrainConfig(num_epochs=1, batch_size=config.train.batch_size, lr=config.train.lr, weight_decay=config.train.weight_decay,
                      optimizer_name="AdamW", max_grad_norm=config.train.grad_clip, device="cpu", print_every=None)
    torch.manual_seed(0)
    start = time.perf_counter()
    train(bridge, cfg, dataset)
    return time.perf_counter() - start


def baseline(tree: Path, data_file: str, threads: int) -> float:
    code = BASELINE_ARM.format(threads=threads, data=data_file)
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=os.environ | {"PYTHONPATH": str(tree)},
                         check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def compare(config, data: torch.Tensor, rounds: int, tree: Path | None, threads: int) -> None:
    """The interleaved rounds: ours, TransformerLens, and the baseline revision."""
    tokens = data.numel()
    ours(config, data[:20]), theirs(config, data[:20])  # warm-up
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(data, f"{tmp}/data.pt")
        times: dict[str, list[float]] = {"ours": [], "TransformerLens": []} | ({"baseline": []} if tree else {})
        for r in range(rounds):
            times["ours"].append(ours(config, data))
            times["TransformerLens"].append(theirs(config, data))
            if tree:
                times["baseline"].append(baseline(tree, f"{tmp}/data.pt", threads))
            print(f"round {r}: " + "  ".join(f"{k} {tokens / v[-1]:8.0f} tok/s" for k, v in times.items()), flush=True)
    for other in [k for k in times if k != "ours"]:
        ratios = [t / o for t, o in zip(times[other], times["ours"], strict=True)]
        print(f"speed-up over {other} (median of {rounds} rounds): {statistics.median(ratios):.2f}x "
              f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")
    print(f"ours: {tokens / statistics.median(times['ours']):.0f} tok/s (median)")


def lever_loop(config, data: torch.Tensor, *, optimizer: str = "fused", explicit_pattern: bool = False,
               sync: bool = False, compiled: bool = False, bf16: bool = False) -> tuple[float, float]:
    """(seconds per step after 20 warm-up steps, warm-up seconds) of the trainer's step with one lever changed."""
    from circuits.model.seams import Seams
    from circuits.model.transformer import FastTransformer, initial_state_dict, token_losses

    model = FastTransformer(config.model, initial_state_dict(config.model)).train()
    kind = {"fused": {"fused": True}, "foreach": {"foreach": True}, "per-tensor": {"foreach": False}}[optimizer]
    opt = torch.optim.AdamW(model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay, **kind)
    patterns = [f"blocks.{l}.attn.hook_pattern" for l in range(config.model.n_layers)]

    def loss_of(tokens: torch.Tensor) -> torch.Tensor:
        seams = Seams(capture=patterns) if explicit_pattern else None
        return token_losses(model(tokens, seams), tokens).mean()

    loss_fn = torch.compile(loss_of) if compiled else loss_of
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    start = time.perf_counter()
    for i, tokens in enumerate(data):
        if i == 20:
            float(loss)  # noqa: F821 - defined in the first iteration
            warm = time.perf_counter()
        with autocast():
            loss = loss_fn(tokens)
        if sync:
            loss.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip, foreach=True)
        opt.step()
    float(loss)
    return (time.perf_counter() - warm) / (len(data) - 20), warm - start


LEVERS = {  # name → settings of lever_loop; the first is the current trainer
    "current (fused AdamW, fused attention, no host sync)": {},
    "AdamW foreach": {"optimizer": "foreach"},
    "AdamW per-tensor (torch's CPU default)": {"optimizer": "per-tensor"},
    "explicit masked-softmax attention": {"explicit_pattern": True},
    "+ per-step host sync (loss.item())": {"sync": True},
    "torch.compile (inductor)": {"compiled": True},
    "bf16 autocast": {"bf16": True},
}


def levers(config, data: torch.Tensor, threads: int) -> None:
    tokens_per_step = data[0].numel()
    print(f"\nlevers on {config.name}, {threads} threads, {len(data) - 20} timed steps (ms/step, tok/s, warm-up s)")
    for name, settings in LEVERS.items():
        per, warm = lever_loop(config, data, **settings)
        print(f"  {name:52s} {per * 1e3:7.2f} ms {tokens_per_step / per:9.0f} tok/s  warm-up {warm:5.1f} s", flush=True)
    for n in sorted({1, threads}):
        torch.set_num_threads(n)
        per, _ = lever_loop(config, data)
        print(f"  current trainer on {n} thread(s){'':27s} {per * 1e3:7.2f} ms {tokens_per_step / per:9.0f} tok/s")
    torch.set_num_threads(threads)


def matmul_peak(dtype: torch.dtype) -> float:
    """FLOP/s of the best of 5 2048³ matmuls."""
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * 2048**3 / best


def mfu() -> None:
    from circuits.config import ModelConfig, RunConfig, TrainConfig
    from circuits.data.configs import RepeatsData

    model = ModelConfig(n_layers=4, d_model=256, n_heads=4, n_ctx=256, d_vocab=128, attn_only=False, d_mlp=1024,
                        act_fn="gelu", normalization="LN", positional="standard", init_range=0.02)
    config = RunConfig(name="compute-bound", model=model, data=RepeatsData(seq_len=256, repeat_min=4, repeat_max=100),
                       train=TrainConfig(steps=1, batch_size=16, lr=1e-3))
    data = torch.randint(0, 128, (28, 16, 256), generator=torch.Generator().manual_seed(0))
    from circuits.model.transformer import FastTransformer

    n_params = sum(p.numel() for p in FastTransformer(model).parameters())
    flops = (6 * n_params + 12 * model.n_layers * model.n_ctx * model.d_model) * 16 * 256
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(f"\ncompute-bound model: N = {n_params:,}, {flops / 4096:,.0f} FLOPs/token; peak (best of 5 2048³ matmuls) "
          f"fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s")
    for name, settings, peak in (("fp32 eager (the trainer)", {}, "fp32"), ("fp32 torch.compile", {"compiled": True}, "fp32"),
                                 ("bf16 autocast eager", {"bf16": True}, "bf16"),
                                 ("bf16 autocast + compile", {"bf16": True, "compiled": True}, "bf16")):
        per, warm = lever_loop(config, data, **settings)
        print(f"  {name:28s} {per * 1e3:7.1f} ms/step {flops / per / 1e9:6.0f} GFLOP/s  MFU {flops / per / peaks[peak]:5.1%} "
              f"of the {peak} peak  (warm-up {warm:.1f} s)", flush=True)


def profile(config, data: torch.Tensor) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    ours(config, data[:20])
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        ours(config, data[:50])
    print("\ntorch.profiler, 50 steps of the trainer's step (self CPU time):")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


def full_run(config) -> None:
    from circuits.training.trainer import train

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        store = train(config, f"{tmp}/run", progress=False)
        elapsed = time.perf_counter() - start
        n_checkpoints = len(store.steps())
    print(f"\nfull default run ({config.train.steps} steps, {n_checkpoints} checkpoints, evals every "
          f"{config.train.eval_every} steps): {elapsed:.1f} s")


def worktree(rev: str, into: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), rev], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="steps per trainer per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline", metavar="REV", default="9f221f7", help="a git revision of our trainer ('' for none)")
    for flag in ("levers", "mfu", "profile", "full-run"):
        parser.add_argument(f"--{flag}", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from circuits.presets import preset

    config = preset("attn-only-2l")
    data = batches(config, args.steps)
    print(f"threads={args.threads} steps/round={args.steps} batch={tuple(data.shape[1:])}")
    with tempfile.TemporaryDirectory() as scratch:
        tree = worktree(args.baseline, Path(scratch) / "baseline") if args.baseline else None
        try:
            compare(config, data, args.rounds, tree, args.threads)
        finally:
            if tree:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    if args.levers:
        levers(config, batches(config, 20 + args.steps), args.threads)
    if args.mfu:
        mfu()
    if args.profile:
        profile(config, data)
    if args.full_run:
        full_run(config)


if __name__ == "__main__":
    main()

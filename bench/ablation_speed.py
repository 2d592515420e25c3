"""All-head ablation: our batched `ablation_effects` vs a naive per-head `run_with_hooks` loop, same checkpoint.

    python bench/ablation_speed.py [RUN] [--threads 2] [--repeats 3]

RUN defaults to checkpoints/attn-only-2l (train it with `icl-workbench train`). Both compute, for every head and each
of zero / mean / resample ablation, the effect on loss, ICL score and repeated-half loss; the script checks they agree
and prints the times and the ratio. The naive loop here is also the reference `tests/test_ablation.py` compares to.
"""
from __future__ import annotations

import argparse
import time

import torch

from circuits.model import token_losses
from circuits.model import FastTransformer
from probes.ablation import ABLATIONS, AblationInputs, ablation_effects
from probes.icl import icl_score


def naive_replacement(model, reference, layer: int, kind: str, seed: int = 0) -> torch.Tensor:
    """The replacement z of one layer from the bridge's own hook_z cache."""
    _, cache = model.run_with_cache(reference, names_filter=f"blocks.{layer}.attn.hook_z")
    z = cache[f"blocks.{layer}.attn.hook_z"]
    if kind == "zero":
        return torch.zeros_like(z)
    if kind == "mean":
        return z.mean(0, keepdim=True).expand_as(z)
    return z[torch.randperm(z.shape[0], generator=torch.Generator().manual_seed(seed))]


def naive_losses(model, tokens, reference, layer: int, head: int, kind: str, seed: int = 0) -> torch.Tensor:
    """One forward with one hook that ablates one head: the Todd/TransformerLens-style baseline."""
    repl = naive_replacement(model, reference, layer, kind, seed)

    def hook(z, hook):
        z = z.clone()
        z[:, :, head] = repl[:, :, head]
        return z

    logits = model.run_with_hooks(tokens, fwd_hooks=[(f"blocks.{layer}.attn.hook_z", hook)])
    return token_losses(logits, tokens)


@torch.no_grad()
def naive_effects(model, inputs: AblationInputs, kind: str) -> dict[str, torch.Tensor]:
    n = inputs.repeat_length
    clean_text, clean_rep = token_losses(model(inputs.text), inputs.text), token_losses(model(inputs.repeats), inputs.repeats)
    out = {"loss": [], "icl_score": [], "repeat_loss": []}
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            text = naive_losses(model, inputs.text, inputs.text_reference, layer, head, kind)
            rep = naive_losses(model, inputs.repeats, inputs.repeats_reference, layer, head, kind)
            out["loss"].append(text.mean() - clean_text.mean())
            out["icl_score"].append(icl_score(text.mean(0)) - icl_score(clean_text.mean(0)))
            out["repeat_loss"].append(rep[:, n + 1 : 2 * n].mean() - clean_rep[:, n + 1 : 2 * n].mean())
    return {k: torch.stack(v) for k, v in out.items()}


def timed(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", nargs="?", default="checkpoints/attn-only-2l")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from circuits.store import RunStore
    from probes.suite import ProbeInputs

    store = RunStore(args.run)
    model = store.load_bridge(store.steps()[-1])
    inputs = ProbeInputs.for_run(store.config()).ablation
    fast = lambda: FastTransformer(store.config().model, model.state_dict())  # noqa: E731 - built inside the timing
    t_ours, ours = timed(lambda: ablation_effects(fast(), inputs, ABLATIONS), args.repeats)
    t_naive, naive = timed(lambda: {k: naive_effects(model, inputs, k) for k in ABLATIONS}, args.repeats)
    worst = max((ours[k][m] - naive[k][m]).abs().max().item() for k in ABLATIONS for m in naive[k])
    heads = model.cfg.n_layers * model.cfg.n_heads
    print(f"{args.run} step {store.steps()[-1]}: {heads} heads × {len(ABLATIONS)} ablations × 2 inputs, threads={args.threads}")
    print(f"batched ablation_effects : {t_ours:7.3f} s")
    print(f"naive per-head loop      : {t_naive:7.3f} s")
    print(f"speed-up: {t_naive / t_ours:.2f}x   (max |difference| {worst:.2e})")


if __name__ == "__main__":
    main()

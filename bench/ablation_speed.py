"""All-head ablation: the intervention engine vs a naive per-head `run_with_hooks` loop, same checkpoint, one run.

    python bench/ablation_speed.py [RUN] [--threads 2] [--repeats 3]

RUN defaults to checkpoints/attn-only-2l (train it with `icl-workbench train`). Three computations of, for every
head and each of zero / mean / resample ablation, the effect on loss, ICL score and repeated-half loss:
  naive   one `run_with_hooks` on the bridge per (head, input), a TransformerLens-style per-head loop (the reference
          cache of hook_z and the clean losses are computed once per ablation kind and input, not once per head as
          the loop before the engine refactor did, which made it ~2× slower)
  fast    `ablation_effects(checkpoint.engine, …)`: the FastEngine on our FastTransformer (starts each condition at
          its first ablated layer)
  hook    `ablation_effects(HookEngine(checkpoint.bridge), …)`: the generic path any TransformerBridge takes
The script prints the median time of each over --repeats (the three interleaved, so load from other processes falls
on all alike), the ratios naive / engine, and checks that all three agree (max |difference| < 1e-4). The naive loop here is
also the reference `tests/test_ablation.py` compares to.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from circuits.model.transformer import token_losses
from probes.measures.ablation import ABLATIONS, AblationInputs, ablation_effects
from probes.measures.icl import icl_score

TOLERANCE = 1e-4
METRICS = ("loss", "icl_score", "repeat_loss")


def naive_replacements(model: Any, reference: Int[Tensor, "batch pos"], kind: str, seed: int = 0
                       ) -> list[Float[Tensor, "batch pos n_heads d_head"]]:
    """Per layer, the replacement z from the bridge's own hook_z cache (one `run_with_cache` for all layers)."""
    names = [f"blocks.{layer}.attn.hook_z" for layer in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(reference, names_filter=lambda name: name in names)
    out = []
    for name in names:
        z = cache[name]
        if kind == "zero":
            out.append(torch.zeros_like(z))
        elif kind == "mean":
            out.append(z.mean(0, keepdim=True).expand_as(z))
        else:
            out.append(z[torch.randperm(z.shape[0], generator=torch.Generator().manual_seed(seed))])
    return out


def naive_replacement(model: Any, reference: Int[Tensor, "batch pos"], layer: int, kind: str, seed: int = 0
                      ) -> Float[Tensor, "batch pos n_heads d_head"]:
    """The replacement z of one layer from the bridge's own hook_z cache."""
    return naive_replacements(model, reference, kind, seed)[layer]


def hooked_losses(model: Any, tokens: Int[Tensor, "batch pos"], layer: int, head: int,
                  repl: Float[Tensor, "batch pos n_heads d_head"]) -> Float[Tensor, "batch pos_minus_1"]:
    """One forward with one hook on `blocks.{layer}.attn.hook_z` that replaces head `head`'s z by `repl`'s."""

    def hook(z: Tensor, hook: Any) -> Tensor:
        z = z.clone()
        z[:, :, head] = repl[:, :, head]
        return z

    logits = model.run_with_hooks(tokens, fwd_hooks=[(f"blocks.{layer}.attn.hook_z", hook)])
    return token_losses(logits, tokens)


@torch.no_grad()
def naive_losses(model: Any, tokens: Int[Tensor, "batch pos"], reference: Int[Tensor, "batch pos"], layer: int,
                 head: int, kind: str, seed: int = 0) -> Float[Tensor, "batch pos_minus_1"]:
    """Next-token losses with one head ablated by one hook: the TransformerLens-style baseline for one head."""
    return hooked_losses(model, tokens, layer, head, naive_replacement(model, reference, layer, kind, seed))


@torch.no_grad()
def naive_effects(model: Any, inputs: AblationInputs, kind: str) -> dict[str, Tensor]:
    """Per metric, the [n_layers·n_heads] effects of ablating each head alone, one `run_with_hooks` per head."""
    n, heads = inputs.repeat_length, [(l, h) for l in range(model.cfg.n_layers) for h in range(model.cfg.n_heads)]
    clean_text, clean_rep = token_losses(model(inputs.text), inputs.text), token_losses(model(inputs.repeats), inputs.repeats)
    text_repl = naive_replacements(model, inputs.text_reference, kind)
    rep_repl = naive_replacements(model, inputs.repeats_reference, kind)
    out: dict[str, list[Tensor]] = {name: [] for name in METRICS}
    for layer, head in heads:
        text = hooked_losses(model, inputs.text, layer, head, text_repl[layer])
        rep = hooked_losses(model, inputs.repeats, layer, head, rep_repl[layer])
        out["loss"].append(text.mean() - clean_text.mean())
        out["icl_score"].append(icl_score(text.mean(0)) - icl_score(clean_text.mean(0)))
        out["repeat_loss"].append(rep[:, n + 1 : 2 * n].mean() - clean_rep[:, n + 1 : 2 * n].mean())
    return {k: torch.stack(v) for k, v in out.items()}


def timed_paths(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, tuple[float, Any]]:
    """Per name, the median wall time of `repeats` calls of its function and the last result. Repeats are
    interleaved (A, B, C, A, B, C, …) so that load from other processes on a shared machine falls on every path
    alike rather than on whichever ran during a burst."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), results[name]) for name in fns}


def max_difference(ours: dict[str, dict[str, Tensor]], naive: dict[str, dict[str, Tensor]]) -> float:
    """Largest |difference| over every ablation kind, metric and head."""
    return max((ours[k][m] - naive[k][m]).abs().max().item() for k in naive for m in METRICS)


def compare(bridge: Any, engines: dict[str, Any], inputs: AblationInputs, repeats: int) -> dict[str, tuple[float, float]]:
    """Per path ("naive" and each engine's name), (median seconds, max |difference| from the naive loop)."""
    fns = {"naive": lambda: {k: naive_effects(bridge, inputs, k) for k in ABLATIONS}}
    fns |= {name: (lambda engine=engine: ablation_effects(engine, inputs, ABLATIONS)) for name, engine in engines.items()}
    timed = timed_paths(fns, repeats)
    naive = timed["naive"][1]
    return {name: (seconds, max_difference(result, naive) if name != "naive" else 0.0) for name, (seconds, result) in timed.items()}


def report(results: dict[str, tuple[float, float]], labels: dict[str, str]) -> None:
    """Print each path's time, ratio to the naive loop and difference; fail if any difference ≥ TOLERANCE."""
    t_naive = results["naive"][0]
    print(f"{labels['naive']:<44}: {t_naive:8.3f} s")
    for name, (seconds, diff) in results.items():
        if name != "naive":
            print(f"{labels[name]:<44}: {seconds:8.3f} s   {t_naive / seconds:6.2f}x   (max |difference| {diff:.2e})")
    worst = max(diff for _, diff in results.values())
    assert worst < TOLERANCE, f"the paths disagree: max |difference| {worst:.2e} ≥ {TOLERANCE:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default="checkpoints/attn-only-2l")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from circuits.store.runs import RunStore
    from probes.engine.checkpoint import RunSource
    from probes.engine.inputs import ProbeInputs
    from probes.engine.interventions import HookEngine

    source = RunSource(RunStore(args.run))
    step = source.steps()[-1]
    ckpt = source.load(step)
    inputs = ProbeInputs.for_run(source.config).ablation
    results = compare(ckpt.bridge, {"fast": ckpt.engine, "hook": HookEngine(ckpt.bridge)}, inputs, args.repeats)
    heads = source.facts.n_layers * source.facts.n_heads
    print(f"{args.run} step {step}: {heads} heads × {len(ABLATIONS)} ablations × 2 inputs of {tuple(inputs.text.shape)}, "
          f"threads={args.threads}, median of {args.repeats}")
    report(results, {"naive": "naive per-head run_with_hooks loop (bridge)", "fast": "FastEngine (our model, fast path)",
                     "hook": "HookEngine on the bridge (generic path)"})


if __name__ == "__main__":
    main()

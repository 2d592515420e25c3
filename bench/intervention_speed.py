"""The intervention engine against per-head `run_with_hooks` loops: all-head ablation and all-head AIE, one table.

    python bench/intervention_speed.py [--ablation-run RUN] [--fv-run RUN] [--threads 2] [--repeats 3] [--tasks 32]

For each task the naive loop is the reference of bench/ablation_speed.py (zero / mean / resample ablation of every
head, on text and [BOS, r, r] repeats) or bench/fv_speed.py (Todd et al. 2024's per-(task, head) last-position
patching, arXiv:2310.15213), timed in the same run as
  fast  (our model)       `checkpoint.engine`: the FastEngine on our FastTransformer
  hook  (our model)       `HookEngine(checkpoint.bridge)`: the generic path, on the same weights
  hook  (HF GPT-2)        `HookEngine(load_hf_bridge(folder))` on a Hugging Face GPT-2 of the run's size (layers,
                          heads, d_model, vocabulary, context; GPT-2 adds LayerNorm and an MLP of 4·d_model) saved
                          into a temporary folder with RANDOM weights: the timing is the point, the effects are not
The inputs of the HF rows are those of the run (its vocabulary fits the model). Every engine result must equal its
naive loop (max |difference| < 1e-4). Times are medians of --repeats (paths interleaved); the ratio is naive / engine.
"""
from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ablation_speed
import fv_speed
import torch

RUN_ABL = "checkpoints/attn-only-2l"
RUN_FV = "checkpoints/fv"


@dataclass(frozen=True)
class Row:
    task: str
    model: str
    heads: int
    naive: float
    engine: float
    difference: float

    @property
    def ratio(self) -> float:
        return self.naive / self.engine


def hf_gpt2_like(model: Any, folder: Path, seed: int = 0) -> Any:
    """A randomly initialised Hugging Face GPT-2 with `model`'s (a `ModelConfig`) sizes, saved with
    `save_pretrained` into `folder` and loaded back offline as a TransformerBridge."""
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    from circuits.model.hf import load_hf_bridge

    hf_logging.disable_progress_bar()
    cfg = GPT2Config(vocab_size=model.d_vocab, n_positions=model.n_ctx, n_embd=model.d_model, n_layer=model.n_layers,
                     n_head=model.n_heads, bos_token_id=0, eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    torch.manual_seed(seed)
    GPT2LMHeadModel(cfg).eval().save_pretrained(folder)
    return load_hf_bridge(folder)


def rows_for(task: str, run: str, compare: Callable[..., dict[str, tuple[float, float]]], inputs_of: Callable[[Any], Any],
             folder: Path, repeats: int) -> list[Row]:
    """Rows of one task on one run: its fast and hook engines, and the hook engine on a GPT-2 of its size.
    `compare(bridge, engines, inputs, repeats)` is ablation_speed.compare or fv_speed.compare; `inputs_of(source)`
    builds the task's inputs."""
    from circuits.store.runs import RunStore
    from probes.engine.checkpoint import RunSource
    from probes.engine.interventions import HookEngine

    source = RunSource(RunStore(run))
    ckpt, inputs, heads = source.load(source.steps()[-1]), inputs_of(source), source.facts.n_layers * source.facts.n_heads
    ours = compare(ckpt.bridge, {"fast": ckpt.engine, "hook": HookEngine(ckpt.bridge)}, inputs, repeats)
    hf = hf_gpt2_like(source.config.model, folder)
    theirs = compare(hf, {"hook": HookEngine(hf)}, inputs, repeats)
    name = Path(run).name
    return [Row(task, f"{name} (fast path)", heads, ours["naive"][0], *ours["fast"]),
            Row(task, f"{name} bridge (generic path)", heads, ours["naive"][0], *ours["hook"]),
            Row(task, "HF GPT-2, random weights (generic path)", heads, theirs["naive"][0], *theirs["hook"])]


def table(rows: list[Row]) -> str:
    """The rows as one plain-text table: task | model | heads | naive s | engine s | ratio | max |diff|."""
    lines = [f"{'task':<9}| {'model':<42}| heads | naive s | engine s |  ratio | max |diff|",
             f"{'-' * 9}|{'-' * 43}|-------|---------|----------|--------|-----------"]
    lines += [f"{r.task:<9}| {r.model:<42}| {r.heads:5d} | {r.naive:7.3f} | {r.engine:8.3f} | {r.ratio:5.2f}x | {r.difference:.1e}"
              for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ablation-run", default=RUN_ABL)
    parser.add_argument("--fv-run", default=RUN_FV)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=32, help="AIE tasks (of the 32 of the default suite)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from probes.engine.inputs import ProbeInputs

    with tempfile.TemporaryDirectory() as tmp:
        rows = rows_for("ablation", args.ablation_run, ablation_speed.compare,
                        lambda source: ProbeInputs.for_run(source.config).ablation, Path(tmp) / "gpt2-ablation", args.repeats)
        rows += rows_for("AIE", args.fv_run, fv_speed.compare,
                         lambda source: fv_speed.task_batch(source.facts.n_ctx, args.tasks), Path(tmp) / "gpt2-fv", args.repeats)
    print(f"threads={args.threads}, median of {args.repeats}; ablation: zero/mean/resample × every head × text and "
          f"repeats; AIE: {args.tasks} tasks × every head")
    print(table(rows))
    worst = max(r.difference for r in rows)
    assert worst < ablation_speed.TOLERANCE, f"an engine disagrees with its naive loop: max |difference| {worst:.2e}"


if __name__ == "__main__":
    main()

"""The trainer: AdamW, warm-up + cosine decay, gradient clipping, periodic eval, checkpoints, exact resume.

Training runs on `FastTransformer` (fused QKV, batched baddbmm attention); its state dict is the TransformerLens
native state dict, so each checkpoint loads straight into a `TransformerBridge`. A run interrupted at any point
resumes from its last complete checkpoint and reproduces the uninterrupted run exactly (same weights, optimizer and
data stream). The model, optimizer, batches and evaluation run on the chosen device (`circuits.device`); the data
generator stays on the CPU and checkpoints are saved from CPU copies, so a run resumes and loads on any device.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from circuits.config import RunConfig, TrainConfig
from circuits.data.generators import generator_of, make_sampler
from circuits.device import resolve_device
from circuits.errors import WorkbenchError
from circuits.model.clamp import ClampSet
from circuits.model.transformer import FastTransformer
from circuits.progress import progress_bar
from circuits.store.lock import run_lock
from circuits.store.runs import RunStore
from circuits.training.evaluation import EvalSet, evaluate
from circuits.training.schedule import checkpoint_steps, eval_steps, learning_rate

logger = logging.getLogger(__name__)
StepCallback = Callable[[int], None]


@dataclass
class TrainingState:
    """What the loop carries from step to step (all of it saved in a checkpoint)."""

    model: FastTransformer
    optimizer: torch.optim.AdamW
    data_rng: torch.Generator  # always on the CPU: the same seed gives the same batches on every device
    step: int
    recent_losses: list[float | torch.Tensor]  # since the last record: 0-dim device tensors until read once
    device: torch.device


def train(config: RunConfig, out: str | Path, *, progress: bool = True, on_step: StepCallback | None = None,
          device: str | torch.device = "cpu") -> RunStore:
    """Train `config` into the run directory `out`, resuming from its last complete checkpoint if it has one.

    `device` is "cpu" (default), "cuda", "cuda:N" or "auto" (`circuits.device.resolve_device`); a run may be resumed
    on another device than the one it started on.

    `on_step(step)` is called after every optimiser step (callbacks, tests that interrupt a run). The run's lock
    (`circuits.store.lock.run_lock`) is held throughout: a second trainer into the same directory is refused.
    """
    config.validate()
    target = resolve_device(device)
    with run_lock(Path(out)):
        store = RunStore.create(out, config)
        store.discard_partial()
        state = _start_state(config, store, target)
        if state.step >= config.train.steps:
            logger.info("run %s is already complete at step %d", store.path, state.step)
            return store
        _loop(config, store, state, progress, on_step)
        return store


def _start_state(config: RunConfig, store: RunStore, device: torch.device) -> TrainingState:
    steps = store.steps()
    model = FastTransformer(config.model, store.load_weights(steps[-1]) if steps else None).to(device)
    if config.clamps:  # a clamped run's model carries its clamps (circuits.model.clamp) at the start step
        model.clamps = clamp_set(config, device)
        model.clamps.set_step(model, steps[-1] if steps else 0)
    optimizer = make_optimizer(model, config.train)
    data_rng = torch.Generator().manual_seed(config.train.seed)
    if not steps:
        return TrainingState(model, optimizer, data_rng, 0, [], device)
    opt_state, rng_state, saved = store.load_training_state(steps[-1])
    optimizer.load_state_dict(opt_state)  # moves the moment tensors onto the parameters' device
    data_rng.set_state(rng_state)
    store.truncate_metrics(after_step=steps[-1])
    logger.info("resuming %s from step %d", store.path, steps[-1])
    return TrainingState(model, optimizer, data_rng, steps[-1], list(saved.get("recent_losses", [])), device)


def make_optimizer(model: FastTransformer, tc: TrainConfig) -> torch.optim.AdamW:
    """AdamW with the run's settings; PyTorch's fused kernel (one kernel for all parameters instead of ~10 ops per
    tensor, measured in bench/train_speed.py) on the CPU and CUDA, the default implementation elsewhere."""
    fused = model.embed.weight.device.type in ("cpu", "cuda")
    return torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(tc.beta1, tc.beta2),
                             fused=fused or None)


def clamp_set(config: RunConfig, device: str | torch.device = "cpu", step: int = 0) -> ClampSet:
    """The run's clamps (`circuits.model.clamp.ClampSet`) at `step`, each reference run's final checkpoint loaded as a
    FastTransformer on `device` (eval mode, no gradient). Used by training and by the probes (`probes.engine.clamped`)."""
    paths = dict.fromkeys(c.reference for c in config.clamps if c.reference is not None)
    return ClampSet(config.clamps, config.model, {path: _reference_model(path, device) for path in paths}, step)


def _reference_model(path: str, device: str | torch.device) -> FastTransformer:
    store = RunStore(path)
    reference, steps = store.config(), store.require_steps()
    if steps[-1] < reference.train.steps:
        raise WorkbenchError(f"reference run {path} is unfinished (last checkpoint at step {steps[-1]} of "
                             f"{reference.train.steps}); finish it first, e.g. `icl-workbench train --config "
                             f"{path}/config.json --out {path}`.")
    return FastTransformer(reference.model, store.load_weights(steps[-1])).to(device).eval().requires_grad_(False)


def _loop(config: RunConfig, store: RunStore, state: TrainingState, progress: bool, on_step: StepCallback | None) -> None:
    tc = config.train
    sample = make_sampler(config.data, config.model)
    evalset = EvalSet.for_run(config).to(state.device)
    evals, checkpoints = set(eval_steps(tc)), set(checkpoint_steps(tc))
    bar = progress_bar(total=tc.steps, initial=state.step, desc=f"train {config.name}", disable=not progress, unit="step")
    recorded = state.step if store.steps() else -1  # a resumed run already holds its start step's row and checkpoint
    while True:
        if state.step != recorded and (state.step in evals or state.step in checkpoints):
            row = _record(config, store, state, evalset, save=state.step in checkpoints)
            shown = {"repeat": "eval/repeat_loss", "test_acc": "eval/test_accuracy"}  # whichever the run's eval has
            bar.set_postfix(loss=f"{row['train/loss']:.3f}", **{k: f"{row[m]:.3f}" for k, m in shown.items() if m in row})
        if state.step >= tc.steps:
            break
        _step(config, state, sample)
        bar.update(1)
        if on_step is not None:
            on_step(state.step)
    bar.close()


def _step(config: RunConfig, state: TrainingState, sample) -> None:
    """One optimiser step. No host sync: the loss stays on the device until the next record (`_loss_values`)."""
    tc = config.train
    tokens = sample(tc.batch_size, state.data_rng).to(state.device)
    state.model.train()
    loss = generator_of(config.data).loss(state.model(tokens), tokens, config.data)
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(state.model.parameters(), tc.grad_clip, foreach=True)
    for group in state.optimizer.param_groups:
        group["lr"] = learning_rate(state.step, tc)
    state.optimizer.step()
    if state.model.clamps is not None:  # frozen slices back to their values at start_step (no Adam or decay drift)
        state.model.clamps.restore(state.model)
        state.model.clamps.set_step(state.model, state.step + 1)
    state.step += 1
    state.recent_losses = (state.recent_losses + [loss.detach()])[-tc.eval_every :]


def _loss_values(state: TrainingState, config: RunConfig) -> list[float]:
    """The recent training losses as floats (one device-to-host copy per record); a non-finite one stops the run
    before anything of it is saved."""
    values = [x if isinstance(x, float) else None for x in state.recent_losses]
    fresh = [x for x in state.recent_losses if not isinstance(x, float)]
    read = iter(torch.stack(fresh).tolist() if fresh else [])
    values = [x if x is not None else next(read) for x in values]
    bad = [i for i, x in enumerate(values) if not math.isfinite(x)]
    if bad:
        step = state.step - len(values) + bad[0]
        raise WorkbenchError(
            f"training loss became {values[bad[0]]} at step {step}; lower lr (now {config.train.lr}) or raise "
            f"warmup_steps — checkpoints up to the last good step are kept and the run resumes from there.")
    state.recent_losses = values
    return values


def _record(config: RunConfig, store: RunStore, state: TrainingState, evalset: EvalSet, save: bool) -> dict:
    state.model.eval()
    losses = _loss_values(state, config)
    metrics = evaluate(state.model, evalset)
    train_loss = sum(losses) / len(losses) if losses else metrics["eval/loss"]
    tokens = state.step * config.train.batch_size * config.data.seq_len
    row = {"step": state.step, "tokens": tokens, "train/loss": train_loss, "train/lr": learning_rate(state.step, config.train), **metrics}
    if save:
        summary = {"tokens": tokens, "train/loss": train_loss, "eval/loss": metrics["eval/loss"],
                   "eval/repeat_loss": metrics.get("eval/repeat_loss"), "recent_losses": state.recent_losses}
        store.save_checkpoint(state.step, _on_cpu(state.model.state_dict()), _on_cpu(state.optimizer.state_dict()),
                              state.data_rng.get_state(), summary)
    store.append_metrics(row)
    return row


def _on_cpu(tree: Any) -> Any:
    """`tree` (a state dict, nested dicts/lists) with every tensor on the CPU; CPU tensors are returned as they are."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().cpu()
    if isinstance(tree, dict):
        return {k: _on_cpu(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_on_cpu(v) for v in tree)
    return tree

"""Sharp vs smooth views of the same capability over training ("emergence or mirage", Schaeffer et al. 2023).

For every checkpoint of a run, on the fixed held-out repeats of the induction probe (predictable tokens only):
  top1_accuracy   exact match of the argmax with the correct token — a sharp, thresholded metric
  log_prob        mean log-probability of the correct token — smooth
  loss            mean per-token loss (= −log_prob) — smooth
For fv-mix runs also the 10-shot task accuracy and the log-probability of the correct answer yq.
"""
from __future__ import annotations

import torch
from tqdm.auto import tqdm

from circuits.model import FastTransformer
from circuits.store import RunStore
from probes.suite import ProbeInputs


@torch.no_grad()
def capability_curves(store: RunStore, steps: list[int] | None = None, progress: bool = True) -> list[dict]:
    """One row per checkpoint: {step, tokens, top1_accuracy, log_prob, loss[, task_accuracy, task_log_prob]}."""
    config = store.config()
    inputs = ProbeInputs.for_run(config).ablation
    tokens, n = inputs.repeats, inputs.repeat_length
    targets = tokens[:, n + 2 : 2 * n + 1]  # tokens n+2 … 2n: predictable by induction
    rows = []
    for step in tqdm(steps or store.require_steps(), desc="capability", disable=not progress):
        fast = FastTransformer(config.model, store.load_weights(step))
        logprobs = fast(tokens)[:, n + 1 : 2 * n].log_softmax(-1)
        correct = logprobs.gather(-1, targets[..., None]).squeeze(-1)
        row = {"step": step, "tokens": store.state(step)["tokens"], "top1_accuracy": (logprobs.argmax(-1) == targets).float().mean().item(),
               "log_prob": correct.mean().item(), "loss": -correct.mean().item()}
        if config.data.name == "fv-mix":
            row |= _task_metrics(fast, config.model.n_ctx)
        rows.append(row)
    return rows


def _task_metrics(fast: FastTransformer, n_ctx: int) -> dict[str, float]:
    from einops import rearrange

    from circuits.tasks import default_suite
    from probes.function_vectors import FVSettings, TaskBatch

    batch = TaskBatch.build(default_suite(), FVSettings(), n_ctx)
    logprobs = fast(rearrange(batch.few_shot, "t n p -> (t n) p"))[:, -1].log_softmax(-1)
    answers = batch.eval_answers.flatten()
    return {"task_accuracy": (logprobs.argmax(-1) == answers).float().mean().item(),
            "task_log_prob": logprobs.gather(1, answers[:, None]).mean().item()}

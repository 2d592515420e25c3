"""The `fv` sweep probe and the induction → FV transition analysis (Todd et al. 2024; Yin & Steinhardt 2025).

Per checkpoint (rows of the tidy table, probe "fv"):
  per head     aie                       Todd's AIE over all 32 tasks
  model-level  few_shot_accuracy, zero_shot_accuracy, shuffled_accuracy (10-shot shuffled-label prompts)
               fv_zero_shot_accuracy/L{ℓ}, fv_shuffled_accuracy/L{ℓ}   the task's FV added after layer ℓ
               other_task_fv_zero_shot_accuracy, random_heads_fv_zero_shot_accuracy   baselines at the best layer
               (the random heads are drawn from outside the FV set)
               ablate_{fv|induction}{_excl}/few_shot_accuracy, …/icl_score_change   top-n heads mean-ablated
FV-injected accuracy is measured on the test queries the model answers correctly with 10 shots (Todd), or on all
of them when it answers none; no_fv_{zero_shot|shuffled}_accuracy is the baseline on exactly those prompts. Ablation (Yin & Steinhardt): the top-n heads by AIE or by induction score are
mean-ablated — at the last position on few-shot prompts, at every position on training text for the ICL-score change
(Olsson sign: loss late − loss early, so a positive change means less in-context learning); "_excl" first removes the
other ranking's top-n heads from the candidates.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange

from circuits.model import FastTransformer
from circuits.tasks import default_suite
from probes import detectors
from probes.ablation import ablation_effects, clean_pass, head_set_mask, last_position_patch, run_conditions
from probes.function_vectors import (FVSettings, TaskBatch, function_vector, indirect_effects, injected_logits,
                                     last_logits, mean_head_activations, top_heads)
from probes.suite import ProbeInputs, Row, head_rows, model_row
from probes.sweep import select


def _flat(x: torch.Tensor) -> torch.Tensor:
    return rearrange(x, "t n ... -> (t n) ...")


def _accuracy_rows(fast: FastTransformer, batch: TaskBatch) -> tuple[list[Row], torch.Tensor]:
    answers = _flat(batch.eval_answers)
    few = last_logits(fast, _flat(batch.few_shot)).argmax(-1) == answers
    keep = few if few.any() else torch.ones_like(few)
    rows = [model_row("fv", "few_shot_accuracy", few.float().mean()),
            model_row("fv", "zero_shot_accuracy", (last_logits(fast, _flat(batch.zero_shot)).argmax(-1) == answers).float().mean()),
            model_row("fv", "shuffled_accuracy", (last_logits(fast, _flat(batch.shuffled)).argmax(-1) == answers).float().mean()),
            model_row("fv", "evaluated_prompts", keep.float().sum())]
    for kind, prompts in (("zero_shot", batch.zero_shot), ("shuffled", batch.shuffled)):  # the no-FV baseline on the same prompts
        hits = last_logits(fast, _flat(prompts)[keep]).argmax(-1) == answers[keep]
        rows.append(model_row("fv", f"no_fv_{kind}_accuracy", hits.float().mean()))
    return rows, keep


def _injection_rows(fast: FastTransformer, batch: TaskBatch, mean_z: torch.Tensor, heads: list, keep: torch.Tensor) -> list[Row]:
    n_tasks, per_task = batch.eval_answers.shape
    vectors = torch.stack([function_vector(fast, mean_z[t], heads) for t in range(n_tasks)])
    gen = torch.Generator().manual_seed(7)  # random heads from outside the FV set: with 8 heads, 3 random ones overlap it
    others = [divmod(int(i), fast.cfg.n_heads) for i in torch.randperm(fast.cfg.n_layers * fast.cfg.n_heads, generator=gen)]
    random_heads = [h for h in others if h not in heads][: len(heads)]
    baselines = {"other_task": vectors.roll(1, dims=0),
                 "random_heads": torch.stack([function_vector(fast, mean_z[t], random_heads) for t in range(n_tasks)])}
    answers, rows, best = _flat(batch.eval_answers)[keep], [], (-1.0, 0)
    per_row = lambda v: v.repeat_interleave(per_task, dim=0)[keep]  # noqa: E731
    for layer in range(fast.cfg.n_layers):
        for kind, prompts in (("zero_shot", batch.zero_shot), ("shuffled", batch.shuffled)):
            acc = (injected_logits(fast, _flat(prompts)[keep], per_row(vectors), layer).argmax(-1) == answers).float().mean().item()
            rows.append(model_row("fv", f"fv_{kind}_accuracy/L{layer}", acc))
            best = max(best, (acc, layer)) if kind == "zero_shot" else best
    for name, vec in baselines.items():
        acc = (injected_logits(fast, _flat(batch.zero_shot)[keep], per_row(vec), best[1]).argmax(-1) == answers).float().mean()
        rows.append(model_row("fv", f"{name}_fv_zero_shot_accuracy", acc))
    return rows + [model_row("fv", "fv_best_layer", float(best[1]))]


def _few_shot_under_ablation(fast: FastTransformer, batch: TaskBatch, head_sets: list[list]) -> torch.Tensor:
    """Few-shot accuracy with each head set mean-ablated at the last position (mean over all tasks' prompts)."""
    tokens, answers = _flat(batch.few_shot), _flat(batch.eval_answers)
    clean = clean_pass(fast, tokens)
    repl = last_position_patch(clean, [z[:, -1].mean(0) for z in clean.z])
    masks = torch.stack([head_set_mask(h, fast.cfg.n_layers, fast.cfg.n_heads) for h in head_sets])
    hits = run_conditions(fast, clean, masks, repl, lambda logits, n: logits[:, -1].argmax(-1) == answers.repeat(n), last_only=True)
    return hits.float().mean(1)


def _ablation_rows(fast, batch, inputs: ProbeInputs, aie, induction, n: int) -> list[Row]:
    fv, ind = top_heads(aie, n), top_heads(induction, n)
    sets = {"fv": fv, "induction": ind, "fv_excl": top_heads(aie, n, exclude=ind), "induction_excl": top_heads(induction, n, exclude=fv)}
    masks = torch.stack([head_set_mask(h, fast.cfg.n_layers, fast.cfg.n_heads) for h in sets.values()])
    icl = ablation_effects(fast, inputs.ablation, ("mean",), conditions=masks)["mean"]["icl_score"]
    few = _few_shot_under_ablation(fast, batch, list(sets.values()))
    rows = []
    for i, name in enumerate(sets):
        rows.append(model_row("fv", f"ablate_{name}/few_shot_accuracy", few[i]))
        rows.append(model_row("fv", f"ablate_{name}/icl_score_change", icl[i]))
    return rows


def fv_probe(model, state, inputs: ProbeInputs, settings: FVSettings = FVSettings()) -> list[Row]:
    """Every FV metric of one checkpoint (see the module docstring)."""
    from circuits.errors import WorkbenchError

    if inputs.config.data.name != "fv-mix":
        raise WorkbenchError(f"the fv probe needs a run trained on fv-mix data (preset 'fv'); {inputs.config.preset!r} uses {inputs.config.data.name!r}.")
    fast = FastTransformer(inputs.config.model, state)
    batch = TaskBatch.build(default_suite(), settings, inputs.config.model.n_ctx)
    mean_z = mean_head_activations(fast, batch)
    aie = indirect_effects(fast, batch, mean_z).mean(0)
    induction = detectors.induction_score(detectors.attention_patterns(model, inputs.induction), inputs.induction)
    rows, keep = _accuracy_rows(fast, batch)
    rows += _injection_rows(fast, batch, mean_z, top_heads(aie, settings.top_heads), keep)
    rows += _ablation_rows(fast, batch, inputs, aie, induction, settings.top_heads)
    return head_rows("fv", "aie", aie) + rows


FV_INDUCTION_THRESHOLD = 0.3  # "was an induction head": induction score ≥ this at some earlier checkpoint


@dataclass(frozen=True)
class Transition:
    """When induction and FV heads formed, and which final FV heads were induction heads earlier."""

    fv_heads: list[tuple[int, int]]  # final top heads by AIE
    induction_heads: list[tuple[int, int]]  # final top heads by induction score
    induction_step: int | None  # first checkpoint with some head's induction score ≥ FV_INDUCTION_THRESHOLD
    fv_step: int | None  # first checkpoint with few-shot accuracy ≥ halfway from its first to its last value
    earlier_induction: dict[str, tuple[float, int]]  # FV head -> (max induction score before its AIE onset, at step)
    aie_onset: dict[str, int]  # FV head -> first checkpoint where its AIE reaches half its final value
    fraction_were_induction: float
    trajectories: dict[str, list[tuple[int, float, float]]]  # head -> [(step, induction, aie)]


def transition_analysis(table: list[Row], top_n: int = FVSettings().top_heads) -> Transition:
    induction, aie = select(table, "attention", "induction"), select(table, "fv", "aie")
    final_aie = {h: pts[-1][1] for h, pts in aie.items()}
    final_ind = {h: pts[-1][1] for h, pts in induction.items()}
    fv_heads = sorted(final_aie, key=final_aie.get, reverse=True)[:top_n]
    steps = [s for s, _ in induction[fv_heads[0]]]
    crossing = [s for s in steps if any(dict(p)[s] >= FV_INDUCTION_THRESHOLD for p in induction.values())]
    few = select(table, "fv", "few_shot_accuracy")[(None, None)]
    half = (few[0][1] + few[-1][1]) / 2
    onset = {f"{l}.{h}": next(s for s, v in aie[(l, h)] if v >= 0.5 * final_aie[(l, h)]) for l, h in fv_heads}
    earlier = {f"{l}.{h}": max(((v, s) for s, v in induction[(l, h)] if s < onset[f"{l}.{h}"]), default=(0.0, 0)) for l, h in fv_heads}
    trajectories = {f"{l}.{h}": [(s, i, a) for (s, i), (_, a) in zip(induction[(l, h)], aie[(l, h)])] for l, h in aie}
    return Transition(
        fv_heads=fv_heads, induction_heads=sorted(final_ind, key=final_ind.get, reverse=True)[:top_n],
        induction_step=crossing[0] if crossing else None,
        fv_step=next((s for s, v in few if v >= half), None) if few[-1][1] > few[0][1] + 0.2 else None,
        earlier_induction=earlier, aie_onset=onset,
        fraction_were_induction=sum(v >= FV_INDUCTION_THRESHOLD for v, _ in earlier.values()) / len(fv_heads),
        trajectories=trajectories,
    )

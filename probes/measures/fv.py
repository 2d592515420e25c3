"""The `fv` sweep probe: Todd et al. 2024 (arXiv 2310.15213) function vectors and Yin & Steinhardt 2025 (arXiv
2502.14010) ablations, with selection and evaluation on different data.

Evaluation hygiene:
  * tasks are split in two halves (`function_vectors.split_tasks`): heads are scored (AIE) on the *selection* half;
    every accuracy, injection and ablation below is measured on the *held-out* half;
  * the injection layer is chosen on validation queries of the held-out tasks and reported on their test queries;
  * baselines at that layer: no FV; another task's FV; FVs from every same-size head set outside the FV set (mean,
    min, max: 10 sets of 3 of the remaining 5 heads in an 8-head model); Todd's mean hidden state (the layer's mean
    residual at the last position over the task's clean prompts);
  * ablation (mean over prompts, last position) of the top FV heads and the top induction heads, each beside every
    same-size head set (56 sets of 3 of 8): mean, min, max and the fraction of sets it beats.
A model too small for a control (the 1-layer control, 4 heads: no set of 3 outside an FV set of 3) has the count
row `…/sets` = 0 and no mean/min/max rows; the claims then say "not supported".
Exclusion (Yin & Steinhardt): their "with exclusion" removes the top 2% of heads by the *other* score from the
ranking first. With 8 heads 2% is less than one head, so we remove the other ranking's top-n (n = the ablated set
size) — the sets are then disjoint — and say so in the report.

Rows per checkpoint (probe "fv"):
  per head     aie, aie_se (standard error over selection prompts), fv_set (1 for the heads used as "the FV heads":
               above their AIE noise floor, `function_vectors.fv_heads`; the top-n by AIE when none passes)
  model-level  few_shot_accuracy, zero_shot_accuracy, shuffled_accuracy (held-out tasks, test queries)
               fv_valid_zero_shot_accuracy/L{ℓ}; fv_best_layer (chosen on it)
               fv_zero_shot_accuracy, fv_shuffled_accuracy, no_fv_zero_shot_accuracy, no_fv_shuffled_accuracy,
               other_task_fv_zero_shot_accuracy, mean_hidden_zero_shot_accuracy,
               random_heads_fv_zero_shot_accuracy/{mean,min,max}       (test queries, at fv_best_layer)
               random_heads_fv_zero_shot_accuracy/sets (how many such sets; 0: no mean/min/max rows)
               ablate_{fv|induction|fv_excl|induction_excl}/{few_shot_accuracy,icl_score_change}
               ablate_excl_difference/icl_score_change_se (standard error over text sequences of the paired
               difference induction_excl − fv_excl, the noise of Yin & Steinhardt's ICL prediction)
Rows of the last checkpoint only (probe "fv_controls", the costly control):
               ablate_random/few_shot_accuracy/{mean,min,max,sets}, ablate_{…}/beats_random
FV-injected accuracy is measured on the queries the model answers correctly with 10 shots (Todd), or on all of them
when it answers none; the no-FV baselines use exactly those prompts. ICL-score change: Olsson sign (loss late −
loss early), so a positive change means less in-context learning.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from einops import rearrange

from circuits.data.tasks import default_suite
from circuits.errors import WorkbenchError
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.engine.interventions import Engine, last_position_patch
from probes.measures import detectors
from probes.measures.ablation import ablated_losses, head_set_mask
from probes.measures.applies import fv_applies, trained_on
from probes.measures.function_vectors import (
    FVSettings,
    TaskBatch,
    function_vector,
    fv_heads,
    last_logits,
    mean_head_activations,
    mean_hidden_states,
    split_tasks,
    todd_cie,
    top_heads,
)
from probes.measures.icl import icl_score
from probes.registry import ProbeSpec, register_probe
from probes.table import Row, head_rows, model_row

Head = tuple[int, int]
DEFAULT_SETTINGS = FVSettings()


def _flat(x: torch.Tensor) -> torch.Tensor:
    return rearrange(x, "t n ... -> (t n) ...")


def _hits(logits: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == answers).float()


def accuracy_rows(engine: Engine, batch: TaskBatch) -> tuple[list[Row], torch.Tensor]:
    answers = _flat(batch.eval_answers)
    few = _hits(last_logits(engine, _flat(batch.few_shot)), answers)
    keep = few.bool() if few.any() else torch.ones_like(few, dtype=torch.bool)
    rows = [model_row("fv", "few_shot_accuracy", few.mean()), model_row("fv", "evaluated_prompts", keep.sum()),
            model_row("fv", "few_shot_prompts", float(len(few)))]
    for kind, prompts in (("zero_shot", batch.zero_shot), ("shuffled", batch.shuffled)):
        rows.append(model_row("fv", f"{kind}_accuracy", _hits(last_logits(engine, _flat(prompts)), answers).mean()))
        hits = _hits(last_logits(engine, _flat(prompts)[keep]), answers[keep])  # the no-FV baseline on the same prompts
        rows.append(model_row("fv", f"no_fv_{kind}_accuracy", hits.mean()))
    return rows, keep


def injected_accuracy(engine, batch: TaskBatch, prompts, vectors: torch.Tensor, layer: int, keep) -> float:
    """Accuracy with each task's vector added after `layer` at the last position (prompts kept by `keep`)."""
    per_row = vectors.repeat_interleave(batch.eval_answers.shape[1], dim=0)[keep]
    logits = engine.inject(_flat(prompts)[keep], per_row, layer)
    return _hits(logits, _flat(batch.eval_answers)[keep]).mean().item()


def choose_layer(engine, valid: TaskBatch, vectors: torch.Tensor) -> tuple[list[Row], int]:
    """The injection layer with the best zero-shot accuracy on validation queries (ties: the earlier layer)."""
    few = _hits(last_logits(engine, _flat(valid.few_shot)), _flat(valid.eval_answers)).bool()
    keep = few if few.any() else torch.ones_like(few)
    scores = [injected_accuracy(engine, valid, valid.zero_shot, vectors, layer, keep) for layer in range(engine.n_layers)]
    rows = [model_row("fv", f"fv_valid_zero_shot_accuracy/L{layer}", acc) for layer, acc in enumerate(scores)]
    best = max(range(len(scores)), key=lambda layer: (scores[layer], -layer))
    return rows + [model_row("fv", "fv_best_layer", float(best))], best


def _injection_rows(engine, test: TaskBatch, valid: TaskBatch, heads: list[Head], keep) -> list[Row]:
    n_layers, n_heads, w_o = engine.n_layers, engine.n_heads, engine.w_o()
    mean_z = mean_head_activations(engine, test)  # the held-out tasks' own mean activations (queries over all inputs)
    vectors = torch.stack([function_vector(w_o, z, heads) for z in mean_z])
    rows, layer = choose_layer(engine, valid, vectors)
    acc = lambda vec, prompts=test.zero_shot: injected_accuracy(engine, test, prompts, vec, layer, keep)  # noqa: E731
    rows += [model_row("fv", "fv_zero_shot_accuracy", acc(vectors)),
             model_row("fv", "fv_shuffled_accuracy", acc(vectors, test.shuffled)),
             model_row("fv", "other_task_fv_zero_shot_accuracy", acc(vectors.roll(1, dims=0))),
             model_row("fv", "mean_hidden_zero_shot_accuracy", acc(mean_hidden_states(engine, test)[:, layer]))]
    outside = [h for h in itertools.product(range(n_layers), range(n_heads)) if h not in heads]
    random = torch.tensor([acc(torch.stack([function_vector(w_o, z, list(s)) for z in mean_z]))
                           for s in itertools.combinations(outside, len(heads))])
    return rows + _spread_rows("random_heads_fv_zero_shot_accuracy", random)


def _spread_rows(metric: str, values: torch.Tensor, probe: str = "fv") -> list[Row]:
    """The comparison sets' count, and their mean, min and max when there are any (a model too small for the
    control has none: the count row says so and the claims read it)."""
    rows = [model_row(probe, f"{metric}/sets", float(values.numel()))]
    return rows + [model_row(probe, f"{metric}/{stat}", getattr(values, stat)()) for stat in ("mean", "min", "max")
                   if values.numel()]


def _few_shot_under_ablation(engine: Engine, batch: TaskBatch, head_sets: list) -> torch.Tensor:
    """Few-shot accuracy with each head set mean-ablated at the last position (mean over all prompts)."""
    tokens, answers = _flat(batch.few_shot), _flat(batch.eval_answers)
    clean = engine.clean(tokens)
    repl = last_position_patch(clean, [z[:, -1].mean(0) for z in clean.z])
    masks = torch.stack([head_set_mask(h, engine.n_layers, engine.n_heads) for h in head_sets])
    hits = engine.patch_heads(clean, masks, repl, lambda logits, n: logits[:, -1].argmax(-1) == answers.repeat(n), last_only=True)
    return hits.float().mean(1)


def fv_set(aie, se, n: int, exclude: Sequence[Head] = ()) -> list[Head]:
    """The FV heads (above their AIE noise floor); the top-n by AIE when none passes (no claim then calls them FV
    heads: `fv/heads` is not supported)."""
    return fv_heads(aie, se, n, exclude) or top_heads(aie, n, exclude)


def _ablation_sets(aie, se, induction, n: int) -> dict[str, list[Head]]:
    """The ablated sets. Yin & Steinhardt's exclusion removes the top 2% of heads by the other score first; 2% of 8
    heads is less than one head, so we remove the other ranking's top-n (n = 3, i.e. 37.5% of the heads ablated,
    against their 1–20%)."""
    fv, ind = fv_set(aie, se, n), top_heads(induction, n)
    return {"fv": fv, "induction": ind, "fv_excl": fv_set(aie, se, n, exclude=ind),
            "induction_excl": top_heads(induction, n, exclude=fv)}


def _icl_changes(engine: Engine, inputs: ProbeInputs, masks: torch.Tensor) -> torch.Tensor:
    """[set, sequence] Δ Olsson ICL score per text sequence with each head set mean-ablated (its mean over
    sequences is `probes.measures.ablation.ablation_effects`' icl_score; per sequence for the standard error)."""
    ab = inputs.ablation
    conds = torch.cat([torch.zeros_like(masks[:1]), masks])  # the clean run first
    scores = icl_score(ablated_losses(engine, ab.text, ab.text_reference, conds, ("mean",))["mean"])  # [cond, seq]
    return scores[1:] - scores[:1]


def _ablation_rows(engine, batch: TaskBatch, inputs: ProbeInputs, sets: dict[str, list[Head]]) -> list[Row]:
    few = _few_shot_under_ablation(engine, batch, list(sets.values()))
    masks = torch.stack([head_set_mask(h, engine.n_layers, engine.n_heads) for h in sets.values()])
    icl = _icl_changes(engine, inputs, masks)
    rows = []
    for i, name in enumerate(sets):
        rows += [model_row("fv", f"ablate_{name}/few_shot_accuracy", few[i]),
                 model_row("fv", f"ablate_{name}/icl_score_change", icl[i].mean())]
    names = list(sets)
    diff = icl[names.index("induction_excl")] - icl[names.index("fv_excl")]  # paired over the same sequences
    return rows + [model_row("fv", "ablate_excl_difference/icl_score_change_se", diff.std() / len(diff) ** 0.5)]


def _random_ablation_rows(engine, batch: TaskBatch, sets: dict[str, list[Head]]) -> list[Row]:
    """The ablation control: every same-size head set (56 sets of 3 of 8), and how many each named set beats."""
    n_layers, n_heads, n = engine.n_layers, engine.n_heads, len(next(iter(sets.values())))
    every = [list(s) for s in itertools.combinations(itertools.product(range(n_layers), range(n_heads)), n)]
    few = _few_shot_under_ablation(engine, batch, list(sets.values()) + every)
    named, random = few[: len(sets)], few[len(sets):]
    others = lambda heads: torch.tensor([set(map(tuple, s)) != set(heads) for s in every])  # noqa: E731 - not itself
    rows = _spread_rows("ablate_random/few_shot_accuracy", random[others(sets["fv"])], "fv_controls")
    return rows + [model_row("fv_controls", f"ablate_{name}/beats_random", (named[i] < random[others(heads)]).float().mean())
                   for i, (name, heads) in enumerate(sets.items()) if others(heads).any()]


def _checkpoint_facts(ckpt: Checkpoint, inputs: ProbeInputs, settings: FVSettings):
    """The model, the held-out task batches, AIE (with its standard error) on the selection tasks, and the
    controlled induction scores."""
    if fv_applies(inputs) is not None:
        raise WorkbenchError(f"the fv probe needs a run trained on fv-mix data (preset 'fv'), not {trained_on(inputs)}.")
    engine, suite, n_ctx = ckpt.engine, default_suite(), inputs.facts.n_ctx
    selection, heldout = split_tasks(suite)
    chosen = TaskBatch.build(suite, settings, n_ctx, selection)
    cie = todd_cie(engine, chosen)[1].flatten(0, 1)  # [prompts, l, h]
    test, valid = (TaskBatch.build(suite, settings, n_ctx, heldout, split) for split in ("test", "valid"))
    induction = detectors.controlled_induction_score(ckpt.bridge, inputs.induction)
    return engine, test, valid, cie.mean(0), cie.std(0) / cie.shape[0] ** 0.5, induction


def fv_probe(ckpt: Checkpoint, inputs: ProbeInputs, settings: FVSettings = DEFAULT_SETTINGS) -> list[Row]:
    """Every FV metric of one checkpoint (see the module docstring)."""
    engine, test, valid, aie, se, induction = _checkpoint_facts(ckpt, inputs, settings)
    sets = _ablation_sets(aie, se, induction, settings.top_heads)
    rows, keep = accuracy_rows(engine, test)
    rows += _injection_rows(engine, test, valid, sets["fv"], keep)
    rows += _ablation_rows(engine, test, inputs, sets)
    used = head_set_mask(sets["fv"], engine.n_layers, engine.n_heads).float()
    return head_rows("fv", "aie", aie) + head_rows("fv", "aie_se", se) + head_rows("fv", "fv_set", used) + rows


def fv_controls_probe(ckpt: Checkpoint, inputs: ProbeInputs, settings: FVSettings = DEFAULT_SETTINGS) -> list[Row]:
    """The costly ablation control (every same-size head set), run on the last checkpoint only."""
    engine, test, _, aie, se, induction = _checkpoint_facts(ckpt, inputs, settings)
    return _random_ablation_rows(engine, test, _ablation_sets(aie, se, induction, settings.top_heads))


register_probe(ProbeSpec("fv", 5, fv_probe, {
    "{aie|aie_se|fv_set}": "Todd et al. 2024 AIE per head, its standard error, 1 for the FV heads",
    "{few_shot|zero_shot|shuffled}_accuracy": "held-out tasks, test queries",
    "{evaluated_prompts|few_shot_prompts}": "prompt counts behind the accuracies",
    "no_fv_{zero_shot|shuffled}_accuracy": "the no-FV baseline on the evaluated prompts",
    "fv_valid_zero_shot_accuracy/L{layer}": "FV injected after a layer, validation queries (chooses the layer)",
    "fv_best_layer": "the chosen layer",
    "{fv_zero_shot|fv_shuffled|other_task_fv_zero_shot|mean_hidden_zero_shot}_accuracy": "at the chosen layer",
    "random_heads_fv_zero_shot_accuracy/{mean|min|max}": "FVs of every same-size head set outside the FV set",
    "random_heads_fv_zero_shot_accuracy/sets": "how many such sets (0: none, no mean/min/max rows)",
    "ablate_{fv|induction|fv_excl|induction_excl}/{few_shot_accuracy|icl_score_change}": "a head set mean-ablated at the last position",
    "ablate_excl_difference/icl_score_change_se": "std error over sequences of induction_excl − fv_excl ICL Δ",
}, applies=fv_applies, default="if_applicable",
                         section="probes.report.fv:fv_report_section"))
register_probe(ProbeSpec("fv_controls", 4, fv_controls_probe, {
    "ablate_random/few_shot_accuracy/{mean|min|max}": "every same-size head set ablated",
    "ablate_random/few_shot_accuracy/sets": "how many such sets (0: none, no mean/min/max rows)",
    "ablate_{fv|induction|fv_excl|induction_excl}/beats_random": "the share of those sets a named set hurts more than",
}, applies=fv_applies, default="if_applicable",
                         final_only=True))

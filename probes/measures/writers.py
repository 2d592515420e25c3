"""Writer and canceller heads (Wang 2026, "Writers and cancellers", arXiv 2606.07560), per (model, task), on our
abstractive ICL tasks (`circuits.data.tasks`), beside Todd et al.'s signed AIE (arXiv 2310.15213).

A *writer* pushes the rule-correct answer's logit up, a *canceller* pushes it down. Wang's definitions, and where we
deviate (▸, every deviation stated):
  rule-flipped pair  ▸ Wang's tasks have a rule that can be flipped; ours are 32 word maps. A clean k-shot prompt
                     [BOS, x1, y1, …, xk, yk, xq] of task t has a flipped twin with the same inputs x1…xk, xq whose
                     demonstration outputs are those of another task t' of the same half of the task split (drawn per
                     prompt, seeded, among the tasks whose answer to xq differs): y+ = t(xq), y− = t'(xq) ≠ y+.
                     Queries are uniform over all inputs; demonstrations never show the query (`circuits.data.tasks.prompts`).
  refined DLA        DLÂ_h = uᵀ[γ ⊙ (c_h − c̄_h)] / (σ(r) + ε) at the last position: c_h = z_h W_O^h (the head's
                     residual-stream output, TransformerLens's hook_result; W_O's bias belongs to no head), c̄_h its
                     mean over the task's discovery prompts, u = W_U[y+] − W_U[y−], σ(r) the standard deviation over
                     d_model of the final residual stream (biased, as LayerNorm computes it), ε = 1e-5.
                     ▸ Our fv models have no LayerNorm: γ = 1 (the final LayerNorm's gain when a model has one) and
                     σ(r) is the std of the final residual all the same — a positive per-prompt rescaling, kept for
                     fidelity; it never changes the sign of a prompt's attribution.
  permutation test   statistic |mean DLÂ_h| over the discovery prompts; null: flip every prompt's sign at random (one
                     sign vector for all heads) and take the maximum over heads; p = (1 + #{null ≥ observed})/(1 + B).
                     ▸ B = 1999 (p ≥ 0.0005) instead of Wang's 20: with 20 the smallest p is 0.05, so Benjamini–Hochberg
                     at q = 0.10 over m heads rejects nothing unless at least m/2 heads sit at that floor.
                     ▸ Layer 0 is tested: Wang excludes it, which in a 2-layer model drops half of the heads
                     (`WritersSettings.exclude_layer0=True` follows him).
  multiplicity       Benjamini–Hochberg step-up at q = WRITER_FDR_Q (0.10) over the tested heads, as Wang. ▸ The
                     max-over-heads null already controls the family-wise error per task (P(any false head) ≤ α
                     under the complete null), so BH on top adds no FDR guarantee beyond that: the procedure is FWER
                     control at level q per task, stricter than FDR control. Expected false (task, head) pairs under
                     the null: at most q per task.
  power              ▸ The max-over-heads null is set by the strongest head's spread, so weak cancellers are missed: in
                     our tests a half-strength negated copy of a trained writer (OV × −½) is flagged on only 2 of the
                     writer's 10 tasks. "No canceller found" is therefore not "no cancellers".
  candidates         ▸ Wang's FV set — the top K by |DLÂ|, K = clip(2·#significant, 8, 50), joined with every head of
                     uncorrected p < 0.10 — holds every head of an 8-head model (K ≥ 8); we take the BH-significant heads.
  validation         one head zero-ablated at every position (the engine's `patch_heads` on hook_z, i.e. its hook_result
                     term) on separate validation pairs: score = 1 − (LD_abl − LD_flip)/(LD_clean − LD_flip), LD =
                     logit(y+) − logit(y−) at the last position, each LD a mean over the pairs (LD_flip on the flipped
                     prompts). ▸ Wang calls it path patching; like his code it is a total effect (every later layer is
                     recomputed). The score is defined only when LD_clean − LD_flip ≥ max(WRITER_MIN_GAP,
                     WRITER_GAP_NOISE_MULTIPLE × its standard error): a model that does not tell the rules apart has
                     no writers to find.
  class              a candidate scoring > +WRITER_SCORE_THRESHOLD is a writer, < −WRITER_SCORE_THRESHOLD a canceller
                     (Wang's ±5%); every other head is "none".
Sizes are Wang's: 192 discovery prompts and 200 validation pairs per task (`WritersSettings`).

The "writers" sweep probe (fv-mix runs; `analyze_writers`), with selection and evaluation on different data as in the
fv probe (`probes.measures.fv`): heads are classified on each *selection* task (flips drawn within that half); per
checkpoint a head is a *writer head* (*canceller head*) when it has that class on ≥ WRITER_TASK_SHARE of them
(▸ Wang works per (model, task); one set per checkpoint is what an FV or a lesion on other tasks needs). On the
*held-out* tasks:
  FV comparison   FVs (Todd's Σ ā W_O over a head set) of the writer heads only, the canceller heads only (an empty set
                  is recorded as a size of 0 and no accuracy, never replaced) and Todd's top heads — the fv probe's FV
                  set, k = FVSettings.top_heads — added after the fv probe's layer (chosen for its own FV on validation
                  queries) to zero-shot prompts; accuracy on test queries, on the prompts the fv probe evaluates.
  group lesion    writers, cancellers and both ablated on 10-shot prompts: zero-ablation at every position (Wang) and
                  mean-ablation at the last position over the evaluated prompts (ours, the fv probe's; Wang's released
                  mean ablation averages over a batch of one and so changes nothing): accuracy, Δ loss, Δ correct logit,
                  and Δ log P(correct) (= −Δ loss, Wang's nats) with a percentile bootstrap 95% CI over prompts
                  (ABLATION_BOOTSTRAP resamples, seeded). ▸ Wang's verdict also needs |Δ_both| checks and a
                  sign-shuffle null, not implemented; and our 16 prompts per held-out task are far fewer than his 500.
  FV control      the writer set's FV against the FV of every same-size head set outside it (the fv probe's random-
                  head control; at most RANDOM_SETS sets, drawn seeded when there are more): mean, max, and the share of
                  those sets the writers' FV beats; and the overlap |writers ∩ Todd's set|.
Todd's signed AIE per (task, head) is the fv probe's computation on the same prompts (`todd_effects`), reported beside
the classes: its mean per class, and how many of Todd's top heads are writers / cancellers.
"""
from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from einops import einsum, rearrange
from jaxtyping import Bool, Float, Int
from torch import Tensor

from circuits.data.tasks import INPUTS, Task, TaskSuite, default_suite, prompts
from circuits.errors import WorkbenchError
from probes.claims.thresholds import WRITER_FDR_Q, WRITER_GAP_NOISE_MULTIPLE, WRITER_MIN_GAP, WRITER_SCORE_THRESHOLD, WRITER_TASK_SHARE
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.engine.interventions import Engine, last_position_patch
from probes.measures.ablation import head_set_mask, single_head_conditions
from probes.measures.applies import fv_applies, trained_on
from probes.measures.function_vectors import FVSettings, TaskBatch, function_vector, mean_head_activations, split_tasks, todd_cie
from probes.measures.fv import accuracy_rows, choose_layer, fv_set, injected_accuracy
from probes.registry import ProbeSpec, register_probe
from probes.table import Row, head_rows, model_row

LN_EPS = 1e-5
ABLATION_BOOTSTRAP = 1000  # bootstrap resamples of the prompts for the group lesion's Δ log P CI
RANDOM_SETS = 200  # the most same-size random head sets in the FV control (all of them in an 8-head model)
WRITER, NONE, CANCELLER = 1, 0, -1


@dataclass(frozen=True)
class WritersSettings:
    discovery_prompts: int = 192  # Wang
    validation_pairs: int = 200  # Wang
    permutations: int = 1999  # Wang: 20 (see the module docstring)
    shots: int = 10  # Todd's k, as the fv probe
    exclude_layer0: bool = False  # Wang: True


@dataclass(frozen=True)
class PromptPairs:
    """Clean prompts, their rule-flipped twins, and the two answers: y+ (clean rule) and y− (flipped rule)."""

    clean: Int[Tensor, "n pos"]
    flipped: Int[Tensor, "n pos"]
    positive: Int[Tensor, " n"]
    negative: Int[Tensor, " n"]


def rule_flipped_pairs(suite: TaskSuite, task: Task, pool: Sequence[Task], shots: int, n: int, gen: torch.Generator,
                       n_ctx: int) -> PromptPairs:
    """n clean prompts of `task` (queries over all inputs) and their twins whose demonstration outputs follow another
    task of `pool`, drawn per prompt among those whose answer to the query differs from y+."""
    tokens, answers = prompts(suite, task, shots, n, gen, "all", False, n_ctx)
    others = [t for t in pool if t.name != task.name]
    if not others:
        raise WorkbenchError(f"task {task.name!r} needs another task to flip its rule; give a pool of at least two tasks.")
    answer_table = torch.stack([t.answer for t in others])  # [other, n_words]
    queries, inputs = tokens[:, -1] - INPUTS[0], tokens[:, 1:-1:2] - INPUTS[0]
    differs = (answer_table[:, queries] != answers).T  # [n, other]
    if not differs.any(1).all():
        raise WorkbenchError(f"no task of the pool answers some query of {task.name!r} differently; add tasks to the pool.")
    flip = answer_table[torch.multinomial(differs.float(), 1, generator=gen).squeeze(1)]  # [n, n_words]
    flipped = tokens.clone()
    flipped[:, 2:-1:2] = flip.gather(1, inputs)
    return PromptPairs(tokens, flipped, answers, flip.gather(1, queries[:, None]).squeeze(1))


def head_outputs(z: Float[Tensor, "n n_layers n_heads d_head"], w_o: Float[Tensor, "n_layers n_heads d_head d_model"]
                 ) -> Float[Tensor, "n n_layers n_heads d_model"]:
    """Each head's residual-stream output c = z W_O (hook_result; no W_O bias)."""
    return einsum(z, w_o, "n l h d, l h d m -> n l h m")


def refined_dla(outputs: Float[Tensor, "n n_layers n_heads d_model"], final_resid: Float[Tensor, "n d_model"],
                w_u: Float[Tensor, "d_vocab d_model"], gamma: Float[Tensor, " d_model"], positive: Int[Tensor, " n"],
                negative: Int[Tensor, " n"]) -> Float[Tensor, "n n_layers n_heads"]:
    """Wang's refined DLA per prompt and head: uᵀ[γ ⊙ (c − c̄)] / (σ(r) + ε), c̄ the mean over these prompts."""
    u = (w_u[positive] - w_u[negative]) * gamma
    sigma = final_resid.std(-1, correction=0)
    centred = outputs - outputs.mean(0)
    return einsum(centred, u, "n l h m, n m -> n l h") / (sigma + LN_EPS)[:, None, None]


def sign_flip_pvalues(dla: Float[Tensor, "n heads"], permutations: int, gen: torch.Generator) -> Float[Tensor, " heads"]:
    """Permutation p of |mean DLÂ| per head against the maximum over heads of sign-flipped means (one random sign per
    prompt, shared by all heads): (1 + #{null max ≥ observed}) / (1 + permutations), never 0 (Phipson & Smyth 2010,
    arXiv 1603.05766)."""
    n = dla.shape[0]
    observed = dla.mean(0).abs()
    signs = torch.randint(0, 2, (permutations, n), generator=gen).to(dla.dtype) * 2 - 1
    null = (signs @ dla / n).abs().amax(1)  # [permutations]
    return (1 + (null[:, None] >= observed[None]).sum(0)) / (1 + permutations)


def benjamini_hochberg(p: Float[Tensor, " m"], q: float) -> Bool[Tensor, " m"]:
    """Benjamini & Hochberg 1995 (J. R. Stat. Soc. B 57:289) step-up: reject the k smallest p, k the largest i with
    p_(i) ≤ q·i/m."""
    m = p.numel()
    order = p.argsort()
    passed = p[order] <= q * torch.arange(1, m + 1, dtype=p.dtype) / m
    k = int(passed.nonzero().max()) + 1 if passed.any() else 0
    reject = torch.zeros(m, dtype=torch.bool)
    reject[order[:k]] = True
    return reject


def logit_difference(logits: Float[Tensor, "n d_vocab"], positive: Int[Tensor, " n"], negative: Int[Tensor, " n"]
                     ) -> Float[Tensor, " n"]:
    return logits.gather(1, positive[:, None]).squeeze(1) - logits.gather(1, negative[:, None]).squeeze(1)


@dataclass(frozen=True)
class Validation:
    """Wang's validation of every head on one task: the score (NaN when undefined) and the logit differences."""

    score: Float[Tensor, "n_layers n_heads"]
    ld_clean: float
    ld_flip: float
    gap_se: float  # standard error of the paired LD_clean − LD_flip

    @property
    def gap(self) -> float:
        return self.ld_clean - self.ld_flip


def validation_floor(gap_se: float) -> float:
    """The least LD_clean − LD_flip for which the validation score is defined."""
    return max(WRITER_MIN_GAP, WRITER_GAP_NOISE_MULTIPLE * gap_se)


@torch.no_grad()
def validate(engine: Engine, pairs: PromptPairs) -> Validation:
    """Each head zero-ablated alone at every position (a total effect): score = 1 − (LD_abl − LD_flip)/(LD_clean − LD_flip)."""
    clean = engine.clean(pairs.clean)
    ld_clean = logit_difference(clean.last_logits, pairs.positive, pairs.negative)
    ld_flip = logit_difference(engine.logits(pairs.flipped)[:, -1], pairs.positive, pairs.negative)
    conditions = single_head_conditions(engine.n_layers, engine.n_heads)
    readout = lambda logits, c: logit_difference(logits[:, -1], pairs.positive.repeat(c), pairs.negative.repeat(c))  # noqa: E731
    ablated = engine.patch_heads(clean, conditions, [torch.zeros_like(z) for z in clean.z], readout, last_only=True)
    gap, gap_se = (ld_clean - ld_flip).mean(), ((ld_clean - ld_flip).std() / len(ld_clean) ** 0.5).item()
    score = 1 - (ablated.mean(1) - ld_flip.mean()) / gap
    score = torch.where(gap >= validation_floor(gap_se), score, torch.tensor(float("nan")))
    return Validation(score.view(engine.n_layers, engine.n_heads), ld_clean.mean().item(), ld_flip.mean().item(), gap_se)


def classify(significant: Bool[Tensor, "n_layers n_heads"], score: Float[Tensor, "n_layers n_heads"],
             threshold: float = WRITER_SCORE_THRESHOLD) -> Int[Tensor, "n_layers n_heads"]:
    """+1 writer (significant, score > +threshold), −1 canceller (significant, score < −threshold), 0 otherwise
    (an undefined score, NaN, is neither)."""
    writer, canceller = significant & (score > threshold), significant & (score < -threshold)
    return torch.where(writer, WRITER, torch.where(canceller, CANCELLER, NONE))


@dataclass(frozen=True)
class TaskHeads:
    """Every head on one task: mean refined DLA, permutation p, BH significance, validation and class."""

    task: str
    dla: Float[Tensor, "n_layers n_heads"]
    p: Float[Tensor, "n_layers n_heads"]
    significant: Bool[Tensor, "n_layers n_heads"]
    validation: Validation
    classes: Int[Tensor, "n_layers n_heads"]


def tested_heads(n_layers: int, n_heads: int, exclude_layer0: bool) -> Bool[Tensor, "n_layers n_heads"]:
    tested = torch.ones(n_layers, n_heads, dtype=torch.bool)
    if exclude_layer0:
        tested[0] = False
    return tested


@torch.no_grad()
def discovery_dla(engine: Engine, w_u: Float[Tensor, "d_vocab d_model"], gamma: Float[Tensor, " d_model"],
                  pairs: PromptPairs) -> Float[Tensor, "n n_layers n_heads"]:
    """Refined DLA of every head on every discovery prompt (one clean pass)."""
    run = engine.clean(pairs.clean)
    outputs = head_outputs(torch.stack([z[:, -1] for z in run.z], dim=1), engine.w_o())
    return refined_dla(outputs, run.resid_post[-1][:, -1], w_u, gamma, pairs.positive, pairs.negative)


def classify_task(engine: Engine, w_u: Float[Tensor, "d_vocab d_model"], gamma: Float[Tensor, " d_model"], task: str,
                  discovery: PromptPairs, validation: PromptPairs, settings: WritersSettings, gen: torch.Generator) -> TaskHeads:
    """Wang's pipeline on one task: refined DLA → sign-flip test (max-over-heads null) → BH → validation → class."""
    dla = discovery_dla(engine, w_u, gamma, discovery)
    tested = tested_heads(engine.n_layers, engine.n_heads, settings.exclude_layer0)
    p = torch.ones(engine.n_layers, engine.n_heads)
    p[tested] = sign_flip_pvalues(dla[:, tested], settings.permutations, gen)
    significant = torch.zeros_like(tested)
    significant[tested] = benjamini_hochberg(p[tested], WRITER_FDR_Q)
    checked = validate(engine, validation)
    return TaskHeads(task, dla.mean(0), p, significant, checked, classify(significant, checked.score))


# ---- the "writers" sweep probe ------------------------------------------------------------------------------------
WRITERS_SEED = 2606_07560  # Wang's arXiv number
FV_SETTINGS = FVSettings()  # the fv probe's settings: its prompts, its top-k, its injection layer
DEFAULT_WRITERS = WritersSettings()
Head = tuple[int, int]


@functools.lru_cache(maxsize=4)
def task_pairs(suite: TaskSuite, names: tuple[str, ...], settings: WritersSettings, n_ctx: int
               ) -> tuple[tuple[PromptPairs, PromptPairs], ...]:
    """Per task of `names`, (discovery, validation) prompt pairs — drawn apart, flipped within `names`, the same at
    every checkpoint."""
    pool, gen = [suite.task(n) for n in names], torch.Generator().manual_seed(WRITERS_SEED)
    return tuple((rule_flipped_pairs(suite, task, pool, settings.shots, settings.discovery_prompts, gen, n_ctx),
                  rule_flipped_pairs(suite, task, pool, settings.shots, settings.validation_pairs, gen, n_ctx))
                 for task in pool)


def classify_tasks(engine: Engine, w_u: Float[Tensor, "d_vocab d_model"], gamma: Float[Tensor, " d_model"],
                   names: tuple[str, ...], n_ctx: int, settings: WritersSettings) -> list[TaskHeads]:
    """`classify_task` on every task of `names` (one seeded permutation stream, so results are reproducible)."""
    gen = torch.Generator().manual_seed(WRITERS_SEED + 1)
    pairs = task_pairs(default_suite(), names, settings, n_ctx)
    return [classify_task(engine, w_u, gamma, name, discovery, validation, settings, gen)
            for name, (discovery, validation) in zip(names, pairs, strict=True)]


def unembedding(state: dict[str, Tensor]) -> tuple[Float[Tensor, "d_vocab d_model"], Float[Tensor, " d_model"]]:
    """W_U and the final LayerNorm's gain γ (ones for a model without LayerNorm) from a native state dict."""
    w_u = state["unembed.weight"].detach().cpu()
    gamma = state["ln_final.weight"].detach().cpu() if "ln_final.weight" in state else torch.ones(w_u.shape[1])
    return w_u, gamma


def todd_effects(engine: Engine, names: tuple[str, ...], n_ctx: int) -> tuple[
        Float[Tensor, "task n_layers n_heads"], Float[Tensor, "n_layers n_heads"], Float[Tensor, "n_layers n_heads"]]:
    """Todd's signed AIE per task [task, layer, head], and over tasks with its standard error — exactly the fv probe's
    computation (`probes.measures.fv`) on the same prompts."""
    chosen = TaskBatch.build(default_suite(), FV_SETTINGS, n_ctx, names)
    cie = todd_cie(engine, chosen)[1]  # [task, m, l, h]
    flat = cie.flatten(0, 1)
    return cie.mean(1), flat.mean(0), flat.std(0) / flat.shape[0] ** 0.5


def head_sets(tasks: list[TaskHeads]) -> dict[str, list[Head]]:
    """The writer heads and canceller heads of a checkpoint: that class on ≥ WRITER_TASK_SHARE of the tasks."""
    classes = torch.stack([t.classes for t in tasks])
    writer, canceller = (classes == WRITER).sum(0), (classes == CANCELLER).sum(0)
    need = WRITER_TASK_SHARE * len(tasks)
    pick = lambda mask: [(int(l), int(h)) for l, h in mask.nonzero().tolist()]  # noqa: E731
    return {"writers": pick((writer >= need) & (writer > canceller)), "cancellers": pick((canceller >= need) & (canceller > writer))}


@dataclass(frozen=True)
class WritersAnalysis:
    """One checkpoint: every selection task's heads, Todd's signed AIE beside them, the head sets, FV injection on
    the held-out tasks (at the fv probe's layer) and the sets' ablation on the held-out tasks' few-shot prompts."""

    tasks: list[TaskHeads]
    aie: Float[Tensor, "task n_layers n_heads"]
    sets: dict[str, list[Head]]  # writers, cancellers, todd (the fv probe's FV set)
    layer: int
    injection: dict[str, float]  # zero-shot accuracy per FV kind (non-empty sets) and "no_fv"
    ablation: dict[str, float]


def fv_injection(engine: Engine, heldout: tuple[str, ...], n_ctx: int, sets: dict[str, list[Head]]) -> tuple[int, dict[str, float]]:
    """Zero-shot accuracy on the held-out tasks' test queries with each non-empty set's FV added after the layer the
    fv probe chooses for its own FV (Todd's set, validation queries), on the prompts the fv probe evaluates."""
    suite = default_suite()
    test, valid = (TaskBatch.build(suite, FV_SETTINGS, n_ctx, heldout, split) for split in ("test", "valid"))
    w_o, mean_z = engine.w_o(), mean_head_activations(engine, test)
    vectors = lambda heads: torch.stack([function_vector(w_o, z, heads) for z in mean_z])  # noqa: E731
    _, layer = choose_layer(engine, valid, vectors(sets["todd"]))
    _, keep = accuracy_rows(engine, test)
    acc = lambda heads: injected_accuracy(engine, test, test.zero_shot, vectors(heads), layer, keep)  # noqa: E731
    accuracy = {name: acc(heads) for name, heads in sets.items() if heads}
    random = [acc(list(s)) for s in random_head_sets(sets["writers"], engine.n_layers, engine.n_heads)]
    if random:
        values = torch.tensor(random)
        accuracy |= {"random_writers/mean": values.mean().item(), "random_writers/max": values.max().item(),
                     "random_writers/sets": float(len(random)),
                     "random_writers/beaten_share": (accuracy["writers"] > values).float().mean().item()}
    return layer, accuracy | {"no_fv": acc([])}


def random_head_sets(heads: list[Head], n_layers: int, n_heads: int) -> list[tuple[Head, ...]]:
    """Every same-size head set outside `heads` (the fv probe's random-head control, `probes.measures.fv`); when there
    are more than RANDOM_SETS, RANDOM_SETS of them drawn with a fixed seed. Empty for an empty set."""
    outside = [h for h in itertools.product(range(n_layers), range(n_heads)) if h not in heads]
    if not heads or math.comb(len(outside), len(heads)) <= RANDOM_SETS:
        return list(itertools.combinations(outside, len(heads))) if heads else []
    gen = torch.Generator().manual_seed(WRITERS_SEED + 2)
    return [tuple(sorted(outside[i] for i in torch.randperm(len(outside), generator=gen)[: len(heads)].tolist()))
            for _ in range(RANDOM_SETS)]


def _answer_stats(logits: Float[Tensor, "n d_vocab"], answers: Int[Tensor, " n"]) -> Float[Tensor, "n 3"]:
    """Per prompt: hit (top-1), loss (−log P(yq)) and the correct answer's logit."""
    hit = (logits.argmax(-1) == answers).float()
    loss = -logits.log_softmax(-1).gather(1, answers[:, None]).squeeze(1)
    return torch.stack([hit, loss, logits.gather(1, answers[:, None]).squeeze(1)], dim=-1)


@torch.no_grad()
def set_ablations(engine: Engine, batch: TaskBatch, sets: dict[str, list[Head]]) -> dict[str, float]:
    """Few-shot accuracy, Δ loss, Δ correct-answer logit and Δ log P(correct) with its bootstrap 95% CI over prompts
    (`bootstrap_ci`) with the writers, the cancellers and both ablated:
    zero-ablation at every position (Wang's group lesion) and mean-ablation at the last position over the evaluated
    prompts (the fv probe's; Wang's released mean ablation averages a batch of one and does nothing)."""
    tokens, answers = rearrange(batch.few_shot, "t n p -> (t n) p"), batch.eval_answers.flatten()
    clean = engine.clean(tokens)
    per_prompt = _answer_stats(clean.last_logits, answers)
    base = per_prompt.mean(0)
    out = {"clean/few_shot_accuracy": base[0].item(), "clean/loss": base[1].item(), "clean/correct_logit": base[2].item()}
    named = {n: h for n, h in sets.items() if h}
    if sets["writers"] and sets["cancellers"]:
        named["both"] = sets["writers"] + sets["cancellers"]
    if not named:
        return out
    masks = torch.stack([head_set_mask(h, engine.n_layers, engine.n_heads) for h in named.values()])
    values = {"zero": [torch.zeros_like(z) for z in clean.z], "mean": last_position_patch(clean, [z[:, -1].mean(0) for z in clean.z])}
    readout = lambda logits, c: _answer_stats(logits[:, -1], answers.repeat(c))  # noqa: E731
    for kind, replacement in values.items():
        ablated = engine.patch_heads(clean, masks, replacement, readout, last_only=True)  # [cond, n, 3]
        stats = ablated.mean(1) - base
        for i, name in enumerate(named):
            low, high = bootstrap_ci(per_prompt[:, 1] - ablated[i, :, 1])  # Δ log P(correct) = −Δ loss, per prompt
            out |= {f"ablate/{kind}/{name}/few_shot_accuracy": (stats[i, 0] + base[0]).item(),
                    f"ablate/{kind}/{name}/loss_change": stats[i, 1].item(), f"ablate/{kind}/{name}/correct_logit_change": stats[i, 2].item(),
                    f"ablate/{kind}/{name}/logprob_change": -stats[i, 1].item(),
                    f"ablate/{kind}/{name}/logprob_ci_low": low, f"ablate/{kind}/{name}/logprob_ci_high": high}
    return out


def bootstrap_ci(values: Float[Tensor, " n"], resamples: int = ABLATION_BOOTSTRAP, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over prompts (Efron & Tibshirani 1993), resampled with a fixed seed."""
    gen = torch.Generator().manual_seed(WRITERS_SEED + 3)
    means = values[torch.randint(0, len(values), (resamples, len(values)), generator=gen)].mean(1)
    tail = (1 - level) / 2
    return torch.quantile(means, tail).item(), torch.quantile(means, 1 - tail).item()


def check_fv_run(inputs: ProbeInputs) -> None:
    if fv_applies(inputs) is not None:
        raise WorkbenchError(f"the writers probe needs a run trained on fv-mix data (preset 'fv'), not {trained_on(inputs)}.")


def analyze_writers(ckpt: Checkpoint, inputs: ProbeInputs, settings: WritersSettings = DEFAULT_WRITERS) -> WritersAnalysis:
    """Every writer/canceller fact of one checkpoint: heads classified on the selection tasks, every effect measured
    on the held-out tasks (`function_vectors.split_tasks`)."""
    check_fv_run(inputs)
    engine, n_ctx = ckpt.engine, inputs.facts.n_ctx
    selection, heldout = split_tasks(default_suite())
    w_u, gamma = unembedding(ckpt.state)
    tasks = classify_tasks(engine, w_u, gamma, selection, n_ctx, settings)
    per_task, aie, se = todd_effects(engine, selection, n_ctx)
    sets = head_sets(tasks) | {"todd": fv_set(aie, se, FV_SETTINGS.top_heads)}
    layer, injection = fv_injection(engine, heldout, n_ctx, sets)
    test = TaskBatch.build(default_suite(), FV_SETTINGS, n_ctx, heldout, "test")
    ablation = set_ablations(engine, test, {k: sets[k] for k in ("writers", "cancellers")})
    return WritersAnalysis(tasks, per_task, sets, layer, injection, ablation)


def task_metric(name: str) -> str:
    """A task's name inside a metric name ('-' is not a metric-name character: perm-3 → perm_3)."""
    return name.replace("-", "_")


def _head_aggregates(a: WritersAnalysis) -> dict[str, Tensor]:
    """Per head, over the selection tasks: counts of each class and of significance, mean DLA, mean validation score
    (over the tasks where it is defined; NaN where none is: `validated_tasks` = 0), Todd's mean AIE, and the checkpoint class (+1 writer
    head, −1 canceller head, 0 neither: `head_sets`)."""
    classes, scores = torch.stack([t.classes for t in a.tasks]), torch.stack([t.validation.score for t in a.tasks])
    defined = ~scores.isnan()
    klass = torch.zeros_like(classes[0])
    for name, value in (("writers", WRITER), ("cancellers", CANCELLER)):
        for layer, head in a.sets[name]:
            klass[layer, head] = value
    return {"writer_tasks": (classes == WRITER).sum(0), "canceller_tasks": (classes == CANCELLER).sum(0),
            "significant_tasks": torch.stack([t.significant for t in a.tasks]).sum(0),
            "dla": torch.stack([t.dla for t in a.tasks]).mean(0), "aie": a.aie.mean(0), "class": klass,
            "validation_score": torch.where(defined.any(0), scores.nan_to_num(0).sum(0) / defined.sum(0).clamp_min(1),
                                            torch.tensor(float("nan")))}


def _task_rows(a: WritersAnalysis) -> list[Row]:
    defined = [not t.validation.score.isnan().all() for t in a.tasks]
    rows = [model_row("writers", "validated_tasks", float(sum(defined))),
            model_row("writers", "ld_gap", sum(t.validation.gap for t in a.tasks) / len(a.tasks))]
    for metric, value in (("writers", WRITER), ("cancellers", CANCELLER)):
        counts = [float((t.classes == value).sum()) for t in a.tasks]
        rows.append(model_row("writers", metric, sum(counts) / len(counts)))
        rows += [model_row("writers", f"task/{task_metric(t.task)}/{metric}", c) for t, c in zip(a.tasks, counts, strict=True)]
    return rows


def _todd_rows(a: WritersAnalysis) -> list[Row]:
    """Todd's signed AIE beside the classes, and how Todd's set (the fv probe's FV heads) covers each class."""
    classes = torch.stack([t.classes for t in a.tasks])  # [task, l, h]
    in_todd = head_set_mask(a.sets["todd"], *classes.shape[1:]).expand_as(classes)
    rows = []
    for label, value in (("writer", WRITER), ("canceller", CANCELLER), ("none", NONE)):
        members = classes == value
        if members.any():
            rows.append(model_row("writers", f"aie/{label}", a.aie[members].mean()))
        if members.any() and value != NONE:
            rows.append(model_row("writers", f"todd_topk/{label}_share", (members & in_todd).sum() / members.sum()))
        if value != NONE:
            rows.append(model_row("writers", f"todd_topk/{label}s", (members & in_todd).sum() / len(a.tasks)))
    return rows


def _fv_rows(a: WritersAnalysis) -> list[Row]:
    rows = [model_row("writers", f"set_size/{name}", float(len(heads))) for name, heads in a.sets.items()]
    rows.append(model_row("writers", "set_overlap/writers_todd", float(len(set(a.sets["writers"]) & set(a.sets["todd"])))))
    rows += [model_row("writers", "fv_layer", float(a.layer)), model_row("writers", "no_fv_zero_shot_accuracy", a.injection["no_fv"])]
    rows += [model_row("writers", f"fv_zero_shot_accuracy/{name}", acc) for name, acc in a.injection.items() if name != "no_fv"]
    return rows + [model_row("writers", metric, value) for metric, value in a.ablation.items()]


def writers_rows(a: WritersAnalysis) -> list[Row]:
    """The tidy rows of one checkpoint (names declared in `the writers `ProbeSpec.metrics``)."""
    heads = [r for metric, grid in _head_aggregates(a).items() for r in head_rows("writers", metric, grid.float())]
    return heads + _task_rows(a) + _todd_rows(a) + _fv_rows(a)


def writers_probe(ckpt: Checkpoint, inputs: ProbeInputs, settings: WritersSettings = DEFAULT_WRITERS) -> list[Row]:
    """The "writers" sweep probe (fv-mix runs): `analyze_writers` as rows."""
    return writers_rows(analyze_writers(ckpt, inputs, settings))


register_probe(ProbeSpec("writers", 2, writers_probe, {  # probes.measures.writers (Wang 2026, arXiv 2606.07560): heads classified on the selection tasks
    "{writer_tasks|canceller_tasks|significant_tasks}": "per head: selection tasks where it is a writer / canceller / BH-significant",
    "{dla|validation_score|aie}": "per head, mean over selection tasks: refined DLA, validation score, Todd's signed AIE",
    "class": "per head: +1 writer head, −1 canceller head (that class on ≥ WRITER_TASK_SHARE of the tasks), 0 neither",
    "{writers|cancellers}": "writers / cancellers per selection task (mean over tasks)",
    "task/{task}/{writers|cancellers}": "per selection task (its name with '-' written '_'): how many heads",
    "{validated_tasks|ld_gap}": "tasks whose LD_clean − LD_flip clears its floor; mean LD_clean − LD_flip (nats)",
    "aie/{writer|canceller|none}": "mean per-task signed AIE of the (task, head) pairs of each class",
    "todd_topk/{writer_share|canceller_share}": "share of writer / canceller (task, head) pairs in the fv probe's FV set",
    "todd_topk/{writers|cancellers}": "per task, how many of the fv probe's FV heads are writers / cancellers (mean)",
    "set_size/{writers|cancellers|todd}": "writer heads, canceller heads, the fv probe's FV heads",
    "{fv_layer|no_fv_zero_shot_accuracy}": "the fv probe's injection layer; zero-shot accuracy without FV (held-out tasks)",
    "fv_zero_shot_accuracy/{writers|cancellers|todd}": "zero-shot accuracy with each set's FV (held-out tasks; none when empty)",
    "fv_zero_shot_accuracy/random_writers/{mean|max|sets|beaten_share}":
        "the writer FV's control: same-size head sets outside the writers (their accuracy; how many; share beaten)",
    "set_overlap/writers_todd": "heads in both the writer set and the fv probe's FV set",
    "clean/{few_shot_accuracy|loss|correct_logit}": "held-out tasks' 10-shot prompts, nothing ablated",
    "ablate/{zero|mean}/{writers|cancellers|both}/{few_shot_accuracy|loss_change|correct_logit_change|logprob_change|logprob_ci_low|logprob_ci_high}":
        "a set ablated (zero: every position, Wang; mean: last position, ours); none when the set is empty",
}, applies=fv_applies,
                         section="probes.report.writers:writers_report_section"))

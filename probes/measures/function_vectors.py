"""Function vectors (Todd et al. 2024, "Function Vectors in Large Language Models", ICLR 2024).

For each task t and head (ℓ, j), with z the head's input to W_O at the final position (the bridge's hook_z):
  mean activation   ā_ℓj^t = mean of z over clean k-shot prompts of t that the model answers correctly
                    (all clean prompts if it answers none — early checkpoints)
  CIE               P(yq | p̃, z_ℓj := ā_ℓj^t) − P(yq | p̃) on shuffled-label prompts p̃, patched at the last token only
  AIE               mean of CIE over prompts and tasks; FV heads = top heads by AIE
  function vector   v_t = Σ_{(ℓ,j) ∈ top-k} ā_ℓj^t W_O^ℓj  (W_O's bias is not added: it is not any head's)
Injection adds v_t to the residual stream after layer ℓ at the last position of zero-shot or shuffled prompts.
Scaled for toy models (stated): Todd use 100 clean prompts per task for ā, 25 corrupted prompts for the CIE, top-10
heads of GPT-J; we use `FVSettings` (32 / 16 prompts per task, top-3 heads of 8). Queries for ā are uniform over all
of a task's inputs (so ā favours no particular answer: with queries from one split, an FV added to prompts of that
split would carry their answers), CIE queries come from its valid inputs, evaluation queries from valid (to choose a
layer) or test (to report) inputs; demonstrations always from train inputs, never the query itself.
All heads' CIEs come from one batched set of patched passes (the engine's `patch_heads` on `blocks.L.attn.hook_z`),
not one per head; injection is the engine's `inject` on `blocks.L.hook_resid_post`.
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from einops import einsum, rearrange
from jaxtyping import Float, Int
from torch import Tensor

from circuits.data.tasks import TaskSuite, check_prompt_size, prompts
from probes.claims.thresholds import AIE_NOISE_MULTIPLE, FV_MIN_AIE
from probes.engine.interventions import Engine, last_position_patch
from probes.measures.ablation import single_head_conditions

FV_SEED = 1_2024


@dataclass(frozen=True)
class FVSettings:
    shots: int = 10
    mean_prompts: int = 32
    corrupted_prompts: int = 16
    top_heads: int = 3
    eval_prompts: int = 16


@dataclass(frozen=True)
class TaskBatch:
    """Per task, the clean prompts (for ā), the corrupted prompts (for the CIE) and evaluation prompts."""

    clean: Int[Tensor, "task n pos"]
    clean_answers: Int[Tensor, "task n"]
    corrupted: Int[Tensor, "task m pos"]
    corrupted_answers: Int[Tensor, "task m"]
    few_shot: Int[Tensor, "task e pos"]
    shuffled: Int[Tensor, "task e pos"]
    zero_shot: Int[Tensor, "task e 2"]
    eval_answers: Int[Tensor, "task e"]

    @classmethod
    @functools.lru_cache(maxsize=8)
    def build(cls, suite: TaskSuite, settings: FVSettings, n_ctx: int, names: tuple[str, ...] | None = None,
              eval_split: str = "test") -> TaskBatch:
        """Prompts of `names` (default: every task); evaluation prompts use `eval_split` queries ("valid" to choose a
        layer, "test" to report)."""
        check_prompt_size(settings.shots, n_ctx, len(suite.splits["train"]))
        gen = torch.Generator().manual_seed(FV_SEED)
        tasks = [suite.task(name) for name in names] if names is not None else list(suite.tasks)
        k, parts = settings.shots, {}
        specs = {"clean": (k, settings.mean_prompts, "all", False), "corrupted": (k, settings.corrupted_prompts, "valid", True),
                 "few_shot": (k, settings.eval_prompts, eval_split, False)}
        for name, (shots, n, split, shuffled) in specs.items():
            pairs = [prompts(suite, t, shots, n, gen, split, shuffled, n_ctx) for t in tasks]
            parts[name], parts[f"{name}_answers"] = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
        g2 = torch.Generator().manual_seed(FV_SEED + 1)  # same queries, other presentations
        shuffled = torch.stack([prompts(suite, t, k, settings.eval_prompts, g2, eval_split, True, n_ctx)[0] for t in tasks])
        shuffled[:, :, -1] = parts["few_shot"][:, :, -1]
        zero = torch.stack([parts["few_shot"][:, :, 0], parts["few_shot"][:, :, -1]], dim=-1)  # [BOS, xq]
        return cls(parts["clean"], parts["clean_answers"], parts["corrupted"], parts["corrupted_answers"],
                   parts["few_shot"], shuffled, zero, parts["few_shot_answers"])


def last_logits(engine: Engine, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch d_vocab"]:
    return engine.logits(tokens)[:, -1]


def accuracy(logits: Float[Tensor, "batch d_vocab"], answers: Int[Tensor, " batch"]) -> float:
    return (logits.argmax(-1) == answers).float().mean().item()


@torch.no_grad()
def mean_head_activations(engine: Engine, batch: TaskBatch) -> Float[Tensor, "task n_layers n_heads d_head"]:
    """ā per task: mean final-position z over the clean prompts answered correctly (all of them if none are)."""
    flat = rearrange(batch.clean, "t n p -> (t n) p")
    run = engine.clean(flat)
    z = torch.stack([layer_z[:, -1] for layer_z in run.z], dim=1)  # [(t n), layer, head, d_head]
    z = rearrange(z, "(t n) l h d -> t n l h d", t=batch.clean.shape[0])
    predicted = run.last_logits.argmax(-1)
    correct = (predicted == batch.clean_answers.flatten()).view(batch.clean.shape[:2]).float()
    weights = torch.where(correct.sum(1, keepdim=True) > 0, correct, torch.ones_like(correct))
    return einsum(z, weights / weights.sum(1, keepdim=True), "t n l h d, t n -> t l h d")


@torch.no_grad()
def prompt_indirect_effects(engine: Engine, batch: TaskBatch, mean_z: Tensor) -> Float[Tensor, "task m n_layers n_heads"]:
    """CIE per task, corrupted prompt and head: patch ā_ℓj into the prompt's last position, all heads batched."""
    tasks, m = batch.corrupted.shape[:2]
    flat = rearrange(batch.corrupted, "t m p -> (t m) p")
    clean = engine.clean(flat)
    n_layers, n_heads = engine.n_layers, engine.n_heads
    repl = last_position_patch(clean, [mean_z[:, layer].repeat_interleave(m, dim=0) for layer in range(n_layers)])  # own task's ā
    conds = torch.cat([torch.zeros(1, n_layers, n_heads, dtype=torch.bool), single_head_conditions(n_layers, n_heads)])
    answers = batch.corrupted_answers.flatten()
    readout = lambda logits, n: logits[:, -1].softmax(-1).gather(1, answers.repeat(n)[:, None]).squeeze(1)  # noqa: E731
    probs = engine.patch_heads(clean, conds, repl, readout, last_only=True)  # [cond, (t m)]
    return rearrange(probs[1:] - probs[:1], "(l h) (t m) -> t m l h", l=n_layers, t=tasks)


def todd_cie(engine: Engine, batch: TaskBatch) -> tuple[Float[Tensor, "task n_layers n_heads d_head"], Float[Tensor, "task m n_layers n_heads"]]:
    """(ā, CIE per task, corrupted prompt and head) of Todd et al. 2024 on `batch`, computed once per engine (one
    checkpoint) and prompt set: the fv, fv_controls, writers and attribution probes of a checkpoint all read this one
    computation (`engine.memo`, keyed by the prompts' content)."""
    key = ("todd_cie", *(hashlib.sha1(t.contiguous().numpy().tobytes()).hexdigest() for t in
                         (batch.clean, batch.clean_answers, batch.corrupted, batch.corrupted_answers)))
    if key not in engine.memo:
        mean_z = mean_head_activations(engine, batch)
        engine.memo[key] = (mean_z, prompt_indirect_effects(engine, batch, mean_z))
    return engine.memo[key]


def indirect_effects(engine: Engine, batch: TaskBatch, mean_z: Tensor) -> Float[Tensor, "task n_layers n_heads"]:
    """Mean CIE per task and head (Todd's AIE is its mean over tasks)."""
    return prompt_indirect_effects(engine, batch, mean_z).mean(1)


def split_tasks(suite: TaskSuite) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(selection, held-out) task names: alternate tasks of each family, so both halves hold every family that has
    two or more tasks. FV heads are chosen on the selection half; every effect is reported on the held-out half."""
    selection, heldout = [], []
    for family in dict.fromkeys(t.family for t in suite.tasks):
        names = [t.name for t in suite.tasks if t.family == family]
        selection += names[0::2]
        heldout += names[1::2]
    return tuple(selection), tuple(heldout)


@torch.no_grad()
def mean_hidden_states(engine: Engine, batch: TaskBatch) -> Float[Tensor, "task n_layers d_model"]:
    """Todd's mean-hidden-state baseline: per task, `blocks.L.hook_resid_post` at the last position, averaged over
    the task's clean prompts."""
    flat = rearrange(batch.clean, "t n p -> (t n) p")
    run = engine.clean(flat)
    states = torch.stack([x[:, -1] for x in run.resid_post], dim=1)  # [(t n), layer, d_model]
    return rearrange(states, "(t n) l m -> t n l m", t=batch.clean.shape[0]).mean(1)


def top_heads(scores: Float[Tensor, "n_layers n_heads"], k: int, exclude: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """The k highest-scoring heads, best first, skipping `exclude` (Yin & Steinhardt's ablation with exclusion)."""
    n_heads = scores.shape[1]
    order = [(int(i) // n_heads, int(i) % n_heads) for i in scores.flatten().argsort(descending=True)]
    return [h for h in order if h not in set(exclude)][:k]


def fv_heads(aie: Float[Tensor, "n_layers n_heads"], se: Float[Tensor, "n_layers n_heads"], k: int,
             exclude: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """FV heads with a noise floor: the k best heads by AIE among those whose AIE ≥ max(FV_MIN_AIE,
    AIE_NOISE_MULTIPLE × its standard error) (probes.claims.thresholds); possibly fewer than k, possibly none."""
    floor = (AIE_NOISE_MULTIPLE * se).clamp_min(FV_MIN_AIE)
    ranked = top_heads(aie, aie.numel(), exclude)
    return [h for h in ranked if aie[h] >= floor[h]][:k]


def function_vector(w_o: Float[Tensor, "n_layers n_heads d_head d_model"], mean_z: Float[Tensor, "n_layers n_heads d_head"],
                    heads: list[tuple[int, int]]) -> Float[Tensor, " d_model"]:
    """v = Σ ā_ℓj W_O^ℓj over `heads` (no W_O bias); `w_o` is the engine's `w_o()`."""
    vector = torch.zeros(w_o.shape[-1])
    for layer, head in heads:
        vector += mean_z[layer, head] @ w_o[layer, head]
    return vector


"""Attribution patching of Todd et al.'s causal indirect effect: every head's CIE from one forward and one backward.

Exact (Todd et al. 2024, arXiv 2310.15213; `probes.measures.function_vectors`): with z_ℓj the head's hook_z at the last
position of a shuffled-label (corrupted) prompt p̃ and ā_ℓj^t its mean over clean prompts of task t,
    CIE(ℓ, j | p̃) = P(yq | p̃, z_ℓj := ā_ℓj^t) − P(yq | p̃)            (one patched forward per head)
Attribution patching (Nanda 2023, "Attribution Patching: Activation Patching At Industrial Scale"; the edge form is
Syed, Rager & Conmy 2023, arXiv 2310.10348) replaces it by its first-order Taylor term around the corrupted run:
    ĈIE(ℓ, j | p̃) = Σ_d ∂M/∂z_ℓj,d |_{p̃} · (ā_ℓj,d^t − z_ℓj,d(p̃)),    M = P(yq) or log P(yq)
averaged over prompts and tasks exactly as the AIE is (`attribution_cie` returns the per-task means).

Direction (stated, developmental.md Pitfall 4): Todd's patch puts the *clean* mean activation into the *corrupted*
run (denoising), so the gradient is taken on the corrupted run, as in Nanda's demo — not on the clean run as in EAP
and AtP* (Kramár et al. 2024, arXiv 2403.00745), which noise. The patch is at the last position only, as Todd's.

Passes (counted honestly): the hook path (any TransformerBridge) is one forward over the whole prompt with a
zero-valued leaf δ_ℓ added to every layer's hook_z at the last position, and one backward of Σ_prompts log P(yq)
to every δ_ℓ. The probability estimate needs no second backward: prompts are independent rows of the batch, so
∂P_b/∂z_b = P_b · ∂log P_b/∂z_b exactly (chain rule), and both estimates come from that one gradient. The fast path
(our FastTransformer) runs the engine's clean forward without gradients, then recomputes only the last position of
every layer with gradients (earlier positions cannot depend on a last-position edit: attention is causal, and they
attend to the cached clean keys and values), and backpropagates through that last position only — the same numbers.

Gradients never reach the weights: parameters are switched to requires_grad=False for the pass (flags restored
afterwards) and `torch.autograd.grad` is asked for the δ's only, so no `.grad` is written and the model is unchanged.
Deviations from the papers: none in Nanda's estimator; heads are ranked by signed effect (Todd's FV heads are the
heads with the highest AIE), not by |score| as circuit-discovery uses of attribution patching do (Pitfall 4).
AtP*'s two fixes (Kramár et al. 2024, arXiv 2403.00745) are NOT applied: neither the QK fix (recomputing the
attention softmax exactly for query/key changes) nor GradDrop. A first-order term through a saturated softmax can
be near 0 while the patch's real effect is large, so false negatives are possible — in particular for layer-0 heads,
whose effect on the answer passes through the layer-1 attention softmax (the last layer's heads reach the logits
without a softmax in between and are not affected).
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from einops import rearrange, reduce
from jaxtyping import Float, Int
from torch import Tensor, nn

from circuits.errors import WorkbenchError
from circuits.model.seams import Seams
from circuits.model.transformer import past_before_last
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.engine.interventions import HOOK_ROWS, MAX_ROWS, Engine, FastEngine, HookEngine, check_fits, hook_z
from probes.measures.applies import fv_applies
from probes.measures.function_vectors import FVSettings, TaskBatch, split_tasks, todd_cie, top_heads
from probes.registry import ProbeSpec, register_probe
from probes.table import Row, head_rows, model_row

PROBE = "attribution"
Readout = Callable[[Float[Tensor, "batch d_vocab"], Int[Tensor, " batch"]], Float[Tensor, " batch"]]
READOUTS: dict[str, Readout] = {
    "logprob": lambda logits, answers: logits.log_softmax(-1).gather(1, answers[:, None]).squeeze(1),
    "logit": lambda logits, answers: logits.gather(1, answers[:, None]).squeeze(1),
}


@dataclass(frozen=True)
class HeadGradients:
    """On each prompt's corrupted run, at the last position: every head's z, the gradient of the read-out quantity
    (log P(answer) or the answer's logit) with respect to it, and the quantity itself."""

    z: Float[Tensor, "batch n_layers n_heads d_head"]
    grad: Float[Tensor, "batch n_layers n_heads d_head"]
    value: Float[Tensor, " batch"]


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Parameters with requires_grad=False inside the block, their flags restored afterwards (so a backward builds
    no weight gradients)."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _deltas(batch: int, engine: Engine, d_head: int, like: Tensor) -> list[Tensor]:
    """Zero leaves [batch, n_heads, d_head] per layer (the model's dtype and device): the gradient's targets."""
    return [torch.zeros(batch, engine.n_heads, d_head, dtype=like.dtype, device=like.device, requires_grad=True)
            for _ in range(engine.n_layers)]


def _hook_gradients(engine: HookEngine, tokens: Int[Tensor, "batch pos"], answers: Int[Tensor, " batch"], readout: Readout
                    ) -> HeadGradients:
    """One hooked forward (a leaf δ added to every hook_z at the last position) and one backward to the δ's."""
    bridge, cfg = engine.bridge, engine.bridge.cfg
    deltas, seen = _deltas(len(tokens), engine, cfg.d_head, next(bridge.parameters())), {}

    def add(layer: int) -> Callable[[Tensor, Any], Tensor]:
        def edit(z: Tensor, hook: Any) -> Tensor:
            seen[layer] = z[:, -1].detach()
            return torch.cat([z[:, :-1], (z[:, -1] + deltas[layer])[:, None]], dim=1)
        return edit

    with torch.enable_grad(), frozen(bridge):
        logits = bridge.run_with_hooks(tokens.to(engine.device), fwd_hooks=[(hook_z(l), add(l)) for l in range(engine.n_layers)])
        value = readout(logits[:, -1], answers.to(engine.device))
        grads = torch.autograd.grad(value.sum(), deltas)
    z = torch.stack([seen[l] for l in range(engine.n_layers)], dim=1)
    return HeadGradients(z.cpu(), torch.stack(grads, dim=1).cpu(), value.detach().cpu())


def _fast_gradients(engine: FastEngine, tokens: Int[Tensor, "batch pos"], answers: Int[Tensor, " batch"], readout: Readout
                    ) -> HeadGradients:
    """The engine's clean forward (no gradients), then the model's forward again with a leaf δ added to every
    layer's last-position z at the seam `hook_z`, and one backward to the δ's. Unclamped, only the last position
    is recomputed, over the cached clean keys/values; a clamped checkpoint reruns the whole clamped sequence."""
    fast, clean = engine.fast, engine.clean(tokens)
    resid, _, zs, kv, on_device = clean.private  # the engine's own cache (device): block inputs, final residual, z, (k, v)
    deltas = _deltas(len(tokens), engine, zs[0].shape[-1], zs[0])
    last = not engine.is_clamped
    edits = {hook_z(l): _add_last(d, last) for l, d in enumerate(deltas)}
    with torch.enable_grad(), frozen(fast):
        if last:
            past = past_before_last(kv)
            logits = fast.run_blocks(resid[0][:, -1:], Seams(edits), 0, z=zs[0][:, -1:], past=past)
        else:
            logits = fast(on_device, Seams(edits))
        value = readout(logits[:, -1], answers.to(engine.device))
        grads = torch.autograd.grad(value.sum(), deltas)
    z = torch.stack([layer_z[:, -1] for layer_z in zs], dim=1)
    return HeadGradients(z.cpu(), torch.stack(grads, dim=1).cpu(), value.detach().cpu())


def _add_last(delta: Float[Tensor, "batch n_heads d_head"], suffix_only: bool) -> Callable[[Tensor], Tensor]:
    """A hook_z edit adding δ at the last position (`suffix_only`: z holds the last position alone)."""
    if suffix_only:
        return lambda z: z + delta[:, None]
    return lambda z: torch.cat([z[:, :-1], (z[:, -1] + delta)[:, None]], dim=1)


def head_gradients(engine: Engine, tokens: Int[Tensor, "batch pos"], answers: Int[Tensor, " batch"], metric: str = "logprob"
                   ) -> HeadGradients:
    """`HeadGradients` of `metric` ("logprob": log P(answer); "logit": the answer's logit) on every prompt, on the
    fast path for our models and the hook path for any other bridge; in chunks of the engine's batch size."""
    if metric not in READOUTS:
        raise WorkbenchError(f"unknown attribution metric {metric!r}; use one of {sorted(READOUTS)}.")
    check_fits(tokens, engine.n_ctx)
    if isinstance(engine, FastEngine):
        run, rows = _fast_gradients, MAX_ROWS
    elif isinstance(engine, HookEngine):
        run, rows = _hook_gradients, HOOK_ROWS
    else:
        raise WorkbenchError(f"attribution patching needs a FastEngine or a HookEngine, got {type(engine).__name__}; "
                             f"use `Checkpoint.engine` or `HookEngine(bridge)`.")
    parts = [run(engine, t, a, READOUTS[metric]) for t, a in zip(tokens.split(rows), answers.split(rows), strict=True)]
    return HeadGradients(*(torch.cat([getattr(p, f) for p in parts]) for f in ("z", "grad", "value")))


def linear_estimate(grads: HeadGradients, targets: Float[Tensor, "batch n_layers n_heads d_head"]
                    ) -> Float[Tensor, "batch n_layers n_heads"]:
    """The first-order change of the read-out quantity when each head's last-position z alone is set to `targets`:
    Σ_d ∂M/∂z · (target − z)."""
    return reduce(grads.grad * (targets - grads.z), "b l h d -> b l h", "sum")


def prompt_attributions(engine: Engine, batch: TaskBatch, mean_z: Float[Tensor, "task n_layers n_heads d_head"]
                        ) -> tuple[Float[Tensor, "task m n_layers n_heads"], Float[Tensor, "task m n_layers n_heads"]]:
    """Per task, corrupted prompt and head: the attribution estimates of the CIE on P(yq) and on log P(yq)."""
    tasks, m = batch.corrupted.shape[:2]
    grads = head_gradients(engine, rearrange(batch.corrupted, "t m p -> (t m) p"), batch.corrupted_answers.flatten())
    logprob = linear_estimate(grads, mean_z.repeat_interleave(m, dim=0))  # each prompt gets its own task's ā
    prob = logprob * grads.value.exp()[:, None, None]  # ∂P/∂z = P · ∂log P/∂z, per prompt
    split = lambda x: rearrange(x, "(t m) l h -> t m l h", t=tasks)  # noqa: E731
    return split(prob), split(logprob)


def attribution_cie(engine: Engine, batch: TaskBatch, mean_z: Float[Tensor, "task n_layers n_heads d_head"]
                    ) -> tuple[Float[Tensor, "task n_layers n_heads"], Float[Tensor, "task n_layers n_heads"]]:
    """(ΔP(yq), Δlog P(yq)) per task and head: the attribution estimates of Todd's CIE averaged over the task's
    corrupted prompts, like `function_vectors.indirect_effects` (whose mean over tasks is the AIE)."""
    prob, logprob = prompt_attributions(engine, batch, mean_z)
    return prob.mean(1), logprob.mean(1)


@dataclass(frozen=True)
class Agreement:
    """How well an estimate ranks and sizes the heads like the exact AIE does.

    overlap   |top-k(exact) ∩ top-k(estimate)| (signed ranking, as Todd's FV heads)
    chance    k²/N: the overlap's expectation for a random ranking (hypergeometric mean)
    p_value   P(overlap ≥ observed) for a random ranking (hypergeometric tail)
    spearman  rank correlation over all N heads (average ranks for ties; 0 when either ranking is constant)
    top_*     |estimate − exact| on the exact top-k heads: max, mean, and mean relative to mean |exact| there"""

    k: int
    heads: int
    overlap: int
    chance: float
    p_value: float
    spearman: float
    top_max_error: float
    top_mean_error: float
    top_relative_error: float

    def rows(self) -> list[Row]:
        names = ("k", "heads", "overlap", "chance", "p_value", "spearman", "top_max_error", "top_mean_error", "top_relative_error")
        return [model_row(PROBE, f"agreement/{name}", float(getattr(self, name))) for name in names]


def hypergeometric_tail(n: int, k: int, overlap: int) -> float:
    """P(|A ∩ B| ≥ overlap) for A, B uniform random k-subsets of n items."""
    total = math.comb(n, k)
    return sum(math.comb(k, i) * math.comb(n - k, k - i) for i in range(overlap, k + 1)) / total


def _ranks(x: Float[Tensor, " n"]) -> Float[Tensor, " n"]:
    """1-based ranks, ties sharing their average rank."""
    less = (x[None, :] < x[:, None]).sum(1).float()
    equal = (x[None, :] == x[:, None]).sum(1).float()
    return less + (equal + 1) / 2


def spearman(a: Float[Tensor, " n"], b: Float[Tensor, " n"]) -> float:
    """Spearman's rank correlation (Pearson correlation of average ranks); 0 when either ranking is constant."""
    ra, rb = (r - r.mean() for r in (_ranks(a).double(), _ranks(b).double()))
    scale = (ra.norm() * rb.norm()).item()
    return max(-1.0, min(1.0, (ra @ rb).item() / scale)) if scale > 0 else 0.0


def attribution_agreement(aie_exact: Float[Tensor, "n_layers n_heads"], aie_attr: Float[Tensor, "n_layers n_heads"], k: int
                          ) -> Agreement:
    """`Agreement` of an estimated per-head AIE with the exact one (same heads, same tasks and prompts)."""
    n = aie_exact.numel()
    if aie_attr.shape != aie_exact.shape or not 0 < k <= n:
        raise WorkbenchError(f"attribution_agreement needs two same-shaped head grids and 0 < k ≤ {n}; got shapes "
                             f"{tuple(aie_exact.shape)}, {tuple(aie_attr.shape)} and k={k}.")
    exact_top, attr_top = top_heads(aie_exact, k), top_heads(aie_attr, k)
    overlap = len(set(exact_top) & set(attr_top))
    idx = tuple(torch.tensor(exact_top).T)
    error = (aie_attr[idx] - aie_exact[idx]).abs()
    scale = aie_exact[idx].abs().mean().item()
    return Agreement(k, n, overlap, k * k / n, hypergeometric_tail(n, k, overlap), spearman(aie_exact.flatten(), aie_attr.flatten()),
                     error.max().item(), error.mean().item(), error.mean().item() / scale if scale > 0 else math.inf)


def attribution_probe(ckpt: Checkpoint, inputs: ProbeInputs, settings: FVSettings | None = None) -> list[Row]:
    """Rows of one checkpoint (probe "attribution"): per head attr_aie (ΔP), attr_logprob (Δlog P) and exact_aie
    (the batched exact AIE on the same selection tasks and prompts, independent of the fv probe's cache), plus the
    `Agreement` of attr_aie with exact_aie at k = settings.top_heads (FV selection tasks, `split_tasks`)."""
    from circuits.data.tasks import default_suite

    settings = settings or FVSettings()
    if fv_applies(inputs) is not None:
        raise WorkbenchError("the attribution probe needs a run trained on fv-mix data (preset 'fv'); it patches "
                             "Todd's task prompts.")
    engine, suite = ckpt.engine, default_suite()
    batch = TaskBatch.build(suite, settings, inputs.facts.n_ctx, split_tasks(suite)[0])
    mean_z, cie = todd_cie(engine, batch)
    exact = cie.mean((0, 1))
    prob, logprob = (x.mean(0) for x in attribution_cie(engine, batch, mean_z))
    rows = head_rows(PROBE, "attr_aie", prob) + head_rows(PROBE, "attr_logprob", logprob) + head_rows(PROBE, "exact_aie", exact)
    return rows + attribution_agreement(exact, prob, settings.top_heads).rows()


register_probe(ProbeSpec(PROBE, 1, attribution_probe, {  # probes.measures.attribution (Nanda 2023 attribution patching of Todd's CIE)
    "{attr_aie|attr_logprob|exact_aie}": "per head: attribution estimate of the AIE on P(yq), on log P(yq); exact AIE",
    "agreement/{k|heads|overlap|chance|p_value|spearman|top_max_error|top_mean_error|top_relative_error}":
        "attr_aie vs exact_aie: top-k overlap, its chance k²/N and tail p, Spearman ρ, error on the exact top-k",
}, applies=fv_applies,
                         section="probes.report.attribution:attribution_report_section"))

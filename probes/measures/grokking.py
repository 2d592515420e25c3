"""Grokking progress measures on modular-addition runs (Nanda, Chan, Lieberum, Smith & Steinhardt 2023, "Progress
measures for grokking via mechanistic interpretability", arXiv 2301.05217).

Definitions (Nanda et al.'s released code, `transformers.py` / `helpers.py`):
- Fourier basis of Z_p: the constant 1/√p, then cos(w_k x) and sin(w_k x) for k = 1 … (p−1)/2, each of unit norm,
  w_k = 2πk/p (rows 0, 2k−1, 2k).
- Key frequencies: the MLP activations at `=` over all p² inputs, centred over inputs, in the 2-D Fourier basis
  (a ⊗ b); each neuron gets the k whose linear and quadratic terms (the 3×3 block of rows/columns {0, 2k−1, 2k})
  explain most of its variance; the key frequencies are the distinct k. They are read from the run's FINAL
  checkpoint and used at every checkpoint.
  Deviation: a neuron's k counts only if it explains ≥ `KEY_FREQUENCY_MIN_SHARE` of that neuron's
  variance (an explained-variance floor; Nanda's code has none, so random ReLU features at initialisation make all
  26 frequencies of p = 53 "key", and with all of them the restricted loss of a pure memoriser is 0.05).
- Random-frequency control (ours): the restricted loss with `RANDOM_FREQUENCY_SETS` seeded sets of as many
  frequencies drawn from the non-key ones (from all frequencies when too few are left); the lowest of them is the
  control a key-frequency claim must beat by `RANDOM_FREQUENCY_MIN_GAP` nats.
- Restricted loss: the logits (p² inputs × p answers) projected onto the directions cos(w_k(a+b)) and sin(w_k(a+b))
  of the key frequencies (in input space), plus the input-independent mean of what was removed (Nanda's bias
  correction); cross-entropy over ALL p² pairs.
- Excluded loss: the logits minus those components (no bias correction); cross-entropy on the TRAIN pairs. All key
  frequencies are removed at once (Nanda's `calculate_excluded_loss_2D_full`; the per-frequency variant is not used).
- Embedding Fourier sparsity: W_E of the p numbers in the Fourier basis, the norm of each frequency's (cos, sin) pair
  of rows; reported as the Gini coefficient of those norms (the paper's sparsity measure) and as the share of the
  squared norm in the key frequencies.
- Weight norm: the sum of squared weights of every parameter (the paper's "total sum of squared weights"). The claim
  that weight decay shrinks it needs a no-weight-decay control run (ours: the paper shows the decay run only); with
  none the trend is stated with no verdict.
- Transitions: memorisation / generalisation is the first evaluation from which train / test accuracy stays
  ≥ `GROK_ACCURACY` for `GROK_SUSTAIN_EVALUATIONS` evaluations (ours; the paper reads the curves by eye).
Every loss is computed in float64 (Nanda et al.).

Deviations, stated: neuron frequencies are searched over k = 1 … (p−1)/2 (Nanda's loop `range(1, p//2)` skips the
last frequency); neurons with zero variance over the inputs (dead ReLUs) get no frequency (theirs would be arbitrary);
only the p number logits are used (our unembedding also has an `=` logit, see `circuits.data.modular`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import einsum, rearrange
from jaxtyping import Float, Int
from torch import Tensor

from circuits.data.modular import all_pairs, answers, split_pairs
from circuits.errors import WorkbenchError
from probes.claims.thresholds import (
    KEY_FREQUENCY_MIN_SHARE,
    RANDOM_FREQUENCY_SETS,
)
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.measures.applies import grokking_applies
from probes.registry import ProbeSpec, register_probe
from probes.table import Row, model_row

DEAD_NEURON_VARIANCE = 1e-12  # a neuron whose centred activations have less total variance has no frequency
RANDOM_FREQUENCY_SEED = 2301_05217  # Nanda et al.'s arXiv id: the seed of the random-frequency control's sets
PROBE = "grokking"


def fourier_basis(p: int) -> Float[Tensor, "component p"]:
    """Nanda's orthonormal Fourier basis of Z_p (p odd): row 0 constant, rows 2k−1 and 2k cos and sin of w_k x."""
    if p % 2 == 0:
        raise WorkbenchError(f"the Fourier basis of Nanda et al. needs an odd modulus, got p={p}; use a prime such as 53.")
    x = torch.arange(p, dtype=torch.float64)
    rows = [torch.ones(p, dtype=torch.float64)]
    for k in range(1, p // 2 + 1):
        rows += [torch.cos(2 * math.pi * k * x / p), torch.sin(2 * math.pi * k * x / p)]
    basis = torch.stack(rows)
    return basis / basis.norm(dim=1, keepdim=True)


def frequency_rows(k: int) -> list[int]:
    """Rows of the Fourier basis that belong to frequency k (its linear and quadratic 2-D terms with the constant)."""
    return [0, 2 * k - 1, 2 * k]


def frequency_variance(acts: Float[Tensor, "pair neuron"], p: int) -> tuple[Float[Tensor, "freq neuron"], Float[Tensor, " neuron"]]:
    """Each neuron's variance over the p² inputs in each frequency's 3×3 block (k = 1 … (p−1)/2), and its total."""
    centred = (acts - acts.mean(0)).double()
    basis = fourier_basis(p)
    grid = rearrange(centred, "(a b) n -> a b n", a=p, b=p)
    four = einsum(basis, basis, grid, "fa a, fb b, a b n -> fa fb n")
    blocks = torch.stack([four[frequency_rows(k)][:, frequency_rows(k)].pow(2).sum((0, 1)) for k in range(1, p // 2 + 1)])
    return blocks, four.pow(2).sum((0, 1))


def neuron_frequencies(acts: Float[Tensor, "pair neuron"], p: int) -> tuple[Int[Tensor, " neuron"], Float[Tensor, " neuron"]]:
    """Each neuron's dominant frequency (0 for a dead neuron) and the share of its variance that frequency explains."""
    blocks, total = frequency_variance(acts, p)
    best, freq = (blocks / total.clamp_min(DEAD_NEURON_VARIANCE)).max(0)
    alive = total > DEAD_NEURON_VARIANCE
    return torch.where(alive, freq + 1, 0), torch.where(alive, best, 0.0)


def key_frequencies(acts: Float[Tensor, "pair neuron"], p: int, min_share: float = KEY_FREQUENCY_MIN_SHARE) -> dict[int, int]:
    """{key frequency k: how many neurons have k as their dominant frequency, explaining ≥ `min_share` of their
    variance}, k ascending (dead neurons and neurons below the floor left out; `min_share=0` is Nanda's definition)."""
    freq, share = neuron_frequencies(acts, p)
    ks, counts = freq[(freq > 0) & (share >= min_share)].unique(return_counts=True)
    return dict(zip(ks.tolist(), counts.tolist(), strict=True))


def random_frequency_sets(p: int, keys: list[int], n_sets: int = RANDOM_FREQUENCY_SETS,
                          seed: int = RANDOM_FREQUENCY_SEED) -> list[list[int]]:
    """`n_sets` seeded sets of len(keys) frequencies drawn from the non-key ones (from all (p−1)/2 when fewer than
    len(keys) are left): the random-frequency control of the restricted loss (no sets without key frequencies)."""
    others = [k for k in range(1, p // 2 + 1) if k not in keys]
    pool = others if len(others) >= len(keys) else list(range(1, p // 2 + 1))
    gen = torch.Generator().manual_seed(seed)
    return [sorted(pool[i] for i in torch.randperm(len(pool), generator=gen)[: len(keys)].tolist())
            for _ in range(n_sets if keys else 0)]


def sum_directions(p: int, freqs: list[int]) -> Float[Tensor, "direction pair"]:
    """Unit vectors over the p² inputs (row a·p + b) along cos(w_k(a+b)) and sin(w_k(a+b)) for each k in `freqs`:
    (cos_a cos_b − sin_a sin_b)/√2 and (sin_a cos_b + cos_a sin_b)/√2 in the 2-D Fourier basis."""
    basis = fourier_basis(p)
    outer = lambda i, j: torch.outer(basis[i], basis[j]).flatten()  # noqa: E731 - the 2-D basis term (a along i, b along j)
    rows = []
    for k in freqs:
        c, s = 2 * k - 1, 2 * k
        rows += [(outer(c, c) - outer(s, s)) / math.sqrt(2), (outer(s, c) + outer(c, s)) / math.sqrt(2)]
    return torch.stack(rows) if rows else torch.zeros(0, p * p, dtype=torch.float64)


def key_component(logits: Float[Tensor, "pair answer"], directions: Float[Tensor, "direction pair"]) -> Float[Tensor, "pair answer"]:
    """The part of the logits along the key directions (projection over inputs, for every answer)."""
    return directions.T @ (directions @ logits)


def restricted_loss(logits: Float[Tensor, "pair answer"], labels: Int[Tensor, " pair"],
                    directions: Float[Tensor, "direction pair"]) -> float:
    """Cross-entropy over ALL pairs of the key-frequency component plus the mean of the rest (bias correction)."""
    logits = logits.double()
    kept = key_component(logits, directions)
    kept = kept + (logits - kept).mean(0, keepdim=True)
    return F.cross_entropy(kept, labels).item()


def excluded_loss(logits: Float[Tensor, "pair answer"], labels: Int[Tensor, " pair"],
                  directions: Float[Tensor, "direction pair"], train: Int[Tensor, " n_train"]) -> float:
    """Cross-entropy on the TRAIN pairs of the logits with every key-frequency component removed."""
    logits = logits.double()
    rest = logits - key_component(logits, directions)
    return F.cross_entropy(rest[train], labels[train]).item()


def embedding_frequency_norms(embed: Float[Tensor, "vocab d_model"], p: int) -> Float[Tensor, " freq"]:
    """‖(cos_k, sin_k) rows of W_E in the Fourier basis‖ for k = 1 … (p−1)/2 (the p number tokens only)."""
    coefficients = fourier_basis(p) @ embed[:p].double()
    return torch.stack([coefficients[[2 * k - 1, 2 * k]].norm() for k in range(1, p // 2 + 1)])


def gini(values: Float[Tensor, " n"]) -> float:
    """Gini coefficient of non-negative values: 0 when all are equal, → 1 when one holds everything."""
    x, n = values.double().sort().values, len(values)
    ranks = torch.arange(1, n + 1, dtype=torch.float64)
    return float((2 * (ranks * x).sum() / (n * x.sum()) - (n + 1) / n).item()) if x.sum() > 0 else 0.0


def weight_norm_sq(state: dict[str, Tensor]) -> float:
    """Total sum of squared weights (every tensor of the state dict; the unembedding's zero bias adds nothing)."""
    return float(sum(v.double().pow(2).sum() for v in state.values() if v.is_floating_point()))


@dataclass(frozen=True)
class KeyFrequencies:
    """The key frequencies of a run, read from one checkpoint (the run's final one) — Nanda's definition."""

    step: int  # the checkpoint they were read from
    neurons: dict[int, int]  # key frequency k -> how many neurons have k as their dominant frequency (above the floor)
    variance: dict[int, float]  # key frequency k -> share of all live neurons' variance that k explains
    dominant: int  # distinct dominant frequencies before the explained-variance floor (Nanda's key frequencies)

    @property
    def frequencies(self) -> list[int]:
        return sorted(self.neurons)


_KEY_CACHE: dict[tuple[str, int, str], KeyFrequencies] = {}


def mlp_activations(ckpt: Checkpoint) -> Float[Tensor, "pair neuron"]:
    """The last MLP's activations (`hook_post`) at `=` for all p² inputs, through the TransformerLens bridge."""
    p, layer = ckpt.config.data.modulus, ckpt.config.model.n_layers - 1
    name = f"blocks.{layer}.mlp.hook_post"
    with torch.no_grad():
        _, cache = ckpt.bridge.run_with_cache(all_pairs(p).to(ckpt.device), names_filter=lambda n: n == name)
    return cache[name][:, -1].cpu()


def final_key_frequencies(ckpt: Checkpoint) -> KeyFrequencies:
    """Key frequencies of the final checkpoint of `ckpt`'s run, computed once per run and process (keyed by run
    path, final step and config)."""
    if ckpt.source is None or ckpt.config is None:
        raise WorkbenchError("the grokking probe reads the run's final checkpoint: load checkpoints through the run "
                             "(probes.engine.checkpoint.RunSource, as `icl-workbench analyze RUN` does).")
    final = ckpt.source.steps()[-1]
    key = (str(ckpt.source.path.resolve()), final, ckpt.config.to_json())
    if key not in _KEY_CACHE:
        last = ckpt if ckpt.step == final else ckpt.source.load(final, ckpt.device)
        _KEY_CACHE[key] = read_key_frequencies(mlp_activations(last), ckpt.config.data.modulus, final)
    return _KEY_CACHE[key]


def read_key_frequencies(acts: Float[Tensor, "pair neuron"], p: int, step: int) -> KeyFrequencies:
    """The key frequencies of one checkpoint's MLP activations, with each one's share of the neurons' variance."""
    neurons = key_frequencies(acts, p)
    blocks, total = frequency_variance(acts, p)
    variance = {k: float(blocks[k - 1].sum() / total.sum().clamp_min(DEAD_NEURON_VARIANCE)) for k in neurons}
    return KeyFrequencies(step, neurons, variance, len(key_frequencies(acts, p, min_share=0.0)))


def grokking_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Train/test loss and accuracy, restricted and excluded loss (final checkpoint's key frequencies), the
    embedding's Fourier sparsity and the weight norm of one checkpoint (definitions in the module docstring)."""
    p = ckpt.config.data.modulus
    keys = final_key_frequencies(ckpt)
    pairs, (train, test) = all_pairs(p), split_pairs(ckpt.config.data)
    with torch.no_grad():
        logits = ckpt.engine.logits(pairs)[:, -1, :p].double().cpu()
    labels, directions = answers(pairs, p), sum_directions(p, keys.frequencies)
    random_sets = random_frequency_sets(p, keys.frequencies)
    random_loss = min((restricted_loss(logits, labels, sum_directions(p, ks)) for ks in random_sets),
                      default=restricted_loss(logits, labels, directions))
    rows = []
    for name, idx in (("train", train), ("test", test)):
        rows += [model_row(PROBE, f"{name}_loss", F.cross_entropy(logits[idx], labels[idx])),
                 model_row(PROBE, f"{name}_accuracy", (logits[idx].argmax(-1) == labels[idx]).double().mean())]
    norms = embedding_frequency_norms(ckpt.state["embed.weight"].cpu(), p)
    key_share = norms[[k - 1 for k in keys.frequencies]].pow(2).sum() / norms.pow(2).sum()
    rows += [model_row(PROBE, "restricted_loss", restricted_loss(logits, labels, directions)),
             model_row(PROBE, "restricted_loss_random", random_loss),
             model_row(PROBE, "dominant_frequencies", float(keys.dominant)),
             model_row(PROBE, "excluded_loss", excluded_loss(logits, labels, directions, train)),
             model_row(PROBE, "embed_gini", gini(norms)), model_row(PROBE, "embed_key_share", key_share),
             model_row(PROBE, "weight_norm_sq", weight_norm_sq(ckpt.state)),
             model_row(PROBE, "key_frequency_step", float(keys.step)), model_row(PROBE, "modulus", float(p))]
    rows += [model_row(PROBE, f"embed_fourier_norm/{k}", v) for k, v in enumerate(norms.tolist(), start=1)]
    rows += [model_row(PROBE, f"key_frequency_variance/{k}", v) for k, v in keys.variance.items()]
    return rows + [model_row(PROBE, f"key_frequency_neurons/{k}", float(n)) for k, n in keys.neurons.items()]


register_probe(ProbeSpec(PROBE, 2, grokking_probe, {  # probes.measures.grokking (Nanda et al. 2023, arXiv 2301.05217): modular-addition runs
    "{train|test}_{loss|accuracy}": "float64 loss and accuracy of the answer at '=' over every train / test pair",
    "restricted_loss": "loss over all p² pairs of the logits' key-frequency components (+ mean of the rest)",
    "restricted_loss_random": "the control: lowest restricted loss over RANDOM_FREQUENCY_SETS sets of as many non-key frequencies",
    "dominant_frequencies": "distinct dominant frequencies of the live MLP neurons before the explained-variance floor",
    "key_frequency_variance/{k}": "share of all live MLP neurons' variance that the key frequency k explains",
    "excluded_loss": "loss on the train pairs of the logits without their key-frequency components",
    "{embed_gini|embed_key_share}": "W_E's Fourier norms per frequency: Gini coefficient; squared-norm share of the key frequencies",
    "embed_fourier_norm/{k}": "‖(cos_k, sin_k) rows of W_E in the Fourier basis‖",
    "weight_norm_sq": "total sum of squared weights",
    "key_frequency_step": "the checkpoint the key frequencies were read from (the run's final one)",
    "modulus": "p",
    "key_frequency_neurons/{k}": "neurons whose dominant frequency is the key frequency k (at that checkpoint)",
}, applies=grokking_applies,
                         default="if_applicable"))

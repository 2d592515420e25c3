"""Modular addition, the grokking task (Nanda et al. 2023, "Progress measures for grokking via mechanistic
interpretability", arXiv 2301.05217; Power et al. 2022, arXiv 2201.02177).

Inputs are the three tokens `a b =` with a, b ∈ {0 … p−1} and `=` the token p (so d_vocab = p + 1); the answer
(a + b) mod p is predicted at the `=` position, and only there. All p² pairs are split once into a train and a test
set by `split_seed` and `train_fraction`; training is full batch (every train pair at every step) when
`batch_size` equals the number of train pairs, as in the grokking preset.

Deviations from Nanda et al., stated: there is no BOS token (as in their setup; the other generators of
`circuits.data.generators` start every sequence with token 0, here token 0 is the number 0); the model has p + 1 output logits
(ours shares its vocabulary between input and output), so the loss and the accuracy are taken over the first p
logits only — the `=` logit is never a class, which is Nanda's d_vocab_out = p.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from circuits.config import ModelConfig
from circuits.data.configs import ModularData


def all_pairs(p: int) -> Int[Tensor, "pair 3"]:
    """Every input `a b =`, row a·p + b (a-major, so a reshape to [p, p] puts a on the first axis)."""
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    return torch.stack([a.flatten(), b.flatten(), torch.full((p * p,), p)], dim=1)


def answers(tokens: Int[Tensor, "batch 3"], p: int) -> Int[Tensor, " batch"]:
    """(a + b) mod p for each row `a b =`."""
    return (tokens[:, 0] + tokens[:, 1]) % p


def split_pairs(data: ModularData) -> tuple[Int[Tensor, " n_train"], Int[Tensor, " n_test"]]:
    """Row indices into `all_pairs(p)` of the train and the test pairs: a random permutation drawn from
    `split_seed` (independent of the training seed), its first `ModularData.train_size` entries for training; both sorted."""
    perm = torch.randperm(data.modulus**2, generator=torch.Generator().manual_seed(data.split_seed))
    n_train = data.train_size
    return perm[:n_train].sort().values, perm[n_train:].sort().values


def answer_logits(logits: Float[Tensor, "batch pos d_vocab"], p: int) -> Float[Tensor, "batch p"]:
    """The logits of the p numbers at the `=` position (the last one), in float64.

    Nanda et al. compute the cross-entropy in float64: in float32, log-softmax of very confident logits can only
    return multiples of ~1.2e-7, which makes loss spikes and wrong gradients late in training.
    """
    return logits[:, -1, :p].double()


def answer_loss(logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch 3"], p: int) -> Tensor:
    """Mean cross-entropy (float64) of the answer at `=`; the training loss of modular-addition runs."""
    return F.cross_entropy(answer_logits(logits, p), answers(tokens, p))


def answer_accuracy(logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch 3"], p: int) -> float:
    """Share of rows whose top logit among the p numbers is (a + b) mod p."""
    return (answer_logits(logits, p).argmax(-1) == answers(tokens, p)).double().mean().item()


class ModularAddition:
    """Sampler of train pairs, always `batch` rows: the whole train set (fixed order) when `batch` equals its size
    (full batch, Nanda); otherwise `batch` train pairs drawn from the caller's generator (distinct when `batch` is
    smaller; with replacement when larger, e.g. a probe's fixed batch — training refuses batch sizes above it)."""


    def __init__(self, data: ModularData, model: ModelConfig):
        train, _ = split_pairs(data)
        self.train = all_pairs(data.modulus)[train]

    def __call__(self, batch: int, gen: torch.Generator) -> Int[Tensor, "batch 3"]:
        n = len(self.train)
        if batch == n:
            return self.train.clone()
        rows = torch.randperm(n, generator=gen)[:batch] if batch < n else torch.randint(n, (batch,), generator=gen)
        return self.train[rows]


@torch.no_grad()
def answer_metrics(model: torch.nn.Module, sets: tuple[tuple[str, Tensor], ...], p: int) -> dict[str, float]:
    """`eval/{name}_loss` (float64 cross-entropy) and `eval/{name}_accuracy` of each named pair set (train, test);
    `eval/loss` is the test loss (the held-out loss every run's metrics carry)."""
    out = {}
    for name, tokens in sets:
        logits = model(tokens)
        out[f"eval/{name}_loss"] = answer_loss(logits, tokens, p).item()
        out[f"eval/{name}_accuracy"] = answer_accuracy(logits, tokens, p)
    return out | {"eval/loss": out["eval/test_loss"]}


def eval_sets(data: ModularData) -> tuple[tuple[str, Tensor], ...]:
    """("train", every train pair), ("test", every test pair) — evaluated whole at every evaluation step."""
    pairs, (train, test) = all_pairs(data.modulus), split_pairs(data)
    return (("train", pairs[train]), ("test", pairs[test]))

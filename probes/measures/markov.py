"""The `markov` probe: how close a model's next-state predictions are to the uniform, in-context unigram and
in-context bigram strategies, and its bigram ("statistical induction") heads (Edelman, Tsilivis, Edelman, Malach &
Goel 2024, arXiv 2402.11004).

Held-out sequences: `MARKOV_PROBE_SEQUENCES` in-context Markov chains from the run's own markov settings (number of
states, α, start) but always with a fresh transition matrix per sequence (`markov_fixed_seed` dropped), drawn from
`MARKOV_SEED` (distinct from every training seed). So a control run trained on one fixed matrix is measured on the task
whose in-context statistics matter.

Strategies at a query position i with context states x_1 … x_i (Edelman et al.'s code, `ngram` with the rule of
succession — add-one smoothing):
  uniform  p(s) = 1/k;
  unigram  p(s) = (#{j ≤ i: x_j = s} + 1) / (i + k);
  bigram   p(s) = (#{j < i: x_j = x_i, x_{j+1} = s} + 1) / (#{j < i: x_j = x_i} + k).
The model's prediction q is the softmax over the k state logits only (our models also have a BOS logit, which no
target ever is: dropped and renormalised — a deviation, their vocabulary is the states alone). Metric `kl/{strategy}`
= mean over sequences of KL(strategy ‖ q) at the last position (their `test_last_token`: F.kl_div(log q, p)),
`kl_se/{strategy}` its standard error, `kl_all/{strategy}` the same averaged over every state position; `loss_true`
the mean cross-entropy of q against the true next-state distribution at the last position (KL to the truth + its
entropy).

Heads: `bigram_attention` = attention mass from each query i on keys j ≤ i whose previous token equals x_i (the
tokens that followed earlier occurrences of the current state: the second layer of the statistical induction head),
`bigram_attention/chance` the same mass under uniform causal attention and `bigram_attention/excess` = raw − chance;
`previous_token` = attention to position i − 1 (the first layer). Measured on the same held-out sequences.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from circuits.config import replace
from circuits.data.generators import generator_of, make_sampler
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import PROBE_SEED, ProbeInputs
from probes.measures import detectors
from probes.registry import ProbeSpec, register_probe
from probes.table import Row, head_rows, model_row

PROBE = "markov"
STRATEGIES = ("uniform", "unigram", "bigram")
MARKOV_SEED = PROBE_SEED + 21  # held-out chains (other probe inputs use PROBE_SEED + 0…11)
MARKOV_PROBE_SEQUENCES = 512


def markov_applies(inputs: ProbeInputs) -> str | None:
    if inputs.config is None or not generator_of(inputs.config.data).markov_chains:
        return "the Markov-chain strategies need a run trained on markov data (preset 'icl-mc-2l')"
    return None


def heldout_chains(inputs: ProbeInputs, n: int = MARKOV_PROBE_SEQUENCES) -> tuple[Tensor, Tensor]:
    """(tokens [n, T], transition matrices [n, k, k]) from MARKOV_SEED, one fresh matrix per sequence."""
    config = inputs.config
    data = replace(config.data, markov_fixed_seed=None)
    sampler = make_sampler(data, config.model)
    gen = torch.Generator().manual_seed(MARKOV_SEED)
    return sampler.sample_with_matrices(n, gen)


def strategies(states: Int[Tensor, "batch pos"], k: int) -> dict[str, Float[Tensor, "batch pos k"]]:
    """Each strategy's prediction at every position, from states 0…k−1 (Edelman et al.'s add-one smoothing)."""
    onehot = F.one_hot(states, k).double()
    counts = onehot.cumsum(1)  # [b, i, s]: #{j ≤ i: x_j = s}
    i = torch.arange(1, states.shape[1] + 1, dtype=torch.double)[None, :, None]
    pairs = torch.einsum("bjr,bjs->bjrs", onehot[:, :-1], onehot[:, 1:]).cumsum(1)  # #{j ≤ t: x_j=r, x_{j+1}=s}
    pairs = torch.cat([torch.zeros_like(pairs[:, :1]), pairs], dim=1)  # at i: pairs with j + 1 ≤ i, i.e. j < i
    rows = torch.einsum("bir,birs->bis", onehot, pairs)  # the current state's transition counts
    uniform = torch.full_like(counts, 1.0 / k)
    return {"uniform": uniform, "unigram": (counts + 1) / (i + k),
            "bigram": (rows + 1) / (rows.sum(-1, keepdim=True) + k)}


def kl(p: Float[Tensor, "*batch_dims k"], log_q: Float[Tensor, "*batch_dims k"]) -> Float[Tensor, "*batch_dims"]:
    """KL(p ‖ q) in nats (0 · log 0 = 0)."""
    return torch.where(p > 0, p * (p.clamp_min(1e-300).log() - log_q), torch.zeros_like(p)).sum(-1)


def state_log_probs(logits: Float[Tensor, "batch pos d_vocab"]) -> Float[Tensor, "batch pos k"]:
    """log q over the states (tokens 1…k): the BOS logit dropped and the rest renormalised."""
    return logits[..., 1:].double().log_softmax(-1)


def strategy_rows(log_q: Float[Tensor, "batch pos k"], states: Int[Tensor, "batch pos"], k: int) -> list[Row]:
    rows = []
    for name, p in strategies(states, k).items():
        per = kl(p, log_q)  # [b, pos]
        last = per[:, -1]
        rows += [model_row(PROBE, f"kl/{name}", last.mean()),
                 model_row(PROBE, f"kl_se/{name}", last.std() / math.sqrt(len(last))),
                 model_row(PROBE, f"kl_all/{name}", per.mean())]
    return rows


def head_scores(patterns: detectors.Patterns, tokens: Int[Tensor, "batch pos"]) -> list[Row]:
    """Bigram-head attention (raw, chance, excess) and previous-token score of every head."""
    target = detectors.induction_target(tokens)
    T = tokens.shape[1]
    causal = torch.tril(torch.ones(T, T))
    uniform = (causal / causal.sum(-1, keepdim=True)).expand(1, tokens.shape[0], 1, T, T)
    raw = detectors.pattern_score(patterns, target)
    chance = detectors.pattern_score(uniform, target).expand_as(raw)
    return (head_rows(PROBE, "bigram_attention", raw) + head_rows(PROBE, "bigram_attention/chance", chance)
            + head_rows(PROBE, "bigram_attention/excess", raw - chance)
            + head_rows(PROBE, "previous_token", detectors.previous_token_score(patterns, tokens)))


def markov_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """KL of the model's last-position prediction to each strategy, its true-distribution loss, and the heads."""
    tokens, matrices = heldout_chains(inputs)
    k = matrices.shape[-1]
    states = tokens[:, 1:] - 1
    with torch.no_grad():
        logits = ckpt.engine.logits(tokens).cpu()
    log_q = state_log_probs(logits[:, 1:])  # predictions at the state positions
    truth = matrices[torch.arange(len(states)), states[:, -1]].double()  # the last state's true row
    loss_true = -(truth * log_q[:, -1]).sum(-1).mean()
    rows = strategy_rows(log_q, states, k) + [model_row(PROBE, "loss_true", loss_true)]
    return rows + head_scores(detectors.attention_patterns(ckpt.bridge, tokens), tokens)


register_probe(ProbeSpec(PROBE, 1, markov_probe, {  # probes.measures.markov (Edelman et al. 2024, arXiv 2402.11004)
    "kl/{uniform|unigram|bigram}": "mean KL(strategy ‖ model) at the last position of held-out chains (nats)",
    "kl_se/{uniform|unigram|bigram}": "its standard error over the held-out sequences",
    "kl_all/{uniform|unigram|bigram}": "mean KL(strategy ‖ model) over every state position",
    "loss_true": "cross-entropy of the model's last prediction against the true transition row (nats)",
    "bigram_attention": "attention mass on keys whose previous token equals the query's token",
    "bigram_attention/{chance|excess}": "that mass under uniform causal attention; raw − chance",
    "previous_token": "attention to the previous position on the held-out chains",
}, applies=markov_applies, default="if_applicable", section="probes.report.markov:markov_report_section"))

"""Embedded, seeded data generators — nothing is downloaded.

Every generator draws from a caller-owned `torch.Generator`, so a run's data stream is fixed by its seed and can be
resumed exactly from a saved generator state. Token 0 is BOS and starts every sequence; content tokens are
1 … d_vocab-1 (`circuits.data.tokens`).

Generators (`GENERATORS`, keyed by their config's `name`; each config validates its own fields, circuits.data.configs):
  repeated-tokens – random filler, then a random segment repeated with period L to the end; L and the filler
                    length vary per sequence (fixed periods let a layer-0 head fake induction from positions alone,
                    `training_lengths`). Lengths in `heldout_lengths` are never trained on.
  markov          – in-context Markov chains: a fresh random bigram matrix per sequence (Edelman et al. 2024).
  text            – any local file, byte-level (d_vocab ≥ 257: byte b is token b+1).
  fv-mix          – abstractive ICL task prompts (`circuits.data.tasks`) mixed with repeated tokens (the fv preset).
  modular-addition – `a b =` → (a + b) mod p, a fixed train/test split of the p² pairs (`circuits.data.modular`, the
                    grokking preset; no BOS there: token p is `=`).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from jaxtyping import Float, Int
from torch import Tensor

from circuits.config import ModelConfig
from circuits.data.configs import DataConfig, FvMixData, MarkovData, ModularData, RepeatsData, TextData, training_lengths
from circuits.data.modular import ModularAddition, answer_loss
from circuits.data.tasks import INPUTS, N_WORDS, default_suite
from circuits.data.tokens import random_tokens, with_bos

logger = logging.getLogger(__name__)

Sampler = Callable[[int, torch.Generator], Int[Tensor, "batch pos"]]


def repeated_sequences(
    n: int, seg_len: int, n_repeats: int, d_vocab: int, gen: torch.Generator
) -> Int[Tensor, "n pos"]:
    """[BOS, r, r, …] with r a uniform random segment — the probe input of Olsson / Yin & Steinhardt."""
    segment = random_tokens(n, seg_len, d_vocab, gen)
    return with_bos(segment.repeat(1, n_repeats))


class RepeatedTokens:
    """Random filler, then a random segment of length L repeated periodically to the end of the sequence.

    Per sequence: L is drawn from [repeat_min, repeat_max] minus `heldout_lengths`, and the filler before the
    first copy has a random length o ∈ [0, T−1−2L] (at least two copies always fit). Varying both the period and the
    offset leaves no positional shortcut: only an induction circuit predicts the repeats.
    """


    def __init__(self, data: RepeatsData, model: ModelConfig):
        self.seq_len, self.d_vocab = data.seq_len, model.d_vocab
        self.lengths = torch.tensor(training_lengths(data))

    def __call__(self, batch: int, gen: torch.Generator) -> Int[Tensor, "batch pos"]:
        T = self.seq_len
        tokens = with_bos(random_tokens(batch, T - 1, self.d_vocab, gen))
        L = self.lengths[torch.randint(len(self.lengths), (batch,), generator=gen)][:, None]
        offset = 1 + (torch.rand(batch, 1, generator=gen) * (T - 2 * L)).long()  # first copy starts here
        pos = torch.arange(T)[None, :]
        periodic = pos >= offset + L  # every later position copies the token one period back
        source = torch.where(periodic, offset + (pos - offset) % L, pos)
        return tokens.gather(1, source)


class InContextMarkov:
    """In-context Markov chains: each sequence gets its own bigram matrix, rows ~ Dirichlet(markov_alpha).

    The optimal predictor must estimate transition counts from the context (Edelman et al. 2024, arXiv 2402.11004).
    With `markov_fixed_seed` every sequence uses one matrix (drawn once from that seed): the weights can learn it,
    so the context carries nothing beyond it. The first state is uniform or, with markov_start="stationary", drawn
    from the matrix's stationary distribution (as Edelman et al.'s code does).
    """


    def __init__(self, data: MarkovData, model: ModelConfig):
        self.seq_len, self.n_states, self.alpha = data.seq_len, model.d_vocab - 1, data.markov_alpha
        self.stationary = data.markov_start == "stationary"
        self.fixed = None if data.markov_fixed_seed is None else _dirichlet(
            1, self.n_states, self.alpha, torch.Generator().manual_seed(data.markov_fixed_seed))

    def __call__(self, batch: int, gen: torch.Generator) -> Int[Tensor, "batch pos"]:
        return self.sample_with_matrices(batch, gen)[0]

    def sample_with_matrices(self, batch: int, gen: torch.Generator) -> tuple[Int[Tensor, "batch pos"], Float[Tensor, "batch S S"]]:
        """The sequences and each one's transition matrix (states 0…S−1 are tokens 1…S)."""
        S = self.n_states
        rows = _dirichlet(batch, S, self.alpha, gen) if self.fixed is None else self.fixed.expand(batch, S, S)
        if self.stationary:
            state = torch.multinomial(stationary_distribution(rows), 1, generator=gen).squeeze(1)
        else:
            state = torch.randint(S, (batch,), generator=gen)
        out = [state]
        for _ in range(self.seq_len - 2):
            probs = rows[torch.arange(batch), state]  # [batch, S]: the current state's row
            state = torch.multinomial(probs, 1, generator=gen).squeeze(1)
            out.append(state)
        return with_bos(torch.stack(out, dim=1) + 1), rows


def stationary_distribution(rows: Float[Tensor, "batch S S"]) -> Float[Tensor, "batch S"]:
    """π with π P = π for each row-stochastic P (the mean row of P^64; Dirichlet rows are positive, so P is ergodic)."""
    power = torch.linalg.matrix_power(rows.double(), 64)
    pi = power.mean(1).clamp_min(0)
    return (pi / pi.sum(-1, keepdim=True)).float()


def _dirichlet(batch: int, n: int, alpha: float, gen: torch.Generator) -> torch.Tensor:
    """Rows ~ Dirichlet(alpha) from an explicit generator (torch's gamma sampler takes none).

    Gamma(alpha) = Gamma(alpha + 1) · U^(1/alpha), with Gamma(alpha + 1) by Marsaglia–Tsang rejection.
    """
    a = alpha + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / (9.0 * d) ** 0.5
    shape = (batch, n, n)
    g = torch.zeros(shape)
    done = torch.zeros(shape, dtype=torch.bool)
    for _ in range(16):  # acceptance ≥ 0.95 per trial: 16 trials leave ~1e-21 undone
        x = torch.randn(shape, generator=gen)
        v = (1 + c * x) ** 3
        u = torch.rand(shape, generator=gen)
        ok = (v > 0) & (torch.log(u.clamp_min(1e-30)) < 0.5 * x**2 + d - d * v + d * torch.log(v.clamp_min(1e-30)))
        g = torch.where(ok & ~done, d * v, g)
        done |= ok
    g = torch.where(done, g, torch.full(shape, d))  # never reached in practice; keeps rows finite
    g = g * torch.rand(shape, generator=gen).pow(1.0 / alpha)
    return g / g.sum(-1, keepdim=True)


class ByteText:
    """Random windows of a local file, byte-level: byte b is token b+1 (0 stays BOS)."""


    def __init__(self, data: TextData, model: ModelConfig):
        self.seq_len = data.seq_len
        raw = Path(data.text_path).read_bytes()  # validated by TextData.validate
        self.bytes = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long() + 1

    def __call__(self, batch: int, gen: torch.Generator) -> Int[Tensor, "batch pos"]:
        n = self.seq_len - 1
        starts = torch.randint(len(self.bytes) - n, (batch,), generator=gen)
        windows = self.bytes[starts[:, None] + torch.arange(n)[None, :]]
        return with_bos(windows)


class FunctionVectorMix:
    """Training data of the `fv` preset: a `fv_fraction` share of k-shot task sequences (every y is a target; the
    task is drawn uniformly per sequence, demonstrations from all 32 inputs), the rest repeated-token sequences
    with varied periods (`RepeatedTokens`), shuffled together. Tasks and prompts: `circuits.data.tasks` (Todd et al. 2024,
    arXiv:2310.15213)."""


    def __init__(self, data: FvMixData, model: ModelConfig):
        self.suite, self.seq_len, self.fraction = default_suite(), data.seq_len, data.fv_fraction
        self.repeats = RepeatedTokens(data, model)

    def __call__(self, batch: int, gen: torch.Generator) -> Int[Tensor, "batch pos"]:
        n_task = round(batch * self.fraction)
        pairs = (self.seq_len - 1) // 2
        task_ids = torch.randint(len(self.suite.tasks), (n_task,), generator=gen)
        xs = torch.stack([torch.randperm(N_WORDS, generator=gen)[:pairs] for _ in range(n_task)]) if n_task else torch.zeros(0, pairs, dtype=torch.long)
        answers = torch.stack([t.answer for t in self.suite.tasks])[task_ids[:, None], xs]
        episodes = with_bos(torch.stack([INPUTS[xs], answers], dim=-1).flatten(1))
        if episodes.shape[1] < self.seq_len:  # odd/even padding: one trailing input word
            episodes = torch.cat([episodes, INPUTS[torch.randint(N_WORDS, (n_task, 1), generator=gen)]], dim=1)
        mixed = torch.cat([episodes, self.repeats(batch - n_task, gen)])
        return mixed[torch.randperm(batch, generator=gen)]


def next_token_loss(logits: Tensor, tokens: Int[Tensor, "batch pos"], data: DataConfig) -> Tensor:
    """Mean next-token cross-entropy over every position (`circuits.model.transformer.token_losses`)."""
    from circuits.model.transformer import token_losses

    return token_losses(logits, tokens).mean()


def modular_loss(logits: Tensor, tokens: Int[Tensor, "batch 3"], data: ModularData) -> Tensor:
    """The answer's cross-entropy at `=` only (`circuits.data.modular.answer_loss`)."""
    return answer_loss(logits, tokens, data.modulus)


@dataclass(frozen=True)
class Generator:
    """One data source and what follows from it: its config class, its sampler, its training loss, and the
    capabilities the evaluation and the probes ask for (never its name)."""

    config: type[DataConfig]
    sampler: type  # (data config, model config) → callable(batch, generator) → tokens
    loss: Callable[[Tensor, Tensor, DataConfig], Tensor] = next_token_loss
    sequences: bool = True  # sequences to continue: held-out repeats eval, induction probes, the ICL score
    icl_tasks: bool = False  # abstractive ICL task prompts (circuits.data.tasks): few/zero-shot eval, the FV probes
    answer_pairs: bool = False  # a fixed train/test split of answer pairs (circuits.data.modular): grokking probes
    markov_chains: bool = False  # in-context Markov chains with their transition matrices: the markov probe

    @property
    def name(self) -> str:
        return self.config.name


GENERATORS: dict[str, Generator] = {g.name: g for g in (
    Generator(RepeatsData, RepeatedTokens), Generator(MarkovData, InContextMarkov, markov_chains=True), Generator(TextData, ByteText),
    Generator(FvMixData, FunctionVectorMix, icl_tasks=True),
    Generator(ModularData, ModularAddition, loss=modular_loss, sequences=False, answer_pairs=True))}


def generator_of(data: DataConfig) -> Generator:
    """The generator a data config belongs to."""
    return GENERATORS[data.name]


def make_sampler(data: DataConfig, model: ModelConfig) -> Sampler:
    """The data config's sampler, built for this model config (validated first)."""
    data.validate(model)
    return generator_of(data).sampler(data, model)

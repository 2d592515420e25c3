"""Seeded probe inputs, fixed across checkpoints so score trajectories are comparable.

All inputs are token tensors (no tokenizer). Lengths are chosen from the run config so the probes never exceed the
model's context and the induction probe uses repeat lengths the model never trained on. For a model that is not one
of ours (a Hugging Face checkpoint series) the inputs are built from its `ModelFacts` in its own vocabulary: Yin &
Steinhardt 2025's (arXiv 2502.14010) [BOS, r, r] with |r| = 50 where the context allows, uniform random r, and the
model's own BOS token.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from circuits.config import RunConfig
from circuits.data.generators import make_sampler, repeated_sequences, with_bos
from circuits.errors import WorkbenchError
from probes.engine.checkpoint import ModelFacts

PROBE_SEED = 20220908  # Olsson et al.'s arXiv date: one fixed seed for every probe input
OLSSON_SEGMENT = 25
OLSSON_REPEATS = 4


def induction_lengths(config: RunConfig) -> tuple[int, ...]:
    """Repeat periods for the induction probe: the data's held-out periods (never trained on, and sharing no multiple
    with a trained period inside the context; see `circuits.config.training_lengths`) that fit twice."""
    limit = (config.model.n_ctx - 1) // 2
    return tuple(sorted(n for n in set(config.data.probe_periods) if n <= limit)) or (limit,)


def prefix_period(config: RunConfig) -> int:
    """Olsson's 25-token segment, cut to what fits twice in the context (11 at n_ctx 24)."""
    return min(OLSSON_SEGMENT, (config.model.n_ctx - 1) // 2)


@dataclass(frozen=True)
class RepeatProbe:
    """Repeated-token probe sequences, the period of each row, and content controls of the same shape.

    `control` rows have the same length but no token occurs twice: a head's attention there, on the query→key
    position pairs that are targets in `tokens`, is what it would give those pairs without any content match (the
    content control of `probes.measures.detectors.controlled_score`).
    """

    tokens: Int[Tensor, "batch pos"]
    control: Int[Tensor, "batch pos"]
    period: Int[Tensor, " batch"]


def non_repeating_sequences(n: int, length: int, d_vocab: int, gen: torch.Generator) -> Int[Tensor, "n length"]:
    """BOS + length − 1 distinct content tokens per row (a random draw without replacement)."""
    if d_vocab - 1 < length - 1:
        raise WorkbenchError(f"a {length}-token control sequence without repeats needs d_vocab ≥ {length}, got {d_vocab}; probe shorter sequences.")
    rows = [torch.randperm(d_vocab - 1, generator=gen)[: length - 1] + 1 for _ in range(n)]
    return with_bos(torch.stack(rows))


def repeat_probe(periods: tuple[int, ...], n: int, width: int, d_vocab: int, seed: int) -> RepeatProbe:
    """[BOS, r, r, …] cut to `width`, r uniform random, the same number of rows for every period, plus controls."""
    gen = torch.Generator().manual_seed(seed)
    count = -(-n // len(periods))  # rows per period, so that periods weigh equally
    rows = [repeated_sequences(count, p, -(-(width - 1) // p), d_vocab, gen)[:, :width] for p in periods]
    period = torch.tensor(periods).repeat_interleave(count)
    return RepeatProbe(torch.cat(rows), non_repeating_sequences(len(period), width, d_vocab, gen), period)


def induction_probe(config: RunConfig, n: int = 64) -> RepeatProbe:
    """The induction probe: every held-out period (`induction_lengths`), repeated to the full context.

    Yin & Steinhardt's input is [BOS, r, r] with |r| = 50; we repeat shorter held-out periods until the context is
    full, so every row has the same width and every query after the first period is scored.
    """
    return repeat_probe(induction_lengths(config), n, config.model.n_ctx, config.model.d_vocab, PROBE_SEED)


def prefix_matching_probe(config: RunConfig, n: int = 32) -> RepeatProbe:
    """Olsson's prefix-matching input: 25 random tokens repeated 4 times, BOS first.

    Deviations for toy models, stated: our synthetic vocabulary is uniform, so there are no "most/least common"
    tokens to exclude; the segment and the repeat count are cut to what fits n_ctx (25 × 2 at n_ctx 64, 11 × 2 at
    n_ctx 24). The segment length may be a trained period: the content control removes what a positional head
    tuned to it would score.
    """
    period = prefix_period(config)
    repeats = max(2, min(OLSSON_REPEATS, (config.model.n_ctx - 1) // period))
    return repeat_probe((period,), n, 1 + period * repeats, config.model.d_vocab, PROBE_SEED + 1)


def has_repeat_controls(config: RunConfig) -> bool:
    """Whether the content controls of the induction probes (context-wide sequences without a repeated token) fit
    in the model's vocabulary."""
    return config.model.d_vocab >= config.model.n_ctx


def training_tokens(config: RunConfig, n: int = 64) -> Int[Tensor, "batch pos"]:
    """A fixed batch of the training distribution (previous-token score, ICL score, ablation loss)."""
    return make_sampler(config.data, config.model)(n, torch.Generator().manual_seed(PROBE_SEED + 2))


YS_REPEAT = 50  # Yin & Steinhardt 2025: [BOS, r, r] with |r| = 50


def model_period(facts: ModelFacts) -> int:
    """|r| for a model that is not ours: 50 where [BOS, r, r] fits, else what fits."""
    return min(YS_REPEAT, (facts.n_ctx - 1) // 2)


def with_model_bos(tokens: Int[Tensor, "batch pos"], bos: int) -> Int[Tensor, "batch pos"]:
    """Our probes use token 0 as BOS; in a vocabulary whose BOS is `bos`, swap the ids 0 and `bos` (a bijection, so
    repeats, controls and uniformity are unchanged)."""
    return torch.where(tokens == 0, bos, torch.where(tokens == bos, 0, tokens)) if bos else tokens


@dataclass(frozen=True)
class AblationInputs:
    """Token batches for the three ablation effects: text and [BOS, r, r] repeats of one length, each with a
    reference batch of the same shape (mean and resample ablation)."""

    text: Int[Tensor, "batch pos"]
    text_reference: Int[Tensor, "batch pos"]
    repeats: Int[Tensor, "batch rpos"]
    repeats_reference: Int[Tensor, "batch rpos"]
    repeat_length: int


@dataclass(frozen=True)
class ProbeInputs:
    """Every probe input of a model, built once from a fixed seed and shared by all its checkpoints. `config` is
    the run config for our runs, None for other models (whose `text` is then [BOS, r, r] repeats, stated)."""

    facts: ModelFacts
    config: RunConfig | None
    induction: RepeatProbe | None  # None when the vocabulary cannot fill a context without repeats
    prefix: RepeatProbe | None
    text: Int[Tensor, "batch pos"]
    ablation: AblationInputs

    @classmethod
    def for_run(cls, config: RunConfig) -> ProbeInputs:
        n_ctx, vocab = config.model.n_ctx, config.model.d_vocab
        text, text_ref = training_tokens(config, 128).split(64)
        length = max((n for n in config.data.probe_periods if 2 * n + 1 <= n_ctx), default=(n_ctx - 1) // 2)
        reps = repeated_sequences(128, length, 2, vocab, torch.Generator().manual_seed(PROBE_SEED + 4))
        abl = AblationInputs(text, text_ref, reps[:64], reps[64:], length)
        if not has_repeat_controls(config):  # e.g. 3-state Markov chains: every token repeats (induction probes skip)
            return cls(ModelFacts.from_config(config.model), config, None, None, text, abl)
        return cls(ModelFacts.from_config(config.model), config, induction_probe(config), prefix_matching_probe(config), text, abl)

    @classmethod
    def for_model(cls, facts: ModelFacts, n: int = 32) -> ProbeInputs:
        """Inputs for a model that is not ours, in its vocabulary: [BOS, r, r] with |r| = `model_period`."""
        period, vocab, bos = model_period(facts), facts.d_vocab, facts.bos
        fix = lambda probe: RepeatProbe(with_model_bos(probe.tokens, bos), with_model_bos(probe.control, bos), probe.period)  # noqa: E731
        induction = fix(repeat_probe((period,), n, 2 * period + 1, vocab, PROBE_SEED))
        prefix_len = min(OLSSON_SEGMENT, period)
        prefix = fix(repeat_probe((prefix_len,), n, 1 + prefix_len * max(2, min(OLSSON_REPEATS, (facts.n_ctx - 1) // prefix_len)), vocab, PROBE_SEED + 1))
        reps = with_model_bos(repeated_sequences(4 * n, period, 2, vocab, torch.Generator().manual_seed(PROBE_SEED + 4)), bos)
        text, text_ref, rep, rep_ref = reps.split(n)
        return cls(facts, None, induction, prefix, text, AblationInputs(text, text_ref, rep, rep_ref, period))

"""Embedded, seeded data generators — nothing is downloaded.

Every generator draws from a caller-owned `torch.Generator`, so a run's data stream is fixed by its seed and can be
resumed exactly from a saved generator state. Token 0 is BOS and starts every sequence; content tokens are
1 … d_vocab-1.

Generators (the `name` a `DataConfig` refers to):
  repeated-tokens – random filler, then a random segment repeated with period L to the end; L and the filler
                    length vary per sequence (fixed periods let a layer-0 head fake induction from positions alone,
                    `training_lengths`). Lengths in `heldout_lengths` are never trained on.
  markov          – in-context Markov chains: a fresh random bigram matrix per sequence (Edelman et al. 2024).
  text            – any local file, byte-level (d_vocab ≥ 257: byte b is token b+1).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from collections.abc import Callable

import torch
from jaxtyping import Int
from torch import Tensor

from circuits.config import DataConfig, ModelConfig
from circuits.errors import WorkbenchError

BOS = 0
logger = logging.getLogger(__name__)

Sampler = Callable[[int, torch.Generator], Int[Tensor, "batch pos"]]


def random_tokens(n: int, length: int, d_vocab: int, gen: torch.Generator) -> Int[Tensor, "n length"]:
    """Uniform content tokens (never BOS)."""
    return torch.randint(1, d_vocab, (n, length), generator=gen)


def with_bos(tokens: Int[Tensor, "batch pos"]) -> Int[Tensor, "batch pos_plus_1"]:
    bos = torch.full((tokens.shape[0], 1), BOS, dtype=tokens.dtype)
    return torch.cat([bos, tokens], dim=1)


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

    name = "repeated-tokens"

    def __init__(self, data: DataConfig, model: ModelConfig):
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


def training_lengths(data: DataConfig) -> list[int]:
    """Periods trained on: [repeat_min, repeat_max] minus the held-out periods and every period that shares a
    multiple with a held-out one inside the context.

    A positional shortcut for a trained period Q attends to fixed offsets m·Q − 1; it would also hit a held-out
    period P's induction targets (offsets n·P − 1) whenever m·Q = n·P < seq_len. Excluding such Q (e.g. 3 and 6 for a
    held-out 9 at seq_len 23; none for the primes 17–29 at seq_len 64) keeps the held-out probe free of trained offsets.
    """
    return [q for q in range(data.repeat_min, data.repeat_max + 1)
            if not any(_shared_multiple(q, p, data.seq_len) for p in data.heldout_lengths)]


def _shared_multiple(q: int, p: int, seq_len: int) -> bool:
    """Whether periods q and p have a common multiple below seq_len (q == p included)."""
    return math.lcm(q, p) < seq_len


class InContextMarkov:
    """In-context Markov chains: each sequence gets its own bigram matrix, rows ~ Dirichlet(markov_alpha).

    The optimal predictor must estimate transition counts from the context (Edelman et al. 2024).
    """

    name = "markov"

    def __init__(self, data: DataConfig, model: ModelConfig):
        self.seq_len, self.n_states, self.alpha = data.seq_len, model.d_vocab - 1, data.markov_alpha

    def __call__(self, batch: int, gen: torch.Generator) -> Int[Tensor, "batch pos"]:
        S = self.n_states
        rows = _dirichlet(batch, S, self.alpha, gen)  # [batch, S, S]: one bigram matrix per sequence
        state = torch.randint(S, (batch,), generator=gen)
        out = [state]
        for _ in range(self.seq_len - 2):
            probs = rows[torch.arange(batch), state]  # [batch, S]: the current state's row
            state = torch.multinomial(probs, 1, generator=gen).squeeze(1)
            out.append(state)
        return with_bos(torch.stack(out, dim=1) + 1)


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

    name = "text"

    def __init__(self, data: DataConfig, model: ModelConfig):
        self.seq_len = data.seq_len
        raw = Path(data.text_path).read_bytes()  # validated in validate_data
        self.bytes = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long() + 1

    def __call__(self, batch: int, gen: torch.Generator) -> Int[Tensor, "batch pos"]:
        n = self.seq_len - 1
        starts = torch.randint(len(self.bytes) - n, (batch,), generator=gen)
        windows = self.bytes[starts[:, None] + torch.arange(n)[None, :]]
        return with_bos(windows)


DATASETS: dict[str, type] = {cls.name: cls for cls in (RepeatedTokens, InContextMarkov, ByteText)}


def register(cls: type) -> type:
    """Add a generator class (with a `name`) to the registry; used by `circuits.tasks`."""
    DATASETS[cls.name] = cls
    return cls


def make_sampler(data: DataConfig, model: ModelConfig) -> Sampler:
    validate_data(data, model)
    return DATASETS[data.name](data, model)


def validate_data(data: DataConfig, model: ModelConfig) -> None:
    """One clear error for a data config that cannot work with this model."""
    import circuits.tasks  # noqa: F401 - registers the fv-mix generator

    if data.name not in DATASETS:
        raise WorkbenchError(f"unknown data generator {data.name!r}; use one of {sorted(DATASETS)}.")
    if not 2 <= data.seq_len <= model.n_ctx:
        raise WorkbenchError(f"data seq_len={data.seq_len} must be in [2, n_ctx={model.n_ctx}]; lower seq_len or raise n_ctx.")
    if data.name in ("repeated-tokens", "fv-mix"):
        _validate_repeats(data, model)
    if data.name == "markov" and not data.markov_alpha > 0:
        raise WorkbenchError(f"markov_alpha must be positive, got {data.markov_alpha}.")
    if data.name == "text":
        _validate_text(data, model)
    if data.name in DATASETS and hasattr(DATASETS[data.name], "validate"):
        DATASETS[data.name].validate(data, model)


def _validate_repeats(data: DataConfig, model: ModelConfig) -> None:
    if not 1 <= data.repeat_min <= data.repeat_max:
        raise WorkbenchError(f"need 1 ≤ repeat_min ≤ repeat_max, got {data.repeat_min}, {data.repeat_max}.")
    if 2 * data.repeat_max + 1 > data.seq_len:
        raise WorkbenchError(f"repeat_max={data.repeat_max} does not fit twice in seq_len={data.seq_len}; use repeat_max ≤ {(data.seq_len - 1) // 2}.")
    if not training_lengths(data):
        raise WorkbenchError("every repeat length is held out; widen [repeat_min, repeat_max] or shorten heldout_lengths.")
    if any(2 * n + 1 > model.n_ctx for n in data.heldout_lengths):
        raise WorkbenchError(f"held-out lengths {data.heldout_lengths} must fit twice (plus BOS) in n_ctx={model.n_ctx}.")
    if model.d_vocab < 3:
        raise WorkbenchError(f"d_vocab={model.d_vocab} is too small for random tokens; use ≥ 16.")


def _validate_text(data: DataConfig, model: ModelConfig) -> None:
    if not data.text_path or not Path(data.text_path).is_file():
        raise WorkbenchError(f"text data needs an existing file in text_path, got {data.text_path!r}.")
    if Path(data.text_path).stat().st_size <= data.seq_len:
        raise WorkbenchError(f"text file {data.text_path} is shorter than seq_len={data.seq_len}; use a longer file.")
    if model.d_vocab < 257:
        raise WorkbenchError(f"byte-level text needs d_vocab ≥ 257 (256 bytes + BOS), got {model.d_vocab}.")

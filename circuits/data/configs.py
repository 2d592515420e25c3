"""One frozen config per data generator, holding only that generator's fields (and the shared `seq_len`).

`name` is a class attribute written into the JSON (`"name": "fv-mix"`), so a run's config.json says which generator
made its data. `data_from_dict` reads the JSON of any generator, also the older form in which one merged config carried
every generator's fields: the fields of other generators were ignored by the generator that ran, so dropping them
loads the same config. Each config validates its own fields against the model (one clear error per problem, naming
the fix). This module imports nothing of the package but the errors, so `circuits.config` can build on it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from circuits.errors import WorkbenchError

if TYPE_CHECKING:
    from circuits.config import ModelConfig, TrainConfig

FV_WORDS = 32  # fv-mix: input words (and as many output words) of the task vocabulary, see circuits.data.tasks
FV_MIN_VOCAB = 1 + 2 * FV_WORDS + 8  # BOS, inputs, outputs, and some filler for the mixed-in repeats
MARKOV_STARTS = ("uniform", "stationary")  # markov: how the first state of a sequence is drawn


@dataclass(frozen=True)
class DataConfig:
    """The fields every generator shares; a generator's config subclasses it."""

    name: ClassVar[str] = ""
    seq_len: int = 64

    def validate(self, model: ModelConfig) -> None:
        if not 2 <= self.seq_len <= model.n_ctx:
            raise WorkbenchError(f"data seq_len={self.seq_len} must be in [2, n_ctx={model.n_ctx}]; lower seq_len or raise n_ctx.")

    def validate_training(self, train: TrainConfig) -> None:
        """Constraints between the data and the training section (none for most generators)."""

    @property
    def probe_periods(self) -> tuple[int, ...]:
        """Repeat periods the induction probes and the repeat evaluation use: periods this data never repeats with
        (a generator without repeats never trains on any; these are the repeats generator's defaults)."""
        return RepeatsData.heldout_lengths

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class RepeatsData(DataConfig):
    """repeated-tokens: random filler, then a segment repeated with a period in [repeat_min, repeat_max] (minus the
    held-out periods, which only the probes use)."""

    name: ClassVar[str] = "repeated-tokens"
    repeat_min: int = 4
    repeat_max: int = 31
    heldout_lengths: tuple[int, ...] = (17, 19, 23, 29)

    @property
    def probe_periods(self) -> tuple[int, ...]:
        return self.heldout_lengths

    def validate(self, model: ModelConfig) -> None:
        super().validate(model)
        if not 1 <= self.repeat_min <= self.repeat_max:
            raise WorkbenchError(f"need 1 ≤ repeat_min ≤ repeat_max, got {self.repeat_min}, {self.repeat_max}.")
        if 2 * self.repeat_max + 1 > self.seq_len:
            raise WorkbenchError(f"repeat_max={self.repeat_max} does not fit twice in seq_len={self.seq_len}; use repeat_max ≤ {(self.seq_len - 1) // 2}.")
        if not training_lengths(self):
            raise WorkbenchError("every repeat length is held out; widen [repeat_min, repeat_max] or shorten heldout_lengths.")
        if any(2 * n + 1 > model.n_ctx for n in self.heldout_lengths):
            raise WorkbenchError(f"held-out lengths {self.heldout_lengths} must fit twice (plus BOS) in n_ctx={model.n_ctx}.")
        if model.d_vocab < 3:
            raise WorkbenchError(f"d_vocab={model.d_vocab} is too small for random tokens; use ≥ 16.")


@dataclass(frozen=True)
class FvMixData(RepeatsData):
    """fv-mix: a share `fv_fraction` of abstractive ICL task prompts (circuits.data.tasks), the rest repeated tokens."""

    name: ClassVar[str] = "fv-mix"
    fv_fraction: float = 0.75

    def validate(self, model: ModelConfig) -> None:
        super().validate(model)
        if model.d_vocab < FV_MIN_VOCAB:
            raise WorkbenchError(f"fv-mix needs d_vocab ≥ {FV_MIN_VOCAB} (BOS, {FV_WORDS} inputs, {FV_WORDS} outputs, filler).")
        if not 0 <= self.fv_fraction <= 1:
            raise WorkbenchError(f"fv_fraction must be in [0, 1], got {self.fv_fraction}.")


@dataclass(frozen=True)
class MarkovData(DataConfig):
    """markov: in-context Markov chains over the d_vocab − 1 content tokens, each sequence's bigram rows
    ~ Dirichlet(markov_alpha) (Edelman et al. 2024, arXiv 2402.11004).

    `markov_start`: the first state is "uniform" (the default) or drawn from the sequence's "stationary"
    distribution (Edelman et al.'s code). `markov_fixed_seed`: when set, every sequence uses the one matrix drawn
    from this seed (a control in which in-context statistics carry nothing the weights cannot learn)."""

    name: ClassVar[str] = "markov"
    markov_alpha: float = 0.25
    markov_start: str = "uniform"
    markov_fixed_seed: int | None = None

    def validate(self, model: ModelConfig) -> None:
        super().validate(model)
        if not self.markov_alpha > 0:
            raise WorkbenchError(f"markov_alpha must be positive, got {self.markov_alpha}.")
        if self.markov_start not in MARKOV_STARTS:
            raise WorkbenchError(f"markov_start must be one of {MARKOV_STARTS}, got {self.markov_start!r}.")
        if model.d_vocab < 3:
            raise WorkbenchError(f"markov data needs d_vocab ≥ 3 (BOS and ≥ 2 states), got {model.d_vocab}.")


@dataclass(frozen=True)
class TextData(DataConfig):
    """text: random windows of a local file, byte-level."""

    name: ClassVar[str] = "text"
    text_path: str | None = None

    def validate(self, model: ModelConfig) -> None:
        super().validate(model)
        if not self.text_path or not Path(self.text_path).is_file():
            raise WorkbenchError(f"text data needs an existing file in text_path, got {self.text_path!r}.")
        if Path(self.text_path).stat().st_size <= self.seq_len:
            raise WorkbenchError(f"text file {self.text_path} is shorter than seq_len={self.seq_len}; use a longer file.")
        if model.d_vocab < 257:
            raise WorkbenchError(f"byte-level text needs d_vocab ≥ 257 (256 bytes + BOS), got {model.d_vocab}.")


@dataclass(frozen=True)
class ModularData(DataConfig):
    """modular-addition: `a b =` → (a + b) mod modulus, a fixed train/test split of the pairs (circuits.data.modular)."""

    name: ClassVar[str] = "modular-addition"
    seq_len: int = 3
    modulus: int = 53
    train_fraction: float = 0.4
    split_seed: int = 0

    @property
    def train_size(self) -> int:
        """How many of the modulus² pairs are trained on (`circuits.data.modular.split_pairs`)."""
        return round(self.train_fraction * self.modulus**2)

    def validate(self, model: ModelConfig) -> None:
        super().validate(model)
        p = self.modulus
        if not isinstance(p, int) or p < 3 or p % 2 == 0:
            raise WorkbenchError(f"modulus must be an odd integer ≥ 3 (the Fourier analysis pairs cos and sin of each "
                                 f"frequency), got {p!r}; Nanda et al. use a prime such as 53, 59 or 113.")
        if model.d_vocab != p + 1:
            raise WorkbenchError(f"modular-addition with modulus={p} needs d_vocab = {p + 1} (numbers 0…{p - 1} and '='), "
                                 f"got {model.d_vocab}; set model.d_vocab={p + 1}.")
        if self.seq_len != 3:
            raise WorkbenchError(f"modular-addition inputs are 'a b =' (3 tokens), got seq_len={self.seq_len}; set data.seq_len=3.")
        if not 0 < self.train_fraction < 1 or not 1 <= self.train_size < p * p:
            raise WorkbenchError(f"train_fraction={self.train_fraction} must leave both a train and a test set of the {p * p} "
                                 f"pairs; use a value in (0, 1), e.g. 0.4.")

    def validate_training(self, train: TrainConfig) -> None:
        if train.batch_size > self.train_size:
            raise WorkbenchError(f"batch_size={train.batch_size} exceeds the {self.train_size} training pairs (modulus={self.modulus}, "
                                 f"train_fraction={self.train_fraction}); set train.batch_size={self.train_size} for full-batch training.")


DATA_CONFIGS: dict[str, type[DataConfig]] = {c.name: c for c in (RepeatsData, MarkovData, TextData, FvMixData, ModularData)}


def data_class(name: str) -> type[DataConfig]:
    if name not in DATA_CONFIGS:
        raise WorkbenchError(f"unknown data generator {name!r}; use one of {sorted(DATA_CONFIGS)}.")
    return DATA_CONFIGS[name]


def field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def data_from_dict(raw: dict[str, Any], source: str = "config.json") -> DataConfig:
    """The generator's config from its JSON; fields of other generators (the older merged form) are dropped,
    fields no generator has are an error."""
    cls = data_class(raw.get("name", RepeatsData.name))
    known = set().union(*(field_names(c) for c in DATA_CONFIGS.values())) | {"name"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise WorkbenchError(f"{source} has unknown data field(s) {unknown}; it was written by another version — retrain or edit them out.")
    own = field_names(cls)
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in own})


def switch_generator(data: DataConfig, name: str, changes: dict[str, Any]) -> DataConfig:
    """`data` as generator `name` (the shared fields kept), with `changes`; one error naming the generator's fields
    when a change is not one of them."""
    cls = data_class(name)
    unknown = sorted(set(changes) - field_names(cls))
    if unknown:
        raise WorkbenchError(f"the {name} generator has no field(s) {unknown}; its fields are {sorted(field_names(cls))} "
                             f"(set data.name=… first to use another generator).")
    kept = {k: getattr(data, k) for k in field_names(cls) & field_names(type(data))}  # seq_len at least
    return cls(**{**kept, **changes})


def training_lengths(data: RepeatsData) -> list[int]:
    """Periods trained on: [repeat_min, repeat_max] minus the held-out periods and every period that shares a
    multiple with a held-out one inside the context.

    A positional shortcut for a trained period Q attends to fixed offsets m·Q − 1; it would also hit a held-out
    period P's induction targets (offsets n·P − 1) whenever m·Q = n·P < seq_len. Excluding such Q (e.g. 3 and 6 for a
    held-out 9 at seq_len 23; none for the primes 17–29 at seq_len 64) keeps the held-out probe free of trained offsets.
    """
    return [q for q in range(data.repeat_min, data.repeat_max + 1)
            if not any(math.lcm(q, p) < data.seq_len for p in data.heldout_lengths)]

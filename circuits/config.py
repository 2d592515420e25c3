"""Frozen dataclass configs and their JSON form.

A run is fully described by a `RunConfig` (model + data + training); it is saved as `config.json` beside the
weights, and a run directory refuses to be reused with a different config.

`RunConfig.validate()` checks every section, the data generator's constraints included, from the config alone:
this module imports nothing else of the package but the leaf `circuits.model.clamp` (`circuits.data.generators` and `circuits.data.tasks` build on it), so the
package's import graph stays acyclic. `circuits.data.generators.DATASETS` holds exactly the generators in `GENERATORS`.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from circuits.errors import WorkbenchError
from circuits.model.clamp import Clamp, clamps_from_json, validate_clamps

NORMALIZATIONS = (None, "LN")
POSITIONALS = ("standard", "rotary")
ACTIVATIONS = ("gelu", "gelu_new", "relu", "silu")
GENERATORS = ("repeated-tokens", "markov", "text", "fv-mix", "modular-addition")  # the data generators of circuits.data.generators
FV_WORDS = 32  # fv-mix: input words (and as many output words) of the task vocabulary, see circuits.data.tasks
FV_MIN_VOCAB = 1 + 2 * FV_WORDS + 8  # BOS, inputs, outputs, and some filler for the mixed-in repeats


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a TransformerLens native model (mapped onto `TransformerBridgeConfig` in `circuits.model.transformer`)."""

    n_layers: int = 2
    d_model: int = 64
    n_heads: int = 4
    n_ctx: int = 64
    d_vocab: int = 64
    attn_only: bool = True
    d_mlp: int | None = None  # defaults to 4 * d_model for full models
    act_fn: str = "gelu"
    normalization: str | None = None  # None (no LayerNorm) or "LN"
    positional: str = "standard"  # "standard" (learned, added to the residual) or "rotary" (q/k only)
    init_range: float = 0.1  # std of TransformerLens's gpt2-style init
    seed: int = 0

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def mlp_width(self) -> int:
        return self.d_mlp if self.d_mlp is not None else 4 * self.d_model

    def validate(self) -> None:
        _positive(self, ("n_layers", "d_model", "n_heads", "n_ctx", "d_vocab"))
        if self.d_model % self.n_heads:
            raise WorkbenchError(
                f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}; "
                f"choose n_heads that divides d_model (e.g. n_heads={_divisor(self.d_model)})."
            )
        if self.positional == "rotary" and self.d_head % 2:
            raise WorkbenchError(f"rotary positions need an even d_head, got {self.d_head}; change d_model or n_heads.")
        _choice(self, "normalization", NORMALIZATIONS)
        _choice(self, "positional", POSITIONALS)
        if not self.attn_only:
            _choice(self, "act_fn", ACTIVATIONS)
            if self.mlp_width <= 0:
                raise WorkbenchError(f"d_mlp must be positive, got {self.d_mlp}; omit it for 4 * d_model.")
        elif self.d_mlp is not None:
            raise WorkbenchError("d_mlp is set but attn_only=True; drop d_mlp or set attn_only=False.")


@dataclass(frozen=True)
class DataConfig:
    """Which embedded data generator to train on (see `circuits.data.generators`) and its knobs.

    Fields a generator does not use are ignored by it; `validate` checks the ones it does.
    """

    name: str = "repeated-tokens"
    seq_len: int = 64
    repeat_min: int = 4  # repeated-tokens: shortest period
    repeat_max: int = 31  # repeated-tokens: longest period
    heldout_lengths: tuple[int, ...] = (17, 19, 23, 29)  # periods never trained on (probed instead)
    markov_alpha: float = 0.25  # markov: Dirichlet concentration of each bigram row
    text_path: str | None = None  # text: a local file, read as bytes
    fv_fraction: float = 0.75  # fv-mix: share of sequences that are abstractive-ICL task prompts
    modulus: int = 53  # modular-addition: p (tokens 0 … p−1 are numbers, token p is "=")
    train_fraction: float = 0.4  # modular-addition: share of the p² pairs trained on (the rest is the test set)
    split_seed: int = 0  # modular-addition: seed of the train/test split (circuits.data.modular.split_pairs)

    def validate(self, model: ModelConfig) -> None:
        """One clear error for a data config that cannot work with this model (per generator: its own fields)."""
        if self.name not in GENERATORS:
            raise WorkbenchError(f"unknown data generator {self.name!r}; use one of {sorted(GENERATORS)}.")
        if not 2 <= self.seq_len <= model.n_ctx:
            raise WorkbenchError(f"data seq_len={self.seq_len} must be in [2, n_ctx={model.n_ctx}]; lower seq_len or raise n_ctx.")
        if self.name in ("repeated-tokens", "fv-mix"):
            _validate_repeats(self, model)
        if self.name == "markov" and not self.markov_alpha > 0:
            raise WorkbenchError(f"markov_alpha must be positive, got {self.markov_alpha}.")
        if self.name == "text":
            _validate_text(self, model)
        if self.name == "fv-mix":
            _validate_fv_mix(self, model)
        if self.name == "modular-addition":
            _validate_modular(self, model)


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, schedule, evaluation and checkpoint cadence."""

    steps: int = 2000
    batch_size: int = 32
    lr: float = 3e-3
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * min_lr_ratio
    weight_decay: float = 0.01
    beta1: float = 0.9  # AdamW betas (torch defaults; the grokking preset uses Nanda et al.'s 0.9, 0.98)
    beta2: float = 0.999
    grad_clip: float = 1.0
    eval_every: int = 50
    eval_batch_size: int = 64
    n_checkpoints: int = 40  # step 0 and the last step included
    checkpoint_spacing: str = "log+linear"  # or "log"; see circuits.training.schedule.checkpoint_steps
    checkpoint_steps: tuple[int, ...] | None = None  # explicit schedule; overrides n_checkpoints
    seed: int = 0

    def validate(self) -> None:
        _positive(self, ("steps", "batch_size", "eval_every", "eval_batch_size", "n_checkpoints"))
        if not self.lr > 0:
            raise WorkbenchError(f"lr must be positive, got {self.lr}; try 1e-3.")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise WorkbenchError(f"AdamW betas must lie in [0, 1), got beta1={self.beta1}, beta2={self.beta2}; torch's defaults are 0.9, 0.999.")
        if not 0 <= self.warmup_steps < self.steps:
            raise WorkbenchError(f"warmup_steps={self.warmup_steps} must be in [0, steps={self.steps}).")
        _choice(self, "checkpoint_spacing", ("log", "log+linear"))
        if self.checkpoint_steps is not None and any(not 0 <= s <= self.steps for s in self.checkpoint_steps):
            raise WorkbenchError(f"checkpoint_steps must lie in [0, steps={self.steps}]; got {self.checkpoint_steps}.")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run: same RunConfig ⇒ same checkpoints."""

    preset: str
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    clamps: tuple[Clamp, ...] = ()  # interventions during training and probing (circuits.model.clamp; Singh et al. 2024)

    def validate(self) -> None:
        self.model.validate()
        self.train.validate()
        self.data.validate(self.model)
        validate_clamps(self.clamps, self.model, self.train.steps)
        if self.data.name == "modular-addition":
            _validate_modular_batch(self.data, self.train)

    def to_json(self) -> str:
        raw = dataclasses.asdict(self)
        if not self.clamps:  # an unclamped run's config.json has no clamps key
            del raw["clamps"]
        return json.dumps(raw, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        raw = json.loads(text)
        return cls(
            preset=raw["preset"],
            model=_build(ModelConfig, raw["model"]),
            data=_build(DataConfig, raw["data"]),
            train=_build(TrainConfig, raw["train"]),
            clamps=clamps_from_json(raw.get("clamps", [])),  # absent: an unclamped run
        )


def replace(config: Any, **changes: Any) -> Any:
    """`dataclasses.replace` with a clear error for a misspelt field."""
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise WorkbenchError(f"unknown {type(config).__name__} field(s) {unknown}; known fields: {sorted(names)}.")
    return dataclasses.replace(config, **changes)


def _build(cls: type, raw: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise WorkbenchError(f"config.json has unknown {cls.__name__} field(s) {unknown}; it was written by another version — retrain or edit them out.")
    tuples = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return cls(**tuples)


def _positive(config: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int) or value <= 0:
            raise WorkbenchError(f"{name} must be a positive integer, got {value!r}.")


def _choice(config: Any, name: str, allowed: tuple) -> None:
    value = getattr(config, name)
    if value not in allowed:
        raise WorkbenchError(f"{name}={value!r} is not supported; use one of {list(allowed)}.")


def _divisor(n: int) -> int:
    return next(d for d in (4, 2, 1) if n % d == 0)


def training_lengths(data: DataConfig) -> list[int]:
    """Periods trained on: [repeat_min, repeat_max] minus the held-out periods and every period that shares a
    multiple with a held-out one inside the context.

    A positional shortcut for a trained period Q attends to fixed offsets m·Q − 1; it would also hit a held-out
    period P's induction targets (offsets n·P − 1) whenever m·Q = n·P < seq_len. Excluding such Q (e.g. 3 and 6 for a
    held-out 9 at seq_len 23; none for the primes 17–29 at seq_len 64) keeps the held-out probe free of trained offsets.
    """
    return [q for q in range(data.repeat_min, data.repeat_max + 1)
            if not any(math.lcm(q, p) < data.seq_len for p in data.heldout_lengths)]


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


def _validate_fv_mix(data: DataConfig, model: ModelConfig) -> None:
    if model.d_vocab < FV_MIN_VOCAB:
        raise WorkbenchError(f"fv-mix needs d_vocab ≥ {FV_MIN_VOCAB} (BOS, {FV_WORDS} inputs, {FV_WORDS} outputs, filler).")
    if not 0 <= data.fv_fraction <= 1:
        raise WorkbenchError(f"fv_fraction must be in [0, 1], got {data.fv_fraction}.")


def modular_train_size(data: DataConfig) -> int:
    """modular-addition: how many of the modulus² pairs are trained on (`circuits.data.modular.split_pairs`)."""
    return round(data.train_fraction * data.modulus**2)


def _validate_modular(data: DataConfig, model: ModelConfig) -> None:
    p = data.modulus
    if not isinstance(p, int) or p < 3 or p % 2 == 0:
        raise WorkbenchError(f"modulus must be an odd integer ≥ 3 (the Fourier analysis pairs cos and sin of each "
                             f"frequency), got {p!r}; Nanda et al. use a prime such as 53, 59 or 113.")
    if model.d_vocab != p + 1:
        raise WorkbenchError(f"modular-addition with modulus={p} needs d_vocab = {p + 1} (numbers 0…{p - 1} and '='), "
                             f"got {model.d_vocab}; set model.d_vocab={p + 1}.")
    if data.seq_len != 3:
        raise WorkbenchError(f"modular-addition inputs are 'a b =' (3 tokens), got seq_len={data.seq_len}; set data.seq_len=3.")
    if not 0 < data.train_fraction < 1 or not 1 <= modular_train_size(data) < p * p:
        raise WorkbenchError(f"train_fraction={data.train_fraction} must leave both a train and a test set of the {p * p} "
                             f"pairs; use a value in (0, 1), e.g. 0.4.")


def _validate_modular_batch(data: DataConfig, train: TrainConfig) -> None:
    n_train = modular_train_size(data)
    if train.batch_size > n_train:
        raise WorkbenchError(f"batch_size={train.batch_size} exceeds the {n_train} training pairs (modulus={data.modulus}, "
                             f"train_fraction={data.train_fraction}); set train.batch_size={n_train} for full-batch training.")

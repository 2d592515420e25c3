"""Frozen dataclass configs and their JSON form.

A run is fully described by a `RunConfig` (model + data + training); it is saved as `config.json` beside the
weights, and a run directory refuses to be reused with a different config.

`RunConfig.validate()` checks every section, the data generator's constraints included, from the config alone:
this module imports nothing else of the package but the leaves `circuits.model.clamp` and `circuits.data.configs`
(one config per data generator), so the package's import graph stays acyclic.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from circuits.data.configs import DataConfig, RepeatsData, data_from_dict
from circuits.errors import WorkbenchError
from circuits.model.clamp import Clamp, clamps_from_json, validate_clamps

NORMALIZATIONS = (None, "LN")
POSITIONALS = ("standard", "rotary")
ACTIVATIONS = ("gelu", "gelu_new", "relu", "silu")
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
    """Everything that determines a run: same RunConfig ⇒ same checkpoints. `name` names the run (its folder)."""

    name: str
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=RepeatsData)  # one generator's config (circuits.data.configs)
    train: TrainConfig = field(default_factory=TrainConfig)
    clamps: tuple[Clamp, ...] = ()  # interventions during training and probing (circuits.model.clamp; Singh et al. 2024)

    def validate(self) -> None:
        self.model.validate()
        self.train.validate()
        self.data.validate(self.model)
        self.data.validate_training(self.train)
        validate_clamps(self.clamps, self.model, self.train.steps)

    def to_json(self) -> str:
        raw = dataclasses.asdict(self) | {"data": self.data.to_dict()}
        if not self.clamps:  # an unclamped run's config.json has no clamps key
            del raw["clamps"]
        return json.dumps(raw, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        """A run's config.json, also in the older forms (the run's name under "preset"; one merged data section)."""
        raw = json.loads(text)
        if "name" in raw and "preset" in raw:
            raise WorkbenchError('config.json has both "name" and "preset" (the run\'s name, in its old key); keep "name".')
        return cls(
            name=raw["name"] if "name" in raw else raw["preset"],
            model=_build(ModelConfig, raw["model"]),
            data=data_from_dict(raw["data"]),
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

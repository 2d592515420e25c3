"""Config builders for tests (SAELens style): small, valid configs with keyword overrides."""
from __future__ import annotations

from circuits.config import ModelConfig, RunConfig, TrainConfig
from circuits.data.configs import DataConfig, data_class, field_names


def tiny_model(**overrides) -> ModelConfig:
    base = dict(n_layers=2, d_model=16, n_heads=2, n_ctx=32, d_vocab=32)
    return ModelConfig(**{**base, **overrides})


def tiny_data(name: str = "repeated-tokens", **overrides) -> DataConfig:
    """A small config of generator `name`: the repeats defaults below where the generator has those fields."""
    cls = data_class(name)
    base = {k: v for k, v in dict(seq_len=32, repeat_min=3, repeat_max=12, heldout_lengths=(5, 9)).items() if k in field_names(cls)}
    return cls(**{**base, **overrides})


def tiny_train(**overrides) -> TrainConfig:
    base = dict(steps=60, batch_size=8, lr=1e-2, warmup_steps=4, eval_every=12, eval_batch_size=8, n_checkpoints=6)
    return TrainConfig(**{**base, **overrides})


def tiny_config(model: dict | None = None, data: dict | None = None, train: dict | None = None, name: str = "tiny") -> RunConfig:
    return RunConfig(name=name, model=tiny_model(**(model or {})), data=tiny_data(**(data or {})), train=tiny_train(**(train or {})))

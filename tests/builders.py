"""Config builders for tests (SAELens style): small, valid configs with keyword overrides."""
from __future__ import annotations

from circuits.config import DataConfig, ModelConfig, RunConfig, TrainConfig


def tiny_model(**overrides) -> ModelConfig:
    base = dict(n_layers=2, d_model=16, n_heads=2, n_ctx=32, d_vocab=32)
    return ModelConfig(**{**base, **overrides})


def tiny_data(**overrides) -> DataConfig:
    base = dict(seq_len=32, repeat_min=3, repeat_max=12, heldout_lengths=(5, 9))
    return DataConfig(**{**base, **overrides})


def tiny_train(**overrides) -> TrainConfig:
    base = dict(steps=60, batch_size=8, lr=1e-2, warmup_steps=4, eval_every=12, eval_batch_size=8, n_checkpoints=6)
    return TrainConfig(**{**base, **overrides})


def tiny_config(model: dict | None = None, data: dict | None = None, train: dict | None = None, preset: str = "tiny") -> RunConfig:
    return RunConfig(preset=preset, model=tiny_model(**(model or {})), data=tiny_data(**(data or {})), train=tiny_train(**(train or {})))

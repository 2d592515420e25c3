"""One checkpoint, loaded once, handing each probe what it needs — and the sources checkpoints come from.

`Checkpoint` reads the weights once; the TransformerBridge (for attention patterns), our FastTransformer and the
intervention engine (`probes.engine.interventions`) are built from them on first use and then shared by every probe of that
checkpoint. A `RunSource` serves the checkpoints of one of our runs; `probes.engine.hf_source.HFSource` serves a series of
local Hugging Face checkpoints. Both put their analysis under `source.path / analysis`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from circuits.config import ModelConfig, RunConfig
from circuits.store.runs import RunStore
from probes.engine.clamped import clamped_bridge, is_clamped
from probes.engine.interventions import Engine, FastEngine, HookEngine


@dataclass(frozen=True)
class ModelFacts:
    """What probes need to know about a model, whatever its origin. `native`: one of ours (a `ModelConfig`
    describes it exactly, so the weight probes and the fast engine apply)."""

    n_layers: int
    n_heads: int
    d_model: int
    d_head: int
    n_ctx: int
    d_vocab: int
    bos: int = 0
    native: bool = True
    architecture: str = "native"

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> ModelFacts:
        return cls(cfg.n_layers, cfg.n_heads, cfg.d_model, cfg.d_head, cfg.n_ctx, cfg.d_vocab)


class Checkpoint:
    """One checkpoint: its step, facts and weights (read once), and lazily its bridge, fast model and engine."""

    def __init__(self, step: int, facts: ModelFacts, *, config: RunConfig | None = None,
                 state: dict[str, Tensor] | None = None, bridge: Any = None, device: str | torch.device = "cpu",
                 source: CheckpointSource | None = None):
        self.step, self.facts, self.config, self.state, self.device = step, facts, config, state, torch.device(device)
        self.source = source  # the source it came from, for probes that read another checkpoint of the run (grokking)
        self.rows: dict[str, list[dict]] = {}  # this checkpoint's rows of the probes already run (what a probe `needs`)
        if bridge is not None:
            self.__dict__["bridge"] = bridge
        if config is None and bridge is None:
            raise ValueError("a Checkpoint needs a run config (with its state dict) or a bridge")

    @classmethod
    def native(cls, config: RunConfig, state: dict[str, Tensor], step: int = 0) -> Checkpoint:
        """A checkpoint of one of our models from its config and native state dict."""
        return cls(step, ModelFacts.from_config(config.model), config=config, state=state)

    @functools.cached_property
    def bridge(self) -> Any:
        """The checkpoint as a TransformerLens `TransformerBridge` (eval mode) on the checkpoint's device."""
        from circuits.model.transformer import build_bridge

        bridge = build_bridge(self.config.model, self.state)
        bridge = bridge if self.device.type == "cpu" else bridge.to(self.device)
        return clamped_bridge(bridge, self.config, self.step, self.device) if self.clamped else bridge

    @property
    def clamped(self) -> bool:
        """A clamp of the run (`circuits.model.clamp`) is in force at this step: the bridge carries it as hooks
        (`probes.engine.clamped`) and the fast model as seam edits."""
        return is_clamped(self.config, self.step)

    @functools.cached_property
    def fast(self) -> Any:
        """Our `FastTransformer` of this checkpoint (eval mode), carrying the run's clamps in force at this step."""
        from circuits.model.transformer import FastTransformer
        from circuits.training.trainer import clamp_set

        fast = FastTransformer(self.config.model, self.state).to(self.device).eval()
        if self.clamped:
            fast.clamps = clamp_set(self.config, self.device, self.step)
        return fast

    @functools.cached_property
    def engine(self) -> Engine:
        """The intervention engine: the fast one on our own models (clamped or not: it applies the clamps as seam
        edits), the hook engine on any other bridge."""
        return FastEngine(self.fast) if self.config is not None else HookEngine(self.bridge)


@runtime_checkable
class CheckpointSource(Protocol):
    """Where checkpoints come from: a run directory, or a series of Hugging Face folders."""

    path: Path
    config: RunConfig | None
    facts: ModelFacts

    def steps(self) -> list[int]: ...

    def tokens(self, step: int) -> int | None: ...

    def load(self, step: int, device: str | torch.device = "cpu") -> Checkpoint: ...

    def metrics(self) -> list[dict[str, Any]]: ...


class RunSource:
    """The checkpoints of one of our runs (a `circuits.store.runs.RunStore`)."""

    def __init__(self, store: RunStore):
        self.store, self.path, self.config = store, store.path, store.config()
        self.facts = ModelFacts.from_config(self.config.model)

    def steps(self) -> list[int]:
        return self.store.require_steps()

    def tokens(self, step: int) -> int | None:
        return self.store.state(step)["tokens"]

    def load(self, step: int, device: str | torch.device = "cpu") -> Checkpoint:
        state = {k: v.to(device) for k, v in self.store.load_weights(step).items()}
        return Checkpoint(step, self.facts, config=self.config, state=state, device=device, source=self)

    def metrics(self) -> list[dict[str, Any]]:
        return self.store.metrics()

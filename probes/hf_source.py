"""A series of local Hugging Face checkpoints (GPT-2, GPT-NeoX/Pythia revisions) as a checkpoint source.

`HFSource(paths, out)` discovers the revisions (`circuits.hf.discover_revisions`: a number in each folder's name is
its step), loads each one offline into a TransformerBridge when a probe needs it, and keeps its analysis under
OUT/analysis (OUT defaults to the folder holding the revisions). OUT/hf_source.json records the revision folders,
so `icl-workbench report OUT` works later without naming them again. Probes run through activations and hooks only
(the hook intervention engine), in the model's own vocabulary (`probes.inputs.ProbeInputs.for_model`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from circuits.errors import WorkbenchError
from circuits.hf import Revision, discover_revisions, hf_model_facts, load_hf_bridge
from circuits.store import atomic_write_text
from probes.checkpoint import Checkpoint, ModelFacts

SOURCE_FILE = "hf_source.json"


def default_out(paths: list[Path]) -> Path:
    """One folder holding revision folders: that folder; several model folders: their common parent."""
    if len(paths) == 1 and not (paths[0] / "config.json").is_file():
        return paths[0]
    parents = {p.resolve().parent for p in paths}
    return parents.pop() if len(parents) == 1 else Path(paths[0]).resolve().parent


class HFSource:
    """The checkpoints of a local Hugging Face series, loaded one at a time (the first is kept for its facts)."""

    config = None

    def __init__(self, paths: list[Path | str], out: Path | str | None = None):
        paths = [Path(p) for p in paths]
        self.revisions: list[Revision] = discover_revisions(paths)
        self.path = Path(out) if out is not None else default_out(paths)
        self._first = load_hf_bridge(self.revisions[0].path)
        hf = hf_model_facts(self._first)
        self.facts = ModelFacts(hf.n_layers, hf.n_heads, hf.d_model, hf.d_head, hf.n_ctx, hf.d_vocab,
                                bos=hf.bos_token_id, native=False, architecture=hf.model_type)
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path / SOURCE_FILE, json.dumps({"revisions": [str(r.path.resolve()) for r in self.revisions]}, indent=2))

    @classmethod
    def reopen(cls, out: Path) -> HFSource:
        """The source an earlier `analyze --hf … --out OUT` recorded in OUT."""
        file = Path(out) / SOURCE_FILE
        if not file.is_file():
            raise WorkbenchError(f"{out} holds no {SOURCE_FILE}; analyze the checkpoints first with `icl-workbench analyze --hf DIR … --out {out}`.")
        return cls(json.loads(file.read_text())["revisions"], out)

    def steps(self) -> list[int]:
        return [r.step for r in self.revisions]

    def tokens(self, step: int) -> int | None:
        return None  # a Hugging Face folder does not record tokens seen

    def load(self, step: int, device: str | torch.device = "cpu") -> Checkpoint:
        revision = next(r for r in self.revisions if r.step == step)
        first = revision is self.revisions[0] and torch.device(device).type == "cpu"
        bridge = self._first if first else load_hf_bridge(revision.path, device)
        return Checkpoint(step, self.facts, bridge=bridge, device=device)

    def metrics(self) -> list[dict[str, Any]]:
        return []  # no training log: the report's training panel stays empty


def is_hf_analysis(path: Path) -> bool:
    return (Path(path) / SOURCE_FILE).is_file()

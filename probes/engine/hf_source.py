"""A series of local Hugging Face checkpoints (GPT-2, GPT-NeoX/Pythia revisions) as a checkpoint source.

`HFSource(paths, out)` discovers the revisions (`circuits.model.hf.discover_revisions`: a number in each folder's name is
its step), loads each one offline into a TransformerBridge when a probe needs it, and keeps its analysis under
OUT/analysis (OUT defaults to the folder given). OUT/hf_source.json records the revision folders, their weight
files (size, mtime) and the model's facts, so `icl-workbench report OUT` works later without naming them again and
without loading a model, and a second series is never analyzed into the same OUT (its cached results would mix). Probes run through activations and hooks only
(the hook intervention engine), in the model's own vocabulary (`probes.engine.inputs.ProbeInputs.for_model`).
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from circuits.errors import WorkbenchError
from circuits.model.hf import Revision, discover_revisions, hf_model_facts, load_hf_bridge, weight_files
from circuits.store.files import ANALYSIS_DIR, HF_SOURCE_FILE
from circuits.store.runs import atomic_write_text
from probes.engine.checkpoint import Checkpoint, ModelFacts


def default_out(paths: list[Path]) -> Path:
    """One folder holding revision folders, or one model folder: that folder; several model folders: their common
    parent."""
    if len(paths) == 1:
        return paths[0]
    parents = {p.resolve().parent for p in paths}
    return parents.pop() if len(parents) == 1 else Path(paths[0]).resolve().parent


def fingerprint(revisions: list[Revision]) -> list[dict[str, Any]]:
    """Each revision's step, folder and weight files (name, size, mtime): what the cached probe results belong to."""
    return [{"step": r.step, "path": str(r.path.resolve()),
             "weights": [[f.name, f.stat().st_size, int(f.stat().st_mtime)] for f in weight_files(r.path)]} for r in revisions]


class HFSource:
    """The checkpoints of a local Hugging Face series, loaded one at a time when a probe needs them."""

    config = None

    def __init__(self, paths: list[Path | str], out: Path | str | None = None):
        paths = [Path(p) for p in paths]
        self.revisions: list[Revision] = discover_revisions(paths)
        self.path = Path(out) if out is not None else default_out(paths)
        record = fingerprint(self.revisions)
        _claim(self.path, record)
        self._first = load_hf_bridge(self.revisions[0].path)
        self.facts = _facts(self._first)
        atomic_write_text(self.path / HF_SOURCE_FILE, json.dumps({"revisions": record, "facts": asdict(self.facts)}, indent=2))

    @classmethod
    def reopen(cls, out: Path) -> HFSource:
        """The source an earlier `analyze --hf … --out OUT` recorded in OUT, for reading its table (no model is
        loaded unless a probe asks for a checkpoint)."""
        file = Path(out) / HF_SOURCE_FILE
        if not file.is_file():
            raise WorkbenchError(f"{out} holds no {HF_SOURCE_FILE}; analyze the checkpoints first with `icl-workbench analyze --hf DIR … --out {out}`.")
        saved = json.loads(file.read_text())
        source = cls.__new__(cls)
        source.path, source._first = Path(out), None
        source.revisions = [Revision(r["step"], Path(r["path"])) for r in saved["revisions"]]
        source.facts = ModelFacts(**saved["facts"])
        return source

    def steps(self) -> list[int]:
        return [r.step for r in self.revisions]

    def tokens(self, step: int) -> int | None:
        return None  # a Hugging Face folder does not record tokens seen

    def load(self, step: int, device: str | torch.device = "cpu") -> Checkpoint:
        revision = next(r for r in self.revisions if r.step == step)
        first = revision is self.revisions[0] and self._first is not None and torch.device(device).type == "cpu"
        bridge = self._first if first else load_hf_bridge(revision.path, device)
        return Checkpoint(step, self.facts, bridge=bridge, device=device)

    def metrics(self) -> list[dict[str, Any]]:
        return []  # no training log: the report's training panel stays empty


def _facts(bridge: Any) -> ModelFacts:
    hf = hf_model_facts(bridge)
    return ModelFacts(hf.n_layers, hf.n_heads, hf.d_model, hf.d_head, hf.n_ctx, hf.d_vocab,
                      bos=hf.bos_token_id, native=False, architecture=hf.model_type)


def _claim(out: Path, record: list[dict[str, Any]]) -> None:
    """OUT keeps the analysis of one series: another series (or changed weight files) there is refused, so cached
    probe results (keyed by step) never mix two models."""
    file = out / HF_SOURCE_FILE
    if file.is_file() and json.loads(file.read_text())["revisions"] != record:
        raise WorkbenchError(f"{out} holds the analysis of other checkpoints (or their weight files changed since); "
                             f"pass another --out, or delete {out / HF_SOURCE_FILE} and {out / ANALYSIS_DIR} to start over.")
    out.mkdir(parents=True, exist_ok=True)


def is_hf_analysis(path: Path) -> bool:
    return (Path(path) / HF_SOURCE_FILE).is_file()

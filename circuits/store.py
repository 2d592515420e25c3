"""The checkpoint store: one directory per run, safetensors + JSON, every write atomic.

Layout (file names defined here and nowhere else):
    RUN/config.json                 the RunConfig
    RUN/metrics.jsonl               one JSON object per evaluation
    RUN/steps/step_000123/          one folder per checkpoint, renamed into place only once complete:
        model.safetensors           the TransformerLens native state dict
        optimizer.pt                AdamW state (tensors and numbers only; loaded with weights_only=True)
        rng.safetensors             the data generator's RNG state
        state.json                  step, tokens seen, losses — written last, the completeness marker
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import torch
from safetensors.torch import load_file, save_file

from circuits.config import RunConfig
from circuits.errors import WorkbenchError

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
STEPS_DIR = "steps"
ANALYSIS_DIR = "analysis"
REPORT_FILE = "report.html"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
RNG_FILE = "rng.safetensors"
STATE_FILE = "state.json"
CHECKPOINT_FILES = (MODEL_FILE, OPTIMIZER_FILE, RNG_FILE, STATE_FILE)
logger = logging.getLogger(__name__)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` via a temp file in the same folder and an atomic rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def step_dirname(step: int) -> str:
    return f"step_{step:06d}"


class RunStore:
    """A run directory. `RunStore(path)` opens it; `create` makes or re-opens one for a config."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # ----- the run -------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, config: RunConfig) -> "RunStore":
        """Make a run directory for `config`, or re-open one that holds the very same config."""
        store = cls(path)
        store.path.mkdir(parents=True, exist_ok=True)
        (store.path / STEPS_DIR).mkdir(exist_ok=True)
        existing = store.path / CONFIG_FILE
        if not existing.exists():
            atomic_write_text(existing, config.to_json())
        elif store.config() != config:
            raise WorkbenchError(
                f"{store.path} holds a run with a different config; pick a new --out directory "
                f"(or delete {store.path} to discard that run)."
            )
        return store

    def config(self) -> RunConfig:
        file = self.path / CONFIG_FILE
        if not file.is_file():
            raise WorkbenchError(f"{self.path} is not a run directory (no {CONFIG_FILE}); train one with `icl-workbench train`.")
        try:
            return RunConfig.from_json(file.read_text())
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise WorkbenchError(f"{file} is malformed ({exc}); restore it or retrain the run.") from exc

    # ----- checkpoints ---------------------------------------------------------------------------------------
    def steps(self) -> list[int]:
        """Steps of the checkpoints, ascending. In-progress writes (hidden temp folders) are not listed; a visible
        checkpoint folder with a missing file is damage, and raises."""
        folder = self.path / STEPS_DIR
        found = []
        for child in sorted(folder.glob("step_*")) if folder.is_dir() else []:
            missing = [name for name in CHECKPOINT_FILES if not (child / name).is_file()]
            if missing:
                raise WorkbenchError(
                    f"checkpoint {child} is incomplete (missing {', '.join(missing)}); delete that folder — "
                    f"training resumes from the checkpoint before it."
                )
            found.append(int(child.name.split("_")[1]))
        return found

    def require_steps(self) -> list[int]:
        steps = self.steps()
        if not steps:
            raise WorkbenchError(f"run {self.path} has no complete checkpoints; train it first (`icl-workbench train`).")
        return steps

    def checkpoint_dir(self, step: int) -> Path:
        return self.path / STEPS_DIR / step_dirname(step)

    def _existing_checkpoint(self, step: int) -> Path:
        folder = self.checkpoint_dir(step)
        if not all((folder / name).is_file() for name in CHECKPOINT_FILES):
            have = self.steps()
            raise WorkbenchError(f"run {self.path} has no complete checkpoint at step {step}; available steps: {have[:5]}{'…' if len(have) > 5 else ''} (last {have[-1] if have else 'none'}).")
        return folder

    def save_checkpoint(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, Any],
                        rng: torch.Tensor, state: dict[str, Any]) -> Path:
        """Write a checkpoint folder under a temp name, then rename it into place (never overwrites)."""
        final = self.checkpoint_dir(step)
        if final.exists():
            raise WorkbenchError(f"checkpoint {final} already exists; refusing to overwrite it.")
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
        save_file({k: v.detach().contiguous() for k, v in weights.items()}, tmp / MODEL_FILE)
        torch.save(optimizer, tmp / OPTIMIZER_FILE)
        save_file({"data_rng": rng}, tmp / RNG_FILE)
        (tmp / STATE_FILE).write_text(json.dumps({"step": step, **state}, indent=2))
        os.replace(tmp, final)
        return final

    def load_weights(self, step: int) -> dict[str, torch.Tensor]:
        return self._read(self._existing_checkpoint(step) / MODEL_FILE, load_file)

    def load_training_state(self, step: int) -> tuple[dict[str, Any], torch.Tensor, dict[str, Any]]:
        """(optimizer state, data RNG state, state.json) of a checkpoint, for resuming."""
        folder = self._existing_checkpoint(step)
        optimizer = self._read(folder / OPTIMIZER_FILE, lambda p: torch.load(p, weights_only=True))
        rng = self._read(folder / RNG_FILE, load_file)["data_rng"]
        return optimizer, rng, self.state(step)

    def state(self, step: int) -> dict[str, Any]:
        return self._read(self._existing_checkpoint(step) / STATE_FILE, lambda p: json.loads(p.read_text()))

    def _read(self, file: Path, reader) -> Any:
        try:
            return reader(file)
        except Exception as exc:  # safetensors, torch and json raise different types for a damaged file
            raise WorkbenchError(f"checkpoint file {file} is corrupt ({type(exc).__name__}); delete its folder {file.parent} and resume training to rewrite it.") from exc

    def load_bridge(self, step: int) -> "TransformerBridge":
        """The checkpoint at `step` as a TransformerLens `TransformerBridge` (eval mode)."""
        from circuits.model import build_bridge

        return build_bridge(self.config().model, self.load_weights(step))

    def iter_bridges(self, steps: list[int] | None = None) -> Iterator[tuple[int, "TransformerBridge"]]:
        """(step, bridge) for every complete checkpoint (or the given steps), ascending."""
        for step in steps if steps is not None else self.require_steps():
            yield step, self.load_bridge(step)

    # ----- metrics -------------------------------------------------------------------------------------------
    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.path / METRICS_FILE, "a") as f:
            f.write(json.dumps(row) + "\n")

    def metrics(self) -> list[dict[str, Any]]:
        file = self.path / METRICS_FILE
        if not file.exists():
            return []
        rows = []
        for line in file.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by an interrupted write
                logger.warning("skipping a damaged line in %s", file)
        return rows

    def truncate_metrics(self, after_step: int) -> None:
        """Drop metric rows past `after_step` (a resumed run rewrites them), atomically."""
        rows = [r for r in self.metrics() if r["step"] <= after_step]
        atomic_write_text(self.path / METRICS_FILE, "".join(json.dumps(r) + "\n" for r in rows))

    def discard_partial(self) -> None:
        """Remove temp folders left by an interrupted checkpoint write (never a complete checkpoint)."""
        for tmp in (self.path / STEPS_DIR).glob(".step_*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)


def runs_root() -> Path:
    """Where runs live: $ICL_WORKBENCH_ROOT, else ./checkpoints (notebooks and tests point the variable at a shared store)."""
    return Path(os.environ.get("ICL_WORKBENCH_ROOT", "checkpoints"))


def list_runs(root: str | Path) -> list[RunStore]:
    """Every run directory directly below `root`."""
    root = Path(root)
    return [RunStore(p) for p in sorted(root.iterdir()) if (p / CONFIG_FILE).is_file()] if root.is_dir() else []

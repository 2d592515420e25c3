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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_file

from circuits.config import RunConfig
from circuits.errors import WorkbenchError
from circuits.store.files import CHECKPOINT_FILES, CONFIG_FILE, METRICS_FILE, MODEL_FILE, OPTIMIZER_FILE, RNG_FILE, STATE_FILE, STEPS_DIR, step_dirname

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge

logger = logging.getLogger(__name__)


def _read_umask() -> int:
    """The process umask (os.umask can only be read by setting it: set and restore at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()  # read once, at import; files and folders the store creates get these permissions


def file_mode() -> int:
    """Permission bits of a new file under the user's umask (0o644 under umask 022)."""
    return 0o666 & ~UMASK


def dir_mode() -> int:
    """Permission bits of a new folder under the user's umask (0o755 under umask 022)."""
    return 0o777 & ~UMASK


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` via a temp file in the same folder and an atomic rename. The file gets the usual
    permissions of the user's umask (mkstemp alone would leave it 0600)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, file_mode())
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _apply_umask(folder: Path) -> None:
    """Give a finished temp folder and its files the umask's permissions: mkdtemp makes the folder 0700 and
    safetensors writes its files 0600, whatever the umask."""
    for file in folder.iterdir():
        os.chmod(file, file_mode())
    os.chmod(folder, dir_mode())



class RunStore:
    """A run directory. `RunStore(path)` opens it; `create` makes or re-opens one for a config."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # ----- the run -------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, config: RunConfig) -> RunStore:
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
            text = file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkbenchError(f"{file} is unreadable ({type(exc).__name__}); fix its permissions or restore it.") from exc
        try:
            return RunConfig.from_json(text)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise WorkbenchError(f"{file} is malformed ({type(exc).__name__}: {exc}); restore it or retrain the run.") from exc

    # ----- checkpoints ---------------------------------------------------------------------------------------
    def steps(self) -> list[int]:
        """Steps of the checkpoints, ascending. In-progress writes (hidden temp folders) are not listed; a visible
        checkpoint folder with a missing file is damage, and raises."""
        found, incomplete = self.scan_steps()
        if incomplete:
            child, missing = incomplete[0]
            raise WorkbenchError(
                f"checkpoint {child} is incomplete (missing {', '.join(missing)}); delete that folder — "
                f"training resumes from the checkpoint before it."
            )
        return found

    def scan_steps(self) -> tuple[list[int], list[tuple[Path, list[str]]]]:
        """(steps of the complete checkpoints, [(incomplete checkpoint folder, its missing files)]), never raising."""
        folder = self.path / STEPS_DIR
        found, incomplete = [], []
        for child in sorted(folder.glob("step_*")) if folder.is_dir() else []:
            missing = [name for name in CHECKPOINT_FILES if not (child / name).is_file()]
            if missing:
                incomplete.append((child, missing))
            else:
                found.append(int(child.name.split("_")[1]))
        return found, incomplete

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
            more = "…" if len(have) > 5 else ""
            raise WorkbenchError(f"run {self.path} has no complete checkpoint at step {step}; available steps: {have[:5]}{more} "
                                 f"(last {have[-1] if have else 'none'}).")
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
        _apply_umask(tmp)
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
            raise WorkbenchError(f"checkpoint file {file} is corrupt ({type(exc).__name__}); delete its folder {file.parent} "
                                 f"and resume training to rewrite it.") from exc

    def load_bridge(self, step: int) -> TransformerBridge:
        """The checkpoint at `step` as a TransformerLens `TransformerBridge` (eval mode)."""
        from circuits.model.transformer import build_bridge

        return build_bridge(self.config().model, self.load_weights(step))

    def iter_bridges(self, steps: list[int] | None = None) -> Iterator[tuple[int, TransformerBridge]]:
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


@dataclass(frozen=True)
class RunListing:
    """One run folder under a root, as `list_runs` found it. `problem` says what is wrong with it and how to fix
    it (None for a healthy run); `store` is None when its config.json cannot be read."""

    path: Path
    store: RunStore | None
    problem: str | None
    name: str | None  # the run's name (RunConfig.name)
    steps: tuple[int, ...]  # complete checkpoints, ascending
    last_metrics: dict[str, Any] | None

    @property
    def n_checkpoints(self) -> int:
        return len(self.steps)

    @property
    def last_step(self) -> int | None:
        return self.steps[-1] if self.steps else None

    def summary(self) -> str:
        """One tab-separated line: path, run name, checkpoints, last losses (or the problem)."""
        last = self.last_metrics or {}
        losses = ", ".join(f"{k} {last[k]:.3f}" for k in ("eval/loss", "eval/repeat_loss")
                           if isinstance(last.get(k), (int, float)))
        counts = f"{self.n_checkpoints} checkpoints, last step {self.last_step if self.steps else '-'}"
        tail = f"PROBLEM: {self.problem}" if self.problem else (losses or "no metrics")
        return f"{self.path}\t{self.name or '?'}\t{counts}\t{tail}"


def list_runs(root: str | Path) -> list[RunListing]:
    """Every run folder directly below `root` (a folder holding config.json), healthy or not, by name. A damaged
    run is listed with its `problem` instead of stopping the listing."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [_listing(p) for p in sorted(root.iterdir()) if (p / CONFIG_FILE).is_file()]


def _listing(path: Path) -> RunListing:
    store = RunStore(path)
    try:
        name = store.config().name
    except WorkbenchError as exc:
        return RunListing(path, None, str(exc), None, (), None)
    steps, incomplete = store.scan_steps()
    problems = [f"checkpoint {folder.name} is incomplete (missing {', '.join(missing)}); delete that folder — "
                f"training resumes from the checkpoint before it" for folder, missing in incomplete]
    last, metrics_problem = _last_metrics(store)
    problem = "; ".join(problems + ([metrics_problem] if metrics_problem else [])) or None
    return RunListing(path, store, problem, name, tuple(steps), last)


def _last_metrics(store: RunStore) -> tuple[dict[str, Any] | None, str | None]:
    """(last metrics row or None, problem or None)."""
    file = store.path / METRICS_FILE
    try:
        rows = store.metrics()
    except (OSError, UnicodeDecodeError) as exc:
        return None, (f"{file} is unreadable ({type(exc).__name__}); restore it or fix its permissions — "
                      f"the checkpoints do not depend on it")
    if rows and not isinstance(rows[-1], dict):
        return None, f"{file} ends with a row that is not a JSON object; delete that line (training appends rows)"
    return (rows[-1] if rows else None), None

"""Where training runs: `resolve_device("auto" | "cpu" | "cuda" | "cuda:N")` → a `torch.device`, or one clear error.

Only the model, optimizer, batches and evaluation move to the device; the data generator stays on the CPU (so a
seed gives the same data stream everywhere) and checkpoints are saved from CPU copies (so any run loads on a CPU).
"""
from __future__ import annotations

import re

import torch

from circuits.errors import WorkbenchError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch device for a --device value: "auto" is CUDA when available, else the CPU."""
    spec = str(name).strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", spec)
    if match is None:
        raise WorkbenchError(f"unknown device {name!r}; use one of {', '.join(DEVICE_CHOICES)}.")
    return _cuda(int(match.group(1)) if match.group(1) is not None else None)


def _cuda(index: int | None) -> torch.device:
    if not torch.cuda.is_available():
        raise WorkbenchError(
            "CUDA is not available on this machine (torch.cuda.is_available() is False); use --device cpu or auto."
        )
    count = torch.cuda.device_count()
    if index is not None and index >= count:
        raise WorkbenchError(f"device cuda:{index} does not exist ({count} CUDA device(s): cuda:0…cuda:{count - 1}); "
                             f"use --device cuda:0 or auto.")
    return torch.device("cuda" if index is None else f"cuda:{index}")

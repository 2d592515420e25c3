"""The tidy table every probe fills: rows {step, tokens, layer, head, probe, metric, value}.

Metric names are flat `probe`-scoped keys (`induction`, `induction/raw`, `mean/icl_score`, `k_composition/from/0.2`,
devinterp style); model-level metrics have layer = head = None; pair metrics name the sender in the metric and sit
on the receiving head's row. The table is JSON lines; this module reads, writes and selects rows and runs no model.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jaxtyping import Float
from torch import Tensor

from circuits.errors import WorkbenchError
from circuits.store.runs import atomic_write_text

Row = dict[str, Any]


def head_rows(probe: str, metric: str, scores: Float[Tensor, "n_layers n_heads"]) -> list[Row]:
    return [
        {"layer": layer, "head": head, "probe": probe, "metric": metric, "value": float(scores[layer, head])}
        for layer in range(scores.shape[0]) for head in range(scores.shape[1])
    ]


def model_row(probe: str, metric: str, value: float | Tensor) -> Row:
    return {"layer": None, "head": None, "probe": probe, "metric": metric, "value": float(value)}


def read_rows(file: Path) -> list[Row]:
    return [json.loads(line) for line in file.read_text().splitlines() if line]


def write_rows(file: Path, rows: list[Row]) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(file, "".join(json.dumps(r) + "\n" for r in rows))


def read_table(file: Path, run: Path) -> list[Row]:
    """A saved sweep table (`icl-workbench analyze RUN` writes it)."""
    if not file.exists():
        raise WorkbenchError(f"{run} has no probe table yet; run `icl-workbench analyze {run}` first.")
    return read_rows(file)


def select(table: list[Row], probe: str, metric: str) -> dict[tuple[Any, Any], list[tuple[int, float]]]:
    """{(layer, head): [(step, value), …]} for one metric, steps ascending."""
    out: dict[tuple[Any, Any], list[tuple[int, float]]] = {}
    for row in table:
        if row["probe"] == probe and row["metric"] == metric:
            out.setdefault((row["layer"], row["head"]), []).append((row["step"], row["value"]))
    return {key: sorted(points) for key, points in out.items()}


def has_probe(table: list[Row], probe: str) -> bool:
    return any(row["probe"] == probe for row in table)

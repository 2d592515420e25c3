"""The exercise cells of a notebook, and the notebook with its solutions filled in.

An exercise cell is a code cell whose first line is `# exercise K: NAME` (K as "1.1"); it defines NAME as a stub
that raises `NotImplementedError`, and a later cell calls `check("NAME", NAME)` (`probes.teaching.checks`). The
solutions are functions of the same names in `notebooks/solutions/<notebook>.py`: filling a notebook replaces each
exercise cell's body with its solution's source (CI executes the notebooks that way; `notebooks export --solutions`
writes those hand-outs).
"""
from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass
from pathlib import Path

from circuits.errors import WorkbenchError

EXERCISE_LINE = re.compile(r"^# exercise (\d+\.\d+): (\w+)\s*$")
SOLUTIONS_DIR = "solutions"  # beside the notebooks


@dataclass(frozen=True)
class ExerciseCell:
    index: int  # the cell's position in the notebook
    key: str
    name: str


def exercise_cells(notebook) -> list[ExerciseCell]:
    """Every exercise cell of a notebook (an nbformat node), in order."""
    found = []
    for index, cell in enumerate(notebook.cells):
        match = EXERCISE_LINE.match(cell.source.split("\n", 1)[0]) if cell.cell_type == "code" else None
        if match:
            found.append(ExerciseCell(index, match.group(1), match.group(2)))
    return found


def solutions_path(notebook_path: Path) -> Path:
    return notebook_path.parent / SOLUTIONS_DIR / notebook_path.name


def solution_sources(path: Path) -> dict[str, str]:
    """Top-level function sources of a solutions module, by name (read as text: nothing is imported)."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    return {node.name: ast.get_source_segment(text, node) for node in tree.body if isinstance(node, ast.FunctionDef)}


def with_solutions(notebook, notebook_path: Path):
    """A copy of `notebook` whose exercise cells hold their solutions (the stubs stay in the original)."""
    cells = exercise_cells(notebook)
    if not cells:
        return notebook
    path = solutions_path(notebook_path)
    if not path.exists():
        raise WorkbenchError(f"{notebook_path.name} has exercises but no solutions file {path}; write it beside the notebook")
    sources = solution_sources(path)
    missing = [c.name for c in cells if c.name not in sources]
    if missing:
        raise WorkbenchError(f"{path} has no solution for {missing}; add a function of that name")
    filled = copy.deepcopy(notebook)
    for cell in cells:
        filled.cells[cell.index].source = f"# exercise {cell.key}: {cell.name} (solution)\n{sources[cell.name]}"
    return filled

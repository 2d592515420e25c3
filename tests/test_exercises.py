"""The notebooks' exercises: each solution passes its check, each check catches plausible wrong answers, and each
stub raises a NotImplementedError that names its exercise (issue: notebooks that teach)."""
import importlib.util
from pathlib import Path

import jupytext
import pytest

from probes.teaching.checks import EXERCISES, ExerciseMismatch, check
from probes.teaching.exercises import exercise_cells, solutions_path, with_solutions

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions" / "01_induction_phase_change.py"


def _solutions():
    spec = importlib.util.spec_from_file_location("solutions01", SOLUTIONS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_solution_passes_its_check():
    module = _solutions()
    for name in EXERCISES:
        assert check(name, getattr(module, name)).startswith("✓")


def _wrong(module):
    import torch

    def off_by_one_previous(p, t):  # attends two back
        return p.diagonal(offset=-2, dim1=-2, dim2=-1).mean(dim=(1, 3))

    def all_rows_previous(p, t):  # row 0 counted (it has no previous token)
        return p.diagonal(offset=-1, dim1=-2, dim2=-1).sum(-1).mean(1) / p.shape[-1]

    def duplicate_not_induction(p, t):  # the key of the earlier occurrence, not the one after it
        from probes.measures.detectors import duplicate_token_score
        return duplicate_token_score(p, t)

    return {"previous_token_score": [off_by_one_previous, all_rows_previous,
                                     lambda p, t: module.previous_token_score(p, t).T],
            "induction_score": [duplicate_not_induction, lambda p, t: module.induction_score(p, t).T,
                                lambda p, t: module.induction_score(p, t) + torch.tensor(1e-3)]}


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_each_check_catches_wrong_answers(name):
    for wrong in _wrong(_solutions())[name]:
        with pytest.raises(ExerciseMismatch, match=f"exercise {EXERCISES[name].key} {name}"):
            check(name, wrong)


def test_the_stubs_raise_a_named_not_implemented_error_and_the_solutions_fill_them():
    path = NOTEBOOKS / "01_induction_phase_change.py"
    notebook = jupytext.read(path)
    cells = exercise_cells(notebook)
    assert [c.name for c in cells] == ["previous_token_score", "induction_score"]
    assert solutions_path(path) == SOLUTIONS
    filled = with_solutions(notebook, path)
    for cell in cells:
        namespace = {}
        exec(notebook.cells[cell.index].source, namespace)
        with pytest.raises(NotImplementedError, match=f"exercise {cell.key}"):
            namespace[cell.name](None, None)
        assert "NotImplementedError" not in filled.cells[cell.index].source
        assert f'check("{cell.name}", {cell.name})' in notebook.cells[cell.index + 1].source

"""Fixtures of the attribution claim family (`probes.report.attribution`: attribution patching, Nanda 2023, of Todd
et al. 2024's CIE, arXiv 2310.15213, against the exact AIE).

Evidence: the run's tidy table with the attribution rows.

- `attribution/untrained` (fast): the `fv` preset's initialisation written at three steps (`nulls_fv.untrained_run`):
  every exact AIE is ≈ 0.001, the linearisation is nearly exact, and agreement on such effects says nothing.
- `attribution/trained` (positive, slow): the `fv` preset, every other checkpoint (as tests/test_science_fv.py).
"""
from __future__ import annotations

from pathlib import Path

from nulls import fixture, trained_run
from nulls_fv import fv_table, untrained_run

from circuits.presets import preset

FAMILY = "attribution"


@fixture("attribution/untrained", FAMILY)
def untrained(root: Path) -> list[dict]:
    return fv_table(untrained_run(root), ("attribution",), every_other=False)


@fixture("attribution/trained", FAMILY, slow=True)
def trained(root: Path) -> list[dict]:
    return fv_table(trained_run(root, "fv", preset("fv")), ("attribution",))

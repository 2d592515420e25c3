"""The probe contract: a probe declared in one module (tests/contract/toy_probe.py) is analyzed, cached, followed and
reported with no other file touched."""
from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from circuits.store.files import ANALYSIS_DIR, REPORT_FILE
from circuits.store.runs import RunStore
from probes import registry
from probes.claims import claim as claims


@pytest.fixture
def toy(monkeypatch):
    """Import the toy probe's module (it registers itself); the registries are restored afterwards."""
    monkeypatch.setattr(registry, "PROBES", dict(registry.all_probes()))
    monkeypatch.setattr(claims, "CLAIM_FAMILIES", dict(claims.CLAIM_FAMILIES))
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "contract"))
    sys.modules.pop("toy_probe", None)
    yield importlib.import_module("toy_probe")
    sys.modules.pop("toy_probe", None)


def test_a_probe_in_one_module_is_analyzed_cached_followed_and_reported(toy, tiny_run, tmp_path):
    from probes.report.page import write_report
    from probes.sweep.follow import follow
    from probes.sweep.runner import cache_file, run_sweep

    shutil.copytree(tiny_run.path, tmp_path / "run")
    run = RunStore(tmp_path / "run")
    table = run_sweep(run, progress=False)  # the default sweep picks it up
    assert {r["step"] for r in table if r["probe"] == toy.NAME} == set(run.steps())
    assert all(cache_file(run, s, toy.NAME).exists() for s in run.steps())
    result = follow(run.path, timeout=60.0, poll=0.05, report=False)
    assert result.status == "complete" and toy.NAME in {r["probe"] for r in json_rows(run)}
    page = write_report(run).read_text()
    assert "Toy embedding norm" in page and "embedding norm changes during training" in page
    data = json.loads((run.path / ANALYSIS_DIR / "report_data.json").read_text())
    assert any(c["key"] == f"{toy.NAME}/changes" and c["margin"] is not None for c in data["claims"])
    assert (run.path / REPORT_FILE).exists() and toy.NAME in claims.CLAIM_FAMILIES


def json_rows(run: RunStore) -> list[dict]:
    from probes.sweep.runner import load_table

    return load_table(run)


def test_the_registry_order_does_not_depend_on_which_module_was_imported_first():
    """A probe module imported on its own (writers imports fv) registers at once; the listing still follows
    `BUILTIN_MODULES` and every probe comes after what it needs."""
    import subprocess
    import sys

    code = ("import probes.measures.writers, probes.measures.llc; from probes.registry import all_probes, with_needs; "
            "print(','.join(all_probes())); print(','.join(with_needs(tuple(reversed(list(all_probes()))))))")
    first, needs = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    expected = ["attention", "weights", "icl", "ablation", "induction_controls", "fv", "fv_controls", "attribution",
                "writers", "grokking", "llc", "markov"]
    assert first.split(",") == expected and needs.split(",") == expected

"""Every probe declares its metric names (`ProbeSpec.metrics`): the probes emit only declared names."""
from __future__ import annotations

from probes.registry import all_probes, is_declared
from probes.sweep.runner import run_sweep


def test_every_probe_has_its_metric_names_declared():
    assert all(spec.metrics for spec in all_probes().values())


def test_a_sweep_emits_only_declared_metric_names(tiny_run, tmp_path):
    import shutil

    from circuits.store.runs import RunStore

    shutil.copytree(tiny_run.path, tmp_path / "run")  # the shared tiny run stays unanalyzed for other tests
    table = run_sweep(RunStore(tmp_path / "run"), progress=False)
    undeclared = {(r["probe"], r["metric"]) for r in table if not is_declared(r["probe"], r["metric"])}
    assert not undeclared, sorted(undeclared)[:10]


def test_undeclared_names_are_caught():
    assert not is_declared("attention", "induction_score")
    assert not is_declared("ablation", "gaussian/loss")
    assert not is_declared("nope", "loss")
    assert is_declared("weights", "k_composition/from/0.3") and is_declared("fv", "ablate_fv_excl/icl_score_change")

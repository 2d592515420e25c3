"""The reproduction gallery's verdict rule and pages, on synthetic saved claims (no training: the real entries run
with `icl-workbench reproduce NAME`)."""
import json
import math

import pytest

from circuits.errors import WorkbenchError
from circuits.store.files import ANALYSIS_DIR, GALLERY_ENTRY_FILE, REPORT_DATA_FILE
from circuits.store.runs import RunStore
from probes.gallery.entries import ENTRIES, OLSSON, gallery_entry
from probes.gallery.page import entry_record, write_entry_page, write_index
from probes.gallery.verdict import DOES_NOT, REPRODUCES, UNDECIDED, claim_verdict, entry_verdict


def claim(supported: bool, value: float = 1.0, key: str = "induction/phase_change") -> dict:
    return {"key": key, "statement": "a sudden change", "supported": supported, "value": value, "control": 0.0,
            "sentence": f"{'Supported' if supported else 'Not supported by this run'}: {value}"}


@pytest.mark.parametrize("seeds, control, expected", [
    ([True, True, True], None, REPRODUCES),
    ([True, True, False], None, REPRODUCES),  # ⌈2·3/3⌉ = 2
    ([True, False, False], None, DOES_NOT),  # computed on every seed, supported on 1 ≤ 3 − 2
    ([False, False, False], None, DOES_NOT),
    ([True, True, True], [True, True, False], DOES_NOT),  # the control shows it too: not specific
    ([True, True, True], [True, False, False], REPRODUCES),
    ([True, True], None, UNDECIDED),  # two seeds: no verdict
    ([True, True, True, False, False], None, UNDECIDED),  # 3 of 5 < ⌈10/3⌉ = 4, and 3 > 5 − 4
])
def test_the_verdict_rule(seeds, control, expected):
    ours = [claim(s) for s in seeds]
    theirs = [claim(s) for s in control] if control is not None else None
    assert claim_verdict("induction/phase_change", ours, theirs).verdict == expected


def test_a_featureless_input_never_reproduces():
    """Claims that were not computed (NaN statistics, missing on a seed) give no verdict either way."""
    assert claim_verdict("k", [claim(False, math.nan)] * 3).verdict == UNDECIDED
    assert claim_verdict("k", [None, None, None]).verdict == UNDECIDED
    assert claim_verdict("k", [claim(True), None, None]).verdict == UNDECIDED


def test_every_claim_must_reproduce_and_one_failure_decides():
    r, d, u = (claim_verdict("k", [claim(s)] * 3) for s in (True, False, True))
    assert entry_verdict([r, r]) == REPRODUCES
    u = claim_verdict("k", [claim(True), None, claim(False, math.nan)])
    assert entry_verdict([r, u]) == UNDECIDED and entry_verdict([r, u, d]) == DOES_NOT


def fake_run(path, claims: list[dict]) -> RunStore:
    (path / ANALYSIS_DIR).mkdir(parents=True)
    (path / ANALYSIS_DIR / REPORT_DATA_FILE).write_text(json.dumps({"claims": claims}))
    return RunStore(path)


def test_an_entry_page_states_the_paper_beside_ours_and_the_index_lists_every_entry(tmp_path):
    keys = OLSSON.claims
    runs = [fake_run(tmp_path / f"r{i}", [claim(True, 0.5 + i, k) for k in keys]) for i in range(3)]
    controls = [fake_run(tmp_path / f"c{i}", [claim(False, 0.0, k) for k in keys]) for i in range(3)]
    record = entry_record(OLSSON, runs, controls, 12.0)
    assert record["verdict"] == REPRODUCES and record["claims"][1]["ours"] == "1.50 [0.50–2.50]"
    page = write_entry_page(record, tmp_path / "gallery" / OLSSON.name).read_text()
    assert OLSSON.paper.citation in page and "unverified" in page and "3/3" in page and "0/3" in page
    assert json.loads((tmp_path / "gallery" / OLSSON.name / GALLERY_ENTRY_FILE).read_text())["verdict"] == REPRODUCES
    index = write_index(tmp_path / "gallery").read_text()
    assert all(name in index for name in ENTRIES) and "not run yet" in index and REPRODUCES in index


def test_an_unknown_entry_names_the_list():
    with pytest.raises(WorkbenchError, match="icl-workbench reproduce --list"):
        gallery_entry("olson")


def test_every_entry_carries_its_verdict_on_declared_claims_of_known_presets():
    """An entry can only name claims that have met their nulls (tests/test_conformance.py) and presets that exist."""
    from circuits.presets import PRESETS
    from probes.claims.claim import key_matches, load_families

    declared = [spec.key for family in load_families().values() for spec in family.claims]
    for entry in ENTRIES.values():
        for key in (*entry.claims, *entry.control_claims):
            assert any(key_matches(pattern, key) for pattern in declared), (entry.name, key)
        assert entry.preset in PRESETS and (entry.control is None or entry.control in PRESETS)
        assert entry.baseline is None or entry.baseline in PRESETS
        assert set(entry.control_claims) <= set(entry.claims) and entry.seeds >= 3


def _pair_runs(tmp_path, name: str, curves: list[list[float]]) -> list[RunStore]:
    """Run folders NAME-seedK with a config and a held-out repeat-loss curve each (as the trainer saves them)."""
    from nulls_grid import _write

    from circuits.config import replace
    from circuits.grids.grid import seed_config
    from circuits.presets import preset

    for seed, curve in enumerate(curves):
        _write(tmp_path / f"{name}-seed{seed}", seed_config(replace(preset(name), name=name), seed), curve)
    return [RunStore(tmp_path / f"{name}-seed{seed}") for seed in range(len(curves))]


@pytest.mark.parametrize("clamped_at, control_at, expected", [
    (500, None, REPRODUCES),  # clamped earlier on every seed; the control (flat: censored) supports nothing
    (900, None, DOES_NOT),  # the clamp moved nothing: computed on every seed, supported on none
    (1500, None, DOES_NOT),  # later
    (500, 500, DOES_NOT),  # the null clamp moves it as much: the effect is not specific to the previous-token step
])
def test_a_paired_entry_compares_each_seed_with_its_baseline(tmp_path, clamped_at, control_at, expected):
    """Singh et al.'s entry: pair claims (probes.claims.clamps) from each clamped run and the baseline of its seed."""
    from nulls_grid import CHANCE, STEPS, _sigmoid

    from probes.gallery.entries import SINGH

    flat = [CHANCE] * len(STEPS)
    runs = _pair_runs(tmp_path, SINGH.preset, [_sigmoid(4.0, clamped_at)] * 3)
    controls = _pair_runs(tmp_path, SINGH.control, [_sigmoid(4.0, control_at) if control_at else flat] * 3)
    baselines = _pair_runs(tmp_path, SINGH.baseline, [_sigmoid(4.0, 900)] * 3)
    record = entry_record(SINGH, runs, controls, 3.0, baselines)
    assert record["verdict"] == expected, record["claims"]
    assert record["baselines"] == [b.path.name for b in baselines]
    assert "paired baselines" in write_entry_page(record, tmp_path / "gallery" / SINGH.name).read_text()
    with pytest.raises(WorkbenchError, match="baseline runs are given exactly"):
        entry_record(SINGH, runs, controls, 3.0)


def test_the_edelman_entry_runs_the_markov_preset_against_its_one_layer_control(tmp_path):
    """Edelman et al. 2024: the stages and the bigram transition on icl-mc-2l; the one-layer control must not show
    them on as many seeds (synthetic saved claims here; `icl-workbench reproduce edelman-markov` trains the runs)."""
    from circuits.presets import preset
    from probes.gallery.entries import EDELMAN

    assert EDELMAN.preset == "icl-mc-2l" and EDELMAN.control == "icl-mc-1l" and not EDELMAN.long
    assert preset(EDELMAN.control).model.n_layers == 1 and preset(EDELMAN.preset).model.n_heads == 1
    assert "relative position" in EDELMAN.paper.setup and "unverified" in EDELMAN.paper.number
    runs = [fake_run(tmp_path / f"r{i}", [claim(True, 0.1, k) for k in EDELMAN.claims]) for i in range(3)]
    controls = [fake_run(tmp_path / f"c{i}", [claim(i == 0, 0.0, k) for k in EDELMAN.claims]) for i in range(3)]
    assert entry_record(EDELMAN, runs, controls, 1.0)["verdict"] == REPRODUCES
    shown = [fake_run(tmp_path / f"s{i}", [claim(True, 0.1, k) for k in EDELMAN.claims]) for i in range(3)]
    assert entry_record(EDELMAN, runs, shown, 1.0)["verdict"] == DOES_NOT  # the control shows it too

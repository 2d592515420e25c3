"""Shared fixtures. Science fixtures train the real default presets once per session (marked slow)."""
from __future__ import annotations

import pytest
import torch

torch.set_num_threads(2)


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run the slow science tests (full training runs)")
    parser.addoption("--runlong", action="store_true", help="also run the studies too long for CI (multi-seed, every checkpoint)")


def pytest_collection_modifyitems(config, items):
    """`slow` runs with --runslow (CI does); `long` runs only with --runlong (never in CI: see README "Tests")."""
    skips = {"slow": (config.getoption("--runslow"), "slow science test: run with --runslow"),
             "long": (config.getoption("--runlong"), "study too long for CI: run with --runlong")}
    for item in items:
        for marker, (enabled, reason) in skips.items():
            if marker in item.keywords and not enabled:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def shared_runs_root(tmp_path_factory):
    """One checkpoint store for every science test and notebook: each preset is trained once per session.
    ICL_WORKBENCH_TEST_RUNS names a store to reuse across sessions (runs are resumed or reused, never retrained)."""
    import os
    from pathlib import Path

    reuse = os.environ.get("ICL_WORKBENCH_TEST_RUNS")
    return Path(reuse) if reuse else tmp_path_factory.mktemp("shared-runs")


def _preset_run(root, name):
    from circuits.presets import preset
    from circuits.training.trainer import train

    return train(preset(name), root / name, progress=False)


@pytest.fixture(scope="session")
def default_run(shared_runs_root):
    """The default attn-only-2l run, trained exactly as `icl-workbench train` does."""
    return _preset_run(shared_runs_root, "attn-only-2l")


@pytest.fixture(scope="session")
def control_run(shared_runs_root):
    """The 1-layer control, trained the same way."""
    return _preset_run(shared_runs_root, "attn-only-1l")


@pytest.fixture(scope="session")
def fv_run(shared_runs_root):
    """The default fv run (abstractive ICL tasks mixed with repeats)."""
    return _preset_run(shared_runs_root, "fv")


@pytest.fixture(scope="session")
def grokking_run(shared_runs_root):
    """The grokking preset (modular addition, Nanda et al. 2023), shared by tests/test_grokking.py and notebook 05."""
    return _preset_run(shared_runs_root, "grokking")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A few-step run of a tiny model: store, sweep and CLI mechanics without the science."""
    from builders import tiny_config

    from circuits.training.trainer import train

    return train(tiny_config(), tmp_path_factory.mktemp("runs") / "tiny", progress=False)


def _seed_run(root, name, seed):
    """Seed K of a preset (data and initialisation), named PRESET-seedK; seed 0 is the preset run itself."""
    from circuits.grids.grid import seed_config, seed_run_name
    from circuits.presets import preset
    from circuits.training.trainer import train

    if seed == 0:
        return _preset_run(root, name)
    return train(seed_config(preset(name), seed), root / seed_run_name(name, seed), progress=False)


@pytest.fixture(scope="session")
def induction_seed_runs(shared_runs_root, default_run):
    """Seeds 0, 1 and 2 of attn-only-2l: the induction claims the tests assert must hold on all of them."""
    return [default_run] + [_seed_run(shared_runs_root, "attn-only-2l", seed) for seed in (1, 2)]


@pytest.fixture(scope="session")
def fv_seed_runs(shared_runs_root, fv_run):
    """Seeds 0 and 3 of fv. Seed 3 is the run the conformance suite trains anyway (`fv/trained-seed3`: the one
    studied seed with an induction head and Yin & Steinhardt's few-shot gap), so no third fv run is trained."""
    return [fv_run, _seed_run(shared_runs_root, "fv", 3)]

"""Shared fixtures. Science fixtures train the real default presets once per session (marked slow)."""
from __future__ import annotations

import pytest
import torch

torch.set_num_threads(2)


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run the slow science tests (full training runs)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow science test: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """The default attn-only-2l run, trained exactly as `icl-workbench train` does."""
    from circuits.presets import preset
    from circuits.train import train

    return train(preset("attn-only-2l"), tmp_path_factory.mktemp("runs") / "attn-only-2l", progress=False)


@pytest.fixture(scope="session")
def control_run(tmp_path_factory):
    """The 1-layer control, trained the same way."""
    from circuits.presets import preset
    from circuits.train import train

    return train(preset("attn-only-1l"), tmp_path_factory.mktemp("runs") / "attn-only-1l", progress=False)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A few-step run of a tiny model: store, sweep and CLI mechanics without the science."""
    from builders import tiny_config

    from circuits.train import train

    return train(tiny_config(), tmp_path_factory.mktemp("runs") / "tiny", progress=False)

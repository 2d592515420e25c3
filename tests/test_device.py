import pytest
import torch
from builders import tiny_config

from circuits.device import resolve_device
from circuits.errors import WorkbenchError
from circuits.store.files import CHECKPOINT_FILES
from circuits.store.runs import RunStore
from circuits.training.trainer import train

NO_CUDA = "CUDA is not available on this machine \\(torch.cuda.is_available\\(\\) is False\\); use --device cpu or auto"


def test_cpu_and_auto_resolve():
    assert resolve_device("cpu") == torch.device("cpu") == resolve_device(" CPU ")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_is_one_clear_error(name):
    with pytest.raises(WorkbenchError, match=NO_CUDA):
        resolve_device(name)


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", "cuda:", "", "cpu:0"])
def test_unknown_device_names_are_refused_with_the_choices(name):
    with pytest.raises(WorkbenchError, match=f"unknown device {name!r}; use one of auto, cpu, cuda, cuda:N"):
        resolve_device(name)


def test_explicit_cpu_gives_the_same_checkpoint_bytes_as_the_default(tmp_path):
    config = tiny_config(train=dict(steps=8, n_checkpoints=3, eval_every=4))
    default = train(config, tmp_path / "default", progress=False)
    cpu = train(config, tmp_path / "cpu", progress=False, device="cpu")
    assert default.steps() == cpu.steps() and len(default.steps()) >= 3
    for step in default.steps():
        for name in CHECKPOINT_FILES:
            assert (default.checkpoint_dir(step) / name).read_bytes() == (cpu.checkpoint_dir(step) / name).read_bytes()
    assert (default.path / "metrics.jsonl").read_text() == (cpu.path / "metrics.jsonl").read_text()


def test_a_run_started_on_one_device_resumes_on_auto(tmp_path):
    """Resuming with another device value reads the CPU-saved checkpoint and continues the same run."""
    config = tiny_config(train=dict(steps=12, n_checkpoints=3, eval_every=4))
    full = train(config, tmp_path / "full", progress=False, device="cpu")
    with pytest.raises(_Stop):
        train(config, tmp_path / "cut", progress=False, on_step=_stop_after(7), device="cpu")
    resumed = train(config, tmp_path / "cut", progress=False, device="auto")
    assert resumed.steps() == full.steps()
    for key, value in full.load_weights(12).items():
        assert torch.equal(value, resumed.load_weights(12)[key]), key


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_training_on_missing_cuda_writes_nothing(tmp_path):
    with pytest.raises(WorkbenchError, match=NO_CUDA):
        train(tiny_config(), tmp_path / "run", progress=False, device="cuda")
    assert not (tmp_path / "run").exists()
    assert RunStore(tmp_path / "run").scan_steps() == ([], [])


class _Stop(Exception):
    pass


def _stop_after(step: int):
    def callback(current: int) -> None:
        if current == step:
            raise _Stop

    return callback

import pytest
import torch
from builders import tiny_config

from circuits.config import TrainConfig
from circuits.errors import WorkbenchError
from circuits.store.runs import RunStore
from circuits.training.schedule import checkpoint_steps, learning_rate
from circuits.training.trainer import train


class Interrupt(Exception):
    pass


def _stop_at(step: int):
    def callback(current: int) -> None:
        if current == step:
            raise Interrupt

    return callback


def _weights(store: RunStore, step: int) -> dict[str, torch.Tensor]:
    return store.load_weights(step)


def test_interrupted_run_resumes_to_the_identical_final_weights(tmp_path):
    config = tiny_config(train=dict(steps=30, n_checkpoints=7))
    full = train(config, tmp_path / "full", progress=False)
    with pytest.raises(Interrupt):
        train(config, tmp_path / "cut", progress=False, on_step=_stop_at(17))  # mid-way between checkpoints
    cut = RunStore(tmp_path / "cut")
    assert cut.steps()[-1] < 17
    resumed = train(config, tmp_path / "cut", progress=False)
    assert resumed.steps() == full.steps()
    for key, value in _weights(full, 30).items():
        assert torch.equal(value, _weights(resumed, 30)[key]), key
    strip = lambda rows: [{k: v for k, v in r.items()} for r in rows]  # noqa: E731
    assert strip(resumed.metrics()) == strip(full.metrics())  # metrics past the resume point are rewritten once


def test_same_seed_same_checkpoints(tmp_path):
    config = tiny_config(train=dict(steps=20))
    a = train(config, tmp_path / "a", progress=False)
    b = train(config, tmp_path / "b", progress=False)
    assert all(torch.equal(v, _weights(b, 20)[k]) for k, v in _weights(a, 20).items())


def test_training_lowers_the_loss(tiny_run):
    """60 steps can learn that BOS never follows: from ln(32) toward ln(31), i.e. down by ≥ 0.02 nats."""
    rows = tiny_run.metrics()
    assert rows[-1]["eval/loss"] < rows[0]["eval/loss"] - 0.02


def test_nan_loss_stops_with_one_clear_error_and_keeps_checkpoints(tmp_path):
    config = tiny_config(train=dict(lr=1e30, warmup_steps=0, grad_clip=1e30))
    with pytest.raises(WorkbenchError, match="training loss became nan at step .*lower lr"):
        train(config, tmp_path / "nan", progress=False)
    store = RunStore(tmp_path / "nan")
    assert store.steps()[0] == 0
    assert all(torch.isfinite(v).all() for v in store.load_weights(store.steps()[0]).values())


def test_completed_run_is_not_retrained(tiny_run):
    before = (tiny_run.path / "metrics.jsonl").read_text()
    train(tiny_run.config(), tiny_run.path, progress=False)
    assert (tiny_run.path / "metrics.jsonl").read_text() == before


def test_learning_rate_warms_up_then_decays_by_cosine():
    cfg = TrainConfig(steps=1000, lr=1e-3, warmup_steps=100, min_lr_ratio=0.1)
    assert learning_rate(0, cfg) == pytest.approx(1e-5)
    assert learning_rate(99, cfg) == pytest.approx(1e-3)
    assert learning_rate(550, cfg) == pytest.approx(0.55e-3)
    assert learning_rate(1000, cfg) == pytest.approx(1e-4)


def test_default_checkpoint_schedule_is_dense_early_and_has_no_wide_gaps():
    steps = checkpoint_steps(TrainConfig(steps=3000))
    assert steps[0] == 0 and steps[-1] == 3000 and 38 <= len(steps) <= 42
    assert steps[:6] == [0, 1, 2, 3, 5, 7] or steps[1:4] == [1, 2, 3]
    assert max(b - a for a, b in zip(steps, steps[1:], strict=False)) <= 2 * 3000 / 40
    log_only = checkpoint_steps(TrainConfig(steps=3000, checkpoint_spacing="log"))
    assert len(log_only) == 40 and log_only[1:4] == [1, 2, 3]
    assert checkpoint_steps(TrainConfig(steps=100, checkpoint_steps=(0, 10, 50))) == [0, 10, 50, 100]

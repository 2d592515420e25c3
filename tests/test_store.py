import json
import os

import pytest
import torch
from builders import tiny_config

from circuits.errors import WorkbenchError
from circuits.model import FastTransformer
from circuits.schedule import checkpoint_steps, eval_steps
from circuits.store import MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, RunStore, list_runs
from circuits.train import train


def test_save_load_as_bridge_gives_identical_logits(tiny_run):
    step = tiny_run.steps()[-1]
    weights = tiny_run.load_weights(step)
    bridge = tiny_run.load_bridge(step)
    fast = FastTransformer(tiny_run.config().model, weights)
    tokens = torch.randint(0, 32, (4, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(bridge(tokens), fast(tokens), atol=1e-5, rtol=0)
    saved = {k: v for k, v in bridge.state_dict().items()}
    assert all(torch.equal(saved[k], weights[k]) for k in weights)  # the bridge holds the saved tensors exactly


def test_run_lists_steps_iterates_checkpoints_and_records_metrics(tiny_run):
    steps = tiny_run.steps()
    assert steps == checkpoint_steps(tiny_run.config().train) and steps[0] == 0 and steps[-1] == 60 and len(steps) == 6
    assert [s for s, _ in tiny_run.iter_bridges()] == steps
    rows = tiny_run.metrics()
    assert [r["step"] for r in rows] == eval_steps(tiny_run.config().train)
    assert all({"train/loss", "eval/loss", "eval/repeat_loss", "eval/loss_by_position"} <= set(r) for r in rows)
    state = tiny_run.state(60)
    assert state["step"] == 60 and state["tokens"] == 60 * 8 * 32
    assert [s.path for s in list_runs(tiny_run.path.parent)] == [tiny_run.path]


def test_optimizer_state_loads_without_unpickling_code(tiny_run):
    optimizer, rng, _ = tiny_run.load_training_state(tiny_run.steps()[-1])
    torch.load(tiny_run.checkpoint_dir(60) / OPTIMIZER_FILE, weights_only=True)  # raises if it needed pickle
    assert "state" in optimizer and rng.dtype == torch.uint8


def test_a_run_directory_refuses_a_different_config(tiny_run):
    other = tiny_config(train=dict(lr=5e-2))
    before = sorted(p.name for p in (tiny_run.path / "steps").iterdir())
    with pytest.raises(WorkbenchError, match="holds a run with a different config"):
        train(other, tiny_run.path, progress=False)
    assert sorted(p.name for p in (tiny_run.path / "steps").iterdir()) == before


def _copy_run(src: RunStore, dst) -> RunStore:
    import shutil

    shutil.copytree(src.path, dst)
    return RunStore(dst)


def test_missing_or_corrupt_checkpoint_files_give_one_clear_error(tiny_run, tmp_path):
    run = _copy_run(tiny_run, tmp_path / "run")
    with pytest.raises(WorkbenchError, match="no complete checkpoint at step 7; available steps"):
        run.load_bridge(7)
    (run.checkpoint_dir(60) / MODEL_FILE).write_bytes(b"not a safetensors file")
    with pytest.raises(WorkbenchError, match="is corrupt.*delete its folder"):
        run.load_bridge(60)
    middle = run.steps()[2]
    os.remove(run.checkpoint_dir(middle) / STATE_FILE)
    with pytest.raises(WorkbenchError, match=f"step_{middle:06d} is incomplete \\(missing state.json\\)"):
        run.steps()


def test_in_progress_checkpoint_writes_are_invisible_and_cleaned(tiny_run, tmp_path):
    run = _copy_run(tiny_run, tmp_path / "run")
    (run.path / "steps" / ".step_000030.abc.tmp").mkdir()
    assert run.steps() == tiny_run.steps()
    run.discard_partial()
    assert not list((run.path / "steps").glob(".*"))


def test_checkpoints_are_never_overwritten(tiny_run, tmp_path):
    run = _copy_run(tiny_run, tmp_path / "run")
    with pytest.raises(WorkbenchError, match="already exists"):
        run.save_checkpoint(60, run.load_weights(60), {}, torch.zeros(1, dtype=torch.uint8), {})


def test_not_a_run_directory(tmp_path):
    with pytest.raises(WorkbenchError, match="is not a run directory"):
        RunStore(tmp_path).config()
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(WorkbenchError, match="is malformed"):
        RunStore(tmp_path).config()
    assert json.loads(tiny_config().to_json())["preset"] == "tiny"

import json
import os

import pytest
import torch
from builders import tiny_config

from circuits.errors import WorkbenchError
from circuits.model.transformer import FastTransformer
from circuits.store.files import CHECKPOINT_FILES, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE
from circuits.store.runs import RunStore, list_runs
from circuits.training.schedule import checkpoint_steps, eval_steps
from circuits.training.trainer import train


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
    assert [(r.path, r.problem) for r in list_runs(tiny_run.path.parent)] == [(tiny_run.path, None)]


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
    assert json.loads(tiny_config().to_json())["name"] == "tiny"


@pytest.fixture(params=[0o022, 0o077])
def umask(request, monkeypatch):
    """Run a test under a umask (the store reads it once at import: patched to match)."""
    import circuits.store.runs as store

    old = os.umask(request.param)
    monkeypatch.setattr(store, "UMASK", request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return os.stat(path).st_mode & 0o777


def test_files_and_folders_the_store_writes_follow_the_umask(tiny_run, tmp_path, umask):
    from circuits.store.runs import atomic_write_text

    file_mode, dir_mode = 0o666 & ~umask, 0o777 & ~umask
    atomic_write_text(tmp_path / "a.txt", "x")
    assert _mode(tmp_path / "a.txt") == file_mode
    run = RunStore.create(tmp_path / "run", tiny_run.config())
    folder = run.save_checkpoint(7, tiny_run.load_weights(60), {"state": {}}, torch.zeros(4, dtype=torch.uint8), {})
    assert _mode(run.path / "config.json") == file_mode and _mode(folder) == dir_mode
    assert {name: _mode(folder / name) for name in os.listdir(folder)} == {name: file_mode for name in CHECKPOINT_FILES}
    run.truncate_metrics(after_step=7)
    assert _mode(run.path / "metrics.jsonl") == file_mode


def test_the_umask_is_read_without_changing_it():
    from circuits.store.runs import _read_umask

    old = os.umask(0o027)
    try:
        assert _read_umask() == 0o027 and _read_umask() == 0o027
    finally:
        os.umask(old)


def test_list_runs_lists_every_run_and_flags_the_damaged_ones(tiny_run, tmp_path):
    import shutil

    root = tmp_path / "root"
    good = _copy_run(tiny_run, root / "a-good")
    bad_config = _copy_run(tiny_run, root / "b-bad-config")
    (bad_config.path / "config.json").write_text('{"preset": "tiny", "model": ')
    broken = _copy_run(tiny_run, root / "c-incomplete")
    os.remove(broken.checkpoint_dir(60) / MODEL_FILE)
    bad_metrics = _copy_run(tiny_run, root / "d-metrics")
    (bad_metrics.path / "metrics.jsonl").unlink()
    (bad_metrics.path / "metrics.jsonl").mkdir()
    (root / "e-not-a-run").mkdir()
    shutil.copytree(tiny_run.path / "steps", root / "e-not-a-run" / "steps")
    listing = {r.path.name: r for r in list_runs(root)}
    assert sorted(listing) == ["a-good", "b-bad-config", "c-incomplete", "d-metrics"]
    a, b, c, d = (listing[n] for n in sorted(listing))
    assert a.problem is None and a.store.path == good.path and a.name == "tiny"
    assert (a.n_checkpoints, a.last_step, a.last_metrics["step"]) == (6, 60, 60)
    assert b.store is None and b.name is None and "config.json is malformed" in b.problem and "restore it" in b.problem
    assert c.store is not None and c.steps == tuple(tiny_run.steps()[:-1]) and c.last_step == tiny_run.steps()[-2]
    assert "step_000060 is incomplete (missing model.safetensors); delete that folder" in c.problem
    assert d.last_metrics is None and "metrics.jsonl is unreadable (IsADirectoryError)" in d.problem
    assert d.n_checkpoints == 6
    assert "PROBLEM: " in c.summary() and "6 checkpoints, last step 60" in a.summary() and "eval/loss" in a.summary()

import sys
from pathlib import Path

import pytest
import torch
from builders import tiny_config, tiny_data, tiny_train

from circuits.data.tasks import INPUTS, OUTPUTS, check_prompt_size, default_suite, prompts
from circuits.errors import WorkbenchError
from circuits.model.transformer import FastTransformer
from circuits.training.trainer import train
from probes.engine.interventions import FastEngine
from probes.measures.function_vectors import FVSettings, TaskBatch, function_vector, indirect_effects, mean_head_activations, top_heads

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from fv_speed import naive_indirect_effects  # noqa: E402 - the benchmark's Todd-style per-head patching loop

SMALL = FVSettings(shots=4, mean_prompts=6, corrupted_prompts=5, top_heads=2, eval_prompts=4)


@pytest.fixture(scope="module")
def fv_tiny(tmp_path_factory):
    config = tiny_config(model=dict(d_vocab=80, n_ctx=24, attn_only=False, d_model=16, n_heads=2),
                         data=dict(name="fv-mix", seq_len=23, repeat_min=3, repeat_max=11, heldout_lengths=(5, 8)),
                         train=dict(steps=30))
    store = train(config, tmp_path_factory.mktemp("fv") / "tiny", progress=False)
    step = store.steps()[-1]
    batch = TaskBatch.build(default_suite(), SMALL, 24, tuple(default_suite().names[::8]))
    return store.load_bridge(step), FastEngine(FastTransformer(config.model, store.load_weights(step))), batch


def test_task_prompts_follow_todd_and_never_show_the_query():
    suite = default_suite()
    assert len(suite.tasks) == 32 and len({t.family for t in suite.tasks}) == 4
    task = suite.task("offset-1")
    tokens, answers = prompts(suite, task, 5, 50, torch.Generator().manual_seed(0))
    assert tokens.shape == (50, 12) and (tokens[:, 0] == 0).all()
    xs, ys, query = tokens[:, 1:-1:2], tokens[:, 2:-1:2], tokens[:, -1]
    assert torch.equal(ys, task.answer[xs - INPUTS[0]]) and torch.equal(answers, task.answer[query - INPUTS[0]])
    assert not (xs == query[:, None]).any()  # xq is never among its own demonstrations
    assert set(query.tolist()) <= set(INPUTS[suite.splits["test"]].tolist()) and (ys >= OUTPUTS[0]).all()
    shuffled, same = prompts(suite, task, 5, 50, torch.Generator().manual_seed(0), shuffled=True)
    assert torch.equal(same, answers) and torch.equal(shuffled[:, 1:-1:2], xs)
    assert torch.equal(shuffled[:, 2:-1:2].sort(1).values, ys.sort(1).values) and not torch.equal(shuffled, tokens)


def test_batched_aie_equals_the_per_head_patching_loop(fv_tiny):
    bridge, fast, batch = fv_tiny
    mean_z = mean_head_activations(fast, batch)
    torch.testing.assert_close(indirect_effects(fast, batch, mean_z), naive_indirect_effects(bridge, batch, mean_z), atol=1e-5, rtol=0)


def test_function_vector_is_the_sum_of_the_heads_outputs_and_injection_is_a_residual_add(fv_tiny):
    _, fast, batch = fv_tiny
    mean_z = mean_head_activations(fast, batch)[0]
    heads = top_heads(torch.arange(fast.n_layers * fast.n_heads, dtype=torch.float).view(fast.n_layers, -1), 2)
    assert heads == [(1, 1), (1, 0)]
    vector = function_vector(fast.w_o(), mean_z, heads)
    w_o = fast.fast.blocks[1].attn.o.weight  # [d_model, heads·d_head]
    torch.testing.assert_close(vector, w_o @ mean_z[1].flatten(), atol=1e-5, rtol=0)
    tokens = batch.zero_shot[0]
    zero = torch.zeros(tokens.shape[0], fast.d_model)
    torch.testing.assert_close(fast.inject(tokens, zero, 0), fast.logits(tokens)[:, -1])
    assert top_heads(torch.tensor([[3.0, 2.0], [1.0, 0.0]]), 2, exclude=[(0, 0)]) == [(0, 1), (1, 0)]


def test_bad_fv_requests_give_one_clear_error(fv_tiny):
    _, fast, batch = fv_tiny
    suite = default_suite()
    with pytest.raises(WorkbenchError, match="k=25 shots but a task has only 20 demonstration examples"):
        check_prompt_size(25, 128)
    with pytest.raises(WorkbenchError, match="a 12-shot prompt needs 26 tokens but the model's context is n_ctx=24"):
        TaskBatch.build(suite, FVSettings(shots=12), 24)
    with pytest.raises(WorkbenchError, match="unknown task 'reverse-words'"):
        suite.task("reverse-words")
    with pytest.raises(WorkbenchError, match="layer 5 is out of range; this model has layers 0–1"):
        fast.inject(batch.zero_shot[0], torch.zeros(4, fast.d_model), 5)


def test_the_fv_probe_refuses_runs_without_task_data(tiny_run):
    from probes.engine.checkpoint import RunSource
    from probes.engine.inputs import ProbeInputs
    from probes.measures.fv import fv_probe

    with pytest.raises(WorkbenchError, match="the fv probe needs a run trained on fv-mix data"):
        fv_probe(RunSource(tiny_run).load(tiny_run.steps()[-1]), ProbeInputs.for_run(tiny_run.config()))


def test_the_fv_probe_produces_well_formed_rows_on_a_small_model(fv_tiny):
    """Runs the whole fv probe under the runtime shape/type checks, on a tiny fv-mix model."""
    from circuits.config import RunConfig
    from probes.engine.checkpoint import Checkpoint
    from probes.engine.inputs import ProbeInputs
    from probes.measures.fv import fv_probe

    bridge, fast, _ = fv_tiny
    data = tiny_data(name="fv-mix", seq_len=23, repeat_min=3, repeat_max=11, heldout_lengths=(5, 8))
    config = RunConfig(name="tiny-fv", model=fast.fast.cfg, data=data, train=tiny_train())
    rows = fv_probe(Checkpoint.native(config, fast.fast.state_dict()), ProbeInputs.for_run(config), SMALL)
    metrics = {r["metric"] for r in rows}
    assert {"aie", "aie_se", "few_shot_accuracy", "fv_best_layer", "fv_valid_zero_shot_accuracy/L0", "fv_zero_shot_accuracy",
            "mean_hidden_zero_shot_accuracy", "random_heads_fv_zero_shot_accuracy/max", "ablate_fv_excl/few_shot_accuracy"} <= metrics
    assert all(isinstance(r["value"], float) for r in rows)
    assert len([r for r in rows if r["metric"] == "aie"]) == fast.n_layers * fast.n_heads
    from probes.registry import is_declared

    assert all(is_declared("fv", r["metric"]) for r in rows), [r["metric"] for r in rows if not is_declared("fv", r["metric"])]


def test_fv_heads_are_chosen_on_half_the_tasks_and_effects_reported_on_the_other_half():
    from probes.measures.function_vectors import split_tasks

    suite = default_suite()
    selection, heldout = split_tasks(suite)
    assert not set(selection) & set(heldout) and set(selection) | set(heldout) == set(suite.names)
    families = lambda names: {suite.task(n).family for n in names}  # noqa: E731
    assert families(heldout) == {"permutation", "offset", "category"} and families(selection) == families(suite.names)


def test_the_mean_hidden_state_baseline_is_the_layers_mean_residual_at_the_last_position(fv_tiny):
    from probes.measures.function_vectors import mean_hidden_states

    _, fast, batch = fv_tiny
    states = mean_hidden_states(fast, batch)
    x = fast.fast.embedding(batch.clean[1])
    x = fast.fast.blocks[0](x)
    torch.testing.assert_close(states[1, 0], x[:, -1].mean(0), atol=1e-5, rtol=0)


def test_a_model_too_small_for_the_fv_controls_says_so_instead_of_crashing(tmp_path):
    """Issue 18: the 1-layer FV control (4 heads, FV sets of 3) has no same-size head set outside the FV set; the fv
    probe died in `_spread_rows` (min() of an empty tensor). Its rows now say `…/sets` = 0, and the claims that need
    those sets are "not supported"."""
    from circuits.config import replace
    from circuits.model.transformer import initial_state_dict
    from circuits.presets import preset
    from probes.engine.checkpoint import Checkpoint
    from probes.engine.inputs import ProbeInputs
    from probes.measures.fv import fv_controls_probe, fv_probe

    base = preset("fv")
    config = replace(base, name="fv-1l", model=replace(base.model, n_layers=1))
    ckpt, inputs = Checkpoint.native(config, initial_state_dict(config.model)), ProbeInputs.for_run(config)
    rows = {r["metric"]: r["value"] for r in fv_probe(ckpt, inputs) + fv_controls_probe(ckpt, inputs) if r["layer"] is None}
    assert rows["random_heads_fv_zero_shot_accuracy/sets"] == 0.0
    assert "random_heads_fv_zero_shot_accuracy/max" not in rows
    assert rows["ablate_random/few_shot_accuracy/sets"] == 3.0  # 4 sets of 3 of 4 heads, but the FV set itself

"""Issue 4's claims on the trained default `fv` run: the FV method works, and the order in which circuits form."""
import pytest

from circuits.model import FastTransformer
from circuits.tasks import default_suite
from probes.function_vectors import FVSettings, TaskBatch, indirect_effects, mean_head_activations
from probes.fv_analysis import transition_analysis
from probes.sweep import run_sweep

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def table(fv_run):
    return run_sweep(fv_run, progress=False)


def final(table, metric):
    return next(r["value"] for r in reversed(table) if r["probe"] == "fv" and r["metric"] == metric)


def test_injecting_the_task_fv_raises_zero_shot_accuracy_far_above_baseline(table):
    layer = int(final(table, "fv_best_layer"))
    baseline, injected = final(table, "no_fv_zero_shot_accuracy"), final(table, f"fv_zero_shot_accuracy/L{layer}")
    assert injected >= baseline + 0.4, (baseline, injected)
    assert final(table, "other_task_fv_zero_shot_accuracy") <= baseline + 0.1
    assert final(table, "random_heads_fv_zero_shot_accuracy") <= baseline + 0.2
    assert final(table, f"fv_shuffled_accuracy/L{layer}") >= final(table, "no_fv_shuffled_accuracy") + 0.2


def test_patching_mean_outputs_into_clean_prompts_barely_changes_the_answer(fv_run):
    config = fv_run.config()
    fast = FastTransformer(config.model, fv_run.load_weights(fv_run.steps()[-1]))
    batch = TaskBatch.build(default_suite(), FVSettings(), config.model.n_ctx)
    clean_as_target = TaskBatch(batch.clean, batch.clean_answers, batch.clean, batch.clean_answers, batch.few_shot,
                                batch.shuffled, batch.zero_shot, batch.eval_answers)
    effects = indirect_effects(fast, clean_as_target, mean_head_activations(fast, batch)).mean(0)
    assert effects.abs().max() < 0.03, effects


def test_few_shot_icl_depends_on_the_fv_heads(table):
    clean = final(table, "few_shot_accuracy")
    assert clean > 0.8 and final(table, "zero_shot_accuracy") < 0.3
    assert final(table, "ablate_fv/few_shot_accuracy") < clean - 0.2


def test_induction_heads_form_before_the_task_transition(table):
    t = transition_analysis(table)
    assert t.induction_step is not None and t.fv_step is not None
    assert t.induction_step < t.fv_step, (t.induction_step, t.fv_step)
    assert 0.0 <= t.fraction_were_induction <= 1.0 and len(t.fv_heads) == FVSettings().top_heads

"""The FV claims on the trained `fv` runs: asserted only where they hold on every tested seed (seeds 0 and 3), and
the patching method's own sanity check (Todd et al. 2024, arXiv 2310.15213)."""
import pytest

from circuits.data.tasks import default_suite
from circuits.model.transformer import FastTransformer
from probes.claims.seeds import saved_claims, summarize
from probes.engine.interventions import FastEngine
from probes.measures.function_vectors import FVSettings, TaskBatch, indirect_effects, mean_head_activations
from probes.report.page import write_report
from probes.sweep.runner import run_sweep

pytestmark = pytest.mark.slow
# The FV-side claims that held on all 5 seeds studied outside CI (`icl-workbench demo --preset fv --seeds 5`): FV
# heads above their noise floor, and few-shot ≫ zero-shot, plus the ICL score. CI checks them on seeds 0 and 3. The
# others held on some seeds only (FV injection 3/5, FV ablation vs every same-size set 4/5, induction first 4/5) or
# on few (Yin & Steinhardt's few-shot prediction beyond 2 standard errors 3/5, their signature 0/5) and are reported per
# run with their numbers, never asserted. Since issue 18 (seeds 0–5, every other checkpoint): "induction first" and the
# signature are an exact test that cannot reach p < 0.05 with 3 FV heads among 4 layer-1 heads (0/6); Yin &
# Steinhardt's few-shot prediction needs a 0.1 accuracy gap beyond 2 standard errors and an induction head (1/6: seed
# 3), their ICL prediction 0.1 nats beyond 2 standard errors (5/6; seed 2 has no induction head); FV ablation 5/6.
EVERY_SEED = ("fv/heads", "fv/few_shot", "icl/uses_context")


def every_other_checkpoint(run) -> list[int]:
    """Half the checkpoints (and the last): the FV probes cost seconds per checkpoint; the claims need the shape."""
    steps = run.steps()
    return sorted(set(steps[::2]) | {steps[-1]})


@pytest.fixture(scope="module")
def summary(fv_seed_runs):
    for run in fv_seed_runs:
        run_sweep(run, steps=every_other_checkpoint(run), progress=False)
        write_report(run)
    return {c.key: c for c in summarize({run.path.name: saved_claims(run) for run in fv_seed_runs})}


@pytest.mark.parametrize("key", EVERY_SEED)
def test_the_fv_claims_that_hold_on_every_studied_seed_hold_on_both_tested_seeds(summary, key):
    assert len(summary[key].runs) == 2
    assert summary[key].holds_on_every_seed, summary[key].sentence()


def test_every_fv_claim_is_reported_for_every_seed_with_its_control(summary):
    expected = {"fv/heads", "fv/order", "fv/were_induction", "fv/signature", "fv/few_shot", "fv/injection", "fv/ablation",
                "fv/yin_steinhardt_few_shot", "fv/yin_steinhardt_icl"}
    assert expected <= set(summary)
    for key in expected - {"fv/order"}:
        assert all(c is not None for c in summary[key].controls), key


def test_patching_mean_outputs_into_clean_prompts_changes_the_answer_little(fv_run):
    """ā averages over queries uniform across all inputs, so it carries the task but no particular answer; patched
    into clean prompts it lowers P(yq) somewhat (measured max |ΔP| 0.086 on seed 0: the heads' outputs also carry
    query-specific information) — far less than the FV heads' AIE lifts corrupted prompts."""
    config = fv_run.config()
    fast = FastEngine(FastTransformer(config.model, fv_run.load_weights(fv_run.steps()[-1])))
    batch = TaskBatch.build(default_suite(), FVSettings(), config.model.n_ctx)
    clean_as_target = TaskBatch(batch.clean, batch.clean_answers, batch.clean, batch.clean_answers, batch.few_shot,
                                batch.shuffled, batch.zero_shot, batch.eval_answers)
    effects = indirect_effects(fast, clean_as_target, mean_head_activations(fast, batch)).mean(0)
    assert effects.abs().max() < 0.15, effects

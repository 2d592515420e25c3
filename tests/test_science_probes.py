"""Issue 3's science claims on the trained default attn-only-2l run and its 1-layer control."""
import pytest
import torch
from test_detectors import RULES, reference_scores

from icl_workbench import main
from probes.claims.induction import compute_findings
from probes.claims.thresholds import INDUCTION_THRESHOLD, K_COMPOSITION_RATIO, PREVIOUS_TOKEN_THRESHOLD
from probes.engine.inputs import induction_probe
from probes.measures.detectors import attention_patterns, duplicate_token_score, induction_score, previous_token_score
from probes.sweep.runner import run_sweep

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def findings(default_run):
    return compute_findings(run_sweep(default_run, progress=False))


def test_the_top_induction_head_is_in_layer_one(findings):
    assert findings.top_induction_head[0] == 1
    assert findings.induction_heads and all(layer == 1 for layer, _ in findings.induction_heads)


def test_a_previous_token_head_in_layer_zero_k_composes_with_it(findings):
    assert findings.previous_token_head[0] == 0
    assert findings.previous_token_score >= PREVIOUS_TOKEN_THRESHOLD
    assert findings.k_composition > K_COMPOSITION_RATIO * findings.k_composition_baseline


def test_ablating_the_induction_heads_breaks_induction_and_icl(findings):
    assert findings.set_ablation["repeat_loss"] > 1.0
    removed = findings.set_ablation["icl_score"] / -findings.clean["icl_score"]
    assert findings.clean["icl_score"] < -1.0 and removed > 0.5


def test_ablating_a_low_scoring_head_barely_matters(findings, default_run):
    """The head whose best attention-detector score is lowest (it scores low on every detector)."""
    table = run_sweep(default_run, progress=False)
    final: dict = {}
    for row in table:
        if row["step"] == table[-1]["step"] and row["probe"] == "attention":
            final[(row["layer"], row["head"])] = max(final.get((row["layer"], row["head"]), 0.0), row["value"])
    low = min(final, key=final.get)
    assert abs(findings.ablation[f"{low[0]}.{low[1]}"]["mean/repeat_loss"]) < 0.1


def test_the_phase_change_window_contains_the_first_crossing(findings):
    assert findings.crossing_step is not None
    assert findings.induction_change.start <= findings.crossing_step <= findings.induction_change.end
    assert findings.induction_change.before < 0.2 < INDUCTION_THRESHOLD < findings.induction_change.after


def test_detectors_agree_with_a_per_head_reference_on_the_trained_model(default_run):
    model = default_run.load_bridge(default_run.steps()[-1])
    tokens = induction_probe(default_run.config(), n=4).tokens
    patterns = attention_patterns(model, tokens)
    for name, fn in (("previous", previous_token_score), ("duplicate", duplicate_token_score), ("induction", induction_score)):
        torch.testing.assert_close(fn(patterns, tokens), reference_scores(patterns, tokens, RULES[name]), atol=1e-5, rtol=0)


def test_the_one_layer_control_has_no_flagged_induction_head(control_run):
    control = compute_findings(run_sweep(control_run, progress=False))
    assert control.induction_heads == [] and control.crossing_step is None
    assert max(control.induction_scores.values()) < 0.2


def test_demo_reuses_the_trained_run_and_writes_the_report(default_run, capsys):
    assert main(["--root", str(default_run.path.parent), "demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "A head becomes an induction head" in out and (default_run.path / "report.html").exists()

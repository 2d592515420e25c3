"""Issue 18 ("Every verdict can fail"): every threshold of the function-vector, writers and attribution claims lives
in `probes.claims.thresholds`, and one word has one meaning there."""
import importlib

import pytest

from probes.claims import thresholds as metrics

MODULES = ("probes.claims.fv", "probes.measures.fv", "probes.measures.function_vectors", "probes.claims.writers",
           "probes.measures.writers", "probes.report.attribution", "probes.report.fv", "probes.report.writers")
NUMERIC = {"LN_EPS"}  # numerical constants, not verdicts (sizes and seeds are ints and not checked)


@pytest.mark.parametrize("name", MODULES)
def test_no_float_threshold_is_defined_outside_the_thresholds_module(name):
    module = importlib.import_module(name)
    own = [k for k, v in vars(module).items() if k.isupper() and isinstance(v, float) and k not in NUMERIC
           and getattr(metrics, k, None) is not v]
    assert not own, f"{name} defines thresholds {own}: move them to probes/claims/thresholds.py"


def test_the_writers_lesion_threshold_is_not_the_induction_ablation_threshold():
    """`writer_dynamics.ABLATION_MIN_NATS` (0.10, Wang's |Δ log P(correct)|) sat beside `metrics.ABLATION_MIN_NATS`
    (1.0, Δ repeat loss of induction heads): one name, two meanings."""
    from probes.claims import writers as writer_dynamics

    assert metrics.WRITER_LESION_MIN_NATS == 0.10 and metrics.ABLATION_MIN_NATS == 1.0
    assert not hasattr(writer_dynamics, "ABLATION_MIN_NATS")
    assert metrics.ATTRIBUTION_AGREE_ALPHA == 0.05

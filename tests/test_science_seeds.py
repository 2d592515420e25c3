"""Claims over seeds: the science tests assert only what holds on every tested seed, and every report sentence
states its own statistic and control."""
import pytest

from probes.claims.claim import NOT_SUPPORTED, fmt
from probes.claims.seeds import saved_claims, summarize, write_seed_report
from probes.claims.thresholds import ABLATION_MIN_NATS
from probes.report.page import write_report
from probes.sweep.runner import run_sweep

pytestmark = pytest.mark.slow
# Held on seeds 0–2 (the closing note's table). Not asserted: "ablation/induction_heads" beats ≥ 90% of the other
# same-size head sets on seeds 0 and 1 only (seed 2: 3 flagged heads, 64%) — sets holding the previous-token head
# cost as much; its ≥ 1 nat part holds on every seed and is asserted below.
INDUCTION_CLAIMS = ("induction/head", "induction/phase_change", "icl/uses_context", "circuit/previous_token_partner")


def analyzed(runs) -> dict[str, list[dict]]:
    for run in runs:
        run_sweep(run, progress=False)
        write_report(run)
    return {run.path.name: saved_claims(run) for run in runs}


@pytest.fixture(scope="module")
def induction_claims(induction_seed_runs):
    return analyzed(induction_seed_runs)


def test_the_induction_claims_hold_on_every_seed(induction_claims, induction_seed_runs, tmp_path):
    summary = {c.key: c for c in summarize(induction_claims)}
    assert len(next(iter(summary.values())).runs) == 3
    for key in INDUCTION_CLAIMS:
        assert summary[key].holds_on_every_seed, summary[key].sentence()
    assert min(summary["induction/head"].values) >= 0.5  # the default run's top head, on every seed
    assert min(summary["ablation/induction_heads"].values) >= ABLATION_MIN_NATS
    page = write_seed_report(induction_seed_runs, tmp_path / "seeds").read_text()
    assert "holds on every seed (3 of 3 seeds)" in page


def test_the_one_layer_control_supports_no_induction_claim(control_run):
    claims = {c["key"]: c for c in analyzed([control_run])["attn-only-1l"]}
    assert not claims["induction/head"]["supported"] and claims["induction/head"]["value"] < 0.2
    assert not claims["induction/phase_change"]["supported"]
    assert "circuit/previous_token_partner" not in claims  # one layer: no lower layer to compose with


def test_every_report_sentence_matches_its_statistic(induction_claims, control_run):
    every = [c for claims in induction_claims.values() for c in claims] + saved_claims(control_run)
    for claim in every:
        assert fmt(claim["value"]) in claim["sentence"], claim["sentence"]
        assert claim["control"] is None or fmt(claim["control"]) in claim["sentence"], claim["sentence"]
        assert claim["sentence"].startswith(NOT_SUPPORTED) != claim["supported"], claim["sentence"]

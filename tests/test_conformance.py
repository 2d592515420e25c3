"""Every verdict can fail: each declared claim says "not supported" on its family's null fixtures and "supported" on
its positive fixture (`tests/nulls.py`). A claim without both, or a fixture name that does not exist, fails here."""
from __future__ import annotations

import pytest
from nulls import FIXTURES, evidence, load_all

from probes.claims.claim import CLAIM_FAMILIES, Claim, load_families

load_families()
load_all()


def _cases() -> list:
    cases = []
    for family in CLAIM_FAMILIES.values():
        for spec in family.claims:
            for name, expected in [(n, False) for n in spec.negatives] + [(spec.positive, True)]:
                slow = name in FIXTURES and FIXTURES[name].slow
                cases.append(pytest.param(family.name, spec.key, name, expected, id=f"{spec.key}@{name}",
                                          marks=[pytest.mark.slow] if slow else []))
    return cases


def _claims(family: str, fixture: str, root) -> list[Claim]:
    return CLAIM_FAMILIES[family].evaluate(evidence(fixture, root))


def test_every_claim_declares_a_null_and_a_positive_fixture_that_exist():
    problems = []
    for family in CLAIM_FAMILIES.values():
        for spec in family.claims:
            if not spec.negatives or not spec.positive:
                problems.append(f"{spec.key}: needs ≥ 1 negative and a positive fixture")
            for name in (*spec.negatives, spec.positive):
                if name not in FIXTURES:
                    problems.append(f"{spec.key}: unknown fixture {name!r}")
                elif FIXTURES[name].family != family.name:
                    problems.append(f"{spec.key}: fixture {name!r} builds {FIXTURES[name].family} evidence, not {family.name}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("family", "key", "fixture", "expected"), _cases())
def test_claim_verdict_on_fixture(family, key, fixture, expected, shared_runs_root):
    spec_keys = CLAIM_FAMILIES[family].spec
    claims = [c for c in _claims(family, fixture, shared_runs_root) if spec_keys(c.key) is not None and spec_keys(c.key).key == key]
    if expected:
        assert claims, f"{key} is not stated on its positive fixture {fixture}"
        assert all(c.supported for c in claims), "\n".join(c.sentence for c in claims)
    else:
        assert not any(c.supported for c in claims), "\n".join(c.sentence for c in claims if c.supported)
    assert all(c.checks for c in claims), f"{key} states no margin (Check) on {fixture}"


@pytest.mark.parametrize("name", sorted(load_all()), ids=str)
def test_every_claim_a_fixture_yields_is_declared(name, shared_runs_root, request):
    if FIXTURES[name].slow and not request.config.getoption("--runslow"):
        pytest.skip("slow fixture: run with --runslow")
    family = CLAIM_FAMILIES[FIXTURES[name].family]
    undeclared = [c.key for c in _claims(family.name, name, shared_runs_root) if family.spec(c.key) is None]
    assert not undeclared, f"{family.name} states claims it does not declare: {undeclared}"

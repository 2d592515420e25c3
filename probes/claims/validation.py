"""Thresholds chosen on some runs, checked on others: verdict counts over runs and their sensitivity to each threshold.

The split is written in `probes.claims.thresholds` (`THRESHOLD_SELECTION_RUNS`, `THRESHOLD_VALIDATION_RUNS`). `verdict_table`
counts, per claim key, how many runs support it; `flips` counts the verdicts that change when every check's threshold
is moved by ±`fraction` (each `probes.claims.claim.Check` compares a statistic with a threshold of `probes.claims.thresholds`, or a
multiple of one), one check at a time. Both read the claims a report saved (`analysis/report_data.json`), so they
run no model. Yes/no preconditions (`probes.claims.claim.flag`) and zero thresholds have no scale and are not moved.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Flip:
    run: str
    key: str
    check: str
    factor: float  # the threshold was multiplied by this
    supported_before: bool


def verdict_table(claims_by_run: dict[str, list[dict]]) -> dict[str, tuple[int, int]]:
    """{claim key: (runs supporting it, runs stating it)}."""
    out: dict[str, tuple[int, int]] = {}
    for claims in claims_by_run.values():
        for c in claims:
            yes, n = out.get(c["key"], (0, 0))
            out[c["key"]] = (yes + bool(c["supported"]), n + 1)
    return dict(sorted(out.items()))


def _passes(check: dict, threshold: float) -> bool:
    value = check["value"]
    return value == value and abs(value) != float("inf") and _OPS[check["op"]](value, threshold)


def _perturbable(check: dict) -> bool:
    return not check.get("is_flag", False) and check["threshold"] != 0


def flips(claims_by_run: dict[str, list[dict]], fraction: float = 0.2) -> list[Flip]:
    """Every (run, claim, check, ±fraction) whose verdict changes when that one check's threshold moves."""
    out = []
    for run, claims in claims_by_run.items():
        for c in claims:
            checks = c.get("checks") or []
            if bool(c["supported"]) != all(_passes(o, o["threshold"]) for o in checks):
                continue  # decided by more than its checks: no threshold to move
            for i, check in enumerate(checks):
                if not _perturbable(check):
                    continue
                for factor in (1 - fraction, 1 + fraction):
                    others = all(_passes(o, o["threshold"]) for j, o in enumerate(checks) if j != i)
                    after = others and _passes(check, check["threshold"] * factor)
                    if after != bool(c["supported"]):
                        out.append(Flip(run, c["key"], check["name"], factor, bool(c["supported"])))
    return out

"""A gallery verdict from our claims over seeds (the rule of the reproduction gallery):

- "reproduces": every verdict claim is supported on ≥ ⌈2n/3⌉ of the n seeds (its direction is one of its checks), and
  the control preset (if any) does not support it on as many of its seeds;
- "does not reproduce": the control supports it on ≥ ⌈2n/3⌉ of its seeds (the effect is not specific), or the claim
  is supported on at most n − ⌈2n/3⌉ seeds while computed on all of them (it fails where it was tested);
- otherwise "not distinguishable". A claim missing from a seed counts as not supported there.
With fewer than 3 seeds no verdict is given ("not distinguishable": 2 seeds cannot make ⌈2n/3⌉ mean anything).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

REPRODUCES, DOES_NOT, UNDECIDED = "reproduces", "does not reproduce", "not distinguishable"
MIN_SEEDS = 3


@dataclass(frozen=True)
class ClaimVerdict:
    key: str
    supported: int  # seeds supporting it
    computed: int  # seeds on which it was computed (a finite statistic)
    seeds: int
    control_supported: int | None  # control seeds supporting it (None: no control)
    control_seeds: int
    verdict: str


def needed(n: int) -> int:
    return math.ceil(2 * n / 3)


def claim_verdict(key: str, claims: list[dict | None], control: list[dict | None] | None = None) -> ClaimVerdict:
    """The verdict of one claim key from its per-seed claim dicts (`Claim.to_dict()`, None where a seed lacks it)."""
    n, k = len(claims), needed(len(claims))
    supported = sum(bool(c and c["supported"]) for c in claims)
    computed = sum(c is not None and _finite(c["value"]) for c in claims)
    against = sum(bool(c and c["supported"]) for c in control) if control is not None else None
    if n < MIN_SEEDS:
        verdict = UNDECIDED
    elif against is not None and len(control) >= MIN_SEEDS and against >= needed(len(control)):
        verdict = DOES_NOT
    elif supported >= k:
        verdict = REPRODUCES
    elif computed == n and supported <= n - k:
        verdict = DOES_NOT
    else:
        verdict = UNDECIDED
    return ClaimVerdict(key, supported, computed, n, against, len(control or []), verdict)


def entry_verdict(verdicts: list[ClaimVerdict]) -> str:
    """Every claim must reproduce; any that does not reproduce decides; otherwise not distinguishable."""
    kinds = {v.verdict for v in verdicts}
    if kinds == {REPRODUCES}:
        return REPRODUCES
    return DOES_NOT if DOES_NOT in kinds else UNDECIDED


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)

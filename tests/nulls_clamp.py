"""Fixtures of the clamp claim family (`probes.claims.clamps`): a (clamped run, unclamped baseline) pair of summaries.

Nulls:
- `clamp/same-run` (fast, synthetic): a clamped run whose repeat loss is its baseline's own curve (a 4-nat sigmoid
  fall at step 900, both): the clamp moved nothing;
- `clamp/later` (fast, synthetic): the clamped run's fall comes at step 1,500, its baseline's at 900;
- `clamp/flat-clamped` (fast, synthetic): the clamped run's loss stays at chance (no transition), the baseline falls;
- `clamp/untrained` (fast, synthetic): neither run has an evaluation;
- `clamp/no-k-comp` (slow): the shortened K-composition-blocked run (tests/nulls_induction.py) against attn-only-2l,
  seed 0: no transition to move.
Positive (slow): `clamp/prev-token`: attn-only-2l+prev-token against attn-only-2l, seed 0, both trained in full.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from nulls import fixture, trained_run
from nulls_grid import CHANCE, _sigmoid, synthetic
from nulls_induction import no_k_comp_run

from circuits.presets import preset
from probes.claims.clamps import Pair
from probes.claims.grid import RunSummary, summarize_run

FAMILY = "clamp"
CLAMPED, BASE = "attn-only-2l+prev-token", "attn-only-2l"


def _pair(clamped: list[float], base: list[float]) -> Pair:
    runs = {r.preset: r for r in synthetic({CLAMPED: [clamped], BASE: [base]})}
    return runs[CLAMPED], runs[BASE]


@fixture("clamp/same-run", FAMILY)
def same_run(root: Path) -> Pair:
    return _pair(_sigmoid(4.0, 900), _sigmoid(4.0, 900))


@fixture("clamp/later", FAMILY)
def later(root: Path) -> Pair:
    return _pair(_sigmoid(4.0, 1500), _sigmoid(4.0, 900))


@fixture("clamp/flat-clamped", FAMILY)
def flat_clamped(root: Path) -> Pair:
    return _pair([CHANCE] * len(_sigmoid(0, 0)), _sigmoid(4.0, 900))


@fixture("clamp/untrained", FAMILY)
def untrained(root: Path) -> Pair:
    empty = Path(tempfile.mkdtemp(prefix="clamp-nulls-"))
    return RunSummary(f"{CLAMPED}-seed0", CLAMPED, 0), summarize_run(empty / BASE, BASE, 0)


def _full(root: Path, name: str) -> RunSummary:
    return summarize_run(trained_run(root, name, preset(name)).path, name, 0)


@fixture("clamp/no-k-comp", FAMILY, slow=True)
def no_k_comp(root: Path) -> Pair:
    clamped = no_k_comp_run(root)
    return summarize_run(clamped.path, "attn-only-2l+no-k-comp", 0), _full(root, BASE)


@fixture("clamp/prev-token", FAMILY, slow=True)
def prev_token(root: Path) -> Pair:
    return _full(root, CLAMPED), _full(root, BASE)

"""Fixtures of the emergence claim family (`probes.claims.emergence`, Schaeffer, Miranda & Koyejo 2023, arXiv 2304.15004).

Evidence: a `probes.claims.emergence.EmergenceEvidence` whose size axis holds one final-checkpoint capability row per
d_model (as notebook 04 builds it).

- `emergence/sizes` (positive, slow): real `attn-only-2l` runs at d_model 32, 64 (the preset) and 128.
- `emergence/two-sizes` (slow): the same real runs at d_model 64 and 128 only — notebook 04's default axis, on which
  the "jump" sentence rested before issue 18.
- `emergence/linear-sizes` (fast): exact match linear in log d_model (0.2, 0.4, 0.6, 0.8 at 16 … 128) with
  p = EM^(1/20), so p^L predicts every rise and amplifies p's 6×: a smooth trend, no jump.
- `emergence/flat-sizes` (fast): nothing changes with size.
- `emergence/runs` (positive, slow): capability curves of the real attn-only-2l run beside its 1-layer control.
- `emergence/swapped-runs` (slow): the same real runs with the roles swapped (the 1-layer model as "the run").
- `emergence/flat-curves` (fast): flat curves for both run and control.
"""
from __future__ import annotations

import math
from pathlib import Path

from nulls import fixture, trained_run

from circuits.store.runs import RunStore
from probes.claims.emergence import EmergenceEvidence, capability_curves, size_config

FAMILY = "emergence"


def size_rows(root: Path, sizes: tuple[int, ...]) -> list[dict]:
    """{"d_model": d} | the capability row of the final checkpoint of the attn-only-2l run at each d_model."""
    rows = []
    for d in sizes:
        config = size_config(d)
        store: RunStore = trained_run(root, config.name, config)
        rows.append({"d_model": d} | capability_curves(store, steps=[store.require_steps()[-1]], progress=False)[0])
    return rows


@fixture("emergence/sizes", FAMILY, slow=True)
def sizes(root: Path) -> EmergenceEvidence:
    return EmergenceEvidence(sizes=size_rows(root, (32, 64, 128)))


@fixture("emergence/two-sizes", FAMILY, slow=True)
def two_sizes(root: Path) -> EmergenceEvidence:
    return EmergenceEvidence(sizes=size_rows(root, (64, 128)))


def synthetic_sizes(p: list[float], em: list[float], noise: float = 0.01) -> list[dict]:
    """Size rows at d_model 16, 32, 64, 128 with a 20-token continuation and the given p and exact match."""
    return [{"d_model": d, "top1_accuracy": a, "exact_match_full": e, "independent_match_full": a**20, "L_full": 20,
             "log_prob": math.log(a), "edit_distance_full": 20 * (1 - a), "noise/exact_match_full": noise}
            for d, a, e in zip((16, 32, 64, 128), p, em, strict=True)]


@fixture("emergence/linear-sizes", FAMILY)
def linear_sizes(root: Path) -> EmergenceEvidence:
    em = [0.2, 0.4, 0.6, 0.8]
    return EmergenceEvidence(sizes=synthetic_sizes([e ** (1 / 20) for e in em], em))


@fixture("emergence/flat-sizes", FAMILY)
def flat_sizes(root: Path) -> EmergenceEvidence:
    return EmergenceEvidence(sizes=synthetic_sizes([0.9] * 4, [0.9**20] * 4))


# ---- over training: the 2-layer run beside the 1-layer control (notebook 04) -------------------------------------
RUN, CONTROL = "attn-only-2l", "attn-only-1l"


def run_curves(root: Path) -> dict[str, list[dict]]:
    """Capability curves (every checkpoint) of the attn-only-2l preset and its 1-layer control, real runs."""
    from circuits.presets import preset

    return {name: capability_curves(trained_run(root, name, preset(name)), progress=False) for name in (RUN, CONTROL)}


@fixture("emergence/runs", FAMILY, slow=True)
def runs(root: Path) -> EmergenceEvidence:
    return EmergenceEvidence(curves=run_curves(root), run=RUN, control=CONTROL)


@fixture("emergence/swapped-runs", FAMILY, slow=True)
def swapped_runs(root: Path) -> EmergenceEvidence:
    """The 1-layer model (no induction head can form) as "the run", the 2-layer one as its "control"."""
    return EmergenceEvidence(curves=run_curves(root), run=CONTROL, control=RUN)


STEPS = (0, 10, 100, 400, 500, 600, 700, 800, 1000, 2000, 3000)


def flat_curve(p: float = 0.01, L: int = 5, full: int = 28) -> list[dict]:
    """Capability rows in which nothing is learned: p jitters by ±0.001 around `p`, exact match stays 0, errors are
    independent (ρ = 0 ± 0.005), every smooth metric follows p."""
    rows = []
    for i, step in enumerate(STEPS):
        a = p + 0.001 * (-1) ** i
        rows.append({"step": step, "L": L, "L_full": full, "top1_accuracy": a, "exact_match": 0.0, "independent_match": a**L,
                     "match_ratio": 0.0, "exact_match_full": 0.0, "independent_match_full": a**full, "match_ratio_full": 0.0,
                     "error_correlation": 0.0, "log_prob": math.log(a), "brier": 1 - a, "edit_distance": L * (1 - a),
                     "edit_distance_full": full * (1 - a), "noise/top1_accuracy": 0.005, "noise/exact_match": 0.0,
                     "noise/error_correlation": 0.005})
    return rows


@fixture("emergence/flat-curves", FAMILY)
def flat_curves(root: Path) -> EmergenceEvidence:
    return EmergenceEvidence(curves={"flat": flat_curve(), "flat-control": flat_curve(0.02)}, run="flat", control="flat-control")

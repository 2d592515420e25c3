"""The attribution-patching claims, from the sweep table (`probes.measures.attribution` rows): how well the one-backward
estimate of Todd et al.'s CIE (Todd et al. 2024, arXiv 2310.15213; attribution patching, Nanda 2023; Syed, Rager &
Conmy 2023, arXiv 2310.10348) agrees with the exact AIE on the same tasks and prompts — top-k overlap (significant when
its hypergeometric p < 0.05; its chance expectation k²/N beside), Spearman ρ (against its one-sided α = 0.05 critical
value) and the error on the exact top-k heads, each beside its control (a random ranking; the estimate "no effect").

Agreement is judged at the checkpoints where some head has an FV-sized effect (exact AIE ≥ FV_MIN_AIE): where every
effect is ≈ 0 (an untrained model) the linearisation is nearly exact on a model that carries no task, so a claim needs
such checkpoints (none: "not supported")."""
from __future__ import annotations

import math
import statistics

from probes.claims.claim import Check, Claim, ClaimFamily, ClaimSpec, flag, fmt, make_claim, register_claims
from probes.claims.thresholds import (
    ATTRIBUTION_AGREE_ALPHA,
    ATTRIBUTION_MAX_TOP_ERROR,
    ATTRIBUTION_MIN_AGREE_SHARE,
    ATTRIBUTION_MIN_SPEARMAN,
    FV_MIN_AIE,
)
from probes.measures.attribution import PROBE, hypergeometric_tail
from probes.table import Row, select

SPEARMAN_CRITICAL_05 = {5: 0.900, 6: 0.829, 7: 0.714, 8: 0.643, 9: 0.600, 10: 0.564}  # one-sided α = 0.05, Zar 1972

def attribution_series(table: list[Row], name: str) -> list[tuple[int, float]]:
    return select(table, PROBE, f"agreement/{name}").get((None, None), [])

def last_head_values(table: list[Row], metric: str) -> dict[tuple[int, int], float]:
    return {head: points[-1][1] for head, points in select(table, PROBE, metric).items()}

def _steps_with_fv_effect(table: list[Row]) -> list[int]:
    """Checkpoints at which some head's exact AIE reaches FV_MIN_AIE (an FV-sized effect, probes.claims.thresholds)."""
    best: dict[int, float] = {}
    for points in select(table, PROBE, "exact_aie").values():
        for step, value in points:
            best[step] = max(best.get(step, value), value)
    return sorted(step for step, value in best.items() if value >= FV_MIN_AIE)

def overlap_claim(table: list[Row]) -> Claim:
    """At how many checkpoints the estimate's top-k overlap is significant against a random ranking (hypergeometric
    p < ATTRIBUTION_AGREE_ALPHA), against ATTRIBUTION_AGREE_ALPHA, the share a random ranking reaches. "Above the chance expectation"
    (overlap > k²/N) is reported beside it only: a random ranking reaches it with the probability shown."""
    overlap, chance, p = attribution_series(table, "overlap"), dict(attribution_series(table, "chance")), dict(attribution_series(table, "p_value"))
    k, n = int(attribution_series(table, "k")[-1][1]), int(attribution_series(table, "heads")[-1][1])
    wins = [step for step, _ in overlap if p[step] < ATTRIBUTION_AGREE_ALPHA]
    above = [step for step, value in overlap if value > chance[step]]
    share = len(wins) / len(overlap)
    failing = [step for step, _ in overlap if step not in wins]
    real = _steps_with_fv_effect(table)
    detail = (f"its top-{k} overlaps the exact top-{k} significantly (hypergeometric p < {ATTRIBUTION_AGREE_ALPHA} against a random "
              f"ranking) at {len(wins)} of {len(overlap)} checkpoints (share {fmt(share)}; a random ranking does so at a "
              f"share of {ATTRIBUTION_AGREE_ALPHA})" + (f"; not at steps {', '.join(map(str, failing))}" if failing else "")
              + f"; the overlap is above the chance expectation k²/N = {fmt(k * k / n)} at {len(above)} of {len(overlap)} "
              f"checkpoints, which a random ranking reaches with probability {fmt(hypergeometric_tail(n, k, int(k * k / n) + 1))}"
              f"; at the {len(real)} checkpoints where some head's exact AIE ≥ FV_MIN_AIE ({FV_MIN_AIE}) it is significant "
              f"at {len(set(real) & set(wins))} (elsewhere every effect is below that floor)")
    return make_claim("attribution/overlap", f"attribution patching's top-{k} heads agree with the exact AIE's beyond "
                      f"chance (p < {ATTRIBUTION_AGREE_ALPHA}) at ≥ {ATTRIBUTION_MIN_AGREE_SHARE:.0%} of checkpoints",
                      True, share, ATTRIBUTION_AGREE_ALPHA, detail,
                      [Check("share of checkpoints with a significant top-k overlap", share, ">=", ATTRIBUTION_MIN_AGREE_SHARE),
                       Check("that share at the checkpoints with an FV-sized effect", _share(set(real) & set(wins), real),
                             ">=", ATTRIBUTION_MIN_AGREE_SHARE)])

def _share(part: set, whole: list) -> float:
    return len(part) / len(whole) if whole else float("nan")

def spearman_critical(n: int, alpha: float = ATTRIBUTION_AGREE_ALPHA) -> float:
    """One-sided critical Spearman ρ for n ranks at level alpha: exact values at α = 0.05 (Zar 1972, J. Am. Stat.
    Assoc. 67:578) for 5 ≤ n ≤ 10, else the large-sample normal approximation ρ = z_(1−α)/√(n − 1)."""
    if alpha == 0.05 and n in SPEARMAN_CRITICAL_05:
        return SPEARMAN_CRITICAL_05[n]
    return statistics.NormalDist().inv_cdf(1 - alpha) / math.sqrt(n - 1)

def spearman_claim(table: list[Row]) -> Claim:
    """Median Spearman ρ over checkpoints against the larger of ATTRIBUTION_MIN_SPEARMAN and the one-sided α = 0.05
    critical value for N heads (a random ranking's ρ exceeds it with probability 0.05)."""
    rho, n, real = attribution_series(table, "spearman"), int(attribution_series(table, "heads")[-1][1]), _steps_with_fv_effect(table)
    median, (worst_step, worst) = statistics.median(v for _, v in rho), min(rho, key=lambda p: p[1])
    need = max(ATTRIBUTION_MIN_SPEARMAN, spearman_critical(n))
    detail = (f"median Spearman ρ over {len(rho)} checkpoints {fmt(median)} (lowest {fmt(worst)} at step {worst_step}), "
              f"against {fmt(0.0)} for a random ranking, which exceeds {fmt(spearman_critical(n))} with probability "
              f"{ATTRIBUTION_AGREE_ALPHA} (one-sided critical value for N = {n} heads)")
    return make_claim("attribution/spearman", f"attribution patching ranks all heads like the exact AIE (median ρ ≥ "
                      f"{fmt(need)}, the larger of {ATTRIBUTION_MIN_SPEARMAN} and the α = {ATTRIBUTION_AGREE_ALPHA} critical value)",
                      True, median, 0.0, detail,
                      [Check("median Spearman ρ", median, ">=", ATTRIBUTION_MIN_SPEARMAN),
                       Check("median ρ at the checkpoints with an FV-sized effect", _median_at(rho, real), ">=",
                             ATTRIBUTION_MIN_SPEARMAN),
                       Check(f"median Spearman ρ vs the α = {ATTRIBUTION_AGREE_ALPHA} critical value", median, ">=",
                             spearman_critical(n))])

def top_error_claim(table: list[Row]) -> Claim:
    """At the last checkpoint, the mean error on the exact top-k heads relative to their mean |exact AIE|, against
    the estimate "no effect" (relative error 1)."""
    (step, relative), k = attribution_series(table, "top_relative_error")[-1], int(attribution_series(table, "k")[-1][1])
    mean_error, max_error = attribution_series(table, "top_mean_error")[-1][1], attribution_series(table, "top_max_error")[-1][1]
    detail = (f"at step {step}, mean |attribution − exact| on the exact top-{k} heads {mean_error:.3f} (max {max_error:.3f}) "
              f"is {fmt(relative)} of their mean |exact AIE|; estimating no effect gives {fmt(1.0)}")
    return make_claim("attribution/top_error", f"at the last checkpoint attribution patching sizes the top-{k} heads' AIE "
                      f"within {ATTRIBUTION_MAX_TOP_ERROR:.0%}", True, relative, 1.0, detail,
                      [flag(f"an FV-sized effect at step {step} (some head's exact AIE ≥ {FV_MIN_AIE})",
                            step in _steps_with_fv_effect(table)),
                       Check("mean error on the top-k / their mean |exact AIE|", relative, "<=", ATTRIBUTION_MAX_TOP_ERROR)])

def _median_at(points: list[tuple[int, float]], steps: list[int]) -> float:
    values = [v for s, v in points if s in set(steps)]
    return statistics.median(values) if values else float("nan")

def attribution_claims(table: list[Row]) -> list[Claim]:
    return [overlap_claim(table), spearman_claim(table), top_error_claim(table)]

# ---- the claim family (fixtures in tests/nulls_attribution.py) ------------------
register_claims(ClaimFamily("attribution", attribution_claims, claims=tuple(
    ClaimSpec(key, ("attribution/untrained",), "attribution/trained")
    for key in ("attribution/overlap", "attribution/spearman", "attribution/top_error"))))

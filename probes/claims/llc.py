"""The LLC claims, from the sweep table (`probes.measures.llc` rows): λ̂ rises over training, changes at the induction
phase change, a stage boundary of Hoogland et al. (2024, arXiv 2402.02364; `probes.claims.llc_stages`) holds that
change, and the chains agree. Every claim carries its checks (thresholds in `probes.claims.thresholds`).

A window is special only against windows of the same width in log(1 + step) elsewhere on the curve (Hoogland et al.
read stages on that axis; a trend in steps or in log-steps rises across those as much); a stage claim needs
≥ LLC_MIN_STAGES stages (one stage always holds the window); a boundary inside the window counts only if same-width
windows elsewhere rarely hold one. Deviation from Hoogland et al.: they place the induction heads' formation within
their stages by eye; these are tests with stated thresholds. The family and its fixtures (tests/nulls_llc.py) are
declared here for tests/test_conformance.py."""
from __future__ import annotations

import math
from dataclasses import dataclass

from probes.claims.claim import Check, Claim, ClaimFamily, ClaimSpec, flag, fmt, make_claim, register_claims
from probes.claims.induction import induction_noise_floor
from probes.claims.llc_stages import stage_boundaries
from probes.claims.phase_change import PhaseChange, locate_phase_change, robust_noise
from probes.claims.thresholds import (
    INDUCTION_NOISE_FLOOR,
    LLC_BOUNDARY_CHANCE_MAX,
    LLC_DRIFT_MAX,
    LLC_DRIFT_Z,
    LLC_MIN_STAGES,
    LLC_NOISE_MULTIPLE,
    LLC_RHAT_MAX,
    LLC_SPREAD_MAX,
    LLC_WINDOW_RATIO,
    PHASE_MIN_SCORE_CHANGE,
    PHASE_PLATEAU_CHECKPOINTS,
    PHASE_PLATEAU_TOLERANCE,
)
from probes.table import Row, select

FLAGS = ("disagree", "unsettled", "diverged")

@dataclass(frozen=True)
class LLCSeries:
    """The llc rows of a table as series over its checkpoints (ascending steps)."""

    steps: list[int]
    mean: list[float]
    std: list[float]
    chains: list[list[float]]  # [step][chain]
    flags: dict[str, list[int]]  # flag → steps where it is set
    values: dict[int, dict[str, float]]  # step → metric → value (settings, diagnostics, traces)

def llc_series(table: list[Row]) -> LLCSeries:
    values: dict[int, dict[str, float]] = {}
    for row in table:
        if row["probe"] == "llc":
            values.setdefault(row["step"], {})[row["metric"]] = row["value"]
    steps = sorted(values)
    chains = [[v[f"chain/{i}"] for i in range(int(v["chains"]))] for v in (values[s] for s in steps)]
    flags = {f: [s for s in steps if values[s][f]] for f in FLAGS}
    return LLCSeries(steps, [values[s]["mean"] for s in steps], [values[s]["std"] for s in steps], chains, flags, values)

def top_induction(table: list[Row], native: bool = True) -> tuple[tuple, list[tuple[int, float]], PhaseChange] | None:
    """The top head's controlled induction score and its phase change, as the main report finds them
    (`probes.claims.induction.compute_findings`); None when the attention probe was not run."""
    induction = select(table, "attention", "induction")
    if not induction:
        return None
    top = max(induction, key=lambda head: induction[head][-1][1])
    points = induction[top]
    noise = induction_noise_floor(induction) if native else INDUCTION_NOISE_FLOOR
    change = locate_phase_change([s for s, _ in points], [v for _, v in points], noise=noise,
                                 min_change=PHASE_MIN_SCORE_CHANGE)
    return top, points, change

def _at_or_after(s: LLCSeries, step: int) -> int | None:
    return next((i for i, t in enumerate(s.steps) if t >= step), None)

def _at_or_before(s: LLCSeries, step: int) -> int | None:
    return next((i for i in reversed(range(len(s.steps))) if s.steps[i] <= step), None)

def _log(step: int | float) -> float:
    return math.log1p(step)

def curve_noise(s: LLCSeries) -> float:
    """The noise of λ̂ between checkpoints estimated from the curve itself (`probes.claims.phase_change.robust_noise` of the finite
    λ̂): chains that agree closely say nothing about how much λ̂ scatters from checkpoint to checkpoint."""
    finite = [m for m in s.mean if math.isfinite(m)]
    return robust_noise(finite) if len(finite) >= 3 else 0.0

def _floor(s: LLCSeries, i: int) -> float:
    """The noise floor of λ̂ᵢ: max(the chains' std there, the curve's own noise `curve_noise`) (the chains'
    std alone makes a flat λ̂ = 5 + N(0, 0.3) with chain std 0.03 "rise")."""
    return max(s.std[i], curve_noise(s))

def _sigma(s: LLCSeries, i: int, j: int) -> float:
    """The noise of λ̂ᵢ − λ̂ⱼ: the two noise floors (`_floor`) combined."""
    return math.hypot(_floor(s, i), _floor(s, j))

def plateau_held(s: LLCSeries, i: int, j: int) -> tuple[int, float]:
    """(checkpoints from the window's end j on, counted up to PHASE_PLATEAU_CHECKPOINTS; the share of the window's
    change λ̂ⱼ − λ̂ᵢ that the least-changed of them still holds): λ̂ holds its new level after the window, as the
    locator asks of a phase change (a one-checkpoint blip at the window's end falls back)."""
    after = s.mean[j : j + PHASE_PLATEAU_CHECKPOINTS]
    change = s.mean[j] - s.mean[i]
    if not change or not all(math.isfinite(v) for v in after):
        return len(after), float("nan")
    return len(after), min((v - s.mean[i]) / change for v in after)

def plateau_checks(s: LLCSeries, i: int, j: int) -> list[Check]:
    count, held = plateau_held(s, i, j)
    return [Check("checkpoints from the window's end on", float(count), ">=", float(PHASE_PLATEAU_CHECKPOINTS)),
            Check("least share of the window's change held over them", held, ">=", 1 - PHASE_PLATEAU_TOLERANCE)]

def _ratio(a: float, b: float) -> float:
    """a / b for a check, finite: a / (b ≤ 0) is ±1e9 (nothing elsewhere moves in that direction), NaN stays NaN."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return float("nan")
    return a / b if b > 0 else math.copysign(1e9, a) if a else 0.0

def _interp(s: LLCSeries, x: float) -> float:
    """λ̂ at log(1 + step) = x, linear between checkpoints on that axis."""
    xs = [_log(t) for t in s.steps]
    k = max(0, min(len(xs) - 2, next((i for i in range(1, len(xs)) if xs[i] >= x), len(xs) - 1) - 1))
    w = (x - xs[k]) / (xs[k + 1] - xs[k])
    return s.mean[k] + w * (s.mean[k + 1] - s.mean[k])

def other_windows(s: LLCSeries, lo: float, hi: float) -> list[tuple[float, float]]:
    """Every window [u, u + w] of the width w = hi − lo (log(1 + step) units) that starts or ends at a checkpoint,
    lies inside the curve and does not overlap (lo, hi): the same-width comparison windows elsewhere."""
    width, first, last = hi - lo, _log(s.steps[0]), _log(s.steps[-1])
    starts = {x for t in s.steps for x in (_log(t), _log(t) - width)}
    return sorted((u, u + width) for u in starts
                  if first - 1e-9 <= u and u + width <= last + 1e-9 and (u + width <= lo + 1e-9 or u >= hi - 1e-9))

def window_changes(s: LLCSeries, lo: float, hi: float) -> list[float]:
    """λ̂(end) − λ̂(start) across each same-width window elsewhere (`other_windows`)."""
    return [_interp(s, b) - _interp(s, a) for a, b in other_windows(s, lo, hi)]

def _window_ends(s: LLCSeries, change: PhaseChange | None) -> tuple[int, int] | None:
    """Indices of the LLC checkpoints at or before the window's start and at or after its end (None: no window, or
    λ̂ not estimated on both sides)."""
    if change is None or not change.detected:
        return None
    before, after = _at_or_before(s, change.start), _at_or_after(s, change.end)
    return None if before is None or after is None or before >= after else (before, after)

def _located(change: PhaseChange | None) -> tuple[Check, str]:
    if change is None:
        return flag("phase change located", False), "the attention probe was not run"
    why = "" if change.detected else f"no phase change located ({change.reason})"
    return flag("phase change located", change.detected), why or f"phase change at steps {change.start}–{change.end}"

def rise_claim(s: LLCSeries) -> Claim:
    """λ̂ at the last checkpoint exceeds λ̂ at the first by more than LLC_NOISE_MULTIPLE × their combined noise floor
    (each the larger of the chains' std and the curve's own scatter, `_floor`)."""
    rise, sigma = s.mean[-1] - s.mean[0], _sigma(s, -1, 0)
    return make_claim(
        "llc/rises", "the LLC at the last checkpoint exceeds the LLC at the first", True, s.mean[-1], s.mean[0],
        f"λ̂ {fmt(s.mean[-1])} ± {fmt(s.std[-1])} at step {s.steps[-1]} vs {fmt(s.mean[0])} ± {fmt(s.std[0])} at step "
        f"{s.steps[0]} (± std over chains); noise floor of the difference {fmt(sigma)} (chain stds or the curve's own "
        f"scatter {fmt(curve_noise(s))}, whichever is larger).",
        [Check("rise / combined noise floor", _ratio(rise, sigma), ">", LLC_NOISE_MULTIPLE)])

def phase_claim(s: LLCSeries, change: PhaseChange | None) -> Claim:
    """λ̂ rises across the induction window (checkpoints at or before its start, at or after its end) beyond the
    chains' noise, and by ≥ LLC_WINDOW_RATIO × the largest rise across a same-log-width window elsewhere (a trend in
    steps or in log-steps rises across those as much)."""
    located, where = _located(change)
    ends = _window_ends(s, change)
    checks = [located, flag("λ̂ on both sides of the window", ends is not None)]
    if ends is None:
        return make_claim("llc/phase_change", "the LLC rises across the induction phase change", True, float("nan"),
                          None, f"{where}; λ̂ not compared across it.", checks)
    i, j = ends
    rise = s.mean[j] - s.mean[i]
    elsewhere = max(window_changes(s, _log(s.steps[i]), _log(s.steps[j])), default=float("nan"))
    checks += [Check("window rise / combined noise floor", _ratio(rise, _sigma(s, j, i)), ">", LLC_NOISE_MULTIPLE),
               Check("window rise / largest same-width rise elsewhere", _ratio(rise, elsewhere), ">=", LLC_WINDOW_RATIO),
               *plateau_checks(s, i, j)]
    count, held = plateau_held(s, i, j)
    return make_claim(
        "llc/phase_change", "the LLC rises across the induction phase change, more than across same-width windows "
        "elsewhere", True, rise, elsewhere,
        f"λ̂ {fmt(s.mean[j])} ± {fmt(s.std[j])} at step {s.steps[j]} vs {fmt(s.mean[i])} ± {fmt(s.std[i])} at step "
        f"{s.steps[i]} ({where}): a rise of {fmt(rise)}; the largest rise across a window of the same log-step width "
        f"elsewhere is {fmt(elsewhere)}; noise floor {fmt(_sigma(s, j, i))} (chain stds or the curve's own scatter, "
        f"whichever is larger); {fmt(held)} of the rise held over the {count} checkpoint(s) from step {s.steps[j]} "
        f"on.", checks)

def boundary_chance(s: LLCSeries, boundaries: list[int], lo: float, hi: float, positions: int = 200) -> float:
    """The control of `boundary_claim`: the share of windows of width hi − lo (log-steps), at `positions` evenly
    spaced places of the curve not overlapping (lo, hi), that hold ≥ 1 boundary (NaN: no room for one)."""
    width, first, last = hi - lo, _log(s.steps[0]), _log(s.steps[-1])
    starts = [first + k * (last - width - first) / (positions - 1) for k in range(positions)] if last - first > width else []
    starts = [u for u in starts if u + width <= lo or u >= hi]
    xs = [_log(b) for b in boundaries]
    hits = [any(u <= x <= u + width for x in xs) for u in starts]
    return sum(hits) / len(hits) if hits else float("nan")

def boundary_claim(s: LLCSeries, boundaries: list[int], change: PhaseChange | None) -> Claim:
    """A stage boundary falls inside the induction window, while at most LLC_BOUNDARY_CHANCE_MAX of the windows of
    the same log-step width elsewhere hold one (the control: boundaries everywhere land in any window)."""
    statement = "an LLC stage boundary falls inside the induction phase-change window, and rarely in same-width windows elsewhere"
    found = f"stage boundaries at steps {', '.join(map(str, boundaries))}" if boundaries else "no stage boundary"
    located, where = _located(change)
    n_stages = len(stages(s, boundaries))
    checks = [located, Check("stages", float(n_stages), ">=", float(LLC_MIN_STAGES))]
    if not change or not change.detected:
        return make_claim("llc/stage_boundary", statement, True, float("nan"), None, f"{found}; {where}.", checks)
    lo, hi = _log(change.start), _log(change.end)
    gap = min((max(lo - x, x - hi, 0.0) for x in map(_log, boundaries)), default=float("nan"))
    chance = boundary_chance(s, boundaries, lo, hi)
    checks += [Check("log-step distance from the window to the nearest boundary", gap, "<=", 0.0),
               Check("share of same-width windows elsewhere holding a boundary", chance, "<=", LLC_BOUNDARY_CHANCE_MAX)]
    return make_claim(
        "llc/stage_boundary", statement, True, gap, chance,
        f"{found} (where the GP-smoothed λ̂ over log steps has slope ≈ 0); {where} (fastest "
        f"{change.steepest[0]}–{change.steepest[1]}); {fmt(chance)} of the windows of its log-step width elsewhere hold "
        f"a boundary.", checks)

def stages(s: LLCSeries, boundaries: list[int]) -> list[tuple[int, int, float, float]]:
    """(first step, last step, λ̂ at each) of every stage: checkpoints between consecutive boundaries."""
    edges = [s.steps[0], *boundaries, s.steps[-1]]
    out = []
    for a, b in zip(edges, edges[1:], strict=False):
        i, j = _at_or_after(s, a), _at_or_before(s, b)
        if i is not None and j is not None and i < j:
            out.append((s.steps[i], s.steps[j], s.mean[i], s.mean[j]))
    return out

def stage_claim(s: LLCSeries, boundaries: list[int], change: PhaseChange | None) -> Claim:
    """The window lies inside the stage whose λ̂ changes most (control: the largest change of another stage), there
    are ≥ LLC_MIN_STAGES stages, and λ̂ changes across the window ≥ LLC_WINDOW_RATIO × as much as across any
    same-log-width window elsewhere (|Δλ̂|: a stage may fall)."""
    parts, (located, where) = stages(s, boundaries), _located(change)
    listing = "; ".join(f"{a}–{b}: λ̂ {fmt(x)} → {fmt(y)}" for a, b, x, y in parts) or "none"
    statement = "the induction phase change falls inside the stage in which the LLC changes most"
    checks = [located, Check("stages", float(len(parts)), ">=", float(LLC_MIN_STAGES))]
    ends = _window_ends(s, change)
    if ends is None or not parts:
        checks.append(flag("λ̂ on both sides of the window", False))
        return make_claim("llc/stage_of_phase_change", statement, True, float("nan"), None,
                          f"stages {listing}; {where}; not placed.", checks)
    top = max(range(len(parts)), key=lambda k: abs(parts[k][3] - parts[k][2]))
    inside = parts[top][0] <= change.start and change.end <= parts[top][1]
    others = max((abs(p[3] - p[2]) for k, p in enumerate(parts) if k != top), default=float("nan"))
    (i, j), size = ends, abs(parts[top][3] - parts[top][2])
    elsewhere = max(map(abs, window_changes(s, _log(s.steps[i]), _log(s.steps[j]))), default=float("nan"))
    checks += [flag("the window lies inside the stage whose λ̂ changes most", inside),
               Check("window |Δλ̂| / largest same-width |Δλ̂| elsewhere",
                     _ratio(abs(s.mean[j] - s.mean[i]), elsewhere), ">=", LLC_WINDOW_RATIO),
               *plateau_checks(s, i, j)]
    return make_claim(
        "llc/stage_of_phase_change", statement, True, size, others,
        f"stages {listing}; {where}, {'inside' if inside else 'outside'} stage {parts[top][0]}–{parts[top][1]}, "
        f"whose λ̂ changes by {fmt(parts[top][3] - parts[top][2])}; λ̂ changes by {fmt(s.mean[j] - s.mean[i])} across "
        f"the window, at most {fmt(elsewhere)} across a same-width window elsewhere.", checks)

def chains_claim(s: LLCSeries) -> Claim:
    flagged = sorted({t for steps in s.flags.values() for t in steps})
    parts = [f"{name} at steps {', '.join(map(str, steps))}" for name, steps in s.flags.items() if steps]
    rhat = max(s.values[t]["rhat"] for t in s.steps)
    spread = max(s.values[t]["spread"] for t in s.steps)
    return make_claim(
        "llc/chains_agree", "the SGLD chains agree and settle at every checkpoint", True, float(len(flagged)),
        float(len(s.steps)), f"{len(flagged)} of {len(s.steps)} checkpoints flagged{': ' + '; '.join(parts) if parts else ''}; "
        f"largest split-R̂ {rhat:.3f} (≤ {LLC_RHAT_MAX}), largest chain spread {spread:.3f} of λ̂ (≤ {LLC_SPREAD_MAX}), "
        f"a drift > {LLC_DRIFT_MAX} of λ̂ and > {LLC_DRIFT_Z:g} standard errors counts as unsettled.",
        [Check("flagged checkpoints", float(len(flagged)), "<=", 0.0)])

def llc_claims(table: list[Row], native: bool = True) -> tuple[list[Claim], list[int]]:
    """The section's claims and the stage boundaries."""
    s = llc_series(table)
    found = top_induction(table, native)
    change = found[2] if found else None
    ok = [(t, m) for t, m in zip(s.steps, s.mean, strict=True) if math.isfinite(m)]
    boundaries = stage_boundaries([t for t, _ in ok], [m for _, m in ok])
    claims = [rise_claim(s), phase_claim(s, change), boundary_claim(s, boundaries, change),
              stage_claim(s, boundaries, change), chains_claim(s)]
    return claims, boundaries

DESCRIPTIVE = ("llc/stage_boundary",)  # computed with its checks, stated with no verdict (see `verdicts`)

def verdicts(claims: list[Claim]) -> tuple[list[Claim], list[str]]:
    """(the claims stated with a verdict, descriptive sentences). `llc/stage_boundary` is descriptive: a claim needs
    a positive fixture, and no run of ours puts a stage boundary inside its phase-change window (on attn-only-2l it
    falls 7–204 steps after the window, by checkpoint grid), while a constructed least-squares series sampled by
    devinterp gave it both ways from run to run; its test is shown, not claimed."""
    stated = [c for c in claims if c.key not in DESCRIPTIVE]
    lines = [f"Descriptive, no verdict ({'every check passes' if c.supported else 'not every check passes'}): "
             f"{c.statement} — {c.sentence.split(' — ', 1)[1]}" for c in claims if c.key in DESCRIPTIVE]
    return stated, lines

def evaluate_claims(table: list[Row]) -> list[Claim]:
    """The family's claims on a run's tidy table (llc rows, and attention rows for the phase change)."""
    return verdicts(llc_claims(table)[0])[0]

_CURVES = ("llc/featureless", "llc/linear", "llc/flat-noisy", "llc/flat-noisy-tight-chains", "llc/blip")

# synthetic null curves (tests/nulls_llc.py)
register_claims(ClaimFamily("llc", evaluate_claims, claims=(
    ClaimSpec("llc/rises", ("llc/flat-noisy", "llc/flat-noisy-tight-chains", "llc/untrained"), "llc/attn-only-2l"),  # a trend does rise
    ClaimSpec("llc/phase_change", (*_CURVES, "llc/untrained"), "llc/attn-only-2l"),
    ClaimSpec("llc/stage_of_phase_change", (*_CURVES, "llc/untrained"), "llc/attn-only-2l"),
    # on attn-only-2l the boundary sits 7 steps after the window's end (not inside): a constructed model is its positive
    ClaimSpec("llc/chains_agree", ("llc/diverging-chains",), "llc/attn-only-2l"),
)))

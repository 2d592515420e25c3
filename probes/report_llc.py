"""The LLC section of the HTML report: λ̂ over training beside the loss and the top induction score, its stage
boundaries (Hoogland et al. 2024, arXiv 2402.02364; `probes.stages`) and the induction phase change, the chains'
loss traces, and their diagnostics. Every sentence is a `probes.claims.Claim` computed from the table (`probes.llc`
rows), with its control; none is fixed text.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from probes.claims import Claim, fmt, make_claim
from probes.findings import induction_noise_floor
from probes.icl import PhaseChange, locate_phase_change
from probes.metrics import INDUCTION_NOISE_FLOOR, LLC_DRIFT_MAX, LLC_DRIFT_Z, LLC_RHAT_MAX, LLC_SPREAD_MAX
from probes.stages import smoothed, stage_boundaries
from probes.table import Row, select

FLAGS = ("disagree", "unsettled", "diverged")
NOISE_MULTIPLE = 3.0  # λ̂ "differs" between two checkpoints: by more than this × √(std₁² + std₂²) (chain stds)


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
    (`probes.findings.compute_findings`); None when the attention probe was not run."""
    induction = select(table, "attention", "induction")
    if not induction:
        return None
    top = max(induction, key=lambda head: induction[head][-1][1])
    points = induction[top]
    noise = induction_noise_floor(induction) if native else INDUCTION_NOISE_FLOOR
    return top, points, locate_phase_change([s for s, _ in points], [v for _, v in points], noise=noise)


def _at_or_after(s: LLCSeries, step: int) -> int | None:
    return next((i for i, t in enumerate(s.steps) if t >= step), None)


def _at_or_before(s: LLCSeries, step: int) -> int | None:
    return next((i for i in reversed(range(len(s.steps))) if s.steps[i] <= step), None)


def _differs(s: LLCSeries, i: int, j: int) -> bool:
    return s.mean[i] - s.mean[j] > NOISE_MULTIPLE * math.hypot(s.std[i], s.std[j])


def rise_claim(s: LLCSeries) -> Claim:
    return make_claim(
        "llc/rises", "the LLC at the last checkpoint exceeds the LLC at the first", _differs(s, -1, 0), s.mean[-1], s.mean[0],
        f"λ̂ {fmt(s.mean[-1])} ± {fmt(s.std[-1])} at step {s.steps[-1]} vs {fmt(s.mean[0])} ± {fmt(s.std[0])} at step "
        f"{s.steps[0]} (± std over chains; needs a gap > {NOISE_MULTIPLE:g}× their combined std).")


def phase_claim(s: LLCSeries, change: PhaseChange | None) -> Claim:
    statement = "the LLC rises across the induction phase change"
    if change is None or not change.detected:
        why = "the attention probe was not run" if change is None else f"no phase change located ({change.reason})"
        return make_claim("llc/phase_change", statement, False, float("nan"), None, f"{why}.")
    before, after = _at_or_before(s, change.start), _at_or_after(s, change.end)
    if before is None or after is None:
        return make_claim("llc/phase_change", statement, False, float("nan"), None,
                          f"λ̂ was not estimated on both sides of the window {change.start}–{change.end}.")
    return make_claim(
        "llc/phase_change", statement, _differs(s, after, before), s.mean[after], s.mean[before],
        f"λ̂ {fmt(s.mean[after])} ± {fmt(s.std[after])} at step {s.steps[after]} (after the window {change.start}–"
        f"{change.end}) vs {fmt(s.mean[before])} ± {fmt(s.std[before])} at step {s.steps[before]} (before it).")


def boundary_claim(s: LLCSeries, boundaries: list[int], change: PhaseChange | None) -> Claim:
    """A stage boundary falls inside the phase-change window; the control is the window's share of the log-step
    range (how often a boundary placed at random would)."""
    statement = "an LLC stage boundary falls inside the induction phase-change window"
    found = f"stage boundaries at steps {', '.join(map(str, boundaries))}" if boundaries else "no stage boundary"
    if change is None or not change.detected:
        return make_claim("llc/stage_boundary", statement, False, float("nan"), None,
                          f"{found}; no phase change to compare with.")
    share = (math.log1p(change.end) - math.log1p(change.start)) / math.log1p(s.steps[-1])
    gaps = [max(change.start - b, b - change.end, 0) for b in boundaries]
    nearest = min(range(len(gaps)), key=gaps.__getitem__) if gaps else None
    where = (f"; the nearest, step {boundaries[nearest]}, is {gaps[nearest]} steps from the phase change at steps "
             f"{change.start}–{change.end} (fastest {change.steepest[0]}–{change.steepest[1]})") if gaps else ""
    return make_claim(
        "llc/stage_boundary", statement, bool(gaps) and min(gaps) == 0, float(min(gaps)) if gaps else float("nan"), share,
        f"{found} (where the GP-smoothed λ̂ over log steps has slope ≈ 0){where}; the window covers "
        f"{share:.0%} of the log-step range.")


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
    """The phase-change window lies inside the stage whose λ̂ changes most; the control is the largest change of
    any other stage."""
    parts = stages(s, boundaries)
    listing = "; ".join(f"{a}–{b}: λ̂ {fmt(x)} → {fmt(y)}" for a, b, x, y in parts)
    statement = "the induction phase change falls inside the stage in which the LLC changes most"
    if change is None or not change.detected or not parts:
        return make_claim("llc/stage_of_phase_change", statement, False, float("nan"), None,
                          f"stages {listing or 'none'}; no phase change to place.")
    top = max(range(len(parts)), key=lambda k: abs(parts[k][3] - parts[k][2]))
    inside = parts[top][0] <= change.start and change.end <= parts[top][1]
    others = [abs(p[3] - p[2]) for k, p in enumerate(parts) if k != top]
    return make_claim(
        "llc/stage_of_phase_change", statement, inside, abs(parts[top][3] - parts[top][2]), max(others, default=0.0),
        f"stages {listing}; the phase change at steps {change.start}–{change.end} lies "
        f"{'inside' if inside else 'outside'} stage {parts[top][0]}–{parts[top][1]}, whose λ̂ changes by "
        f"{fmt(parts[top][3] - parts[top][2])}.")


def chains_claim(s: LLCSeries) -> Claim:
    flagged = sorted({t for steps in s.flags.values() for t in steps})
    parts = [f"{name} at steps {', '.join(map(str, steps))}" for name, steps in s.flags.items() if steps]
    rhat = max(s.values[t]["rhat"] for t in s.steps)
    spread = max(s.values[t]["spread"] for t in s.steps)
    return make_claim(
        "llc/chains_agree", "the SGLD chains agree and settle at every checkpoint", not flagged, float(len(flagged)),
        float(len(s.steps)), f"{len(flagged)} of {len(s.steps)} checkpoints flagged{': ' + '; '.join(parts) if parts else ''}; "
        f"largest split-R̂ {rhat:.3f} (≤ {LLC_RHAT_MAX}), largest chain spread {spread:.3f} of λ̂ (≤ {LLC_SPREAD_MAX}), "
        f"a drift > {LLC_DRIFT_MAX} of λ̂ and > {LLC_DRIFT_Z:g} standard errors counts as unsettled.")


def settings_line(s: LLCSeries) -> str:
    v = s.values[s.steps[0]]
    return (f"LLC (devinterp SGLD, the same settings at every checkpoint): n = {int(v['n'])} probe sequences, "
            f"nβ = {v['nbeta']:.1f}, ε = {v['lr']:g}, γ = {v['localization']:g}, {int(v['chains'])} chains × "
            f"{int(v['draws'])} draws after {int(v['burnin'])} burn-in steps, batch {int(v['batch_size'])}.")


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


def _section(table: list[Row], metrics: list[dict], native: bool) -> tuple[list[str], list[Claim], list[go.Figure]]:
    claims, boundaries = llc_claims(table, native)
    s, found = llc_series(table), top_induction(table, native)
    figures = [fig_llc(s, table, metrics, boundaries, found), fig_traces(s, found), fig_diagnostics(s)]
    return [settings_line(s)] + [c.sentence for c in claims], claims, figures


def llc_section(table: list[Row], metrics: list[dict], native: bool = True) -> tuple[list[str], list[go.Figure]]:
    """(sentences, figures) of the LLC section; `metrics` is the run's metrics.jsonl (train loss when the table has
    no icl rows); `native`: one of our runs (as `probes.findings.compute_findings` takes it)."""
    lines, _, figures = _section(table, metrics, native)
    return lines, figures


def llc_html(table: list[Row], metrics: list[dict], native: bool = True) -> tuple[str, list[Claim]]:
    """The section as report HTML (plotly.js loaded earlier on the page) and its claims."""
    lines, claims, figures = _section(table, metrics, native)
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    plots = "".join(fig.to_html(full_html=False, include_plotlyjs=False) for fig in figures)
    return f"<h2>Local learning coefficient</h2><ul>{items}</ul>{plots}", claims


def _x(steps: list[int] | list[float]) -> list[float]:
    """x positions on the log axis: step + 1 (step 0 is the initialisation)."""
    return [float(t) + 1 for t in steps]


def _marks(fig: go.Figure, rows: dict[int, tuple[float, float]], boundaries: list[int], change: PhaseChange | None) -> None:
    """Stage boundaries (dashed) and the phase-change window (shaded) on every row, as traces (log x axis)."""
    for row, (lo, hi) in rows.items():
        for k, b in enumerate(boundaries):
            fig.add_trace(go.Scatter(x=_x([b, b]), y=[lo, hi], mode="lines", line=dict(dash="dash", color="purple"),
                                     name="LLC stage boundary", legendgroup="b", showlegend=row == 1 and k == 0), row=row, col=1)
        if change is not None and change.detected:
            fig.add_trace(go.Scatter(x=_x([change.start, change.start, change.end, change.end]), y=[lo, hi, hi, lo],
                                     fill="toself", mode="none", fillcolor="rgba(255,165,0,0.2)", name="phase-change window",
                                     legendgroup="p", showlegend=row == 1), row=row, col=1)


def _loss_series(table: list[Row], metrics: list[dict]) -> tuple[list[int], list[float], str]:
    icl = select(table, "icl", "loss").get((None, None))
    if icl:
        return [t for t, _ in icl], [v for _, v in icl], "loss (icl probe, training text)"
    rows = [r for r in metrics if "train/loss" in r]
    return [r["step"] for r in rows], [r["train/loss"] for r in rows], "train loss"


def fig_llc(s: LLCSeries, table: list[Row], metrics: list[dict], boundaries: list[int], found) -> go.Figure:
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.05, subplot_titles=(
        "λ̂ (mean ± std over chains; dots: chains; line: GP fit)", "loss (nats)", "top head's controlled induction score",
        "dλ̂/d log t of the GP fit (stage boundaries where ≈ 0)"))
    fig.add_trace(go.Scatter(x=_x(s.steps), y=s.mean, error_y=dict(array=s.std), mode="markers+lines", name="λ̂"), row=1, col=1)
    fig.add_trace(go.Scatter(x=[t + 1 for t, c in zip(s.steps, s.chains, strict=True) for _ in c], y=[v for c in s.chains for v in c],
                             mode="markers", marker=dict(size=3, color="gray"), name="per chain"), row=1, col=1)
    ok = [(t, m) for t, m in zip(s.steps, s.mean, strict=True) if math.isfinite(m)]
    if len(ok) >= 4:
        gx, gy, slope = smoothed([t for t, _ in ok], [m for _, m in ok])
        fig.add_trace(go.Scatter(x=_x(gx), y=gy, mode="lines", line=dict(color="black", width=1), name="GP fit"), row=1, col=1)
        fig.add_trace(go.Scatter(x=_x(gx), y=slope, mode="lines", name="dλ̂/d log t"), row=4, col=1)
    steps, loss, label = _loss_series(table, metrics)
    fig.add_trace(go.Scatter(x=_x(steps), y=loss, mode="lines", name=label), row=2, col=1)
    if found:
        top, points, _ = found
        fig.add_trace(go.Scatter(x=_x([t for t, _ in points]), y=[v for _, v in points], mode="lines+markers",
                                 name=f"induction score, head {top[0]}.{top[1]}"), row=3, col=1)
    finite = [v for c in s.chains for v in c if math.isfinite(v)] or [0.0]
    spans = {1: (min(finite), max(finite)), 2: (min(loss, default=0), max(loss, default=1)), 3: (0, 1)}
    _marks(fig, spans, boundaries, found[2] if found else None)
    fig.update_xaxes(type="log", title_text="training step + 1 (log scale)", row=4, col=1)
    return fig.update_xaxes(type="log").update_layout(height=950, title="Local learning coefficient over training")


def trace_steps(s: LLCSeries, found, limit: int = 6) -> list[int]:
    """Checkpoints whose traces are shown: first, the one nearest the steepest phase change, last, then flagged."""
    picks = [s.steps[0], s.steps[-1]]
    if found and found[2].detected:
        picks.insert(1, min(s.steps, key=lambda t: abs(t - found[2].steepest[1])))
    picks += [t for t in s.steps if any(t in steps for steps in s.flags.values())]
    return sorted(dict.fromkeys(picks))[:limit]


def fig_traces(s: LLCSeries, found) -> go.Figure:
    shown = trace_steps(s, found)
    fig = make_subplots(rows=1, cols=len(shown), subplot_titles=[f"step {t}" for t in shown], shared_yaxes=False)
    for col, t in enumerate(shown, start=1):
        v = s.values[t]
        points = int(v["trace_points"])
        x = [v[f"trace_step/{k}"] for k in range(points)]
        for c in range(int(v["chains"])):
            fig.add_trace(go.Scatter(x=x, y=[v[f"trace/{c}/{k}"] for k in range(points)], mode="lines", name=f"chain {c}",
                                     legendgroup=str(c), showlegend=col == 1), row=1, col=col)
        fig.add_hline(y=v["init_loss"], line_dash="dot", row=1, col=col)
        fig.add_vrect(x0=0, x1=v["burnin"], fillcolor="gray", opacity=0.15, line_width=0, row=1, col=col)
    return fig.update_layout(height=380, title="SGLD loss traces (block means; dotted: L_n(w*); gray: burn-in, dropped)")


def fig_diagnostics(s: LLCSeries) -> go.Figure:
    fig = make_subplots(rows=1, cols=3, subplot_titles=("split-R̂", "chain spread (std / |λ̂|)", f"drift (2nd − 1st half / |λ̂|, ± {LLC_DRIFT_Z:g} s.e.)"))
    for col, (metric, limit) in enumerate((("rhat", LLC_RHAT_MAX), ("spread", LLC_SPREAD_MAX), ("drift", LLC_DRIFT_MAX)), start=1):
        errors = dict(array=[LLC_DRIFT_Z * s.values[t]["drift_se"] for t in s.steps]) if metric == "drift" else None
        fig.add_trace(go.Scatter(x=_x(s.steps), y=[s.values[t][metric] for t in s.steps], mode="markers+lines",
                                 error_y=errors, name=metric), row=1, col=col)
        fig.add_hline(y=limit, line_dash="dash", line_color="red", row=1, col=col)
    fig.update_xaxes(type="log", title_text="step + 1")
    return fig.update_layout(height=350, title="Chain diagnostics per checkpoint (red: flag threshold)")

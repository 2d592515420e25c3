"""The in-context Markov-chain claims (Edelman, Tsilivis, Edelman, Malach & Goel 2024, arXiv 2402.11004), from the
`markov` probe's rows (`probes.measures.markov`): over training the model is closest first to the uniform strategy,
then to the in-context unigram strategy, then to the in-context bigram strategy, and the move to the bigram strategy
is a located transition (`probes.claims.phase_change`).

"Closest" is the smallest KL(strategy ‖ model) at the last position of held-out chains. The stage order is ours in
detail (the paper reads it off its Fig. 2 curves): the uniform stage is the checkpoints from step 0 on at which the
uniform KL is smallest, the unigram window the checkpoints at which the unigram KL is smaller than both others by
≥ MARKOV_STAGE_MIN_GAP nats, and the bigram stage the checkpoints from the last one on back to where the bigram KL
is smallest by that gap; the three must come in that order, and the final bigram KL must be at most
MARKOV_FINAL_MAX_RATIO of the final unigram KL ("much below").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from probes.claims.claim import Check, Claim, ClaimFamily, ClaimSpec, flag, fmt, make_claim, register_claims
from probes.claims.phase_change import locate_phase_change, phase_checks
from probes.claims.thresholds import (
    MARKOV_FINAL_MAX_RATIO,
    MARKOV_MIN_KL_DROP_SHARE,
    MARKOV_STAGE_MIN_GAP,
)
from probes.table import Row, select

PROBE = "markov"
STRATEGIES = ("uniform", "unigram", "bigram")
NULLS = ("markov/untrained", "markov/fixed-matrix", "markov/one-layer", "markov/flat-table", "markov/linear-table",
         "markov/unigram-table")


@dataclass(frozen=True)
class MarkovSeries:
    """Steps and each strategy's KL per step (and the bigram KL's largest standard error)."""

    steps: list[int]
    kl: dict[str, list[float]]
    bigram_se: float

    def closest(self, i: int, gap: float = MARKOV_STAGE_MIN_GAP) -> str | None:
        """The strategy whose KL is smallest at checkpoint i by ≥ gap nats (None: no clear winner)."""
        values = sorted((self.kl[s][i], s) for s in STRATEGIES)
        return values[0][1] if values[1][0] - values[0][0] >= gap else None


def markov_series(table: list[Row]) -> MarkovSeries | None:
    """The strategies' KL curves from the table (None when the markov probe has no rows)."""
    curves = {s: select(table, PROBE, f"kl/{s}").get((None, None), []) for s in STRATEGIES}
    if not all(curves.values()):
        return None
    steps = [st for st, _ in curves["bigram"]]
    se = [v for _, v in select(table, PROBE, "kl_se/bigram").get((None, None), [])]
    return MarkovSeries(steps, {s: [v for _, v in c] for s, c in curves.items()}, max(se, default=0.0))


def stage_spans(s: MarkovSeries) -> tuple[int, int | None, int | None, int]:
    """(end of the uniform stage, first and last unigram-window checkpoints, start of the final bigram stage) as
    indices; the uniform stage ends at −1 when step 0 is not closest to uniform, the bigram stage starts at len when
    the last checkpoint is not closest to bigram."""
    labels = [s.closest(i) for i in range(len(s.steps))]
    uniform_end = -1
    while uniform_end + 1 < len(labels) and labels[uniform_end + 1] == "uniform":
        uniform_end += 1
    bigram_start = len(labels)
    while bigram_start > 0 and labels[bigram_start - 1] == "bigram":
        bigram_start -= 1
    unigram = [i for i, label in enumerate(labels) if label == "unigram"]
    return uniform_end, (unigram[0] if unigram else None), (unigram[-1] if unigram else None), bigram_start


def stages_claim(s: MarkovSeries) -> Claim:
    """markov/stages: uniform first, then an in-context unigram window, then the bigram strategy, in that order."""
    u_end, g_first, g_last, b_start = stage_spans(s)
    gaps = [min(s.kl["uniform"][i], s.kl["bigram"][i]) - s.kl["unigram"][i] for i in range(len(s.steps))]
    peak = max(gaps)
    final_u, final_b = s.kl["unigram"][-1], s.kl["bigram"][-1]
    ratio = final_b / final_u if final_u > 0 else math.inf
    ordered = g_first is not None and u_end < g_first and g_last < b_start < len(s.steps)
    checks = [flag("step 0 closest to the uniform strategy", u_end >= 0),
              Check("unigram window: largest min(uniform, bigram KL) − unigram KL (nats)", peak, ">=", MARKOV_STAGE_MIN_GAP),
              flag("final checkpoint closest to the bigram strategy", b_start < len(s.steps)),
              Check("final bigram KL / final unigram KL", ratio, "<=", MARKOV_FINAL_MAX_RATIO),
              flag("uniform stage, unigram window, bigram stage in that order", ordered)]
    window = (f"steps {s.steps[g_first]}–{s.steps[g_last]}" if g_first is not None else "none")
    detail = (f"uniform stage to step {s.steps[u_end] if u_end >= 0 else 'n/a'}; unigram window {window} (largest "
              f"unigram lead {fmt(peak)} nats); bigram stage from step "
              f"{s.steps[b_start] if b_start < len(s.steps) else 'n/a'}; final KL to bigram {fmt(final_b)} vs unigram "
              f"{fmt(final_u)} nats (ratio {fmt(ratio)}).")
    return make_claim("markov/stages", "the model is closest to the uniform, then the in-context unigram, then the "
                      "in-context bigram strategy, in that order", True, peak, final_u, detail, checks)


def bigram_transition_claim(s: MarkovSeries) -> Claim:
    """markov/bigram_transition: the bigram KL's fall from the checkpoint where the unigram strategy leads most to
    the end of training is a located phase change (`locate_phase_change`, on the scale of its starting value). The
    values before that checkpoint are held at its value, so the locator sees that fall alone while measuring its
    window against the whole run's step and log-step range, as for every other located transition."""
    peak = _unigram_index(s)
    start = s.kl["bigram"][peak]
    steps, values = s.steps, [start] * peak + s.kl["bigram"][peak:]  # the fall out of the unigram stage only …
    change = locate_phase_change(steps, values, noise=s.bigram_se, scale=max(start, 1e-12),  # … on the whole run's axis
                                 min_change=MARKOV_MIN_KL_DROP_SHARE, direction=-1)
    detail = (f"KL to the bigram strategy {fmt(change.before)} → {fmt(change.after)} nats from step {steps[peak]}, its "
              f"10%→90% window steps {change.start}–{change.end}" + ("" if change.detected else f" ({change.reason})") + ".")
    return make_claim("markov/bigram_transition", "the move to the in-context bigram strategy is a sudden transition",
                      True, change.change, change.before, detail, phase_checks(change))


def _unigram_index(s: MarkovSeries) -> int:
    """The checkpoint at which the unigram strategy leads most (where the bigram fall is measured from)."""
    return max(range(len(s.steps)), key=lambda i: min(s.kl["uniform"][i], s.kl["bigram"][i]) - s.kl["unigram"][i])


def markov_claims(table: list[Row]) -> list[Claim]:
    """Both claims from a run's table (none when the markov probe has no rows)."""
    s = markov_series(table)
    return [] if s is None else [stages_claim(s), bigram_transition_claim(s)]


FAMILY = register_claims(ClaimFamily("markov", markov_claims, (
    ClaimSpec("markov/stages", NULLS, "markov/trained"),
    ClaimSpec("markov/bigram_transition", NULLS, "markov/trained"),
)))

"""Whether a clamp moves the induction phase change: a clamped run against its unclamped baseline, seed by seed.

Singh, Moskovitz, Hill, Chan & Saxe 2024 (arXiv 2404.07129), Fig. 5b, clamp parts of the induction circuit to their
ideal values from the start of training and read how the phase change moves: giving the previous-token step ("1")
makes induction form earlier. Here the step of a run's phase change is the grid's (`probes.claims.grid`): the first
evaluation at which its held-out repeat loss has made half its first → last drop, when the locator finds a sudden
transition. Our `+prev-token` clamp gives every layer-0 head the exact previous-token pattern (not one head; see
`circuits.presets`); their other conditions (2: the induction head's QK, 3qk/3v/4/5: later steps of their
classification circuit) have no clamp here.

Deviation, stated: a paired comparison of one clamped and one baseline run per seed; the paper compares mean curves
over seeds. A baseline with no located transition is counted at its last step (a lower bound on its phase-change
step, said so in the sentence); a clamped run with none has no step and supports nothing. With 3 seeds, "earlier on
every seed" has a one-sided sign-test p of 1/8: the gallery counts seeds, it does not test them.
"""
from __future__ import annotations

from circuits.errors import WorkbenchError
from probes.claims.claim import Check, Claim, ClaimFamily, ClaimSpec, flag, make_claim, register_claims
from probes.claims.grid import RunSummary
from probes.claims.thresholds import CLAMP_MIN_SHIFT_SHARE

Pair = tuple[RunSummary, RunSummary]  # (clamped run, its unclamped baseline), same seed


def baseline_of(preset: str) -> str:
    """The unclamped preset of a clamp variant ("attn-only-2l+prev-token" → "attn-only-2l")."""
    base, plus, clamp = preset.partition("+")
    if not plus or not clamp:
        raise WorkbenchError(f"{preset!r} is not a clamp variant (PRESET+CLAMP, e.g. 'attn-only-2l+prev-token').")
    return base


def _step_text(run: RunSummary) -> str:
    if run.phase_step is not None:
        return f"step {run.phase_step}"
    return f"none located ({run.phase_reason or 'not trained'}; counted at its last step {run.last_step})"


def earlier_claim(pair: Pair) -> Claim:
    """The clamped run's phase change comes at least CLAMP_MIN_SHIFT_SHARE of training earlier than its baseline's."""
    clamped, base = pair
    trained = clamped.trained and base.trained
    base_step = base.phase_step if base.phase_step is not None else base.last_step
    shift = float(base_step - clamped.phase_step) if trained and clamped.phase_step is not None else float("nan")
    share = shift / base.last_step if base.last_step else float("nan")
    detail = (f"{clamped.name} ({', '.join(clamped.clamps) or 'no clamps'}): phase change {_step_text(clamped)}; "
              f"baseline {base.name}: {_step_text(base)}; shift {shift:+.0f} steps ({share:+.1%} of its "
              f"{base.last_step} steps)")
    return make_claim(
        "clamp/earlier_phase_change", "the clamped run's induction phase change comes earlier than its unclamped "
        "baseline's (same seed)", True, shift, None, detail,
        [flag("both runs trained", trained), flag("same seed", clamped.seed == base.seed),
         flag("same training length", clamped.last_step == base.last_step),
         flag("the clamped run has a located transition", clamped.phase_step is not None),
         Check("shift / baseline's steps", share, ">=", CLAMP_MIN_SHIFT_SHARE)])


def clamp_claims(pair: Pair) -> list[Claim]:
    return [earlier_claim(pair)]


CLAMP_FAMILY = register_claims(ClaimFamily("clamp", clamp_claims, claims=(
    ClaimSpec("clamp/earlier_phase_change",
              ("clamp/same-run", "clamp/later", "clamp/flat-clamped", "clamp/untrained", "clamp/no-k-comp"),
              "clamp/prev-token"),
)))

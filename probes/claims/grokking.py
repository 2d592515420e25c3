"""The grokking claims, from the sweep table and the run's metrics (Nanda, Chan, Lieberum, Smith & Steinhardt 2023,
arXiv 2301.05217): memorisation, then generalisation, led by the restricted loss and followed by the excluded loss,
on the key frequencies of `probes.measures.grokking`; the embedding's Fourier sparsity and the weight norm.

Transitions: memorisation / generalisation is the first evaluation from which train / test accuracy stays
≥ `GROK_ACCURACY` for `GROK_SUSTAIN_EVALUATIONS` evaluations (ours; the paper reads the curves by eye). The weight-norm
claim needs a no-weight-decay control run (the paper shows the decay run only); with none the trend is stated with no
verdict."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from circuits.errors import WorkbenchError
from probes.claims.claim import Check, Claim, ClaimFamily, ClaimSpec, flag, fmt, make_claim, register_claims
from probes.claims.thresholds import (
    EXCLUDED_MIN_RISE,
    GAP_MIN_EVALUATIONS,
    GROK_ACCURACY,
    GROK_SUSTAIN_EVALUATIONS,
    KEY_FREQUENCY_MIN_SHARE,
    PROGRESS_LEVEL,
    RANDOM_FREQUENCY_MIN_GAP,
    RANDOM_FREQUENCY_SETS,
    SPARSITY_MIN_GAIN,
    WEIGHT_NORM_MIN_DROP,
    WEIGHT_NORM_MIN_DROP_VS_CONTROL,
)
from probes.measures.grokking import PROBE
from probes.table import Row, select

# ---- transitions and progress measures (from the table and the run's metrics; no model is run) --------------------
Series = list[tuple[int, float]]

def series(table: list[Row], metric: str) -> Series:
    """(step, value) of a model-level grokking metric, steps ascending."""
    return select(table, PROBE, metric).get((None, None), [])

def first_at_least(points: Series, threshold: float) -> int | None:
    """The first step whose value is ≥ threshold; None when it never gets there (censored)."""
    return next((s for s, v in points if v >= threshold), None)

def first_at_most(points: Series, threshold: float) -> int | None:
    return next((s for s, v in points if v <= threshold), None)

def first_sustained(points: Series, threshold: float, evaluations: int = GROK_SUSTAIN_EVALUATIONS) -> int | None:
    """The first step from which the value stays ≥ threshold for `evaluations` consecutive points (None when it never
    does, or when the run ends before that many points have passed: censored)."""
    values = [v >= threshold for _, v in points]
    return next((points[i][0] for i in range(len(points) - evaluations + 1) if all(values[i : i + evaluations])), None)

def value_at(points: Series, step: int) -> float:
    """The value at the checkpoint nearest to `step` (the earlier one on a tie)."""
    return min(points, key=lambda sv: (abs(sv[0] - step), sv[0]))[1]

def accuracy_series(metrics: list[dict], table: list[Row], split: str) -> Series:
    """Train or test accuracy at every evaluation of the run (metrics.jsonl, denser than the checkpoints); the
    probe's checkpoint values when the metrics do not carry it."""
    key = f"eval/{split}_accuracy"
    points = [(r["step"], r[key]) for r in metrics if key in r]
    return points or series(table, f"{split}_accuracy")

PROGRESS_MEASURES = ("train_loss", "test_loss", "restricted_loss", "restricted_loss_random", "excluded_loss", "embed_gini",
                     "embed_key_share", "weight_norm_sq", "train_accuracy", "test_accuracy", "dominant_frequencies")

@dataclass(frozen=True)
class GrokkingEvidence:
    """What the grokking claims are computed from: a run's tidy table and metrics (metrics.jsonl rows), and the tidy
    table of a run of the same task without weight decay, the weight-norm claim's control (None when there is none)."""

    table: list[Row]
    metrics: list[dict]
    control_table: list[Row] | None = None

@dataclass(frozen=True)
class GrokkingMeasures:
    """The two transitions of a grokking run and the progress measures around them (Nanda et al. 2023).

    `memorisation_step` / `generalisation_step`: the first evaluation from which train / test accuracy stays
    ≥ GROK_ACCURACY for GROK_SUSTAIN_EVALUATIONS evaluations (None: censored, never by `last_step`). The progress
    measures are read at the checkpoints nearest to each step."""

    modulus: int
    last_step: int
    memorisation_step: int | None
    generalisation_step: int | None
    gap_evaluations: int | None  # evaluations from memorisation to generalisation (None when either is censored)
    key_frequencies: list[int]
    key_frequency_steps: list[int]  # the checkpoint(s) the key frequencies came from (one, unless the cache is stale)
    level: float  # PROGRESS_LEVEL × ln p: a loss "has fallen" at or below it
    restricted_fall_step: int | None
    test_fall_step: int | None
    excluded_peak_step: int  # the checkpoint of the excluded loss's peak up to generalisation (or the end)
    at: dict[str, dict[str, float]]  # every progress measure at: first (checkpoint), memorisation, generalisation,
    #                                  before_generalisation (the last checkpoint before it), excluded_peak,
    #                                  restricted_fall, last; with a no-decay control run also control_memorisation and
    #                                  control_last (the control's measures at the run's steps); {} where a step is None
    claims: list[Claim]

    @property
    def gap(self) -> int | None:
        """Steps from memorisation to generalisation (None when either is censored)."""
        if self.memorisation_step is None or self.generalisation_step is None:
            return None
        return self.generalisation_step - self.memorisation_step

    @property
    def has_control(self) -> bool:
        return bool(self.at.get("control_last"))

    def to_dict(self) -> dict:
        return asdict(self) | {"gap": self.gap}

def _measures_at(table: list[Row], step: int | None) -> dict[str, float]:
    if step is None:
        return {}
    return {name: value_at(points, step) for name in PROGRESS_MEASURES if (points := series(table, name))}

def _gap_evaluations(points: Series, start: int | None, end: int | None) -> int | None:
    return None if start is None or end is None else sum(1 for s, _ in points if start <= s < end)

def grokking_measures(table: list[Row], metrics: list[dict], control_table: list[Row] | None = None) -> GrokkingMeasures:
    """Transitions and progress measures of a modular-addition run from its grokking rows and metrics, and the claims;
    `control_table`: the grokking rows of a run without weight decay (the weight-norm claim's control)."""
    if not series(table, "test_loss"):
        raise WorkbenchError("the table has no grokking rows; run `icl-workbench analyze RUN --probes grokking` on a "
                             "modular-addition run (preset 'grokking').")
    train_acc, test_acc = accuracy_series(metrics, table, "train"), accuracy_series(metrics, table, "test")
    mem, gen = first_sustained(train_acc, GROK_ACCURACY), first_sustained(test_acc, GROK_ACCURACY)
    last = series(table, "test_loss")[-1][0]
    p = round(series(table, "modulus")[-1][1])
    level = PROGRESS_LEVEL * math.log(p)
    excluded = series(table, "excluded_loss")
    peak = max((s for s, _ in excluded if s <= (gen if gen is not None else last)), key=lambda s: value_at(excluded, s))
    before = max((s for s, _ in series(table, "test_loss") if gen is not None and s < gen), default=None)
    keys = sorted({int(r["metric"].rsplit("/", 1)[1]) for r in table if r["metric"].startswith("key_frequency_neurons/")
                   and r["step"] == last})
    falls = first_at_most(series(table, "restricted_loss"), level), first_at_most(series(table, "test_loss"), level)
    steps = {"first": 0, "memorisation": mem, "generalisation": gen, "before_generalisation": before,
             "excluded_peak": peak, "restricted_fall": falls[0], "last": last}
    at = {name: _measures_at(table, step) for name, step in steps.items()}
    if control_table is not None:
        at |= {"control_memorisation": _measures_at(control_table, mem), "control_last": _measures_at(control_table, last)}
    m = GrokkingMeasures(p, last, mem, gen,
                         _gap_evaluations(test_acc, mem, gen), keys,
                         sorted({int(v) for _, v in series(table, "key_frequency_step")}), level, *falls, peak, at, [])
    return GrokkingMeasures(**{**m.__dict__, "claims": grokking_claims(m, test_acc)})

def _step(step: int | None, last: int) -> str:
    return f"step {step}" if step is not None else f"no step up to {last} (censored)"

def _nan(value: float | int | None) -> float:
    return float("nan") if value is None else float(value)

def _random_gap(measures: dict[str, float]) -> float:
    """Restricted loss with the best of the random frequency sets − with the key frequencies (nats; NaN if absent)."""
    if "restricted_loss_random" not in measures:
        return float("nan")
    return measures["restricted_loss_random"] - measures["restricted_loss"]

def grokking_claims(m: GrokkingMeasures, test_acc: Series) -> list[Claim]:
    """The run's grokking sentences, each computed from its numbers next to its control."""
    return [_memorisation_claim(m, test_acc), _generalisation_claim(m, test_acc), _key_frequency_claim(m), _restricted_claim(m),
            _excluded_claim(m), _sparsity_claim(m), _weight_claim(m)]

def _memorisation_claim(m: GrokkingMeasures, test_acc: Series) -> Claim:
    """Memorisation comes first when train accuracy is sustained ≥ GROK_ACCURACY while test accuracy stays below it
    for ≥ GAP_MIN_EVALUATIONS evaluations (to generalisation, or to the end of a run that never generalises): a
    test accuracy that follows train accuracy one evaluation behind is no memorisation phase."""
    test, mem, gen = m.at["memorisation"].get("test_accuracy"), m.memorisation_step, m.generalisation_step
    behind = _gap_evaluations(test_acc, mem, gen if gen is not None else test_acc[-1][0])
    checks = [flag(f"train accuracy ≥ {GROK_ACCURACY} for {GROK_SUSTAIN_EVALUATIONS} evaluations", mem is not None),
              flag("memorised before generalising", mem is not None and (gen is None or mem < gen)),
              Check("evaluations with test accuracy still below it", _nan(behind), ">=", float(GAP_MIN_EVALUATIONS))]
    return make_claim("grokking/memorisation", f"the model memorises first: train accuracy reaches {GROK_ACCURACY:.0%} "
                      "before test accuracy does", True, _nan(mem), _nan(test),
                      f"train accuracy first stays ≥ {GROK_ACCURACY} from {_step(mem, m.last_step)}, test accuracy "
                      f"there {fmt(test)}; test accuracy first stays ≥ {GROK_ACCURACY} from "
                      f"{_step(gen, m.last_step)}.", checks)

def _generalisation_claim(m: GrokkingMeasures, test_acc: Series) -> Claim:
    mem, gen, gap, evals = m.memorisation_step, m.generalisation_step, m.gap, m.gap_evaluations
    detail = (f"memorisation at step {mem}, generalisation at step {gen}: a gap of {gap} steps ({gen / max(mem, 1):.1f}× the "
              f"memorisation step), {evals} evaluations (≥ {GAP_MIN_EVALUATIONS} needed)" if gap is not None else
              f"memorisation at {_step(mem, m.last_step)}, generalisation at {_step(gen, m.last_step)} (best test accuracy "
              f"{fmt(max(v for _, v in test_acc))}; ≥ {GAP_MIN_EVALUATIONS} evaluations apart needed)")
    checks = [flag("memorised (sustained)", mem is not None), flag("generalised (sustained)", gen is not None),
              Check("evaluations from memorisation to generalisation", _nan(evals), ">=", float(GAP_MIN_EVALUATIONS))]
    return make_claim("grokking/generalisation", f"the generalising circuit takes over later: test accuracy reaches "
                      f"{GROK_ACCURACY:.0%} after memorisation", True, _nan(gap), _nan(mem), detail + ".", checks)

def _key_frequency_claim(m: GrokkingMeasures) -> Claim:
    last = m.at["last"]
    gap, dominant = _random_gap(last), round(last["dominant_frequencies"]) if "dominant_frequencies" in last else "n/a"
    checks = [Check(f"key frequencies (neuron share ≥ {KEY_FREQUENCY_MIN_SHARE})", float(len(m.key_frequencies)), ">=", 1.0),
              Check("restricted loss at the last checkpoint (nats)", last["restricted_loss"], "<=", m.level),
              Check("random-frequency − key-frequency restricted loss (nats)", gap, ">=", RANDOM_FREQUENCY_MIN_GAP)]
    return make_claim("grokking/key_frequencies", "a few key frequencies carry the answer: restricted to them the loss "
                      "over all pairs is low, and clearly lower than with as many random frequencies", True,
                      last["restricted_loss"], last.get("restricted_loss_random"),
                      f"key frequencies {m.key_frequencies} (MLP neurons whose dominant frequency explains ≥ "
                      f"{KEY_FREQUENCY_MIN_SHARE:.0%} of their variance; {dominant} distinct "
                      f"dominant frequencies without that floor); at step {m.last_step} restricted loss "
                      f"{fmt(last['restricted_loss'])} nats with them vs {fmt(last.get('restricted_loss_random'))} with the "
                      f"best of {RANDOM_FREQUENCY_SETS} sets of as many random frequencies.", checks)

def _restricted_claim(m: GrokkingMeasures) -> Claim:
    r, t = m.restricted_fall_step, m.test_fall_step
    b = m.at["before_generalisation"]
    just_before = (f"; at the last checkpoint before generalisation restricted loss {fmt(b['restricted_loss'])} vs test loss "
                   f"{fmt(b['test_loss'])}" if b else "")
    checks = [flag("the restricted loss falls", r is not None), flag("the test loss falls", t is not None),
              flag("test accuracy reaches 99% (sustained)", m.generalisation_step is not None),
              Check("steps the restricted loss leads", _nan(None if r is None or t is None else t - r), ">", 0.0),
              Check("random-frequency − key-frequency restricted loss where it falls (nats)",
                    _random_gap(m.at["restricted_fall"]), ">=", RANDOM_FREQUENCY_MIN_GAP)]
    return make_claim("grokking/restricted_leads", "the restricted loss (key frequencies only, all pairs) falls before "
                      "the test loss: the circuit forms before test accuracy moves", True, _nan(r), _nan(t),
                      f"first ≤ {fmt(m.level)} nats ({PROGRESS_LEVEL} ln p) at {_step(r, m.last_step)} for the restricted loss "
                      f"vs {_step(t, m.last_step)} for the test loss (memorisation at {_step(m.memorisation_step, m.last_step)})"
                      f"{just_before}.", checks)

def _excluded_claim(m: GrokkingMeasures) -> Claim:
    first, peak = m.at["first"], m.at["excluded_peak"]
    rise = peak["excluded_loss"] - first["excluded_loss"]
    control = peak["train_loss"] - first["train_loss"]
    checks = [Check("excluded-loss rise (nats)", rise, ">=", EXCLUDED_MIN_RISE),
              Check("train-loss change over the same steps (nats)", control, "<", 0.0),
              Check("random-frequency − key-frequency restricted loss at the end (nats)", _random_gap(m.at["last"]), ">=",
                    RANDOM_FREQUENCY_MIN_GAP)]
    return make_claim("grokking/excluded_rises", "the excluded loss on the training pairs rises while the train loss "
                      "falls: the memorised answers come to rely on the key frequencies", True, rise, control,
                      f"excluded loss {fmt(first['excluded_loss'])} at the first checkpoint, {fmt(peak['excluded_loss'])} at its "
                      f"peak (step {m.excluded_peak_step}; memorisation at {_step(m.memorisation_step, m.last_step)}): "
                      f"{rise:+.2f} nats (threshold +{EXCLUDED_MIN_RISE}); the train loss moves {control:+.2f} nats "
                      f"({fmt(first['train_loss'])} → {fmt(peak['train_loss'])}) over the same steps.", checks)

def _sparsity_claim(m: GrokkingMeasures) -> Claim:
    at_mem, at_last = m.at["memorisation"], m.at["last"]
    value, control = at_last["embed_gini"], at_mem.get("embed_gini")
    checks = [flag("memorised (sustained)", control is not None),
              Check("Gini rise from memorisation to the end", value - _nan(control), ">=", SPARSITY_MIN_GAIN)]
    return make_claim("grokking/sparsity", "the embedding becomes sparse in the Fourier basis (Gini coefficient of its "
                      "frequency norms rises)", True, value, _nan(control),
                      f"Gini {fmt(control)} at memorisation, {fmt(value)} at step {m.last_step} (threshold +{SPARSITY_MIN_GAIN}); "
                      f"share of the key frequencies {m.key_frequencies} in the embedding's Fourier norm "
                      f"{fmt(at_mem.get('embed_key_share'))} → {fmt(at_last['embed_key_share'])}.", checks)

def _relative_fall(start: dict[str, float], end: dict[str, float]) -> float:
    """1 − Σw²(end) / Σw²(start) (NaN when either is missing)."""
    if "weight_norm_sq" not in start or "weight_norm_sq" not in end:
        return float("nan")
    return 1 - end["weight_norm_sq"] / start["weight_norm_sq"]

def _weight_claim(m: GrokkingMeasures) -> Claim:
    """Weight decay shrinks the weights, against a no-weight-decay run's trend over the same steps; with no such run
    it is stated descriptively (a failing "no-decay control run" check: no verdict)."""
    at_mem, at_last = m.at["memorisation"], m.at["last"]
    fall = _relative_fall(at_mem, at_last)
    control = _relative_fall(m.at.get("control_memorisation", {}), m.at.get("control_last", {})) if m.has_control else None
    checks = [flag("a no-weight-decay control run", m.has_control),
              Check("relative fall of Σw² from memorisation", fall, ">=", WEIGHT_NORM_MIN_DROP),
              Check("fall beyond the no-decay run's over the same steps", fall - _nan(control), ">=", WEIGHT_NORM_MIN_DROP_VS_CONTROL)]
    trend = (f"total squared weight {fmt(at_mem.get('weight_norm_sq'))} at memorisation, "
             f"{fmt(m.at['generalisation'].get('weight_norm_sq'))} at generalisation, {fmt(at_last['weight_norm_sq'])} at "
             f"step {m.last_step}: a relative fall of {fmt(fall)} (≥ {WEIGHT_NORM_MIN_DROP:.0%} required)")
    ctrl = (f"; the no-decay run falls {fmt(control)} over the same steps" if control is not None else
            "; no run without weight decay to compare with, so the trend is descriptive: no verdict")
    return make_claim("grokking/weight_norm", "weight decay shrinks the weights from memorisation on (the memorising "
                      "solution is cleaned up), beyond a run without weight decay", True, fall, control,
                      trend + ctrl + ".", checks)

# ---- the claim family (fixtures in tests/nulls_grokking.py) ---------------------
def evaluate_claims(evidence: GrokkingEvidence) -> list[Claim]:
    return grokking_measures(evidence.table, evidence.metrics, evidence.control_table).claims

_RUNS = ("grokking/untrained", "grokking/memoriser")  # real runs through the probe: the init, a pure memoriser

_NULLS = (*_RUNS, "grokking/memorise-table")  # … and a synthetic memorise-only table (the restricted loss falls)

register_claims(ClaimFamily("grokking", evaluate_claims, claims=(
    ClaimSpec("grokking/memorisation", ("grokking/untrained",), "grokking/trained"),  # a memoriser does memorise
    *(ClaimSpec(key, _NULLS, "grokking/trained") for key in (
        "grokking/generalisation", "grokking/key_frequencies", "grokking/restricted_leads", "grokking/excluded_rises",
        "grokking/weight_norm")),
    ClaimSpec("grokking/sparsity", _RUNS, "grokking/trained"),  # the table's embedding numbers are made up
)))

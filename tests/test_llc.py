"""The LLC probe (probes.measures.llc: devinterp 2.0.1's SGLD estimator), its calibration on a regular model, stage boundaries
(probes.claims.llc_stages) and the report section (probes.report.llc)."""
from __future__ import annotations

import math
import shutil
import sys
from dataclasses import replace

import pytest
import torch
from builders import tiny_config
from nulls_llc import blip_curve, curve_table, flat_tight_curve, llc_rows

from circuits.errors import WorkbenchError
from circuits.model.transformer import FastTransformer
from probes.claims.llc import llc_claims
from probes.claims.llc_stages import stage_boundaries
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.measures.llc import (
    DEFAULT_SETTINGS,
    LLCResult,
    LLCSettings,
    diagnose,
    estimate_llc,
    llc_probe,
    probe_set,
    regular_llc,
    split_rhat,
)
from probes.registry import is_declared
from probes.report.llc import llc_section

TINY = LLCSettings(chains=2, draws=20, burnin=5, batch_size=8, n=16, trace_points=5)
RUN_GRID = [0, 1, 2, 3, 5, 7, 11, 16, 25, 37, 55, 82, 122, 143, 182, 272, 286, 405, 429, 571, 605, 714, 857, 903, 1000,
            1143, 1286, 1347, 1429, 1571, 1714, 1857, 2000, 2010, 2143, 2286, 2429, 2571, 2714, 2857, 3000]


@pytest.fixture(autouse=True)
def one_thread():
    """SGLD on these small models is per-op overhead: one torch thread (two thrash when the cores are shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_checkpoint(step: int = 0) -> Checkpoint:
    config = tiny_config()
    return Checkpoint.native(config, FastTransformer(config.model).state_dict(), step)


# ---- settings and the missing extra -------------------------------------------------------------------------------
def test_default_settings_are_valid_and_use_hooglands_nbeta():
    DEFAULT_SETTINGS.validate()
    assert DEFAULT_SETTINGS.resolved_nbeta == pytest.approx(100 / math.log(100))  # 21.7, Hoogland's m/ln m at m = 100
    assert LLCSettings(nbeta=5.0).resolved_nbeta == 5.0


@pytest.mark.parametrize(("fields", "named"), [
    ({"chains": 1}, "chains"), ({"n": 30, "batch_size": 25}, "multiple of batch_size"), ({"lr": 0.0}, "lr"),
    ({"localization": -1.0}, "localization"), ({"draws": 10, "trace_points": 20}, "trace_points"),
    ({"nbeta": -2.0}, "nbeta"), ({"sampler": "numpyro"}, "sampler")])
def test_bad_settings_are_one_clear_error_naming_the_field(fields, named):
    with pytest.raises(WorkbenchError, match=named):
        LLCSettings(**fields).validate()


def test_missing_devinterp_names_the_extra_to_install_and_the_native_sampler_needs_none(monkeypatch):
    for name in ("devinterp", "devinterp.slt", "devinterp.slt.llc", "devinterp.slt.sampling", "devinterp.slt.sampler"):
        monkeypatch.setitem(sys.modules, name, None)  # `from devinterp… import …` raises
    with pytest.raises(WorkbenchError, match=r'pip install -e "\.\[llc\]"'):
        llc_probe(tiny_checkpoint(), ProbeInputs.for_run(tiny_config()), replace(TINY, sampler="devinterp"))
    value = {r["metric"]: r["value"] for r in llc_probe(tiny_checkpoint(), ProbeInputs.for_run(tiny_config()), TINY)}
    assert value["sampler/native"] == 1.0 and math.isfinite(value["mean"])


def test_a_probe_set_of_the_wrong_size_is_refused():
    ckpt = tiny_checkpoint()
    with pytest.raises(WorkbenchError, match="settings.n = 16"):
        estimate_llc(FastTransformer(ckpt.config.model, ckpt.state), probe_set(ckpt.config, 8), TINY)


def test_models_that_are_not_ours_are_not_applicable_with_the_reason():
    from probes.engine.checkpoint import ModelFacts
    from probes.registry import not_applicable

    facts = ModelFacts(2, 4, 32, 8, 64, 97, native=False, architecture="gpt2")
    assert "one of our models" in not_applicable("llc", ProbeInputs.for_model(facts))
    assert not_applicable("llc", ProbeInputs.for_run(tiny_config())) is None
    with pytest.raises(WorkbenchError, match="re-splits its weights"):
        llc_probe(Checkpoint(0, facts, bridge=object()), ProbeInputs.for_model(facts), TINY)


# ---- the probe on a tiny model ---------------------------------------------------------------------------------------
def test_probe_emits_declared_metrics_with_one_row_per_chain_and_trace_block():
    rows = llc_probe(tiny_checkpoint(), ProbeInputs.for_run(tiny_config()), TINY)
    names = [r["metric"] for r in rows]
    assert all(is_declared("llc", m) for m in names), [m for m in names if not is_declared("llc", m)]
    assert sum(m.startswith("chain/") for m in names) == 2 and sum(m.startswith("trace/") for m in names) == 2 * 5
    value = {r["metric"]: r["value"] for r in rows}
    assert value["n"] == 16 and value["nbeta"] == pytest.approx(16 / math.log(16)) and math.isfinite(value["mean"])


def test_same_seed_gives_the_same_estimate_and_leaves_global_rngs_alone():
    ckpt = tiny_checkpoint()
    model, data = FastTransformer(ckpt.config.model, ckpt.state), probe_set(ckpt.config, TINY.n)
    torch.manual_seed(7)
    first = estimate_llc(model, data, TINY)
    after = torch.rand(3)
    torch.manual_seed(7)
    assert torch.equal(torch.rand(3), after)  # devinterp's global seeding did not leak out
    again = estimate_llc(model, data, TINY)
    other = estimate_llc(model, data, LLCSettings(**{**TINY.__dict__, "seed": 1}))
    assert torch.equal(first.per_chain, again.per_chain) and first.mean == again.mean
    assert not torch.equal(first.per_chain, other.per_chain)


def test_without_burnin_the_estimate_is_devinterps_own():
    ckpt = tiny_checkpoint()
    settings = LLCSettings(**{**TINY.__dict__, "burnin": 0})
    result = estimate_llc(FastTransformer(ckpt.config.model, ckpt.state), probe_set(ckpt.config, TINY.n), settings)
    assert result.mean == pytest.approx(result.devinterp_mean, rel=1e-5, abs=1e-6)
    with_burnin = estimate_llc(FastTransformer(ckpt.config.model, ckpt.state), probe_set(ckpt.config, TINY.n), TINY)
    assert with_burnin.mean != pytest.approx(with_burnin.devinterp_mean, rel=1e-6)  # burn-in steps are dropped


# ---- calibration at the probe's own settings (Watanabe 2009; Lau et al. 2023, arXiv 2308.12108) -----------------
def least_squares_llc(d: int, settings: LLCSettings, seed: int = 0) -> tuple[LLCResult, torch.Tensor]:
    """devinterp's estimate for least squares y = x·w + N(0, 1), x ~ N(0, I_d), on settings.n rows, started at the
    optimum, at `settings` (the probe's, minibatches included); and the eigenvalues of the loss's Hessian XᵀX/n (the
    loss is L_n(w) = mean (y − x·w)²/2, exactly quadratic)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(settings.n, d, generator=gen)
    y = x @ torch.randn(d, generator=gen) + torch.randn(settings.n, generator=gen)
    model = torch.nn.Linear(d, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(x, y[:, None]).solution.T)

    def loss_fn(m: torch.nn.Module, rows: torch.Tensor) -> torch.Tensor:  # devinterp's (batch, width − 1) contract
        return ((rows[:, -1] - m(rows[:, :-1])[:, 0]) ** 2 / 2)[:, None].expand(-1, rows.shape[1] - 1)

    result = estimate_llc(model, torch.cat([x, y[:, None]], 1), settings, loss_fn=loss_fn)
    return result, torch.linalg.eigvalsh(x.T.double() @ x.double() / settings.n)


def test_calibration_at_the_probes_settings_recovers_the_localized_regular_value():
    """At the probe's γ = 300, nβ = 21.7, ε = 1e-3, batch 25 of n = 100, a regular d = 10 model has the localized value
    ½Σᵢ nβhᵢ/(nβhᵢ + γ) = 0.353 (hᵢ: Hessian eigenvalues), not d/2 = 5. Measured, seeds 0/1: λ̂ 0.40/0.42 (+14%/+18%);
    full batch 0.37/0.38 (+5%/+8%: the discrete SGLD step inflates each direction's variance by 1/(1 − ε(nβhᵢ + γ)/4)
    ≈ 1.09); the rest is the minibatch (the trace is the loss of the batch each step uses, whose gradient the
    displacement has followed)."""
    result, h = least_squares_llc(10, DEFAULT_SETTINGS)
    expected = regular_llc(h, DEFAULT_SETTINGS.resolved_nbeta, DEFAULT_SETTINGS.localization)
    assert 0.3 < expected < 0.4  # ≈ 0.34 for d = 10 at γ = 300
    assert abs(result.mean - expected) < 0.25 * expected, (result.mean, expected)
    assert not (result.diagnostics.disagree or result.diagnostics.unsettled or result.diagnostics.diverged)
    full, _ = least_squares_llc(10, replace(DEFAULT_SETTINGS, batch_size=DEFAULT_SETTINGS.n))
    assert abs(full.mean - expected) < 0.12 * expected, (full.mean, expected)


def test_calibration_without_localization_recovers_half_the_dimension_and_flags_short_chains():
    """γ = 0: λ = d/2 (Watanabe 2009). At the probe's other settings the chains, started at w*, relax with time
    constant ≈ 2/(ε nβ h) ≈ 90 steps, so 200 draws do not settle; measured (seed 0): λ̂ 3.9 ± 1.2, chain spread 0.32 —
    flagged. With 1,600 draws after 400 burn-in steps: λ̂ 5.4 ± 0.6."""
    settings = replace(DEFAULT_SETTINGS, localization=0.0)
    short, h = least_squares_llc(10, settings)
    assert regular_llc(h, settings.resolved_nbeta, 0.0) == pytest.approx(5.0)
    assert short.diagnostics.disagree or short.diagnostics.unsettled, short.diagnostics
    long, _ = least_squares_llc(10, replace(settings, draws=1600, burnin=400))
    assert abs(long.mean - 5.0) < 1.0, long.per_chain  # d/2 …
    assert abs(long.mean - 10.0) > 3.0  # … and not d (a wrong d, or an estimator off by 2×, fails)


# ---- diagnostics ---------------------------------------------------------------------------------------------------
def test_split_rhat_is_one_for_mixing_chains_and_large_for_separated_or_drifting_ones():
    gen = torch.Generator().manual_seed(0)
    iid = torch.randn(4, 400, generator=gen, dtype=torch.float64)
    assert split_rhat(iid) < 1.02
    assert split_rhat(iid + torch.arange(4, dtype=torch.float64)[:, None]) > 1.5
    assert split_rhat(iid + torch.linspace(0, 4, 400, dtype=torch.float64)) > 1.2  # split halves catch a drift
    assert split_rhat(torch.ones(2, 10, dtype=torch.float64)) == 1.0


def test_diagnose_flags_disagreement_drift_and_divergence():
    gen = torch.Generator().manual_seed(0)
    draws = 3.0 + 0.01 * torch.randn(4, 200, generator=gen, dtype=torch.float64)
    calm = diagnose(draws, torch.tensor([20.0, 20.2, 19.9, 20.1], dtype=torch.float64), 20.05, 21.7, [])
    assert not (calm.disagree or calm.unsettled or calm.diverged) and calm.reasons == ()
    apart = diagnose(draws, torch.tensor([10.0, 30.0, 12.0, 28.0], dtype=torch.float64), 20.0, 21.7, [])
    assert apart.disagree and "spread" in apart.reasons[0]
    rising = diagnose(draws + torch.linspace(0, 0.5, 200, dtype=torch.float64), torch.full((4,), 20.0, dtype=torch.float64), 20.0, 21.7, [])
    assert rising.unsettled
    negative = diagnose(draws, torch.tensor([-1.0, 0.5, 0.4, 0.6], dtype=torch.float64), 0.1, 21.7, ["Chain failed: x"])
    assert negative.diverged and any("negative" in r for r in negative.reasons)


# ---- stage boundaries (probes.claims.llc_stages) on synthetic curves over the default run's checkpoint grid ----------------
def _curve(fn, noise: float = 0.0, seed: int = 0) -> list[float]:
    gen = torch.Generator().manual_seed(seed)
    jitter = (noise * torch.randn(len(RUN_GRID), generator=gen)).tolist()
    return [fn(math.log1p(s)) + j for s, j in zip(RUN_GRID, jitter, strict=True)]


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_plateau_between_two_rises_holds_one_boundary_and_the_flat_ends_bound_the_first_and_last_stage(seed):
    # rises centred at log-steps 3 (step ≈ 19) and 6.5 (≈ 664): the plateau between spans steps ≈ 54–244
    llc = _curve(lambda x: 10 * _sigmoid((x - 3) / 0.3) + 10 * _sigmoid((x - 6.5) / 0.3), noise=0.2, seed=seed)
    first, middle, last = stage_boundaries(RUN_GRID, llc)
    assert first < 19 and 54 <= middle <= 244 and last > 664  # before the first rise, in the plateau, after the 2nd


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_peak_is_a_boundary_a_sigmoid_is_bracketed_and_a_straight_line_has_none(seed):
    peak = stage_boundaries(RUN_GRID, _curve(lambda x: 20 * math.exp(-((x - 5) ** 2) / 2), noise=0.2, seed=seed))
    assert sum(abs(math.log1p(b) - 5) < 0.1 for b in peak) == 1, peak  # the peak is at step e⁵ − 1 ≈ 147 …
    assert all(abs(math.log1p(b) - 5) > 1.5 for b in peak if abs(math.log1p(b) - 5) >= 0.1), peak  # … the rest far
    rise = stage_boundaries(RUN_GRID, _curve(lambda x: 10 * _sigmoid((x - 5) / 0.4), noise=0.2, seed=seed))
    assert len(rise) == 2 and rise[0] < 147 < rise[1], rise  # where λ̂ leaves and reaches its plateaus
    assert stage_boundaries(RUN_GRID, _curve(lambda x: 3 * x, noise=0.2, seed=seed)) == []  # a straight line
    assert stage_boundaries(RUN_GRID, [1.0] * len(RUN_GRID)) == [] and stage_boundaries([0, 1], [1.0, 2.0]) == []


# ---- the report section on a synthetic table -------------------------------------------------------------------------
def _table(llc_fn, flagged: int | None = None, attention: bool = True) -> list[dict]:
    table = []
    for s in RUN_GRID:
        x = math.log1p(s)
        table += llc_rows(s, llc_fn(x), spread=10.0 if s == flagged else 0.02)
        if attention:  # head 1.0 becomes an induction head around step 600
            table += [{"step": s, "tokens": None, "layer": layer, "head": head, "probe": "attention", "metric": "induction",
                       "value": 0.8 * _sigmoid((s - 600) / 30) if (layer, head) == (1, 0) else 0.01}
                      for layer in range(2) for head in range(2)]
    return table


def test_the_section_places_a_peak_boundary_inside_the_phase_change_and_lists_flagged_steps():
    table = _table(lambda x: 0.3 + 20 * math.exp(-((x - math.log(601)) ** 2) / (2 * 0.4**2)), flagged=1000)
    claims, boundaries = llc_claims(table)
    by_key = {c.key: c for c in claims}
    assert sum(450 <= b <= 800 for b in boundaries) == 1, boundaries  # the peak, inside the phase-change window
    assert by_key["llc/stage_boundary"].supported and by_key["llc/stage_boundary"].value == 0
    assert by_key["llc/rises"].supported is False  # the curve ends near where it started
    assert not by_key["llc/chains_agree"].supported and "disagree at steps 1000" in by_key["llc/chains_agree"].sentence
    lines, figures = llc_section(table, [])
    assert len(figures) == 3 and "n = 100 probe sequences" in lines[0] and "nβ = 21.7" in lines[0]


def test_sentences_say_not_supported_when_the_numbers_do_not_support_them():
    monotone = _table(lambda x: 0.3 + 20 * _sigmoid((x - 6.4) / 0.15))  # a rise concentrated in the window
    by_key = {c.key: c for c in llc_claims(monotone)[0]}
    assert by_key["llc/rises"].supported and by_key["llc/phase_change"].supported
    assert by_key["llc/stage_boundary"].sentence.startswith("Not supported by this run")  # boundaries bracket it
    assert by_key["llc/stage_of_phase_change"].supported  # … the rise holding the phase change is the largest stage
    without_attention = {c.key: c for c in llc_claims(_table(lambda x: x, attention=False))[0]}
    assert "attention probe was not run" in without_attention["llc/phase_change"].sentence
    assert without_attention["llc/phase_change"].sentence.startswith("Not supported by this run")


# ---- issue 18: every LLC verdict can fail ---------------------------------------------------------------------------
def _by_key(table: list[dict]) -> dict:
    return {c.key: c for c in llc_claims(table)[0]}


def _featureless(seed: int) -> list[dict]:
    """λ̂ = 5 + 3·log(1 + t) + N(0, 0.3²): no stage, no phase change of its own (the attention rows still have one)."""
    gen = torch.Generator().manual_seed(seed)
    noise = dict(zip(RUN_GRID, (0.3 * torch.randn(len(RUN_GRID), generator=gen)).tolist(), strict=True))
    return _table(lambda x: 5 + 3 * x + noise[round(math.expm1(x))])


def test_a_featureless_curve_places_the_phase_change_in_no_stage():
    """Before (issue 18): 98 of 100 such curves made llc/stage_of_phase_change supported (one stage always holds the
    window). A stage claim needs ≥ 2 stages and a window that changes λ̂ more than same-width windows elsewhere."""
    supported = [seed for seed in range(20) if _by_key(_featureless(seed))["llc/stage_of_phase_change"].supported]
    assert supported == [], supported
    claim = _by_key(_featureless(0))["llc/stage_of_phase_change"]
    assert {"stages", "window |Δλ̂| / largest same-width |Δλ̂| elsewhere"} <= {c.name for c in claim.checks}, claim.sentence


def test_a_linear_curve_does_not_rise_across_the_phase_change():
    """Before: llc/phase_change supported on λ̂ = 5 + 0.01·step (a trend rises across every window)."""
    claim = _by_key(_table(lambda x: 5 + 0.01 * math.expm1(x)))["llc/phase_change"]
    assert not claim.supported, claim.sentence
    ratio = next(c for c in claim.checks if c.name == "window rise / largest same-width rise elsewhere")
    assert ratio.value < 1.0  # later windows of the same log-width rise more


def test_a_boundary_in_the_window_is_not_enough_when_boundaries_are_everywhere():
    """Before: llc/stage_boundary computed its control (the chance a boundary falls in such a window) and ignored it.
    λ̂ oscillating in log-steps has a boundary every ≈ 0.5 log-steps: one falls inside any window."""
    claim = _by_key(_table(lambda x: 10 + 3 * math.sin(3 * x)))["llc/stage_boundary"]  # sin(6x): noise to the GP now
    chance = next(c for c in claim.checks if c.name == "share of same-width windows elsewhere holding a boundary")
    assert chance.value > 0.5 and not claim.supported, claim.sentence


def test_a_one_checkpoint_blip_at_the_windows_end_is_no_phase_change_and_no_stage_boundary():
    """Issue 18 audit: + 3.0 at step 714 only (the window's end) on a flat noisy λ̂ made llc/phase_change and
    llc/stage_boundary "supported"; λ̂ falls back after the window (no plateau) and one checkpoint is noise to the GP."""
    claims = {c.key: c for c in llc_claims(curve_table(blip_curve()))[0]}
    assert not claims["llc/phase_change"].supported
    assert not claims["llc/stage_boundary"].supported
    held = next(k for k in claims["llc/phase_change"].checks if k.name.startswith("least share"))
    assert not held.passed and "held over" in claims["llc/phase_change"].sentence


@pytest.mark.parametrize("seed", range(20))
def test_a_flat_noisy_curve_with_tight_chains_neither_rises_nor_has_stages_at_the_window(seed):
    """Issue 18 audit: λ̂ = 5 + N(0, 0.3) with chain std 0.028: the chains' std alone is no noise floor for the curve."""
    claims = {c.key: c for c in llc_claims(curve_table(flat_tight_curve(seed)))[0]}
    for key in ("llc/rises", "llc/phase_change", "llc/stage_boundary", "llc/stage_of_phase_change"):
        assert not claims[key].supported, (key, claims[key].sentence)


def test_every_llc_threshold_lives_in_the_thresholds_module():
    from probes.claims import llc, thresholds
    from probes.report import llc as llc_report

    assert not hasattr(llc, "NOISE_MULTIPLE") and not hasattr(llc_report, "NOISE_MULTIPLE")
    assert {"LLC_NOISE_MULTIPLE", "LLC_WINDOW_RATIO", "LLC_MIN_STAGES", "LLC_BOUNDARY_CHANCE_MAX"} <= set(vars(thresholds))


def test_a_clamped_checkpoint_is_sampled_with_its_clamps():
    """Before: the probe built an unclamped FastTransformer, so λ̂ (and L_n(w*)) were of a model the run never was."""
    from circuits.model.clamp import Clamp
    from circuits.model.transformer import token_losses
    from circuits.training.trainer import clamp_set

    config = replace(tiny_config(model=dict(init_range=0.4)), clamps=(Clamp("zero_head", 0), Clamp("zero_head", 1)))
    ckpt = Checkpoint.native(config, FastTransformer(config.model).state_dict(), step=5)
    value = {r["metric"]: r["value"] for r in llc_probe(ckpt, ProbeInputs.for_run(config), TINY)}
    data = probe_set(config, TINY.n)
    clamped, plain = FastTransformer(config.model, ckpt.state).eval(), FastTransformer(config.model, ckpt.state).eval()
    clamped.clamps = clamp_set(config, "cpu", 5)
    with torch.no_grad():
        want, other = (float(token_losses(m(data), data).mean()) for m in (clamped, plain))
    assert abs(want - other) > 0.05  # the clamps change the loss …
    assert value["init_loss"] == pytest.approx(want, rel=1e-5)  # … and the chains saw the clamped model


def test_the_report_shows_the_llc_section_only_when_llc_rows_exist(tiny_run, tmp_path, monkeypatch):
    from circuits.store.runs import RunStore
    from probes.measures import llc
    from probes.report.page import write_report
    from probes.sweep.runner import run_sweep

    monkeypatch.setattr(llc, "DEFAULT_SETTINGS", TINY)
    shutil.copytree(tiny_run.path, tmp_path / "run")
    store = RunStore(tmp_path / "run")
    run_sweep(store, probes=("attention", "icl"), progress=False)
    assert "Local learning coefficient" not in write_report(store).read_text()
    run_sweep(store, probes=("attention", "icl", "llc"), progress=False)
    page = write_report(store).read_text()
    assert "Local learning coefficient" in page and "n = 16 probe sequences" in page


# ---- the default run (CI) and every checkpoint (--runlong) -----------------------------------------------------------
@pytest.mark.slow
def test_llc_grows_from_initialisation_to_the_trained_model_with_agreeing_chains(shared_runs_root):
    """Measured on attn-only-2l seed 0 at the default settings: λ̂ 0.24 ± 0.01 at step 0, 20.9 ± 0.3 at step 3000,
    split-R̂ ≤ 1.02, spread ≤ 0.03. The conformance suite's positive fixture (14 checkpoints, sampled once and cached
    in a copy of the run; tests/nulls_llc.py)."""
    from nulls import evidence, load_all

    load_all()
    table = evidence("llc/attn-only-2l", shared_runs_root)
    value = {(r["step"], r["metric"]): r["value"] for r in table if r["probe"] == "llc"}
    first, last = min(s for s, _ in value), max(s for s, _ in value)
    assert value[(first, "mean")] < 2.0 and value[(last, "mean")] > 10.0
    assert value[(last, "mean")] - value[(first, "mean")] > 3 * math.hypot(value[(last, "std")], value[(first, "std")])
    for step in {s for s, _ in value}:
        assert not any(value[(step, f)] for f in ("disagree", "unsettled", "diverged")), step


@pytest.mark.long
def test_llc_at_every_checkpoint_rises_in_the_stage_that_holds_the_phase_change(default_run, tmp_path):
    """Every checkpoint of the default run (≈ 1 h on 2 shared cores). Measured on attn-only-2l seed 0: λ̂ 0.24 until
    step ~100, 9.6 at 429, 19.4 at 605, ≈ 19–20 to step 1,857 and 20.9 at 3,000; stage boundaries at steps 173 and
    918 bracket the phase-change window 429–714; no checkpoint flagged."""
    from circuits.store.runs import RunStore
    from probes.claims.llc import top_induction
    from probes.sweep.runner import run_sweep

    shutil.copytree(default_run.path, tmp_path / "run", ignore=shutil.ignore_patterns("analysis"))
    table = run_sweep(RunStore(tmp_path / "run"), probes=("attention", "llc"), progress=False)
    claims, boundaries = llc_claims(table)
    change = top_induction(table)[2]
    assert any(b < change.start for b in boundaries) and any(b > change.end for b in boundaries), boundaries
    by_key = {c.key: c for c in claims}
    for key in ("llc/rises", "llc/phase_change", "llc/stage_of_phase_change", "llc/chains_agree"):
        assert by_key[key].supported, by_key[key].sentence


def test_the_devinterp_adapter_silences_the_chain_bars_and_restores_them():
    """probes.measures.devinterp_adapter swaps devinterp's module-level `trange`: this fails when a release renames it."""
    pytest.importorskip("devinterp")
    from devinterp.slt import sampler

    from probes.measures.devinterp_adapter import quiet_chains

    original = sampler.trange
    with quiet_chains():
        assert sampler.trange is not original and sampler.trange.keywords == {"disable": True}
    assert sampler.trange is original


def test_native_sampler_follows_devinterps_chains_draw_for_draw():
    """Same batches, update and noise stream (probes.measures.sgld): the traces agree to float rounding."""
    pytest.importorskip("devinterp")
    ckpt = tiny_checkpoint()
    model, data = FastTransformer(ckpt.config.model, ckpt.state), probe_set(ckpt.config, TINY.n)
    native = estimate_llc(model, data, TINY)
    reference = estimate_llc(model, data, replace(TINY, sampler="devinterp"))
    assert native.init_loss == pytest.approx(reference.init_loss, rel=1e-6)
    assert torch.allclose(native.trace, reference.trace, atol=1e-4), (native.trace - reference.trace).abs().max()
    assert native.mean == pytest.approx(reference.mean, abs=1e-2)


def _agree(a: LLCResult, b: LLCResult) -> tuple[float, float]:
    """|Δλ̂| and its allowance 2√(se₁² + se₂²), se the standard error over chains (issue: the samplers must agree)."""
    se = [r.std / math.sqrt(len(r.per_chain)) for r in (a, b)]
    return abs(a.mean - b.mean), 2 * math.hypot(*se)


def test_native_and_devinterp_agree_on_the_calibration_model():
    """The least-squares calibration model (above) at the probe's settings, sampled by both samplers."""
    native, _ = least_squares_llc(10, DEFAULT_SETTINGS)
    reference, _ = least_squares_llc(10, replace(DEFAULT_SETTINGS, sampler="devinterp"))
    delta, allowed = _agree(native, reference)
    assert delta <= allowed, (native.mean, reference.mean, allowed)


@pytest.mark.long
def test_native_and_devinterp_agree_at_initialisation_inside_the_phase_change_and_at_the_end(default_run):
    """attn-only-2l seed 0 at steps 0, the first checkpoint ≥ 500 (inside its phase-change window) and the last,
    at the default settings (≈ 2 minutes: --runlong)."""
    from probes.engine.checkpoint import RunSource

    source = RunSource(default_run)
    steps = source.steps()
    for step in (steps[0], next(s for s in steps if s >= 500), steps[-1]):
        ckpt = source.load(step)
        data = probe_set(ckpt.config, DEFAULT_SETTINGS.n)
        results = [estimate_llc(FastTransformer(ckpt.config.model, ckpt.state), data, replace(DEFAULT_SETTINGS, sampler=s))
                   for s in ("native", "devinterp")]
        delta, allowed = _agree(*results)
        assert delta <= allowed, (step, [r.mean for r in results], allowed)

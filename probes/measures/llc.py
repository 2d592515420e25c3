"""The local learning coefficient (LLC) of a checkpoint: devinterp's SGLD estimator, with chain diagnostics.

Definition (Lau et al. 2023, arXiv 2308.12108; used over training by Hoogland et al. 2024, arXiv 2402.02364):
    λ̂(w*) = nβ · (E_w[L_n(w)] − L_n(w*)),   w ~ p(w) ∝ exp(−nβ L_n(w) − (γ/2)‖w − w*‖²),   β = 1/ln n,
L_n the mean next-token loss on a fixed probe set of n sequences. The chains are drawn by devinterp 2.0.1
(`devinterp.slt.sampling.sample`, SGLD: w ← w − (ε/2)[nβ∇L_batch + γ(w − w*)] + √ε·N(0, I)); `devinterp.slt.llc.
compute_llc` gives each chain's per-step loss trace and L_n(w*) ("init loss"), and λ̂ per chain is nβ × (mean of the
trace after burn-in − init loss) — devinterp's formula without its burn-in steps (`compute_llc` averages every step;
with burn-in 0 the two agree exactly, tests/test_llc.py).

Settings (`LLCSettings`), the same at every checkpoint as Hoogland do, against their language-model run
(timaeus-research/icl, `notebooks/language_experiments/llc.ipynb`: ε 0.003, γ 300, nβ = m/ln m ≈ 21.7 for batch m = 100,
20 chains × 200 draws, no burn-in). γ = 300 and 200 draws are theirs. Deviations, stated:
  n = 100 probe sequences of the run's own generator (seed `LLC_SEED`), so nβ = n/ln n = 21.7 is their value; they
      sampled batches of 100 from the training set, we cycle a fixed set (L_n is exactly the loss the chains see;
      devinterp's default: every chain sees the same batches in the same order, only the SGLD noise differs);
  ε = 1e-3, not 3e-3: our models have no LayerNorm. On attn-only-2l (2 chains × 200 draws, no burn-in, steps
      429–3000) λ̂ grew 15–25% from ε = 1e-3 to 2e-3 (a step-size bias), and 11–13% from 3e-4 to 1e-3, most of it
      the slower equilibration at 3e-4 (plateau losses differ by ≈ 6%);
  4 chains, not 20, and batch 25, not 100: cost on 2 CPU cores (≈ 30 s per checkpoint, bench/llc_speed.py);
  50 burn-in steps, not 0: at ε = 1e-3 the loss trace takes ≈ 40 steps to reach its plateau; they are dropped from
      the mean (devinterp's `compute_llc` would include them).
Samplers (`LLCSettings.sampler`): "native" (default; probes.measures.sgld) steps all chains of a checkpoint together
with torch.func over FastTransformer and reproduces devinterp's default sampler batch for batch and noise draw for
draw (traces agree to float rounding, tests/test_llc.py); it needs no devinterp. "devinterp" runs devinterp 2.0.1
itself, the reference. Native deviations: a non-finite chain is not stopped (NaN from that step on, reported as
diverged); `devinterp_mean` is devinterp's formula (burn-in kept) applied to the native trace. Speed: on one thread
the native sampler is not yet faster (attn-only-2l untrained, default settings: 21.5 s vs 21.1 s), see sgld.py.
Diagnostics per checkpoint (thresholds in `probes.claims.thresholds`): split-R̂ of the post-burn-in loss traces (Gelman et al.
2013, BDA3 §11.4), the chains' spread (std of per-chain λ̂ / |λ̂|), drift (λ̂ of the second half of the draws minus
the first half, relative to |λ̂|, with its standard error over chains: a trace still rising) and divergence (a chain
devinterp stopped, a non-finite loss, a negative λ̂). Relative measures divide by max(|λ̂|, LLC_FLOOR): an untrained
model's λ̂ ≈ 0 would make noise look like disagreement. Disagreeing, unsettled or diverged chains are logged as
warnings and flagged in the rows. A clamped run's checkpoint (circuits.model.clamp) is sampled with the clamps in force at
its step, as its training forward applied them (`FastTransformer.clamps`; each chain's deepcopy keeps them): λ̂ is
that of the clamped network. The weights a clamp makes irrelevant (frozen in training) do not move the loss, so
they add nothing to λ̂ although SGLD moves them.
Calibration (tests/test_llc.py), at the probe's own settings: a regular model's target is ½Σᵢ nβhᵢ/(nβhᵢ + γ)
(`regular_llc`; ≈ 0.35 for d = 10 at γ = 300, where devinterp gives 0.40–0.42), and d/2 (Watanabe 2009) at γ = 0,
where 200 draws do not settle and the diagnostics say so.
"""
from __future__ import annotations

import contextlib
import gc
import logging
import math
import random
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from einops import rearrange
from jaxtyping import Float, Int, Shaped
from torch import Tensor, nn

from circuits.config import RunConfig
from circuits.data.generators import make_sampler
from circuits.errors import WorkbenchError
from circuits.model.transformer import FastTransformer, token_losses
from probes.claims.thresholds import LLC_DRIFT_MAX, LLC_DRIFT_Z, LLC_FLOOR, LLC_RHAT_MAX, LLC_SPREAD_MAX
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import PROBE_SEED, ProbeInputs
from probes.measures import sgld
from probes.registry import ProbeSpec, register_probe
from probes.table import Row, model_row

logger = logging.getLogger(__name__)
LLC_SEED = PROBE_SEED + 11  # the probe set's seed (other probe inputs use PROBE_SEED + 0…4)
INSTALL_HINT = 'pip install -e ".[llc]"'
LossFn = Callable[[nn.Module, Tensor], Tensor]
# Torch threads while sampling (None: the caller's). SGLD on our small models is many small ops: on 2 cores shared
# with other jobs, the default estimate on attn-only-2l (bench/llc_speed.py) took 28–29 s on one thread at any load,
# 19 s on two threads at load ≈ 2 but 178 s at load ≈ 3.5 (the threads wait on each other). One thread is the safe
# default on a shared machine; set 2 (or None) on idle cores.
SAMPLING_THREADS: int | None = 1
SAMPLERS = ("native", "devinterp")


@dataclass(frozen=True)
class LLCSettings:
    """SGLD settings of the LLC estimate (defaults and their deviations from Hoogland et al.: module docstring)."""

    lr: float = 1e-3  # ε, the SGLD step size
    localization: float = 300.0  # γ, pull towards w*
    nbeta: float | None = None  # nβ; None: n / ln n (β = 1/ln n)
    chains: int = 4
    draws: int = 200  # SGLD steps kept per chain (one draw per step)
    burnin: int = 50  # SGLD steps per chain before the draws, dropped from λ̂
    batch_size: int = 25
    n: int = 100  # probe-set size (sequences); a multiple of batch_size
    seed: int = 0  # devinterp's init_seed (chain c uses seed + c); the probe set has its own seed, LLC_SEED
    trace_points: int = 20  # the loss trace is saved as this many block means per chain
    sampler: str = "native"  # "native" (probes.measures.sgld, all chains at once) | "devinterp" (the reference)

    @property
    def resolved_nbeta(self) -> float:
        return self.nbeta if self.nbeta is not None else self.n / math.log(self.n)

    def problems(self) -> list[str]:
        """Each invalid field, with what is allowed."""
        out = [f"{k} = {getattr(self, k)} must be > 0" for k in ("lr", "draws", "batch_size", "trace_points")
               if not getattr(self, k) > 0]
        out += [f"{k} = {getattr(self, k)} must be ≥ 0" for k in ("localization", "burnin") if not getattr(self, k) >= 0]
        if self.chains < 2:
            out.append(f"chains = {self.chains} must be ≥ 2 (agreement across chains is a diagnostic)")
        if self.n < 2 or self.n % max(1, self.batch_size):
            out.append(f"n = {self.n} must be ≥ 2 and a multiple of batch_size = {self.batch_size} "
                       f"(the init loss L_n(w*) is one pass over the probe set)")
        if self.nbeta is not None and not self.nbeta > 0:
            out.append(f"nbeta = {self.nbeta} must be > 0 (or None for n / ln n)")
        if self.sampler not in SAMPLERS:
            out.append(f"sampler = {self.sampler!r} must be one of {SAMPLERS}")
        if self.draws < 2 * self.trace_points:
            out.append(f"draws = {self.draws} must be ≥ 2 × trace_points = {2 * self.trace_points}")
        return out

    def validate(self) -> None:
        if problems := self.problems():
            raise WorkbenchError("bad LLC settings: " + "; ".join(problems) + ". Fix these fields of LLCSettings.")


DEFAULT_SETTINGS = LLCSettings()


@dataclass(frozen=True)
class Diagnostics:
    """Chain diagnostics of one estimate (module docstring); `reasons` says why a flag is set."""

    rhat: float
    spread: float
    drift: float
    drift_se: float
    disagree: bool
    unsettled: bool
    diverged: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class LLCResult:
    """One LLC estimate: λ̂ (mean and std over chains), per-chain λ̂, every chain's loss trace (burn-in included),
    the init loss L_n(w*), the nβ used and the diagnostics."""

    mean: float
    std: float
    per_chain: Float[Tensor, " chain"]
    trace: Float[Tensor, "chain step"]
    init_loss: float
    nbeta: float
    settings: LLCSettings
    diagnostics: Diagnostics
    devinterp_mean: float = field(default=float("nan"))  # devinterp's own llc_mean (burn-in steps included)


def _devinterp() -> tuple[Callable[..., Any], Callable[..., Any], Any]:
    """devinterp's `sample`, `compute_llc` and HF `Dataset`, imported on first use (they import transformers)."""
    try:
        from devinterp.slt.llc import compute_llc
        from devinterp.slt.sampling import sample
    except ImportError as err:
        raise WorkbenchError(f"the llc probe needs devinterp 2.0.1 ({err.name} is not installed); install the extra: "
                             f"{INSTALL_HINT}") from err
    from datasets import Dataset  # a dependency of devinterp

    return sample, compute_llc, Dataset


class _Sampled(nn.Module):
    """The model SGLD moves, always in eval mode (no dropout: λ̂ is of the deterministic network). Wrapping also
    keeps devinterp from treating our FastTransformer (it has a `cfg.n_heads`) as a HookedTransformer, whose
    `.to(device, print_details=False)` a plain module does not accept."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.net = model.eval()

    def train(self, mode: bool = True) -> _Sampled:
        return super().train(False)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.net(tokens)


def lm_loss(model: nn.Module, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos_minus_1"]:
    """Per-token next-token cross-entropy, devinterp's `loss_fn` contract: (batch, pos − 1)."""
    return token_losses(model(tokens), tokens)


@contextlib.contextmanager
def _isolated(quiet: bool = True) -> Iterator[list[warnings.WarningMessage]]:
    """Sampling without side effects: global RNG states restored (devinterp seeds torch, numpy and random), its
    per-chain tqdm bars off (the sweep has its own), the garbage collector's existing objects frozen (devinterp calls
    gc.collect() twice per chain, ≈ 0.5 s each in a process that imported transformers), SAMPLING_THREADS torch
    threads (restored after), warnings recorded. `quiet`: devinterp's bars off (imports devinterp)."""
    py_state, np_state, threads = random.getstate(), np.random.get_state(), torch.get_num_threads()
    torch.set_num_threads(SAMPLING_THREADS or threads)
    gc.freeze()
    try:
        with (torch.random.fork_rng(devices=[]), warnings.catch_warnings(record=True) as caught,
              _quiet() if quiet else contextlib.nullcontext()):
            warnings.simplefilter("always")
            yield caught
    finally:
        gc.unfreeze()
        torch.set_num_threads(threads)
        random.setstate(py_state)
        np.random.set_state(np_state)


def _quiet() -> contextlib.AbstractContextManager[None]:
    from probes.measures.devinterp_adapter import quiet_chains

    return quiet_chains()


def _sample_native(model: nn.Module, rows: Tensor, s: LLCSettings, loss_fn: LossFn, device: str
                   ) -> tuple[Tensor, float, float, list[str]]:
    """The native chains (probes.measures.sgld): (loss trace [chain, step] incl. burn-in, init loss, devinterp's
    formula λ̂ with burn-in kept, failures)."""
    cfg = sgld.SGLDConfig(s.lr, s.resolved_nbeta, s.localization, s.chains, s.burnin + s.draws, s.batch_size, s.seed)
    with _isolated(quiet=False):
        chains = sgld.sample(model, rows, cfg, loss_fn, device)
    whole = s.resolved_nbeta * (chains.trace.nanmean(1) - chains.init_loss)
    return chains.trace, chains.init_loss, float(whole.mean()), chains.failures


def _sample(model: nn.Module, rows: Tensor, s: LLCSettings, loss_fn: LossFn, device: str
            ) -> tuple[Tensor, float, float, list[str]]:
    """The chains of `s.sampler`: native, or devinterp's reference (`_sample_devinterp`)."""
    return (_sample_native if s.sampler == "native" else _sample_devinterp)(model, rows, s, loss_fn, device)


def _sample_devinterp(model: nn.Module, rows: Tensor, s: LLCSettings, loss_fn: LossFn, device: str
                      ) -> tuple[Tensor, float, float, list[str]]:
    """devinterp's chains: (loss trace [chain, step] incl. burn-in, init loss, devinterp's llc_mean, failures)."""
    sample, compute_llc, Dataset = _devinterp()
    dataset = Dataset.from_dict({"input_ids": rows.tolist()}).with_format("torch")
    with _isolated() as caught, tempfile.TemporaryDirectory(prefix="llc-") as tmp:
        tree = sample(_Sampled(model), dataset, {}, lr=s.lr, n_beta=s.resolved_nbeta, localization=s.localization,
                      num_chains=s.chains, num_draws=s.draws, num_burnin_steps=s.burnin, batch_size=s.batch_size,
                      num_init_loss_batches=s.n // s.batch_size, init_seed=s.seed, loss_fn=loss_fn, device=device,
                      output_path=f"{tmp}/samples.zarr")
        result = compute_llc(tree)
        trace = torch.tensor(result.loss_trace.values, dtype=torch.float64)
        init, devinterp_mean = float(result.init_loss), float(result.llc_mean)
    failures = [str(w.message) for w in caught if "Chain failed" in str(w.message)]
    return trace, init, devinterp_mean, failures


def estimate_llc(model: nn.Module, dataset: Shaped[Tensor, "n width"], settings: LLCSettings = DEFAULT_SETTINGS,
                 loss_fn: LossFn = lm_loss, device: str | torch.device = "cpu") -> LLCResult:
    """λ̂ at the model's current weights w* on `dataset` (n rows: token sequences for the default `lm_loss`, or
    whatever rows `loss_fn(model, rows) -> (batch, width − 1)` reads), with chain diagnostics. The model's weights
    are not changed (devinterp samples copies); it is left in eval mode."""
    settings.validate()
    if dataset.shape[0] != settings.n:
        raise WorkbenchError(f"the LLC probe set has {dataset.shape[0]} rows but settings.n = {settings.n} (nβ = n/ln n "
                             f"depends on it); pass exactly n rows or set LLCSettings(n={dataset.shape[0]}).")
    trace, init, devinterp_mean, failures = _sample(model, dataset.cpu(), settings, loss_fn, str(device))
    nbeta = settings.resolved_nbeta
    per_chain = nbeta * (trace[:, settings.burnin:].nanmean(1) - init)
    finite = per_chain[per_chain.isfinite()]
    mean = float(finite.mean()) if len(finite) else float("nan")
    std = float(finite.std()) if len(finite) > 1 else float("nan")
    diag = diagnose(trace[:, settings.burnin:], per_chain, mean, nbeta, failures)
    return LLCResult(mean, std, per_chain, trace, init, nbeta, settings, diag, devinterp_mean)


def regular_llc(hessian_eigenvalues: Float[Tensor, " d"], nbeta: float, localization: float) -> float:
    """The LLC estimator's target for a regular model whose loss is quadratic at w* with Hessian eigenvalues hᵢ:
    under p(w) ∝ exp(−nβ L_n(w) − (γ/2)‖w − w*‖²) each direction is Gaussian with variance 1/(nβhᵢ + γ), so
    nβ·E[L_n(w) − L_n(w*)] = ½ Σᵢ nβhᵢ / (nβhᵢ + γ) — d/2 at γ = 0 (Watanabe 2009's λ of a regular model), ≈ 0.34 for
    d = 10, h ≈ 1 at the probe's γ = 300, nβ = 21.7. The calibration tests check the estimator against it at the
    probe's own settings (tests/test_llc.py)."""
    h = hessian_eigenvalues.double()
    return float(0.5 * (nbeta * h / (nbeta * h + localization)).sum())


def split_rhat(draws: Float[Tensor, "chain draw"]) -> float:
    """Split-R̂ (Gelman et al. 2013, BDA3 §11.4): each chain halved, √(var⁺ / W) with W the mean within-half variance
    and var⁺ = (m−1)/m·W + B/m, B/m the variance of the half means. ≈ 1 when the chains mix; 1.0 for constant draws."""
    half = draws.shape[1] // 2
    halves = rearrange(draws[:, : 2 * half], "c (s d) -> (c s) d", s=2)
    within = halves.var(1).mean()
    if not within > 0:
        return 1.0 if bool((halves == halves[0, 0]).all()) else float("nan")
    var_plus = (half - 1) / half * within + halves.mean(1).var()
    return float((var_plus / within).sqrt())


def drift(draws: Float[Tensor, "chain draw"], nbeta: float, scale: float) -> tuple[float, float]:
    """Mean over chains of nβ·(mean of the second half of a chain's draws − mean of its first half) / scale, and its
    standard error over chains (one half-difference per chain carries that chain's autocorrelation)."""
    half = draws.shape[1] // 2
    per_chain = nbeta * (draws[:, half:].nanmean(1) - draws[:, :half].nanmean(1)) / scale
    return float(per_chain.mean()), float(per_chain.std() / math.sqrt(len(per_chain)))


def diagnose(draws: Float[Tensor, "chain draw"], per_chain: Float[Tensor, " chain"], mean: float, nbeta: float,
             failures: list[str]) -> Diagnostics:
    """R̂, spread and drift with their flags (thresholds `probes.claims.thresholds`), and divergence (module docstring)."""
    scale = max(abs(mean), LLC_FLOOR) if math.isfinite(mean) else float("nan")
    rhat = split_rhat(draws)
    spread = float(per_chain.std()) / scale
    rise, rise_se = drift(draws, nbeta, scale)
    reasons = [f"split-R̂ {rhat:.3f} > {LLC_RHAT_MAX}"] * (not rhat <= LLC_RHAT_MAX)
    reasons += [f"chain spread {spread:.3f} > {LLC_SPREAD_MAX} of λ̂"] * (not spread <= LLC_SPREAD_MAX)
    disagree = bool(reasons)
    unsettled = not (rise <= LLC_DRIFT_MAX or rise <= LLC_DRIFT_Z * rise_se)
    reasons += [f"loss trace still rising: drift {rise:.3f} ± {rise_se:.3f} of λ̂"] * unsettled
    negative = [i for i, v in enumerate(per_chain.tolist()) if v < 0]
    diverged_why = failures + ["non-finite loss in a trace"] * bool(not draws.isfinite().all())
    diverged_why += [f"negative λ̂ in chain(s) {negative}"] * bool(negative)
    return Diagnostics(rhat, spread, rise, rise_se, disagree, unsettled, bool(diverged_why), tuple(reasons + diverged_why))


def thin(trace: Float[Tensor, "chain step"], points: int) -> tuple[Float[Tensor, "chain point"], list[float]]:
    """The trace as `points` block means per chain, and each block's centre SGLD step (for the trace plot)."""
    blocks = torch.tensor_split(torch.arange(trace.shape[1], dtype=torch.float64), points)
    means = torch.stack([trace[:, b.long()].mean(1) for b in blocks], dim=1)
    return means, [float(b.mean()) for b in blocks]


def result_rows(result: LLCResult) -> list[Row]:
    """The probe's rows (names declared in the llc probe's `ProbeSpec.metrics`)."""
    s, d = result.settings, result.diagnostics
    rows = [model_row("llc", k, float(v)) for k, v in (
        ("mean", result.mean), ("std", result.std), ("init_loss", result.init_loss), ("nbeta", result.nbeta),
        ("rhat", d.rhat), ("spread", d.spread), ("drift", d.drift), ("drift_se", d.drift_se), ("disagree", d.disagree),
        ("unsettled", d.unsettled), ("diverged", d.diverged), ("devinterp_mean", result.devinterp_mean))]
    rows += [model_row("llc", k, float(v)) for k, v in asdict(s).items() if k not in ("nbeta", "sampler")]
    rows.append(model_row("llc", f"sampler/{s.sampler}", 1.0))
    rows += [model_row("llc", f"chain/{i}", v) for i, v in enumerate(result.per_chain.tolist())]
    blocks, centres = thin(result.trace, s.trace_points)
    rows += [model_row("llc", f"trace_step/{k}", c) for k, c in enumerate(centres)]
    return rows + [model_row("llc", f"trace/{c}/{k}", v) for c in range(blocks.shape[0])
                   for k, v in enumerate(blocks[c].tolist())]


def probe_set(config: RunConfig, n: int) -> Int[Tensor, "n pos"]:
    """n sequences of the run's own training distribution, from a fixed seed (the same at every checkpoint)."""
    return make_sampler(config.data, config.model)(n, torch.Generator().manual_seed(LLC_SEED))


NOT_APPLICABLE = ("the LLC needs one of our models: SGLD moves every parameter, and a TransformerLens bridge of a "
                  "Hugging Face model re-splits its weights (q/k/v beside c_attn) and keeps graph tensors that "
                  "devinterp's per-chain deepcopy refuses")


def llc_probe(ckpt: Checkpoint, inputs: ProbeInputs, settings: LLCSettings | None = None) -> list[Row]:
    """λ̂ of one of our checkpoints with its diagnostics and a thinned loss trace, at `settings` (default: the
    module's DEFAULT_SETTINGS, read at call time), on our FastTransformer (the bridge's state dict, faster) and
    `probe_set`. Other models are not applicable (`NOT_APPLICABLE`, one clear error if called directly)."""
    settings = settings if settings is not None else DEFAULT_SETTINGS
    if ckpt.config is None:
        raise WorkbenchError(f"{NOT_APPLICABLE}; run the llc probe on a run trained here (icl-workbench train).")
    model, data = FastTransformer(ckpt.config.model, ckpt.state).to(ckpt.device), probe_set(ckpt.config, settings.n)
    if ckpt.clamped:  # the clamps in force at this step, as the training forward applies them (circuits.model.clamp)
        from circuits.training.trainer import clamp_set

        model.clamps = clamp_set(ckpt.config, ckpt.device, ckpt.step)
    result = estimate_llc(model, data, settings, device=ckpt.device)
    if result.diagnostics.reasons:
        logger.warning("LLC at step %d (λ̂ = %.2f): %s", ckpt.step, result.mean, "; ".join(result.diagnostics.reasons))
    return result_rows(result)


def llc_applies(inputs: ProbeInputs) -> str | None:
    return NOT_APPLICABLE if inputs.config is None else None


register_probe(ProbeSpec("llc", 3, llc_probe, {  # probes.measures.llc (Lau et al. 2023; Hoogland et al. 2024, arXiv 2402.02364): devinterp's SGLD estimate
    "{mean|std|devinterp_mean}": "λ̂ over chains (burn-in dropped): mean, std; devinterp's llc_mean formula (burn-in kept)",
    "chain/{i}": "λ̂ of one chain",
    "{init_loss|nbeta}": "L_n(w*) on the probe set; the nβ used",
    "{rhat|spread|drift|drift_se}": ("split-R̂ of the loss traces; std of per-chain λ̂ / |λ̂|; "
                                     "λ̂ of the second − first half of the draws / |λ̂|, its standard error"),
    "{disagree|unsettled|diverged}": "1 when chains disagree (R̂ or spread), a trace still rises, or a chain diverged",
    "{lr|localization|chains|draws|burnin|batch_size|n|seed|trace_points}": "the LLCSettings used",
    "sampler/{native|devinterp}": "1: the sampler used (native probes.measures.sgld, or devinterp 2.0.1's reference)",
    "trace/{chain}/{k}": "mean sampled loss of one chain over block k of its SGLD steps (burn-in included)",
    "trace_step/{k}": "centre SGLD step of block k",
}, applies=llc_applies,
                         section="probes.report.llc:llc_report_section"))  # opt-in: SGLD, ≈ 30 s per checkpoint

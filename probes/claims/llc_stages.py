"""Developmental stages from the LLC curve: a Gaussian process on log(step + 1) and the critical points of its slope.

Hoogland et al. 2024 (arXiv 2402.02364) split training into stages at the critical points of λ̂(t): they fit a
Gaussian process with an RBF kernel (sklearn, `C(1.0) * RBF(3, bounds (0.5, 1e3))`, hyper-parameters by marginal
likelihood) to λ̂ against log(step + 1), take dλ̂/d log t of the fit and put boundaries where the slope is ≈ 0
(timaeus-research/icl, `notebooks/language.ipynb`). Here, in torch (sklearn is not a dependency):
  - y = λ̂ standardised; kernel σ_f²·exp(−(x − x')²/2ℓ²) + σ_n²·δ; (ℓ, σ_f, σ_n) = the best log marginal likelihood
    over a small grid (ℓ ≥ 0.5 in log-steps as in their bounds). Deviation: they fit the noise-free kernel
    (sklearn's alpha 1e-10) by L-BFGS with restarts; λ̂ here is an SGLD estimate, so the noise level is fitted too;
  - the slope is the analytic derivative of the posterior mean on a fine grid of log-steps (theirs: finite
    differences of the fit at the checkpoints);
  - "slope ≈ 0" is made precise: the slope is flat where |slope| ≤ STAGE_FLAT_FRACTION × its largest |slope| or
    ≤ STAGE_SLOPE_Z posterior standard deviations (not distinguishable from 0; `probes.claims.thresholds`); flat runs closer
    than the fitted lengthscale are one run. An interior run holds one boundary, at its smallest |slope| (a peak or
    trough of λ̂, or a plateau between two rises); a run from the first checkpoint ends the first stage where the
    slope leaves ≈ 0, a run to the last checkpoint starts the last stage where it reaches ≈ 0.
    Deviation: they read the boundaries off the plot with a hand-set threshold (|slope| < 0.25 on λ̂ ≈ 150).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from probes.claims.phase_change import robust_noise
from probes.claims.thresholds import STAGE_FLAT_FRACTION, STAGE_SLOPE_Z

LENGTHSCALES = (0.5, 0.7, 1.0, 1.4, 2.0, 3.0, 5.0)  # log-step units (Hoogland's lower bound 0.5)
SIGNALS = (0.5, 1.0, 2.0)  # σ_f on the standardised λ̂
NOISES = (0.01, 0.03, 0.1, 0.3)  # σ_n on the standardised λ̂
GRID_POINTS = 400


@dataclass(frozen=True)
class GPFit:
    """A Gaussian-process fit of standardised y on x = log(step + 1): hyper-parameters, weights α = K⁻¹y, scaling."""

    x: Float[Tensor, " n"]
    alpha: Float[Tensor, " n"]
    chol: Float[Tensor, "n n"]
    lengthscale: float
    signal: float
    noise: float
    log_marginal: float
    y_mean: float
    y_scale: float


def _kernel(a: Float[Tensor, " n"], b: Float[Tensor, " m"], lengthscale: float, signal: float) -> Float[Tensor, "n m"]:
    return signal**2 * torch.exp(-((a[:, None] - b[None, :]) ** 2) / (2 * lengthscale**2))


def _log_marginal(x: Tensor, y: Tensor, lengthscale: float, signal: float, noise: float) -> tuple[float, Tensor, Tensor]:
    """log p(y | x, θ) = −½ yᵀK⁻¹y − Σ log diag(chol K) − (n/2) log 2π, α = K⁻¹y and chol K."""
    k = _kernel(x, x, lengthscale, signal) + noise**2 * torch.eye(len(x), dtype=x.dtype)
    chol = torch.linalg.cholesky(k)
    alpha = torch.cholesky_solve(y[:, None], chol)[:, 0]
    value = -0.5 * y @ alpha - chol.diagonal().log().sum() - 0.5 * len(x) * math.log(2 * math.pi)
    return float(value), alpha, chol


def noise_floor(values: list[float]) -> float:
    """The observation noise of λ̂ estimated from the curve's residuals: `probes.claims.phase_change.robust_noise` (the MAD of
    successive differences / √2; a transition's few large differences do not move the median)."""
    return robust_noise(values) if len(values) >= 3 else 0.0


def fit_gp(steps: list[int], values: list[float]) -> GPFit:
    """The RBF Gaussian process on log(step + 1) with the best marginal likelihood over the grid; σ_n is at least the
    noise floor estimated from the residuals (`noise_floor`, standardised): the fit may not explain the noise of one
    checkpoint as structure (otherwise a one-checkpoint blip makes a stage boundary)."""
    x = torch.log1p(torch.tensor(steps, dtype=torch.float64))
    raw = torch.tensor(values, dtype=torch.float64)
    mean, scale = float(raw.mean()), float(raw.std()) or 1.0
    y = (raw - mean) / scale
    floor = noise_floor([float(v) for v in values]) / scale
    noises = sorted({max(sn, floor) for sn in NOISES})
    best: GPFit | None = None
    for ell, sf, sn in itertools.product(LENGTHSCALES, SIGNALS, noises):
        value, alpha, chol = _log_marginal(x, y, ell, sf, sn)
        if best is None or value > best.log_marginal:
            best = GPFit(x, alpha, chol, ell, sf, sn, value, mean, scale)
    return best


def gp_curve(fit: GPFit, at: Float[Tensor, " m"]
             ) -> tuple[Float[Tensor, " m"], Float[Tensor, " m"], Float[Tensor, " m"]]:
    """At log-steps `at`, in λ̂ units: the posterior mean of λ̂, of its slope dλ̂/d log t (analytic derivative of the
    kernel) and the slope's posterior std, √(σ_f²/ℓ² − k'ᵀK⁻¹k') (Rasmussen & Williams 2006, §9.4)."""
    k = _kernel(at, fit.x, fit.lengthscale, fit.signal)
    dk = k * -(at[:, None] - fit.x[None, :]) / fit.lengthscale**2
    solved = torch.cholesky_solve(dk.T, fit.chol)  # K⁻¹k'
    var = (fit.signal / fit.lengthscale) ** 2 - (dk * solved.T).sum(1)
    return fit.y_mean + fit.y_scale * (k @ fit.alpha), fit.y_scale * (dk @ fit.alpha), fit.y_scale * var.clamp_min(0).sqrt()


def smoothed(steps: list[int], values: list[float], points: int = GRID_POINTS) -> tuple[list[float], list[float], list[float]]:
    """(steps, fitted λ̂, dλ̂/d log t) on a fine log-step grid, for plots."""
    fit = fit_gp(steps, values)
    grid = torch.linspace(float(fit.x.min()), float(fit.x.max()), points, dtype=torch.float64)
    mean, slope, _ = gp_curve(fit, grid)
    return torch.expm1(grid).tolist(), mean.tolist(), slope.tolist()


def _flat_runs(flat: list[bool], grid: list[float], merge: float) -> list[tuple[int, int]]:
    """[start, end] index ranges of consecutive True values; runs less than `merge` apart on `grid` are one run
    (the fit cannot resolve two critical points closer than about its lengthscale)."""
    runs: list[tuple[int, int]] = []
    for i, f in enumerate(flat):
        if not f:
            continue
        if runs and (runs[-1][1] == i - 1 or grid[i] - grid[runs[-1][1]] < merge):
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _boundary(run: tuple[int, int], slope: Tensor) -> int | None:
    """The grid index of a flat run's boundary: an interior run's smallest |slope|; a run from the first checkpoint
    ends the first stage at its last point, a run to the last checkpoint starts the last stage at its first point;
    a run over everything (no change anywhere) has none."""
    i0, i1 = run
    last = len(slope) - 1
    if i0 == 0 and i1 == last:
        return None
    if i0 == 0:
        return i1
    if i1 == last:
        return i0
    return i0 + int(slope[i0 : i1 + 1].argmin())


def stage_boundaries(steps: list[int], llc: list[float]) -> list[int]:
    """Stage boundaries (training steps, ascending) where the GP-smoothed λ̂(log t) has slope ≈ 0 (module
    docstring). A constant curve, or fewer than 4 checkpoints, has none."""
    if len(steps) < 4 or len(steps) != len(llc) or not all(math.isfinite(v) for v in llc) or max(llc) == min(llc):
        return []
    fit = fit_gp(steps, llc)
    grid = torch.linspace(float(fit.x.min()), float(fit.x.max()), GRID_POINTS, dtype=torch.float64)
    _, slope, std = gp_curve(fit, grid)
    slope = slope.abs()
    flat = ((slope <= STAGE_FLAT_FRACTION * slope.max()) | (slope <= STAGE_SLOPE_Z * std)).tolist()
    found = [_boundary(run, slope) for run in _flat_runs(flat, grid.tolist(), fit.lengthscale)]
    return [round(math.expm1(float(grid[k]))) for k in found if k is not None]

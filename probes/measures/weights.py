"""Weight-based head scores, computed from the native state dict (no forward pass).

Conventions (TransformerLens, row vectors): W_Q, W_K, W_V: [head, d_model, d_head]; W_O: [head, d_head, d_model];
W_E: [d_vocab, d_model]; W_U: [d_model, d_vocab]. LayerNorm is folded in as its fixed diagonal scale (ln1.weight into
W_Q/W_K/W_V, ln_final.weight into W_U); its centring and per-token scale are ignored — the per-token scale is a
positive scalar that leaves both scores below unchanged. For rotary models the QK circuit depends on the relative
offset Δ: W_QK(Δ) = W_Q R(Δ) W_K^T, and K-composition is averaged over Δ = 0 … n_ctx−1.
"""
from __future__ import annotations

import torch
from einops import einsum, rearrange
from jaxtyping import Float
from torch import Tensor

from circuits.config import ModelConfig
from circuits.model.transformer import ROTARY_BASE, StateDict
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.measures.applies import weights_applies
from probes.registry import ProbeSpec, register_probe
from probes.table import Row, head_rows, model_row

HeadMatrices = Float[Tensor, "n_heads d_model d_head"]


def head_weights(weights: StateDict, cfg: ModelConfig, layer: int) -> dict[str, Tensor]:
    """W_Q, W_K, W_V ([head, d_model, d_head]) and W_O ([head, d_head, d_model]) of one layer, LN scale folded."""
    prefix = f"blocks.{layer}"
    scale = weights.get(f"{prefix}.ln1.weight", torch.ones(cfg.d_model))
    out = {}
    for name in ("q", "k", "v"):
        w = weights[f"{prefix}.attn.{name}.weight"]  # nn.Linear: [n_heads*d_head, d_model]
        out[f"W_{name.upper()}"] = rearrange(w, "(h d) m -> h m d", h=cfg.n_heads) * scale[None, :, None]
    out["W_O"] = rearrange(weights[f"{prefix}.attn.o.weight"], "m (h d) -> h d m", h=cfg.n_heads)
    return out


def unembedding(weights: StateDict, cfg: ModelConfig) -> Float[Tensor, "d_model d_vocab"]:
    scale = weights.get("ln_final.weight", torch.ones(cfg.d_model))
    return weights["unembed.weight"].T * scale[:, None]


def copying_score(weights: StateDict, cfg: ModelConfig) -> Float[Tensor, "n_layers n_heads"]:
    """Elhage et al. 2021: Σλ / Σ|λ| over the eigenvalues λ of the full OV circuit W_E W_V^h W_O^h W_U.

    +1: the head copies the token it attends to (raises its logit); −1: it suppresses it. The vocab×vocab matrix
    is never built: its non-zero eigenvalues are those of the d_head×d_head matrix W_O W_U W_E W_V.
    """
    W_E, W_U = weights["embed.weight"], unembedding(weights, cfg)
    scores = torch.zeros(cfg.n_layers, cfg.n_heads)
    for layer in range(cfg.n_layers):
        w = head_weights(weights, cfg, layer)
        small = w["W_O"] @ (W_U @ W_E) @ w["W_V"]  # [head, d_head, d_head] = W_O (W_U W_E) W_V
        eig = torch.linalg.eigvals(small.double())
        scores[layer] = (eig.sum(-1).real / eig.abs().sum(-1)).float()
    return scores


def _rotations(cfg: ModelConfig) -> Float[Tensor, "offset d_head d_head"]:
    """R(Δ) for Δ = 0, −1, …, −(n_ctx−1) in the native adjacent-pair RoPE layout: q·k = q^T R(j−i) k."""
    inv_freq = 1.0 / (ROTARY_BASE ** (torch.arange(0, cfg.d_head, 2).float() / cfg.d_head))
    angles = -torch.arange(cfg.n_ctx).float()[:, None] * inv_freq[None, :]  # [offset, d_head/2]
    cos, sin = angles.cos(), angles.sin()
    rot = torch.zeros(cfg.n_ctx, cfg.d_head, cfg.d_head)
    even, odd = torch.arange(0, cfg.d_head, 2), torch.arange(1, cfg.d_head, 2)
    rot[:, even, even], rot[:, odd, odd] = cos, cos
    rot[:, even, odd], rot[:, odd, even] = sin, -sin
    return rot


def qk_circuits(weights: StateDict, cfg: ModelConfig, layer: int) -> Float[Tensor, "offset n_heads d_model d_model"]:
    """W_QK = W_Q W_K^T per head; one offset for learned positions, n_ctx relative offsets for rotary."""
    w = head_weights(weights, cfg, layer)
    if cfg.positional != "rotary":
        return einsum(w["W_Q"], w["W_K"], "h m d, h n d -> h m n")[None]
    return einsum(w["W_Q"], _rotations(cfg), w["W_K"], "h m d, r d e, h n e -> r h m n")


def ov_circuits(weights: StateDict, cfg: ModelConfig, layer: int) -> Float[Tensor, "n_heads d_model d_model"]:
    w = head_weights(weights, cfg, layer)
    return einsum(w["W_V"], w["W_O"], "h m d, h d n -> h m n")


def _composition(ov: Tensor, qk: Tensor) -> Tensor:
    """‖OV QKᵀ‖_F / (‖OV‖_F ‖QK‖_F) for every (sender, receiver) pair; mean over QK offsets. -> [send, recv]."""
    prod = einsum(ov, qk, "s m n, r h o n -> r s h m o")  # OV_s @ QK_h^T
    ratio = prod.flatten(-2).norm(dim=-1) / (ov.flatten(-2).norm(dim=-1)[None, :, None] * qk.flatten(-2).norm(dim=-1)[:, None, :])
    return ratio.mean(0)


def k_composition(weights: StateDict, cfg: ModelConfig) -> Float[Tensor, "n_layers n_heads n_layers n_heads"]:
    """Elhage et al. 2021 K-composition score of sender (l1, h1) into receiver (l2, h2), l1 < l2; NaN elsewhere."""
    scores = torch.full((cfg.n_layers, cfg.n_heads, cfg.n_layers, cfg.n_heads), float("nan"))
    for l1 in range(cfg.n_layers):
        ov = ov_circuits(weights, cfg, l1)
        for l2 in range(l1 + 1, cfg.n_layers):
            scores[l1, :, l2, :] = _composition(ov, qk_circuits(weights, cfg, l2))
    return scores


def k_composition_baseline(cfg: ModelConfig, samples: int = 200, seed: int = 0) -> float:
    """Mean K-composition score of random Gaussian W_Q, W_K, W_V, W_O of the same shapes (Elhage's baseline)."""
    gen = torch.Generator().manual_seed(seed)
    shape = (samples, cfg.d_model, cfg.d_head)
    q, k, v = (torch.randn(shape, generator=gen) for _ in range(3))
    o = torch.randn(samples, cfg.d_head, cfg.d_model, generator=gen)
    ov, qk = v @ o, q @ k.transpose(1, 2)
    prod = ov @ qk.transpose(1, 2)
    return (prod.flatten(1).norm(dim=1) / (ov.flatten(1).norm(dim=1) * qk.flatten(1).norm(dim=1))).mean().item()


def weights_probe(ckpt: Checkpoint, inputs: ProbeInputs) -> list[Row]:
    """Elhage copying score per head; K-composition per (sender, receiver) pair and its random baseline."""
    cfg, state = ckpt.config.model, {k: v.cpu() for k, v in ckpt.state.items()}
    rows = head_rows("weights", "copying", copying_score(state, cfg))
    kcomp = k_composition(state, cfg)
    for l1 in range(cfg.n_layers):
        for h1 in range(cfg.n_heads):
            for l2 in range(l1 + 1, cfg.n_layers):
                rows += [{"layer": l2, "head": h2, "probe": "weights", "metric": f"k_composition/from/{l1}.{h1}",
                          "value": float(kcomp[l1, h1, l2, h2])} for h2 in range(cfg.n_heads)]
    rows.append(model_row("weights", "k_composition/random_baseline", k_composition_baseline(cfg)))
    return rows


register_probe(ProbeSpec("weights", 1, weights_probe, {
    "copying": "Elhage et al. 2021 copying score (positive eigenvalues of the OV circuit)",
    "k_composition/from/{layer}.{head}": "K-composition of a lower-layer sender into this head",
    "k_composition/random_baseline": "K-composition of random matrices of the same shapes",
}, applies=weights_applies, default="always"))

"""Hand-built models with known mechanisms: the controls every head score must get right.

Residual-stream layout (d_model ≥ 64, d_head = 16):
  dims  0–15  token identity  e_t (random unit vectors)
  dims 16–31  position        (cos ω_f i, sin ω_f i) for 8 geometric frequencies ω_f = π·0.55^f
  dims 32–47  previous token  written by the layer-0 previous-token head of the induction circuit
  dims 48–63  copied token    written by the induction head, read by the unembedding
A *positional* head reads only the position block with its query and key: q_i = R(d)·p_i = p_{i−d}, k_j = p_j, so
its score Σ_f cos ω_f (i − d − j) peaks at j = i − d whatever the tokens are (margin ≥ 3.7 over every other offset
up to 130). A mixture head sums several R(d). The *induction circuit* (Elhage et al. 2021; Olsson et al. 2022,
arXiv 2209.11895) is a layer-0 previous-token head (offset 1) whose OV copies e_{t(j−1)} into the previous-token
block, and a layer-1 head whose query reads e_{t(i)} and whose key reads that block (K-composition).
"""
from __future__ import annotations

import math

import torch

from circuits.config import ModelConfig
from circuits.model.transformer import initial_state_dict

TOKEN, POSITION, PREVIOUS, COPY = (slice(0, 16), slice(16, 32), slice(32, 48), slice(48, 64))
FREQUENCIES = torch.tensor([0.999 * math.pi * 0.55**f for f in range(8)])
POSITION_SCALE = 40.0  # × margin 3.7 / √d_head: > 30 nats between the chosen offset and any other
MATCH_SCALE = 200.0


def _rotation(offset: int) -> torch.Tensor:
    """R with R·p_i = p_{i−offset}: each (cos, sin) pair rotated by −ω_f·offset."""
    blocks = []
    for angle in (-FREQUENCIES * offset).tolist():
        c, s = math.cos(angle), math.sin(angle)
        blocks.append(torch.tensor([[c, -s], [s, c]]))
    return torch.block_diag(*blocks)


def _blank(cfg: ModelConfig) -> dict[str, torch.Tensor]:
    if cfg.d_model < 64 or cfg.d_head != 16 or cfg.positional != "standard" or cfg.normalization is not None:
        raise ValueError("hand-built models need d_model ≥ 64, d_head 16, learned positions and no LayerNorm")
    state = {k: torch.zeros_like(v) for k, v in initial_state_dict(cfg).items()}
    tokens = torch.randn(cfg.d_vocab, 16, generator=torch.Generator().manual_seed(0))
    state["embed.weight"][:, TOKEN] = tokens / tokens.norm(dim=-1, keepdim=True)
    angles = torch.arange(cfg.n_ctx)[:, None].float() * FREQUENCIES[None]
    state["pos_embed.weight"][:, POSITION] = torch.stack([angles.cos(), angles.sin()], dim=-1).flatten(1)
    state["unembed.weight"][:, COPY] = state["embed.weight"][:, TOKEN]
    return state


def _rows(head: int) -> slice:
    return slice(16 * head, 16 * (head + 1))


def set_positional_head(state: dict, layer: int, head: int, offsets: list[int]) -> None:
    """Head (layer, head) attends to positions i − d for d in `offsets` (equally), ignoring content."""
    attn = f"blocks.{layer}.attn"
    state[f"{attn}.q.weight"][_rows(head), POSITION] = POSITION_SCALE * sum(_rotation(d) for d in offsets)
    state[f"{attn}.k.weight"][_rows(head), POSITION] = torch.eye(16)


def positional_model(cfg: ModelConfig, offsets: dict[tuple[int, int], list[int]]) -> dict[str, torch.Tensor]:
    """A state dict whose listed heads are positional (the others attend uniformly)."""
    state = _blank(cfg)
    for (layer, head), offs in offsets.items():
        set_positional_head(state, layer, head, offs)
    return state


def induction_model(cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Previous-token head 0.0 feeding induction head 1.0 through K-composition (needs ≥ 2 layers)."""
    state = _blank(cfg)
    set_positional_head(state, 0, 0, [1])
    state["blocks.0.attn.v.weight"][_rows(0), TOKEN] = torch.eye(16)
    state["blocks.0.attn.o.weight"][PREVIOUS, _rows(0)] = torch.eye(16)
    state["blocks.1.attn.q.weight"][_rows(0), TOKEN] = MATCH_SCALE * torch.eye(16)
    state["blocks.1.attn.k.weight"][_rows(0), PREVIOUS] = torch.eye(16)
    state["blocks.1.attn.v.weight"][_rows(0), TOKEN] = torch.eye(16)
    state["blocks.1.attn.o.weight"][COPY, _rows(0)] = torch.eye(16)
    return state

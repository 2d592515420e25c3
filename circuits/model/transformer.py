"""Models: the TransformerLens 4.x native bridge (analysis) and a fast twin (the one forward).

One weight representation: the bridge's state dict (`embed.weight`, `blocks.0.attn.q.weight`, …,
`unembed.bias`). `FastTransformer` is built from modules named so that its state dict has exactly those keys and
shapes, and computes the same function without the bridge's hook and wrapper layers (fused QKV, batched attention);
its `Seams` carry TransformerLens hook names, so an edit written for the bridge's hooks (a clamp, an ablation, an
injection) runs unchanged on it. `tests/test_model.py` proves its logits equal the bridge's.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from einops import rearrange
from jaxtyping import Float, Int
from torch import Tensor, nn

from circuits.config import ModelConfig
from circuits.model.seams import Seams, at_seam

if TYPE_CHECKING:  # importing transformer_lens costs seconds: only inside functions
    from transformer_lens.model_bridge import TransformerBridge

logger = logging.getLogger(__name__)
StateDict = dict[str, Tensor]
ROTARY_BASE = 10000.0


def bridge_config(cfg: ModelConfig):
    """Map our frozen ModelConfig onto TransformerLens's `TransformerBridgeConfig`."""
    from transformer_lens.config import TransformerBridgeConfig

    return TransformerBridgeConfig(
        d_model=cfg.d_model, d_head=cfg.d_head, n_heads=cfg.n_heads, n_layers=cfg.n_layers, n_ctx=cfg.n_ctx,
        d_vocab=cfg.d_vocab, attn_only=cfg.attn_only, d_mlp=None if cfg.attn_only else cfg.mlp_width,
        act_fn=None if cfg.attn_only else cfg.act_fn, normalization_type=cfg.normalization,
        positional_embedding_type=cfg.positional, rotary_base=int(ROTARY_BASE), init_mode="gpt2",
        initializer_range=cfg.init_range, seed=cfg.seed,
    )


BRIDGE_MODULES = ("transformer_lens.model_bridge.sources.native",)  # what building a bridge imports (≈ 5 s, once)


def build_bridge(cfg: ModelConfig, state_dict: StateDict | None = None) -> TransformerBridge:
    """`TransformerBridge.boot_native` for `cfg`; loads `state_dict` (strict) when given."""
    import transformer_lens.model_bridge.sources.native  # noqa: F401 - attaches boot_native
    from transformer_lens.model_bridge import TransformerBridge

    cfg.validate()
    bridge = TransformerBridge.boot_native(bridge_config(cfg))
    if state_dict is not None:
        bridge.load_state_dict(state_dict, strict=True)
    bridge.eval()
    return bridge


def initial_state_dict(cfg: ModelConfig) -> StateDict:
    """The seeded initial weights, as TransformerLens's native init makes them."""
    return {k: v.detach().clone() for k, v in build_bridge(cfg).state_dict().items()}


class Rotary(nn.Module):
    """RoPE tables in TransformerLens's native layout (adjacent pairs rotate together)."""

    def __init__(self, d_head: int, n_ctx: int):
        super().__init__()
        inv_freq = 1.0 / (ROTARY_BASE ** (torch.arange(0, d_head, 2).float() / d_head))
        freqs = torch.outer(torch.arange(n_ctx).float(), inv_freq)
        self.register_buffer("cos", freqs.cos().repeat_interleave(2, dim=-1), persistent=False)
        self.register_buffer("sin", freqs.sin().repeat_interleave(2, dim=-1), persistent=False)

    def forward(self, x: Float[Tensor, "*batch pos d_head"], offset: int = 0) -> Float[Tensor, "*batch pos d_head"]:
        """Rotate positions offset … offset + pos − 1 (offset > 0: a suffix of a longer sequence)."""
        where = slice(offset, offset + x.shape[-2])
        pairs = rearrange(x, "... (d two) -> ... d two", two=2)
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)  # (x0, x1) -> (-x1, x0)
        return x * self.cos[where] + rotated * self.sin[where]


Past = tuple[Tensor, Tensor]  # the rotated keys and values of earlier positions, [batch, heads, pos, d_head] each
QKV = tuple[Tensor, Tensor, Tensor]  # q, k, v as [batch, heads, pos, d_head] (views of one fused matmul)


def past_before_last(kv: list[Past]) -> list[Past]:
    """Every layer's keys/values (`Seams.kv` of a full pass) without the last position: the past of a pass over the
    last position alone."""
    return [(k[:, :, :-1], v[:, :, :-1]) for k, v in kv]


class Attention(nn.Module):
    """Causal self-attention on the native q/k/v/o tensors: one fused QKV matmul; PyTorch's fused
    `scaled_dot_product_attention` when nobody reads or edits the pattern (measured 2× faster than an explicit
    masked softmax at d_head 16, T 64, forward + backward: bench/train_speed.py), else the explicit pattern at the
    `hook_pattern` seam. With `past`, the queries are a suffix of a longer sequence and also attend to the earlier
    positions' keys/values; a past shared by c stacked copies of the batch is broadcast, not copied."""

    def __init__(self, cfg: ModelConfig, rotary: Rotary | None, layer: int):
        super().__init__()
        self.n_heads, self.rotary, self.scale, self.layer = cfg.n_heads, rotary, cfg.d_head**-0.5, layer
        self.q, self.k, self.v, self.o = (nn.Linear(cfg.d_model, cfg.d_model) for _ in range(4))
        self.register_buffer("mask", torch.full((cfg.n_ctx, cfg.n_ctx), float("-inf")).triu(1), persistent=False)
        self.fused = True  # False: the explicit pattern always (torch.func.vmap has no CPU batching rule for the fused kernel)

    def forward(self, x: Float[Tensor, "batch pos d_model"], seams: Seams | None = None, past: Past | None = None
                ) -> Float[Tensor, "batch pos n_heads d_head"]:
        """The heads' z (the bridge's hook_z)."""
        offset = 0 if past is None else past[0].shape[2]
        q, k, v = self.qkv(x, seams, offset)
        if seams is not None and seams.keep_kv:
            seams.kv[self.layer] = (k, v)
        if past is not None:
            z = self._attend_with_past(q, k, v, past, seams)
        elif not self.fused or (seams is not None and seams.wants(f"blocks.{self.layer}.attn.hook_pattern")):
            z = torch.matmul(self.pattern(q, k, seams), v)
        else:
            z = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale)
        return at_seam(seams, f"blocks.{self.layer}.attn.hook_z", rearrange(z, "b h p d -> b p h d"))

    def out(self, z: Float[Tensor, "batch pos n_heads d_head"]) -> Float[Tensor, "batch pos d_model"]:
        """The attention output from per-head values z."""
        return self.o(rearrange(z, "b p h d -> b p (h d)"))

    def qkv(self, x: Float[Tensor, "batch pos d_model"], seams: Seams | None = None, offset: int = 0) -> QKV:
        """q, k, v as [batch, heads, pos, d_head] (one fused matmul), seams applied, rotary on q and k at positions
        offset …"""
        weight = torch.cat([self.q.weight, self.k.weight, self.v.weight])
        bias = torch.cat([self.q.bias, self.k.bias, self.v.bias])
        q, k, v = rearrange(F.linear(x, weight, bias), "b p (three h d) -> three b h p d", three=3, h=self.n_heads)
        if seams is not None:
            q, k, v = (self._seam(seams, name, t) for name, t in (("q", q), ("k", k), ("v", v)))
        if self.rotary is not None:
            q, k = self.rotary(q, offset), self.rotary(k, offset)
        return q, k, v

    def _seam(self, seams: Seams, name: str, t: Tensor) -> Tensor:
        hook = f"blocks.{self.layer}.attn.hook_{name}"
        if not seams.wants(hook):
            return t
        return rearrange(seams(hook, rearrange(t, "b h p d -> b p h d")), "b p h d -> b h p d")

    def pattern(self, q: Tensor, k: Tensor, seams: Seams | None = None) -> Float[Tensor, "batch n_heads q_pos k_pos"]:
        """The causal attention pattern of q over k ([batch, heads, pos, d_head] each; the bridge's hook_pattern)."""
        pos = q.shape[2]
        pattern = (torch.matmul(q, k.transpose(-1, -2)) * self.scale + self.mask[:pos, :pos]).softmax(-1)
        return at_seam(seams, f"blocks.{self.layer}.attn.hook_pattern", pattern)

    def _attend_with_past(self, q: Tensor, k: Tensor, v: Tensor, past: Past, seams: Seams | None) -> Tensor:
        """z [(c b), h, pos, d] of suffix queries over the shared past (c copies broadcast) and the suffix itself."""
        keys, values = past  # [b, h, P, d]
        c, pos = q.shape[0] // keys.shape[0], q.shape[2]
        q5, k5, v5 = (rearrange(t, "(c b) h p d -> c b h p d", c=c) for t in (q, k, v))
        prefix = torch.matmul(q5, keys.transpose(-1, -2))  # [c, b, h, pos, P]
        own = torch.matmul(q5, k5.transpose(-1, -2)) + self.mask[:pos, :pos]
        probs = (torch.cat([prefix, own], -1) * self.scale).softmax(-1)
        if seams is not None and seams.wants(f"blocks.{self.layer}.attn.hook_pattern"):
            raise NotImplementedError("a pattern seam over a suffix pass is not supported; run the whole sequence")
        z = torch.matmul(probs[..., : keys.shape[2]], values) + torch.matmul(probs[..., keys.shape[2]:], v5)
        return rearrange(z, "c b h p d -> (c b) h p d")


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.add_module("in", nn.Linear(cfg.d_model, cfg.mlp_width))  # `in` is a keyword; key blocks.i.mlp.in.*
        self.out = nn.Linear(cfg.mlp_width, cfg.d_model)
        self.approximate = "tanh" if cfg.act_fn == "gelu_new" else "none"
        self.act = {"relu": F.relu, "silu": F.silu}.get(cfg.act_fn, lambda h: F.gelu(h, approximate=self.approximate))

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        return self.out(self.act(getattr(self, "in")(x)))


def _norm(cfg: ModelConfig) -> nn.Module:
    return nn.LayerNorm(cfg.d_model, eps=1e-5) if cfg.normalization == "LN" else nn.Identity()


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, rotary: Rotary | None, layer: int):
        super().__init__()
        self.ln1, self.attn, self.layer = _norm(cfg), Attention(cfg, rotary, layer), layer
        self.attn_only = cfg.attn_only
        if not cfg.attn_only:
            self.ln2, self.mlp = _norm(cfg), MLP(cfg)

    def forward(self, x: Float[Tensor, "batch pos d_model"], seams: Seams | None = None, past: Past | None = None,
                z: Tensor | None = None, last_only: bool = False) -> Float[Tensor, "batch _out_pos d_model"]:
        """The block's output. `z` given (the heads' values, already known) skips recomputing the attention;
        `last_only` runs the position-wise part on the last position alone."""
        x = at_seam(seams, f"blocks.{self.layer}.hook_resid_pre", x)
        z = self.attn(self.ln1(x), seams, past) if z is None else at_seam(seams, f"blocks.{self.layer}.attn.hook_z", z)
        if last_only:
            x, z = x[:, -1:], z[:, -1:]
        return self.finish(x, z, seams)

    def finish(self, x: Float[Tensor, "batch pos d_model"], z: Float[Tensor, "batch pos n_heads d_head"],
               seams: Seams | None = None) -> Float[Tensor, "batch pos d_model"]:
        """The block's output given its input and its heads' z."""
        x = x + at_seam(seams, f"blocks.{self.layer}.hook_attn_out", self.attn.out(z))
        x = x if self.attn_only else x + self.mlp(self.ln2(x))
        return at_seam(seams, f"blocks.{self.layer}.hook_resid_post", x)


class Unembed(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cfg.d_vocab, cfg.d_model))
        self.register_buffer("bias", torch.zeros(cfg.d_vocab))  # the bridge keeps a zero bias buffer

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_vocab"]:
        return F.linear(x, self.weight, self.bias)


class FastTransformer(nn.Module):
    """The native model's function, written once: training, clamps, the intervention engine, attribution and the
    LLC sampler all run this forward, editing it only at its `Seams`. State-dict keys = the bridge's. With `clamps`
    set (a `circuits.model.clamp.ClampSet`, not a submodule), every forward applies the clamps in force as seam edits."""

    def __init__(self, cfg: ModelConfig, state_dict: StateDict | None = None):
        super().__init__()
        self.cfg = cfg
        rotary = Rotary(cfg.d_head, cfg.n_ctx) if cfg.positional == "rotary" else None
        self.embed = nn.Embedding(cfg.d_vocab, cfg.d_model)
        if cfg.positional == "standard":
            self.pos_embed = nn.Embedding(cfg.n_ctx, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, rotary, layer) for layer in range(cfg.n_layers))
        self.ln_final = _norm(cfg)
        self.unembed = Unembed(cfg)
        self.clamps: Any = None  # a circuits.model.clamp.ClampSet on a clamped run's model
        self.load_state_dict(state_dict if state_dict is not None else initial_state_dict(cfg), strict=True)

    def forward(self, tokens: Int[Tensor, "batch pos"], seams: Seams | None = None) -> Float[Tensor, "batch pos d_vocab"]:
        seams = self.clamped(tokens, seams)
        return self.run_blocks(self.embedding(tokens, seams), seams)

    @contextlib.contextmanager
    def explicit_attention(self) -> Iterator[FastTransformer]:
        """Every layer computes its pattern explicitly inside the block (same function; used under torch.func.vmap,
        which has no CPU batching rule for the fused attention kernel and would run the batch one by one)."""
        layers = [block.attn for block in self.blocks]
        before = [a.fused for a in layers]
        for a in layers:
            a.fused = False
        try:
            yield self
        finally:
            for a, fused in zip(layers, before, strict=True):
                a.fused = fused

    def clamped(self, tokens: Int[Tensor, "batch pos"], seams: Seams | None, group: int | None = None) -> Seams | None:
        """`seams` with the edits of the clamps in force (`ClampSet.edits`; `group`: the rows of one copy when the
        batch stacks copies of a batch) applied first."""
        if self.clamps is None or not self.clamps.active:
            return seams
        return (seams or Seams()).merged(self.clamps.edits(self, tokens, group))

    def run_blocks(self, x: Float[Tensor, "batch pos d_model"], seams: Seams | None = None, start: int = 0,
                   z: Tensor | None = None, past: list[Past] | None = None, last_only: bool = False
                   ) -> Float[Tensor, "batch _out_pos d_vocab"]:
        """The logits from block `start`'s input `x` on (`z`: that block's heads' values when known; `past`: every
        layer's keys/values of earlier positions when `x` is a suffix; `last_only`: the last block's position-wise
        part and the unembedding on the last position alone)."""
        last = len(self.blocks) - 1
        for layer in range(start, last + 1):
            x = self.blocks[layer](x, seams, None if past is None else past[layer], z if layer == start else None,
                                   last_only and layer == last)
        return self.logits(x, seams)

    def embedding(self, tokens: Int[Tensor, "batch pos"], seams: Seams | None = None) -> Float[Tensor, "batch pos d_model"]:
        x = at_seam(seams, "hook_embed", self.embed(tokens))
        return x + self.pos_embed.weight[: tokens.shape[1]] if self.cfg.positional == "standard" else x

    def logits(self, resid: Float[Tensor, "batch pos d_model"], seams: Seams | None = None) -> Float[Tensor, "batch pos d_vocab"]:
        return self.unembed(at_seam(seams, "ln_final.hook_normalized", self.ln_final(resid)))


def token_losses(
    logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, "batch pos_minus_1"]:
    """Next-token cross-entropy at every position but the last (position i predicts token i+1)."""
    predictions = rearrange(logits[:, :-1], "b p v -> b v p")
    return F.cross_entropy(predictions, tokens[:, 1:], reduction="none")

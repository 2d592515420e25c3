"""Periodic evaluation on fixed, seeded held-out batches.

Metrics use flat `eval/<name>` keys (devinterp style):
  eval/loss               mean next-token loss on a held-out batch of the training distribution
  eval/loss_by_position   that loss per position (list; index i = loss of predicting token i+1)
  eval/repeat_loss        loss on the second copy of [BOS, r, r] sequences (its first token excluded: nothing
                          announces the repeat) whose segment lengths were never trained
                          on — it collapses at the induction phase change
  eval/first_copy_loss    loss on the first copy of the same sequences (no context can help: stays ≈ ln(vocab))
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from circuits.config import RunConfig
from circuits.data import make_sampler, repeated_sequences
from circuits.model import token_losses

EVAL_SEED_OFFSET = 1_000_003  # eval batches never share a stream with training batches


@dataclass(frozen=True)
class EvalSet:
    """Fixed evaluation batches of a run (identical at every step)."""

    held_out: Int[Tensor, "batch pos"]
    repeats: tuple[tuple[int, Tensor], ...]  # (segment length, [BOS, r, r] of shape [batch, 2·length+1])

    @classmethod
    def for_run(cls, config: RunConfig) -> "EvalSet":
        gen = torch.Generator().manual_seed(config.train.seed + EVAL_SEED_OFFSET)
        held_out = make_sampler(config.data, config.model)(config.train.eval_batch_size, gen)
        lengths = heldout_repeat_lengths(config)
        repeats = tuple(
            (n, repeated_sequences(config.train.eval_batch_size, n, 2, config.model.d_vocab, gen)) for n in lengths
        )
        return cls(held_out, repeats)


def heldout_repeat_lengths(config: RunConfig) -> tuple[int, ...]:
    """Segment lengths for the repeat eval: the data's held-out lengths that fit twice in the context."""
    fits = tuple(n for n in config.data.heldout_lengths if 2 * n + 1 <= config.model.n_ctx)
    return fits or ((config.model.n_ctx - 1) // 2,)


@torch.no_grad()
def evaluate(model: torch.nn.Module, evalset: EvalSet) -> dict[str, float | list[float]]:
    losses = token_losses(model(evalset.held_out), evalset.held_out)
    by_pos = losses.mean(0)
    first, second = [], []
    for n, seqs in evalset.repeats:
        rep = token_losses(model(seqs), seqs)  # position i predicts token i+1
        first.append(rep[:, :n].mean())  # tokens 1 … n: the first copy, unpredictable
        second.append(rep[:, n + 1 : 2 * n].mean())  # tokens n+2 … 2n: predictable by induction
    return {
        "eval/loss": by_pos.mean().item(),
        "eval/loss_by_position": [round(x, 5) for x in by_pos.tolist()],
        "eval/repeat_loss": torch.stack(second).mean().item(),
        "eval/first_copy_loss": torch.stack(first).mean().item(),
    }

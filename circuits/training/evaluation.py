"""Periodic evaluation on fixed, seeded held-out batches.

Metrics use flat `eval/<name>` keys (devinterp style):
  eval/loss               mean next-token loss on a held-out batch of the training distribution
  eval/loss_by_position   that loss per position (list; index i = loss of predicting token i+1)
  eval/repeat_loss        loss on the second copy of [BOS, r, r] sequences (its first token excluded: nothing
                          announces the repeat) whose segment lengths were never trained
                          on — it collapses at the induction phase change
  eval/first_copy_loss    loss on the first copy of the same sequences (no context can help: stays ≈ ln(vocab))
  eval/few_shot_accuracy  fv-mix runs: top-1 accuracy of yq on 10-shot prompts of every task (test queries)
  eval/zero_shot_accuracy fv-mix runs: the same on zero-shot prompts [BOS, xq]
Modular-addition runs (`circuits.data.modular`) have none of the above but eval/loss (= the test loss) and
  eval/{train|test}_{loss|accuracy}  float64 loss and accuracy of the answer at `=` on every train / test pair
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from circuits.config import RunConfig
from circuits.data.generators import generator_of, make_sampler, repeated_sequences
from circuits.data.modular import answer_metrics, eval_sets
from circuits.model.transformer import token_losses

EVAL_SEED_OFFSET = 1_000_003  # eval batches never share a stream with training batches
FEW_SHOT = 10  # Todd et al.'s default k


@dataclass(frozen=True)
class EvalSet:
    """Fixed evaluation batches of a run (identical at every step)."""

    held_out: Int[Tensor, "batch pos"]
    repeats: tuple[tuple[int, Tensor], ...]  # (segment length, [BOS, r, r] of shape [batch, 2·length+1])
    task_prompts: tuple[tuple[str, Tensor, Tensor], ...] = ()  # fv-mix runs: (kind, prompts, answers)
    answer_sets: tuple[tuple[str, Tensor], ...] = ()  # modular-addition runs: ("train"|"test", every pair of it)
    modulus: int = 0  # modular-addition runs: p

    @classmethod
    def for_run(cls, config: RunConfig) -> EvalSet:
        generator = generator_of(config.data)
        if generator.answer_pairs:  # the whole train and test sets; no sequences to continue
            return cls(torch.zeros(0, 3, dtype=torch.long), (), answer_sets=eval_sets(config.data), modulus=config.data.modulus)
        gen = torch.Generator().manual_seed(config.train.seed + EVAL_SEED_OFFSET)
        held_out = make_sampler(config.data, config.model)(config.train.eval_batch_size, gen)
        lengths = heldout_repeat_lengths(config)
        repeats = tuple(
            (n, repeated_sequences(config.train.eval_batch_size, n, 2, config.model.d_vocab, gen)) for n in lengths
        )
        return cls(held_out, repeats, _task_prompts(config, gen) if generator.icl_tasks else ())

    def to(self, device: torch.device) -> EvalSet:
        """The same batches on `device` (built on the CPU from a CPU generator, so identical on every device)."""
        return EvalSet(self.held_out.to(device), tuple((n, seqs.to(device)) for n, seqs in self.repeats),
                       tuple((kind, t.to(device), a.to(device)) for kind, t, a in self.task_prompts),
                       tuple((name, t.to(device)) for name, t in self.answer_sets), self.modulus)


def heldout_repeat_lengths(config: RunConfig) -> tuple[int, ...]:
    """Segment lengths for the repeat eval: the data's held-out lengths that fit twice in the context."""
    fits = tuple(n for n in config.data.probe_periods if 2 * n + 1 <= config.model.n_ctx)
    return fits or ((config.model.n_ctx - 1) // 2,)


def _task_prompts(config: RunConfig, gen: torch.Generator) -> tuple[tuple[str, Tensor, Tensor], ...]:
    """Few-shot (k = FEW_SHOT) and zero-shot prompts of every task, test queries (see circuits.data.tasks)."""
    from circuits.data.tasks import default_suite, prompts

    suite = default_suite()
    out = []
    for kind, k in (("few_shot", min(FEW_SHOT, (config.model.n_ctx - 2) // 2)), ("zero_shot", 0)):
        batches = [prompts(suite, task, k, 4, gen) for task in suite.tasks]
        out.append((kind, torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])))
    return tuple(out)


@torch.no_grad()
def evaluate(model: torch.nn.Module, evalset: EvalSet) -> dict[str, float | list[float]]:
    if evalset.answer_sets:
        return answer_metrics(model, evalset.answer_sets, evalset.modulus)
    losses = token_losses(model(evalset.held_out), evalset.held_out)
    by_pos = losses.mean(0)
    first, second = [], []
    for n, seqs in evalset.repeats:
        rep = token_losses(model(seqs), seqs)  # position i predicts token i+1
        first.append(rep[:, :n].mean())  # tokens 1 … n: the first copy, unpredictable
        second.append(rep[:, n + 1 : 2 * n].mean())  # tokens n+2 … 2n: predictable by induction
    accuracy = {f"eval/{kind}_accuracy": (model(tokens)[:, -1].argmax(-1) == answers).float().mean().item()
                for kind, tokens, answers in evalset.task_prompts}
    return accuracy | {
        "eval/loss": by_pos.mean().item(),
        "eval/loss_by_position": [round(x, 5) for x in by_pos.tolist()],
        "eval/repeat_loss": torch.stack(second).mean().item(),
        "eval/first_copy_loss": torch.stack(first).mean().item(),
    }

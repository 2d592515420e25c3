"""Abstractive ICL tasks (Todd et al. 2024, arXiv:2310.15213) and their prompts; `circuits.data.generators` trains on them (fv-mix).

Vocabulary of the fv preset: 0 = BOS; "input words" X = tokens 1…32; "output words" Y = tokens 33…64; the rest
(65…d_vocab−1) only occur in the repeated-token sequences mixed into training. A task maps every input word to an
output word, so the answer is never in the context. Families (32 tasks in all, seeded):
  perm-k      a fixed random permutation X → Y                        (20 tasks)
  offset-c    successor map x_i → y_{(i+c) mod 32}                     (6 tasks: c = 1, 2, 3, 5, 8, 13)
  category-m  x_i → y_{i mod m}: many-to-one category labels           (5 tasks: m = 2, 3, 4, 6, 8)
  capitalize  x_i → y_i, the same word in the "other half" of the vocabulary (1 task)
A k-shot prompt is [BOS, x1, y1, …, xk, yk, xq] and the model should output yq; demonstrations come from a task's
train inputs, queries from its valid/test inputs, so xq is never in its own context. Corrupted (shuffled-label)
prompts permute the demonstrations' outputs among themselves; zero-shot prompts are [BOS, xq].
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from circuits.data.configs import FV_WORDS
from circuits.data.tokens import with_bos
from circuits.errors import WorkbenchError

N_WORDS = FV_WORDS
INPUTS = torch.arange(1, 1 + N_WORDS)
OUTPUTS = torch.arange(1 + N_WORDS, 1 + 2 * N_WORDS)
TASK_SEED = 2310_15213  # Todd et al.'s arXiv number
SPLIT_SIZES = {"train": 20, "valid": 6, "test": 6}


@dataclass(frozen=True)
class Task:
    name: str
    family: str
    answer: Int[Tensor, " n_words"]  # answer[i] = output token for input token INPUTS[i]


@dataclass(frozen=True, eq=False)  # compared (and hashed) by identity: default_suite() is built once
class TaskSuite:
    tasks: tuple[Task, ...]
    splits: dict[str, Tensor]  # split -> indices into INPUTS (shared by all tasks)

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise WorkbenchError(f"unknown task {name!r}; tasks are {[t.name for t in self.tasks][:6]}… ({len(self.tasks)} in all, see circuits.data.tasks).")

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tasks]


@functools.lru_cache(maxsize=1)
def default_suite() -> TaskSuite:
    gen = torch.Generator().manual_seed(TASK_SEED)
    idx = torch.arange(N_WORDS)
    tasks = [Task(f"perm-{k}", "permutation", OUTPUTS[torch.randperm(N_WORDS, generator=gen)]) for k in range(20)]
    tasks += [Task(f"offset-{c}", "offset", OUTPUTS[(idx + c) % N_WORDS]) for c in (1, 2, 3, 5, 8, 13)]
    tasks += [Task(f"category-{m}", "category", OUTPUTS[idx % m]) for m in (2, 3, 4, 6, 8)]
    tasks.append(Task("capitalize", "capitalize", OUTPUTS[idx]))
    order = torch.randperm(N_WORDS, generator=gen)
    a, b = SPLIT_SIZES["train"], SPLIT_SIZES["train"] + SPLIT_SIZES["valid"]
    return TaskSuite(tuple(tasks), {"train": order[:a], "valid": order[a:b], "test": order[b:], "all": idx})


def check_prompt_size(k: int, n_ctx: int, demos_available: int = SPLIT_SIZES["train"]) -> None:
    if k < 0 or k > demos_available:
        raise WorkbenchError(f"k={k} shots but a task has only {demos_available} demonstration examples; use 0 ≤ k ≤ {demos_available}.")
    if 2 * k + 2 > n_ctx:
        raise WorkbenchError(f"a {k}-shot prompt needs {2 * k + 2} tokens but the model's context is n_ctx={n_ctx}; use k ≤ {(n_ctx - 2) // 2}.")


def prompts(suite: TaskSuite, task: Task, k: int, n: int, gen: torch.Generator, split: str = "test",
            shuffled: bool = False, n_ctx: int | None = None) -> tuple[Int[Tensor, "n pos"], Int[Tensor, " n"]]:
    """n k-shot prompts [BOS, x1, y1, …, xk, yk, xq] of `task` and their answers yq (Todd et al.'s p and p̃).

    Demonstrations come from the train inputs, never including the query (which matters for split "all": queries
    uniform over every input, so a mean over such prompts favours no answer).
    """
    check_prompt_size(k, n_ctx if n_ctx is not None else 2 * k + 2, len(suite.splits["train"]) - 1)
    queries = suite.splits[split][torch.randint(len(suite.splits[split]), (n,), generator=gen)]
    train = suite.splits["train"]
    demos = torch.stack([_demos(train, q, k, gen) for q in queries]) if k else torch.zeros(n, 0, dtype=torch.long)
    xs, ys = INPUTS[demos], task.answer[demos]
    if shuffled and k > 1:
        ys = torch.stack([row[torch.randperm(k, generator=gen)] for row in ys])
    pairs = torch.stack([xs, ys], dim=-1).flatten(1)  # x1 y1 x2 y2 …
    tokens = with_bos(torch.cat([pairs, INPUTS[queries][:, None]], dim=1))
    return tokens, task.answer[queries]


def _demos(train: Tensor, query: Tensor, k: int, gen: torch.Generator) -> Tensor:
    pool = train[train != query]
    return pool[torch.randperm(len(pool), generator=gen)[:k]]

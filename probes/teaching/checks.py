"""Checks for the notebooks' exercises: the learner's function against the library's on the same inputs.

A check builds small seeded inputs whose axes all differ in length (so a transposed layer/head axis changes the
output's shape), runs both functions on each, and returns a one-line pass, or raises `ExerciseMismatch` naming the
first difference: the shape (with the axes named) or the first entry beyond the tolerance. A stub that still raises
`NotImplementedError` propagates unchanged, so a notebook stops at its check cell.
(The checks are in the style of ARENA's induction-heads chapter: pure functions over attention patterns.)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from circuits.data.generators import repeated_sequences
from circuits.data.tokens import with_bos
from probes.measures import detectors

Inputs = list[tuple]


class ExerciseMismatch(AssertionError):
    """The learner's function differs from the library's (the message says where and by how much)."""


@dataclass(frozen=True)
class Exercise:
    key: str  # "1.1": notebook 01, first exercise
    name: str  # the function the learner writes, and the name its solution has
    reference: Callable  # the library's implementation
    inputs: Callable[[], Inputs]  # seeded argument tuples, the same at every call
    axes: tuple[str, ...]  # the output's axis names
    atol: float = 1e-5


def causal_patterns(n_layers: int, batch: int, n_heads: int, pos: int,
                    gen: torch.Generator) -> Float[Tensor, "n_layers batch n_heads q k"]:
    """Random attention patterns: softmax of N(0, 3²) scores over the keys j ≤ i."""
    scores = 3 * torch.randn(n_layers, batch, n_heads, pos, pos, generator=gen)
    causal = torch.ones(pos, pos, dtype=torch.bool).tril()
    return scores.masked_fill(~causal, float("-inf")).softmax(-1)


def attention_inputs() -> Inputs:
    """(patterns, tokens) pairs: [BOS, r, r] repeats, and random tokens from 6 symbols (repeats everywhere)."""
    gen = torch.Generator().manual_seed(0)
    repeats: Int[Tensor, "batch pos"] = repeated_sequences(3, 7, 2, 50, gen)
    random: Int[Tensor, "batch pos"] = with_bos(torch.randint(1, 7, (2, 12), generator=gen))
    return [(causal_patterns(2, 3, 4, repeats.shape[1], gen), repeats),
            (causal_patterns(3, 2, 5, random.shape[1], gen), random)]


EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("1.1", "previous_token_score", detectors.previous_token_score, attention_inputs, ("n_layers", "n_heads")),
    Exercise("1.2", "induction_score", detectors.induction_score, attention_inputs, ("n_layers", "n_heads")),
)}


def check(name: str, fn: Callable) -> str:
    """Compare `fn` with the library's `name` on the exercise's inputs; a one-line pass, or `ExerciseMismatch`."""
    if name not in EXERCISES:
        raise KeyError(f"no exercise named {name!r}; the exercises are {sorted(EXERCISES)}")
    exercise = EXERCISES[name]
    inputs = exercise.inputs()
    for i, args in enumerate(inputs):
        compare(exercise, fn(*args), exercise.reference(*args), f"input {i + 1} of {len(inputs)}")
    where = f"{exercise.reference.__module__}.{exercise.reference.__name__}"
    return f"✓ exercise {exercise.key} {name}: equals {where} on {len(inputs)} inputs (tolerance {exercise.atol:g})"


def compare(exercise: Exercise, got, expected: Tensor, which: str) -> None:
    """Raise `ExerciseMismatch` at the first difference of `got` from `expected` (shape, NaN, or value)."""
    got = torch.as_tensor(got).detach().cpu().to(expected.dtype) if _numeric(got) else got
    head = f"exercise {exercise.key} {exercise.name}, {which}:"
    if not isinstance(got, Tensor):
        raise ExerciseMismatch(f"{head} returned {type(got).__name__}; expected a tensor of shape {_shape(exercise, expected)}")
    if got.shape != expected.shape:
        raise ExerciseMismatch(f"{head} shape {tuple(got.shape)}, but the library's is {_shape(exercise, expected)}")
    off = ~torch.isclose(got, expected, atol=exercise.atol, rtol=0)
    if off.any():
        index = tuple(int(i) for i in off.nonzero()[0])
        at = ", ".join(f"{axis}={i}" for axis, i in zip(exercise.axes, index, strict=True))
        raise ExerciseMismatch(f"{head} first difference at {at}: yours {got[index].item():.6g}, library "
                               f"{expected[index].item():.6g} (tolerance {exercise.atol:g}); "
                               f"{int(off.sum())} of {off.numel()} entries differ")


def _numeric(value) -> bool:
    return isinstance(value, (Tensor, float, int, list, tuple))


def _shape(exercise: Exercise, expected: Tensor) -> str:
    return "(" + ", ".join(f"{axis}={n}" for axis, n in zip(exercise.axes, expected.shape, strict=True)) + ")"

"""Claims: every sentence a report or notebook states about a run, computed from that run's numbers.

A `Claim` carries the statistic it rests on, the same statistic for its control, whether the run supports it, the
`Check`s that decided it (each a statistic against a threshold of `probes.claims.thresholds`, with its margin) and the sentence
built from those numbers — a supported claim states them; an unsupported one starts with "Not supported by this
run:" and states them too. Nothing here is fixed text about an outcome, and `probes.claims.seeds` aggregates the same
claims over seeds (median [min–max], how many seeds support each).

Every claim a module can make is declared in a `ClaimFamily` (its key, the null fixtures on which it must say "not
supported" and the positive fixture on which it must say "supported"); `tests/test_conformance.py` runs every
declared claim on its fixtures (`tests/nulls.py`), and fails for a claim that lacks either.
"""
from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

NOT_SUPPORTED = "Not supported by this run:"
_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Check:
    """One condition a claim rests on: `value op threshold`. Its margin is how far the value is on the passing side
    (positive: passes; negative: fails); a NaN value never passes."""

    name: str
    value: float
    op: str  # ">=", ">", "<=" or "<"
    threshold: float
    is_flag: bool = False  # a yes/no precondition (`flag`): margin ±1, no threshold to move

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"Check op must be one of {sorted(_OPS)}, got {self.op!r}")

    @property
    def passed(self) -> bool:
        return math.isfinite(self.value) and _OPS[self.op](self.value, self.threshold)

    @property
    def margin(self) -> float:
        if self.is_flag:
            return 1.0 if self.passed else -1.0
        if not math.isfinite(self.value):
            return float("nan")  # not computed: no distance to the threshold
        return self.value - self.threshold if self.op in (">=", ">") else self.threshold - self.value

    def describe(self) -> str:
        if self.is_flag:
            return f"{self.name}: {'yes' if self.passed else 'no'}"
        if not math.isfinite(self.value):
            return f"{self.name} {self.value} (not computed: fails)"
        verdict = "" if self.passed else ", fails"
        return f"{self.name} {fmt(self.value)} {self.op} {fmt(self.threshold)} (margin {self.margin:+.3g}{verdict})"


def flag(name: str, ok: bool) -> Check:
    """A yes/no precondition (e.g. "a transition was located") as a Check with margin ±1."""
    return Check(name, 1.0 if ok else 0.0, ">=", 1.0, is_flag=True)


@dataclass(frozen=True)
class Claim:
    key: str  # flat name, e.g. "induction/head"
    statement: str  # what is claimed, independent of the run's numbers
    supported: bool
    value: float  # the statistic the claim rests on
    control: float | None  # the same statistic for its control (None when the claim has none)
    sentence: str  # computed from `value` and `control` (both appear in it, to 2 decimals)
    checks: tuple[Check, ...] = ()

    @property
    def margin(self) -> float | None:
        """How far the deciding statistic is from its threshold: the smallest margin of the failing checks, or of
        the passing threshold checks (flags count only when they fail; NaN/inf only when nothing finite is left);
        None without checks."""
        if not self.checks:
            return None
        failing = [c for c in self.checks if not c.passed]
        pool = failing or [c for c in self.checks if not c.is_flag] or list(self.checks)
        finite = [c.margin for c in pool if math.isfinite(c.margin)]
        return min(finite) if finite else pool[0].margin

    def to_dict(self) -> dict:
        return asdict(self) | {"margin": self.margin}


def make_claim(key: str, statement: str, supported: bool, value: float, control: float | None, detail: str,
               checks: tuple[Check, ...] | list[Check] = ()) -> Claim:
    """A claim whose sentence is the statement, or "Not supported by this run: …", followed by `detail` (the numbers)
    and each check with its margin. It is supported only when `supported` is true and every check passes."""
    checks = tuple(checks)
    ok = bool(supported) and all(c.passed for c in checks)
    head = statement[0].upper() + statement[1:] if ok else f"{NOT_SUPPORTED} {statement}"
    margins = f" Checks: {'; '.join(c.describe() for c in checks)}." if checks else ""
    return Claim(key, statement, ok, float(value), None if control is None else float(control),
                 f"{head} — {detail}{margins}", checks)


def fmt(value: float | None) -> str:
    """The one number format of claim sentences (tests look the statistic up in the sentence this way)."""
    return "n/a" if value is None else f"{value:.2f}"


def label(head: tuple[int, int]) -> str:
    return f"{head[0]}.{head[1]}"


@dataclass(frozen=True)
class ClaimSpec:
    """One claim a family can make, and the fixtures it must meet (names in `tests/nulls.py`'s FIXTURES).

    `key` may hold a `{…}` part filled per claim (e.g. "grid/phase_change/{preset}"). `negatives` are null inputs on
    which it must not be supported (untrained, random tokens, a positional impostor, a flat curve …); `positive` is
    a trained run or a hand-built circuit on which it must be."""

    key: str
    negatives: tuple[str, ...]
    positive: str


@dataclass(frozen=True)
class ClaimFamily:
    """The claims of one family: `evaluate` maps the family's evidence (what its fixtures build: a tidy table, a
    list of run summaries …) to its claims."""

    name: str
    evaluate: Callable[[Any], list[Claim]]
    claims: tuple[ClaimSpec, ...] = field(default=())

    def spec(self, key: str) -> ClaimSpec | None:
        return next((s for s in self.claims if key_matches(s.key, key)), None)


def key_matches(pattern: str, key: str) -> bool:
    """"grid/phase_change/{preset}" matches "grid/phase_change/attn-only-2l"."""
    head, brace, _ = pattern.partition("{")
    return key == pattern if not brace else key.startswith(head) and "/" not in key[len(head):]


CLAIM_FAMILIES: dict[str, ClaimFamily] = {}


def register_claims(family: ClaimFamily) -> ClaimFamily:
    """Declare a family's claims (called at import by the module that computes them)."""
    CLAIM_FAMILIES[family.name] = family
    return family


def load_families() -> dict[str, ClaimFamily]:
    """Import every module that declares claims, so CLAIM_FAMILIES is complete."""
    import importlib

    for module in CLAIM_MODULES:
        importlib.import_module(module)
    return CLAIM_FAMILIES


CLAIM_MODULES = ("probes.claims.induction", "probes.claims.grokking", "probes.claims.emergence", "probes.claims.llc",
                 "probes.claims.fv", "probes.claims.attribution", "probes.claims.grid", "probes.claims.writers",
                 "probes.claims.clamps", "probes.claims.markov")

"""Claims: every sentence a report or notebook states about a run, computed from that run's numbers.

A `Claim` carries the statistic it rests on, the same statistic for its control, whether the run supports it, and
the sentence built from those numbers — a supported claim states them; an unsupported one starts with
"Not supported by this run:" and states them too. Nothing here is fixed text about an outcome, and
`probes.seeds` aggregates the same claims over seeds (median [min–max], how many seeds support each).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

NOT_SUPPORTED = "Not supported by this run:"


@dataclass(frozen=True)
class Claim:
    key: str  # flat name, e.g. "induction/head"
    statement: str  # what is claimed, independent of the run's numbers
    supported: bool
    value: float  # the statistic the claim rests on
    control: float | None  # the same statistic for its control (None when the claim has none)
    sentence: str  # computed from `value` and `control` (both appear in it, to 2 decimals)

    def to_dict(self) -> dict:
        return asdict(self)


def make_claim(key: str, statement: str, supported: bool, value: float, control: float | None, detail: str) -> Claim:
    """A claim whose sentence is the statement, or "Not supported by this run: …", followed by `detail` (the numbers)."""
    head = statement[0].upper() + statement[1:] if supported else f"{NOT_SUPPORTED} {statement}"
    return Claim(key, statement, bool(supported), float(value), None if control is None else float(control),
                 f"{head} — {detail}")


def fmt(value: float | None) -> str:
    """The one number format of claim sentences (tests look the statistic up in the sentence this way)."""
    return "n/a" if value is None else f"{value:.2f}"


def label(head: tuple[int, int]) -> str:
    return f"{head[0]}.{head[1]}"

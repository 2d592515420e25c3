"""The probe contract: a probe is one module that declares itself with `register_probe(ProbeSpec(...))`.

A `ProbeSpec` says everything the rest of the workbench needs: the probe's name and version (part of its cache key,
with the versions of the probes it `needs`, so bumping `fv` recomputes what reads the fv rows), when it applies
(and why not), whether it runs on the final checkpoint only, whether a sweep runs it by default, its metric names,
the claims it makes (`probes.claims.claim.ClaimFamily`, with their fixtures) and its report section. The sweep
(`probes.sweep.runner`), the live follower (`probes.sweep.follow`), the metric check (`tests/test_metrics.py`) and the report
(`probes.report.page`) read only this registry. Each built-in probe family declares its probes at the end of its own
module in `probes/measures/` (`BUILTIN_MODULES`), which `all_probes` loads by name on first use (plugin discovery: the
dependency points from the probes to this contract); a module that registers a new probe is analyzed, cached,
followed and reported with no other file touched. A report section may be named as "module:function" so that a
measures module need not import the report (`section_of` imports it when the report is written).
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from circuits.errors import WorkbenchError
from probes.claims.claim import ClaimFamily, register_claims

if TYPE_CHECKING:
    from probes.claims.claim import Claim
    from probes.engine.checkpoint import Checkpoint
    from probes.engine.inputs import ProbeInputs
    from probes.table import Row

Default = Literal["always", "if_applicable", "never"]


@dataclass(frozen=True)
class ReportContext:
    """What a report section reads: the run's tidy table and training metrics (no model is run)."""

    table: list[Row]
    metrics: list[dict]
    native: bool  # one of our runs (not a Hugging Face series)
    config: Any = None  # the run's RunConfig (None for a Hugging Face series)


@dataclass(frozen=True)
class ReportSection:
    """A probe's part of the report: HTML (figures without plotly.js), its claims, extra summary lines and JSON data."""

    html: str
    claims: list[Claim] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeSpec:
    """One probe's declaration (see the module docstring). `run(ckpt, inputs)` returns its tidy rows for one
    checkpoint; the rows of the probes it `needs` are in `ckpt.rows[name]` when it runs."""

    name: str
    version: int  # bump it whenever the definition or inputs change: cached rows of an old version are never reused
    run: Callable[[Checkpoint, ProbeInputs], list[Row]]
    metrics: dict[str, str]  # metric name patterns ("{a|b}/x", "{layer}") -> what the metric is
    applies: Callable[[ProbeInputs], str | None] = lambda inputs: None  # None, or why it does not apply
    default: Default = "never"  # "always": in every default sweep (noted when it does not apply); "if_applicable"
    final_only: bool = False  # run on the last checkpoint only (costly controls)
    needs: tuple[str, ...] = ()
    claims: ClaimFamily | None = None
    section: Callable[[ReportContext], ReportSection | None] | str | None = None  # or "module:function"


PROBES: dict[str, ProbeSpec] = {}
BUILTIN_MODULES = tuple(f"probes.measures.{m}" for m in (  # loaded by name on first use, in this order
    "attention", "weights", "icl", "ablation", "induction_controls", "fv", "attribution", "writers", "grokking", "llc", "markov"))


def all_probes() -> dict[str, ProbeSpec]:
    """Every registered probe — the built-in ones first, in `BUILTIN_MODULES` order whatever imported them first, then
    a user's own (registered when the user imports their module) — with every `needs` checked."""
    if not _loaded:
        _loaded.append(True)
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
    rank = {m: i for i, m in enumerate(BUILTIN_MODULES)}
    ordered = sorted(PROBES.values(), key=lambda s: rank.get(s.run.__module__, len(rank)))
    if list(PROBES) != [s.name for s in ordered]:
        PROBES.clear()
        PROBES.update((s.name, s) for s in ordered)
    _check_needs()
    return PROBES


_loaded: list[bool] = []


def _check_needs() -> None:
    for spec in PROBES.values():
        unknown = [n for n in spec.needs if n not in PROBES]
        if unknown:
            raise WorkbenchError(f"probe {spec.name!r} needs {unknown}, which no imported module registers; import the "
                                 f"module that declares them first.")


def register_probe(spec: ProbeSpec) -> ProbeSpec:
    """Declare a probe (at import of its module); its claims join `probes.claims.claim.CLAIM_FAMILIES`. What it
    `needs` is checked when the probes are listed (`all_probes`), so modules may import each other in any order."""
    PROBES[spec.name] = spec
    if spec.claims is not None:
        register_claims(spec.claims)
    return spec


def section_of(spec: ProbeSpec) -> Callable[[ReportContext], ReportSection | None] | None:
    """The probe's report section as a function ("module:function" is imported here)."""
    if not isinstance(spec.section, str):
        return spec.section
    module, _, name = spec.section.partition(":")
    return getattr(importlib.import_module(module), name)


def get_probe(name: str) -> ProbeSpec:
    check_probe_names([name])
    return PROBES[name]


def check_probe_names(names: tuple[str, ...] | list[str]) -> None:
    unknown = [n for n in names if n not in all_probes()]
    if unknown:
        raise WorkbenchError(f"unknown probe(s) {unknown}; available probes: {sorted(PROBES)}.")


def not_applicable(name: str, inputs: ProbeInputs) -> str | None:
    """Why probe `name` does not apply to this model (None when it does)."""
    return get_probe(name).applies(inputs)


def cache_tag(name: str) -> str:
    """The probe's part of its cache file name: its version and, recursively, those of what it needs."""
    spec = get_probe(name)
    return f"v{spec.version}" + "".join(f"+{n}.{cache_tag(n)}" for n in spec.needs)


def default_probes(inputs: ProbeInputs) -> tuple[str, ...]:
    """What a sweep runs when no probes are named: every "always" probe (those that do not apply are noted with their
    reason) and every "if_applicable" probe that applies to this run."""
    return tuple(s.name for s in all_probes().values()
                 if s.default == "always" or (s.default == "if_applicable" and s.applies(inputs) is None))


def with_needs(names: tuple[str, ...]) -> tuple[str, ...]:
    """`names` and, before each, every probe it needs (transitively), each once: registry order, each probe after
    what it needs."""
    order: list[str] = []

    def add(name: str) -> None:
        if name not in order:
            for need in get_probe(name).needs:
                add(need)
            order.append(name)

    check_probe_names(names)
    wanted = set(names)
    for name in all_probes():
        if name in wanted:
            add(name)
    return tuple(order)


def is_declared(probe: str, metric: str) -> bool:
    """Whether `metric` matches a name the probe declares."""
    return probe in all_probes() and any(_pattern(name).match(metric) for name in PROBES[probe].metrics)


def _pattern(name: str) -> re.Pattern:
    """`{a|b}` is one of the words, any other `{…}` is a run of digits, dots or letters."""
    parts = re.split(r"(\{[^}]*\})", name)
    regex = "".join(("(?:" + "|".join(map(re.escape, p[1:-1].split("|"))) + ")" if "|" in p else r"[\w.]+")
                    if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(regex + "$")

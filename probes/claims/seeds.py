"""Several seeds of one preset: every headline claim as median [min–max] over seeds, with how many seeds support it.

A seed run is the preset with `train.seed = model.seed = K` (data order and initialisation), named `PRESET-seedK`.
The summary reads each run's saved claims (`analysis/report_data.json`, written by `probes.report.page.write_report`);
it runs no model. A claim "holds across seeds" only when every seed supports it.
"""
from __future__ import annotations

import html
import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from circuits.store.files import ANALYSIS_DIR, REPORT_FILE, SEED_REPORT_DATA
from circuits.store.runs import RunStore, atomic_write_text
from probes.claims.claim import fmt


@dataclass(frozen=True)
class SeedClaim:
    key: str
    statement: str
    runs: list[str]
    supported: list[bool]
    values: list[float]
    controls: list[float | None]

    @property
    def holds_on_every_seed(self) -> bool:
        return all(self.supported)

    def sentence(self) -> str:
        head = self.statement[0].upper() + self.statement[1:]
        verdict = "holds on every seed" if self.holds_on_every_seed else "not supported on every seed"
        missing = sum(v != v for v in self.values)
        verdict += f", not computed on {missing}" if missing else ""
        controls = [c for c in self.controls if c is not None]
        control = f"; its control {spread(controls)}" if controls else ""
        return (f"{head}: {verdict} ({sum(self.supported)} of {len(self.runs)} seeds); statistic {spread(self.values)}"
                f"{control}.")


def spread(values: list[float]) -> str:
    """median [min–max] in the claims' number format (NaN-free values only)."""
    finite = [v for v in values if v == v]
    if not finite:
        return "n/a"
    return f"{fmt(statistics.median(finite))} [{fmt(min(finite))}–{fmt(max(finite))}]"


def summarize(claims_by_run: dict[str, list[dict]]) -> list[SeedClaim]:
    """One SeedClaim per claim key over *every* run: a run that did not produce a claim counts as not supporting it
    (value NaN), so "k of N seeds" always counts all N."""
    keys: dict[str, str] = {}
    for claims in claims_by_run.values():
        keys.update({c["key"]: c["statement"] for c in claims if c["key"] not in keys})
    out = []
    for key, statement in keys.items():
        found = [next((c for c in claims if c["key"] == key), None) for claims in claims_by_run.values()]
        out.append(SeedClaim(key, statement, list(claims_by_run), [bool(c and c["supported"]) for c in found],
                             [c["value"] if c else float("nan") for c in found],
                             [c["control"] if c else None for c in found]))
    return out


def saved_claims(store: RunStore) -> list[dict]:
    from circuits.store.files import REPORT_DATA_FILE

    return json.loads((store.path / ANALYSIS_DIR / REPORT_DATA_FILE).read_text())["claims"]


def write_seed_report(runs: list[RunStore], out: Path) -> Path:
    """OUT/report.html and OUT/seeds.json: every claim over the seeds, with links to each run's report."""
    summary = summarize({store.path.name: saved_claims(store) for store in runs})
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / SEED_REPORT_DATA, json.dumps([asdict(c) | {"sentence": c.sentence()} for c in summary], indent=1))
    rows = "".join(f"<tr><td>{html.escape(c.statement)}</td><td>{sum(c.supported)}/{len(c.runs)}</td>"
                   f"<td>{spread(c.values)}</td><td>{spread([v for v in c.controls if v is not None])}</td></tr>" for c in summary)
    links = "".join(f"<li><a href='{html.escape(str(s.path / REPORT_FILE))}'>{html.escape(s.path.name)}</a></li>" for s in runs)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Seeds</title></head><body style='font-family:sans-serif;"
            f"max-width:1200px;margin:auto'><h1>Claims over {len(runs)} seeds</h1><ul>"
            + "".join(f"<li>{html.escape(c.sentence())}</li>" for c in summary)
            + f"</ul><table border=1 cellpadding=4><tr><th>claim</th><th>seeds supporting</th><th>statistic median "
            f"[min–max]</th><th>control median [min–max]</th></tr>{rows}</table><h2>Runs</h2><ul>{links}</ul></body></html>")
    atomic_write_text(out / REPORT_FILE, page)
    return out / REPORT_FILE

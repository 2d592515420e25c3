"""The gallery's pages: ENTRY/report.html + ENTRY/reproduction.json (the paper's claim and number, ours as median
[range] over seeds, the verdict per claim), and GALLERY/index.html listing every entry run so far. Reads the runs'
saved claims (`analysis/report_data.json`); runs no model."""
from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path

from circuits.errors import WorkbenchError
from circuits.store.files import CONFIG_FILE, GALLERY_ENTRY_FILE, GALLERY_INDEX_FILE, REPORT_FILE
from circuits.store.runs import RunStore, atomic_write_text
from probes.claims.claim import Claim
from probes.claims.clamps import clamp_claims
from probes.claims.grid import RunSummary, summarize_run
from probes.claims.seeds import saved_claims, spread
from probes.gallery.entries import ENTRIES, Entry
from probes.gallery.verdict import ClaimVerdict, claim_verdict, entry_verdict


def _by_key(runs: list[RunStore], keys: tuple[str, ...], baselines: list[RunStore] | None) -> dict[str, list[dict | None]]:
    if baselines is None:
        claims = [{c["key"]: c for c in saved_claims(r)} for r in runs]
    else:
        claims = [{c.key: c.to_dict() for c in pair_claims(r, b)} for r, b in zip(runs, baselines, strict=True)]
    return {k: [c.get(k) for c in claims] for k in keys}


def pair_claims(run: RunStore, baseline: RunStore) -> list[Claim]:
    """The clamp claims (`probes.claims.clamps`) of a clamped run against its baseline of the same seed, from their
    saved evaluations (no model is run)."""
    def summary(store: RunStore) -> RunSummary:
        config = store.config() if (store.path / CONFIG_FILE).is_file() else None
        return summarize_run(store.path, config.name if config else store.path.name, config.train.seed if config else -1)

    return clamp_claims((summary(run), summary(baseline)))


def entry_record(entry: Entry, runs: list[RunStore], controls: list[RunStore], seconds: float,
                 baselines: list[RunStore] | None = None) -> dict:
    """The entry's verdicts and numbers from its runs' saved claims, or, for an entry with a baseline preset, from the
    pair claims of each run (and each control run) against the baseline run of its seed (`baselines[i]` for seed i)."""
    if (entry.baseline is None) != (baselines is None):
        raise WorkbenchError(f"entry {entry.name!r}: baseline runs are given exactly when the entry has a baseline preset.")
    ours = _by_key(runs, entry.claims, baselines)
    theirs = _by_key(controls, entry.control_claims, baselines and baselines[:len(controls)]) if controls else {}
    verdicts = [claim_verdict(k, ours[k], theirs.get(k) if controls else None) for k in entry.claims]
    return {"entry": entry.name, "paper": asdict(entry.paper), "verdict": entry_verdict(verdicts), "seconds": seconds,
            "runs": [r.path.name for r in runs], "controls": [r.path.name for r in controls], "long": entry.long,
            "baselines": [r.path.name for r in baselines or []],
            "claims": [_claim_line(v, ours[v.key], theirs.get(v.key)) for v in verdicts]}


def _claim_line(v: ClaimVerdict, claims: list[dict | None], control: list[dict | None] | None) -> dict:
    statement = next((c["statement"] for c in claims if c), v.key)
    values = [c["value"] if c else float("nan") for c in claims]
    line = {**asdict(v), "statement": statement, "ours": spread(values),
            "sentences": [c["sentence"] if c else "not computed" for c in claims]}
    if control is not None:
        line["control_ours"] = spread([c["value"] if c else float("nan") for c in control])
    return line


def write_entry_page(record: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / GALLERY_ENTRY_FILE, json.dumps(record, indent=1, default=str))
    paper = record["paper"]
    rows = "".join(_claim_row(c) for c in record["claims"])
    body = (f"<h1>{html.escape(record['entry'])}: {html.escape(record['verdict'])}</h1>"
            f"<p><b>Paper</b> ({html.escape(paper['citation'])}): {html.escape(paper['claim'])}</p>"
            f"<p><b>The paper's number</b>: {html.escape(paper['number'])}</p>"
            f"<p><b>Our setup</b>: {html.escape(paper['setup'])}</p>"
            f"<table border=1><tr><th>claim</th><th>seeds supporting</th><th>ours: median [range]</th>"
            f"<th>control seeds supporting</th><th>verdict</th></tr>{rows}</table>"
            f"<p>Runs: {', '.join(map(html.escape, record['runs']))}; controls: "
            f"{', '.join(map(html.escape, record['controls'])) or 'none'}; "
            f"paired baselines: {', '.join(map(html.escape, record.get('baselines', []))) or 'none'}; wall time {record['seconds']:.0f} s.</p>")
    page = out / REPORT_FILE
    atomic_write_text(page, _html(record["entry"], body))
    return page


def _claim_row(c: dict) -> str:
    control = "—" if c["control_supported"] is None else f"{c['control_supported']}/{c['control_seeds']}"
    detail = "".join(f"<li>{html.escape(s)}</li>" for s in c["sentences"])
    return (f"<tr><td>{html.escape(c['statement'])}<details><summary>per seed</summary><ul>{detail}</ul></details></td>"
            f"<td>{c['supported']}/{c['seeds']}</td><td>{html.escape(c['ours'])}</td><td>{control}</td>"
            f"<td>{html.escape(c['verdict'])}</td></tr>")


def write_index(gallery: Path) -> Path:
    """GALLERY/index.html: every declared entry, with its verdict and wall time where it has been run."""
    rows = []
    for name, entry in ENTRIES.items():
        file = gallery / name / GALLERY_ENTRY_FILE
        record = json.loads(file.read_text()) if file.exists() else None
        verdict = html.escape(record["verdict"]) if record else "not run yet"
        link = f"<a href='{name}/{REPORT_FILE}'>{name}</a>" if record else name
        time = f"{record['seconds']:.0f} s" if record else "—"
        rows.append(f"<tr><td>{link}</td><td>{html.escape(entry.paper.citation)}</td><td>{verdict}</td>"
                    f"<td>{time}</td><td>{'long' if entry.long else ''}</td></tr>")
    body = ("<h1>Reproduction gallery</h1><table border=1><tr><th>entry</th><th>paper</th><th>verdict</th>"
            "<th>wall time</th><th></th></tr>" + "".join(rows) + "</table>")
    page = gallery / GALLERY_INDEX_FILE
    gallery.mkdir(parents=True, exist_ok=True)
    atomic_write_text(page, _html("Reproduction gallery", body))
    return page


def _html(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body>{body}</body></html>")

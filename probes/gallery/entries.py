"""The gallery's entries: what a paper claims, what we train to test it, and which of our claims carries the verdict.

The paper's number is shown beside ours and never used as a tolerance. Where only an abstract, a summary page or a
README of the paper was read, its number is "unverified" (what was read second-hand is stated beside it). The claim
keys are those of `probes.claims` (every verdict there has met its null fixtures, tests/test_conformance.py): each
claim's direction is one of its checks (e.g. the phase-change locator's required sign), so "supported" already means
"in the paper's direction". An entry's control preset is a run in which the paper says the effect is absent.
"""
from __future__ import annotations

from dataclasses import dataclass

from circuits.errors import WorkbenchError


@dataclass(frozen=True)
class PaperClaim:
    citation: str  # authors, year, arXiv id
    claim: str  # what the paper reports, as we read it
    number: str  # quoted with its section or figure, or "unverified (…)"
    setup: str  # how our setup differs: model size, data, steps


@dataclass(frozen=True)
class Entry:
    name: str
    paper: PaperClaim
    preset: str  # the runs: seeds 0 … n−1 of this preset
    claims: tuple[str, ...]  # claim keys that carry the verdict (every one must reproduce)
    control: str | None = None  # a preset in which the paper says the effect is absent …
    control_claims: tuple[str, ...] = ()  # … so these claims must not hold there
    seeds: int = 3
    long: bool = False  # more than 5 minutes on 2 cores at its default seeds: run with --runlong / on demand
    notes: str = ""


OLSSON = Entry(
    "olsson-phase-change",
    PaperClaim("Olsson et al. 2022, arXiv 2209.11895",
               "Induction heads form in a sudden phase change early in training, in the same window in which the "
               "in-context-learning score improves sharply; one-layer attention-only models show no phase change.",
               "unverified (second-hand: ICL score = loss at token 500 − loss at token 50 of natural text; the phase "
               "change is visible as a bump in the training loss)",
               "ours: 2-layer attention-only, d_model 64, 4 heads, repeated random tokens (periods 4–31), 3,000 steps, "
               "scores on held-out periods; theirs: natural text, 512-token contexts, 1–40-layer models"),
    "attn-only-2l", ("induction/head", "induction/phase_change", "icl/uses_context"), control="attn-only-1l",
    control_claims=("induction/head", "induction/phase_change"))

NANDA = Entry(
    "nanda-grokking",
    PaperClaim("Nanda, Chan, Lieberum, Smith & Steinhardt 2023, arXiv 2301.05217",
               "On modular addition with weight decay the network first memorises, then a Fourier circuit on a few key "
               "frequencies forms (the restricted loss falls before the test loss) and the memorised solution is "
               "cleaned up (the excluded loss rises); test accuracy jumps late.",
               "unverified (second-hand: p = 113, 30% of pairs trained on, weight decay 1; memorisation by ≈ 1.4k "
               "steps, cleanup by ≈ 10k; ≈ 5 key frequencies)",
               "ours: p = 53, 40% of pairs, a smaller 1-layer model (preset 'grokking'); steps as the preset"),
    "grokking", ("grokking/memorisation", "grokking/generalisation", "grokking/key_frequencies",
                 "grokking/restricted_leads"), seeds=3)

ENTRIES: dict[str, Entry] = {e.name: e for e in (OLSSON, NANDA)}


def gallery_entry(name: str) -> Entry:
    if name not in ENTRIES:
        raise WorkbenchError(f"no gallery entry {name!r}; list them with `icl-workbench reproduce --list` ({', '.join(ENTRIES)}).")
    return ENTRIES[name]

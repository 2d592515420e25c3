"""A whole probe in one module, as a user would add one: it measures, declares its metrics and claim, and draws a
report section. `tests/test_probe_contract.py` imports it and checks that the sweep, the follower and the report find
it with no other file touched."""
from __future__ import annotations

from probes.claims.claim import Check, ClaimFamily, ClaimSpec, make_claim
from probes.registry import ProbeSpec, ReportContext, ReportSection, register_probe
from probes.table import model_row, select

NAME = "toy_embedding_norm"


def run(ckpt, inputs):
    """The Frobenius norm of the token embedding."""
    return [model_row(NAME, "norm", ckpt.state["embed.W_E" if "embed.W_E" in ckpt.state else "embed.weight"].norm())]


def claims(table):
    points = select(table, NAME, "norm")[(None, None)]
    change = points[-1][1] - points[0][1]
    return [make_claim(f"{NAME}/changes", "the embedding norm changes during training", True, change, None,
                       f"norm {points[0][1]:.2f} → {points[-1][1]:.2f}", [Check("|change|", abs(change), ">", 0.0)])]


def section(ctx: ReportContext) -> ReportSection:
    return ReportSection("<h2>Toy embedding norm</h2>", claims(ctx.table))


SPEC = register_probe(ProbeSpec(NAME, 1, run, {"norm": "‖W_E‖_F"}, default="if_applicable", section=section,
                                claims=ClaimFamily(NAME, claims, (ClaimSpec(f"{NAME}/changes", ("untrained",), "trained"),))))

"""Fixtures of the induction claim family (`probes.claims.induction`; Olsson et al. 2022, arXiv 2209.11895).

Evidence: a `probes.claims.induction.InductionEvidence` (a run's tidy table through the real sweep, and its clamps).

Nulls (every induction claim must say "not supported", or not be stated):
- `induction/untrained` (fast): attn-only-2l's initialisation written at three steps, the default probes.
- `induction/untrained-planted-partner` (fast): the untrained table with head 0.1's previous-token score set to 0.9
  and its K-composition into 1.0 tripled — a "partner" of a head that is no induction head (score 0.1).
- `induction/positional-impostor` (fast): hand-built heads at fixed offsets (1, and P − 1 of held-out periods) that
  copy what they attend to — induction from positions alone, which the content control removes.
- `induction/bag-of-context` (fast): every head attends uniformly to earlier tokens and one copies them — it lowers
  the loss late in the context (the old "uses its context" passed at −0.6 to −1.7 nats) with no order, no induction.
- `induction/random-tokens` (slow): attn-only-2l trained 600 steps on uniformly random tokens (markov data whose
  bigram rows are Dirichlet(10⁶): uniform); nothing in the context predicts anything.
- `induction/no-k-comp` (slow): preset attn-only-2l+no-k-comp shortened to 1,200 steps (its repeat loss falls only
  0.18–0.21 nats); its clamp cuts K-composition, so the partner claim must not be stated.
Positive: `induction/handbuilt-circuit` (fast): a previous-token head 0.0 feeding two induction heads 1.0 and 1.1
(tests/handbuilt.py), 8 heads per layer so that the joint ablation has enough comparison sets for an exact rank
test, written as a run whose checkpoints hold a blank model at steps 0 and 300 and the circuit from step 1,000 on.
"""
from __future__ import annotations

from pathlib import Path

import handbuilt
import torch
from nulls import fixture, probed_table, trained_run, untrained_weights, written_run

from circuits.config import RunConfig, replace
from circuits.data.configs import switch_generator
from circuits.grids.grid import seed_config
from circuits.presets import preset
from circuits.store.runs import RunStore
from probes.claims.induction import InductionEvidence

FAMILY = "induction"
FAST_PROBES = ("attention", "weights", "icl", "induction_controls")  # the claims' probes (no per-head ablation)
UNEMBED_SCALE = 12.0  # hand-built logits: the copied token's logit ≈ 12 nats above a random token's ≈ 3
STATIC_STEPS = [0, 1000, 3000]


def _evidence(store: RunStore, probes: tuple[str, ...] | None = FAST_PROBES) -> InductionEvidence:
    config = store.config()
    return InductionEvidence(probed_table(store, probes), clamps=tuple(config.clamps))


def _config(name: str, n_heads: int = 4) -> RunConfig:
    base = preset("attn-only-2l")
    return replace(base, name=name, model=replace(base.model, n_heads=n_heads, d_model=16 * n_heads))


def _copy(state: dict, layer: int, head: int) -> None:
    """Head (layer, head)'s OV writes the token it attends to into the copy block the unembedding reads."""
    rows = slice(16 * head, 16 * (head + 1))
    state[f"blocks.{layer}.attn.v.weight"][rows, handbuilt.TOKEN] = torch.eye(16)
    state[f"blocks.{layer}.attn.o.weight"][handbuilt.COPY, rows] = torch.eye(16)


def _scaled(state: dict) -> dict:
    state["unembed.weight"][:, handbuilt.COPY] *= UNEMBED_SCALE
    return state


@fixture("induction/untrained", FAMILY, slow=True)  # ≈ 4 s: CI only, the quick loop keeps its budget
def untrained(root: Path) -> InductionEvidence:
    config = replace(preset("attn-only-2l"), name="attn-only-2l-untrained")
    return _evidence(written_run(root, "induction-untrained", config, untrained_weights(config), STATIC_STEPS), None)


@fixture("induction/untrained-planted-partner", FAMILY)
def untrained_planted_partner(root: Path) -> InductionEvidence:
    evidence = untrained(root)
    rows = []
    for r in evidence.table:
        head, r = (r["layer"], r["head"]), dict(r)
        if r["probe"] == "attention" and r["metric"] == "induction" and head == (1, 0):
            r["value"] = 0.1  # far below INDUCTION_THRESHOLD: no induction head
        elif r["probe"] == "attention" and r["metric"] == "previous_token" and head == (0, 1):
            r["value"] = 0.9
        elif r["probe"] == "weights" and r["metric"] == "k_composition/from/0.1" and head == (1, 0):
            r["value"] *= 3
        rows.append(r)
    return InductionEvidence(rows, evidence.native, evidence.clamps)


@fixture("induction/positional-impostor", FAMILY)
def positional_impostor(root: Path) -> InductionEvidence:
    config = _config("handbuilt-positional")
    offsets = {(0, 0): [1], (1, 0): [16], (1, 1): [18], (1, 2): [22]}  # periods 17, 19, 23: the token after the last copy
    state = _scaled(handbuilt.positional_model(config.model, offsets))
    for layer, head in offsets:
        _copy(state, layer, head)
    return _evidence(written_run(root, "handbuilt-positional", config, lambda step: state, STATIC_STEPS))


@fixture("induction/bag-of-context", FAMILY)
def bag_of_context(root: Path) -> InductionEvidence:
    config = _config("handbuilt-bag-of-context")
    state = _scaled(handbuilt.positional_model(config.model, {}))  # every head attends uniformly to earlier tokens
    _copy(state, 0, 0)
    return _evidence(written_run(root, "handbuilt-bag-of-context", config, lambda step: state, STATIC_STEPS))


def circuit_state(config: RunConfig) -> dict:
    """tests/handbuilt.py's induction circuit with a second induction head 1.1 (a copy of 1.0)."""
    state = handbuilt.induction_model(config.model)
    for name in ("q", "k", "v"):
        w = state[f"blocks.1.attn.{name}.weight"]
        w[16:32] = w[0:16]
    o = state["blocks.1.attn.o.weight"]
    o[:, 16:32] = o[:, 0:16]
    return _scaled(state)


@fixture("induction/handbuilt-circuit", FAMILY, slow=True)  # ≈ 3 s: CI only
def handbuilt_circuit(root: Path) -> InductionEvidence:
    config = _config("handbuilt-induction", n_heads=8)
    blank, circuit = _scaled(handbuilt.positional_model(config.model, {})), circuit_state(config)
    weights = lambda step: circuit if step >= 1000 else blank  # noqa: E731
    return _evidence(written_run(root, "handbuilt-induction", config, weights, [0, 300, 1000, 2000, 3000]))


def random_tokens_config() -> RunConfig:
    base = preset("attn-only-2l")
    return replace(base, name="attn-only-2l-random-tokens", data=switch_generator(base.data, "markov", {"markov_alpha": 1e6}),
                   train=replace(base.train, steps=600, n_checkpoints=6))


def no_k_comp_config(seed: int = 0) -> RunConfig:
    """attn-only-2l+no-k-comp shortened to 1,200 steps and 8 checkpoints (its small drop comes by step ~300)."""
    base = preset("attn-only-2l+no-k-comp")
    short = replace(base, train=replace(base.train, steps=1200, n_checkpoints=8))
    return seed_config(short, seed) if seed else short


def no_k_comp_run(root: Path, seed: int = 0) -> RunStore:
    return trained_run(root, f"attn-only-2l+no-k-comp-short-seed{seed}", no_k_comp_config(seed))


@fixture("induction/random-tokens", FAMILY, slow=True)
def random_tokens(root: Path) -> InductionEvidence:
    return _evidence(trained_run(root, "attn-only-2l-random-tokens", random_tokens_config()), None)


@fixture("induction/no-k-comp", FAMILY, slow=True)
def no_k_comp(root: Path) -> InductionEvidence:
    return _evidence(no_k_comp_run(root), None)

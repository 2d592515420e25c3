"""Fixtures of the function-vector claim family (`probes.claims.fv`; Todd et al. 2024, arXiv 2310.15213; Yin &
Steinhardt 2025, arXiv 2502.14010).

Evidence: the run's tidy table with the attention, fv and fv_controls rows (`probes.claims.fv.evaluate_claims`).

- `fv/untrained` (fast): the `fv` preset's initialisation written at three steps and probed like a trained run.
- `fv/one-layer` (slow): the 1-layer control, `train --preset fv --set model.n_layers=1 train.steps=200` (no head can
  compose into an induction head; 4 heads: no same-size head set outside an FV set of 3, 3 other ablation sets).
- `fv/flat-final` (slow): the trained run's table with every checkpoint holding its final checkpoint's values (a
  flat history from a real run: nothing forms *during* training, so no onset precedes another).
- `fv/small-transition-table` (fast): a synthetic 6-head history in which one head decides the share comparison
  (1 of 2 FV heads vs 1 of 3 others was an induction head first) — `fv/were_induction` and `fv/signature` said
  "supported" on it before the exact test.
- `fv/trained` (positive, slow): the `fv` preset, every other checkpoint (as tests/test_science_fv.py sweeps it).
- `fv/trained-seed3` (positive, slow): seed 3 of the preset, the one seed of 0–5 on which Yin & Steinhardt's few-shot
  prediction clears its margin (0.15 accuracy, 4.4 standard errors; seeds 0–2: 0.07, 0.09, 0.13 without an
  induction head).
- `fv/transition-table` (positive, fast): a synthetic 9-head history in which both FV heads, and none of the 6 other
  heads above layer 0, were induction heads first and show the signature (p = 1/28). ▸ This is a table written to
  pass, not a trained run or a hand-built circuit: with the `fv` preset's 4 layer-1 heads and 3 FV heads the exact
  test's smallest attainable p is 1/C(4, 3) = 0.25, so no run of our sizes can support these two claims.
"""
from __future__ import annotations

from pathlib import Path

from nulls import fixture, trained_run, untrained_weights, written_run

from circuits.config import RunConfig, replace
from circuits.grids.grid import seed_config, seed_run_name
from circuits.presets import preset
from circuits.store.runs import RunStore

FAMILY = "fv"
PROBES = ("attention", "fv", "fv_controls")


def fv_table(store: RunStore, probes: tuple[str, ...] = PROBES, every_other: bool = True) -> list[dict]:
    """The run's table through the real sweep, on every other checkpoint and the last (the FV claims need the shape
    of the history; tests/test_science_fv.py sweeps the same steps, so the two share the cache)."""
    from probes.sweep.runner import run_sweep

    steps = store.steps()
    chosen = sorted(set(steps[::2]) | {steps[-1]}) if every_other else steps
    return run_sweep(store, probes=probes, steps=chosen, progress=False)


def one_layer_config() -> RunConfig:
    """`icl-workbench train --preset fv --set model.n_layers=1 train.steps=200`."""
    base = preset("fv")
    return replace(base, name="fv-1l", model=replace(base.model, n_layers=1), train=replace(base.train, steps=200))


def untrained_run(root: Path) -> RunStore:
    """The `fv` preset's initialisation at steps 0, 100 and 1000 (shared by the writers and attribution fixtures)."""
    config = replace(preset("fv"), name="fv-untrained")
    return written_run(root, "fv-untrained", config, untrained_weights(config), [0, 100, 1000])


def flat_final(table: list[dict]) -> list[dict]:
    """Every checkpoint of `table` holding the values of its last checkpoint (per probe)."""
    last = {p: max(r["step"] for r in table if r["probe"] == p) for p in {r["probe"] for r in table}}
    finals = {(r["probe"], r["metric"], r["layer"], r["head"]): r["value"] for r in table if r["step"] == last[r["probe"]]}
    return [r | {"value": finals.get((r["probe"], r["metric"], r["layer"], r["head"]), r["value"])} for r in table]


@fixture("fv/untrained", FAMILY, slow=True)  # ≈ 2 s: CI only, the quick loop keeps its budget
def untrained(root: Path) -> list[dict]:
    return fv_table(untrained_run(root), every_other=False)


@fixture("fv/one-layer", FAMILY, slow=True)
def one_layer(root: Path) -> list[dict]:
    return fv_table(trained_run(root, "fv-1l", one_layer_config()))


@fixture("fv/trained", FAMILY, slow=True)
def trained(root: Path) -> list[dict]:
    return fv_table(trained_run(root, "fv", preset("fv")))


@fixture("fv/trained-seed3", FAMILY, slow=True)
def trained_seed3(root: Path) -> list[dict]:
    return fv_table(trained_run(root, seed_run_name("fv", 3), seed_config(preset("fv"), 3)))


@fixture("fv/flat-final", FAMILY, slow=True)
def flat(root: Path) -> list[dict]:
    return flat_final(trained(root))


STEPS = [0, 100, 200, 300, 400, 500]
FINALS = {"few_shot_accuracy": 0.9, "zero_shot_accuracy": 0.1, "fv_zero_shot_accuracy": 0.6, "no_fv_zero_shot_accuracy": 0.1,
          "other_task_fv_zero_shot_accuracy": 0.05, "mean_hidden_zero_shot_accuracy": 0.15,
          "random_heads_fv_zero_shot_accuracy/mean": 0.12, "random_heads_fv_zero_shot_accuracy/min": 0.08,
          "random_heads_fv_zero_shot_accuracy/max": 0.2, "random_heads_fv_zero_shot_accuracy/sets": 35.0,
          "fv_shuffled_accuracy": 0.5, "no_fv_shuffled_accuracy": 0.2, "fv_best_layer": 0.0, "few_shot_prompts": 256.0,
          "ablate_fv/few_shot_accuracy": 0.3, "ablate_induction/few_shot_accuracy": 0.6,
          "ablate_fv_excl/few_shot_accuracy": 0.4, "ablate_induction_excl/few_shot_accuracy": 0.8,
          "ablate_fv_excl/icl_score_change": 0.3, "ablate_induction_excl/icl_score_change": 2.0,
          "ablate_excl_difference/icl_score_change_se": 0.1}


def transition_table(induction: dict, aie: dict, se: float = 0.005) -> list[dict]:
    """A synthetic history: per head controlled induction score and AIE at STEPS; FV heads 1.0 and 1.1."""
    row = lambda step, probe, metric, value, layer=None, head=None: dict(  # noqa: E731
        step=step, tokens=step, layer=layer, head=head, probe=probe, metric=metric, value=value)
    table = [row(s, "attention", "induction", v[i], *h) for h, v in induction.items() for i, s in enumerate(STEPS)]
    table += [row(s, "fv", "aie", v[i], *h) for h, v in aie.items() for i, s in enumerate(STEPS)]
    table += [row(s, "fv", "aie_se", se, *h) for h in aie for s in STEPS]
    table += [row(s, "fv", "fv_set", float(h in ((1, 0), (1, 1))), *h) for h in aie for s in STEPS]
    return table + [row(s, "fv", m, v) for m, v in FINALS.items() for s in STEPS]


@fixture("fv/transition-table", FAMILY)
def strong_table(root: Path) -> list[dict]:
    falls = [0.0, 0.8, 0.8, 0.5, 0.3, 0.2]
    induction = {(1, 0): falls, (1, 1): falls, (0, 0): [0.0] * 6, **{(1, h): [0.0, 0.1, 0.1, 0.1, 0.1, 0.1] for h in range(2, 8)}}
    rises = [0.0, 0.0, 0.01, 0.2, 0.3, 0.3]
    aie = {(1, 0): rises, (1, 1): rises, (0, 0): [0.0] * 6, **{(1, h): [0.0] * 6 for h in range(2, 8)}}
    return transition_table(induction, aie)


@fixture("fv/small-transition-table", FAMILY)
def small_table(root: Path) -> list[dict]:
    induction = {(1, 0): [0.0, 0.8, 0.8, 0.5, 0.3, 0.2], (1, 1): [0.0, 0.1, 0.1, 0.1, 0.1, 0.1],
                 (1, 2): [0.0, 0.7, 0.8, 0.8, 0.8, 0.8], (0, 0): [0.0] * 6, (1, 3): [0.0] * 6, (1, 4): [0.0] * 6}
    aie = {(1, 0): [0.0, 0.0, 0.01, 0.2, 0.3, 0.3], (1, 1): [0.0, 0.0, 0.0, 0.1, 0.2, 0.2], **{h: [0.0] * 6 for h in induction
                                                                                              if h not in ((1, 0), (1, 1))}}
    return transition_table(induction, aie)

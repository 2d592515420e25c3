"""The grid report on synthetic run folders (it reads saved files only, so the numbers are chosen exactly)."""
from __future__ import annotations

import json
import math

import pytest
from builders import tiny_config

from circuits.grids.grid import GridSpec, grid_jobs
from circuits.store.files import ANALYSIS_DIR, CONFIG_FILE, GRID_REPORT_DATA, METRICS_FILE
from circuits.store.runs import RunStore
from probes.claims.grid import parameter_count, summarize_run
from probes.report.grid import write_grid_report

STEPS = list(range(0, 1001, 50))


def _jump_at(step: int):
    """Repeat loss 3.4 until `step`, 0.5 from the next evaluation on, with ±0.005 wiggle."""
    return [(3.4 if s <= step else 0.5) + (0.005 if i % 2 else -0.005) for i, s in enumerate(STEPS)]


FLAT = [3.4 - 0.0005 * i + (0.005 if i % 2 else -0.005) for i in range(len(STEPS))]  # drifts 0.01: under the noise


def _write_run(job, repeat: list[float], eval_loss: float, analysis: tuple[float, list[float]] | None) -> None:
    job.out.mkdir(parents=True, exist_ok=True)
    (job.out / CONFIG_FILE).write_text(job.config.to_json())
    rows = [{"step": s, "eval/loss": eval_loss + 0.1 * (s < 500), "eval/repeat_loss": r} for s, r in zip(STEPS, repeat, strict=False)]
    (job.out / METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    if analysis is not None:
        icl, heads = analysis
        table = [{"step": 1000, "tokens": 0, "layer": None, "head": None, "probe": "icl", "metric": "icl_score", "value": icl}]
        table += [{"step": s, "tokens": 0, "layer": 0, "head": h, "probe": "attention", "metric": "induction", "value": v * s / 1000}
                  for h, v in enumerate(heads) for s in (0, 1000)]
        (job.out / ANALYSIS_DIR).mkdir()
        (job.out / ANALYSIS_DIR / "sweep.jsonl").write_text("".join(json.dumps(r) + "\n" for r in table))


def _presets(folder) -> tuple[str, str]:
    paths = []
    for name, layers in (("tiny-a", 1), ("tiny-b", 2)):
        (folder / f"{name}.json").write_text(tiny_config(model={"n_layers": layers}, name=name).to_json())
        paths.append(str(folder / f"{name}.json"))
    return tuple(paths)


@pytest.fixture
def grid(tmp_path, monkeypatch):
    """tiny-a: seed 0 jumps after step 450, seed 1 flat (censored); tiny-b: jumps after 250 and 350; seed 2 of both
    never trained. Loading any weights fails the test: the report must run no model."""
    for name in ("load_weights", "load_bridge"):
        monkeypatch.setattr(RunStore, name, lambda *a, **k: pytest.fail("the grid report loaded a model"))
    jobs = {j.name: j for j in grid_jobs(GridSpec(_presets(tmp_path), (0, 1, 2)), tmp_path / "g")}
    _write_run(jobs["tiny-a-seed0"], _jump_at(450), 3.0, (-0.5, [0.1, 0.6]))
    _write_run(jobs["tiny-a-seed1"], FLAT, 3.2, None)
    _write_run(jobs["tiny-b-seed0"], _jump_at(250), 2.0, (-1.0, [0.9, 0.2]))
    _write_run(jobs["tiny-b-seed1"], _jump_at(350), 2.4, (-0.8, [0.7, 0.8]))
    return tmp_path / "g"


def _claims(data: dict) -> dict[str, dict]:
    return {c["key"]: c for c in data["claims"]}


def _finals(data: dict) -> dict[str, dict]:
    return {line["key"]: line for line in data["final_lines"]}


def test_phase_steps_and_censoring(grid):
    write_grid_report(grid)
    data = json.loads((grid / GRID_REPORT_DATA).read_text())
    runs = {r["name"]: r for r in data["runs"]}
    assert [runs[n]["phase_step"] for n in ("tiny-a-seed0", "tiny-b-seed0", "tiny-b-seed1")] == [500, 300, 400]
    flat = runs["tiny-a-seed1"]
    assert flat["censored"] and flat["phase_step"] is None and flat["last_step"] == 1000 and "of the metric's scale" in flat["phase_reason"]
    assert not runs["tiny-a-seed2"]["trained"] and not runs["tiny-a-seed2"]["censored"]
    claims = _claims(data)
    a, b = claims["grid/phase_change/tiny-a"], claims["grid/phase_change/tiny-b"]
    assert not a["supported"] and a["sentence"].startswith("Not supported by this run:")
    assert "1 of 2 seeds show a transition" in a["sentence"] and "1 censored at their last step, not dropped" in a["sentence"]
    assert "tiny-a-seed1 at step 1000" in a["sentence"] and "median is at least 750" in a["sentence"]
    assert b["supported"] and b["value"] == 350 and "median 350 [300–400]" in b["sentence"]


def test_final_values_and_size(grid):
    page = write_grid_report(grid).read_text()
    data = json.loads((grid / GRID_REPORT_DATA).read_text())
    claims, finals = _claims(data), _finals(data)
    assert "median 2.20 [2.00–2.40] over 2 seeds" in finals["grid/final/eval/loss/tiny-b"]["sentence"]
    top = finals["grid/final/top_induction/tiny-b"]
    assert top["value"] == pytest.approx(0.85) and "0.85 [0.80–0.90]" in top["sentence"]
    icl_a = finals["grid/final/icl_score/tiny-a"]
    assert "not computed on 1 seed(s)" in icl_a["sentence"] and "descriptive" in icl_a["sentence"]
    assert not any(key.startswith("grid/final/") for key in claims)  # descriptive: no verdict, not a claim
    lines = json.loads((grid / GRID_REPORT_DATA).read_text())["size_lines"]
    size = next(line for line in lines if line.startswith("Eval loss against size"))  # two sizes: always "monotone"
    assert "descriptive, no verdict; not every check passes" in size and "(decreasing)" in size
    assert "a trend needs at least 3 model sizes, this grid has 2" in size
    assert "tiny-a (1 layer, 2,624 params) 3.10 → tiny-b (2 layers, 3,712 params) 2.20" in size
    assert not any(key.startswith("grid/size/") for key in claims)  # descriptive only: no grid here shows a trend
    assert "no verdict" in lines[-1] and "tiny-a (1 layer, 2,624 params) step 500 → tiny-b" in lines[-1]
    assert page.count("Plotly.newPlot") == 3 and page.count("plotly.js v") == 1  # plotly.js embedded once
    assert "censored at 1000" in page and "Not trained yet" in page and "tiny-a-seed2" in page


def test_a_single_seed_supports_no_spread(tmp_path):
    job = grid_jobs(GridSpec(_presets(tmp_path)[:1], (0,)), tmp_path / "g")[0]
    _write_run(job, _jump_at(450), 3.0, None)
    data = json.loads((write_grid_report(tmp_path / "g").parent / GRID_REPORT_DATA).read_text())
    claims = _claims(data)
    phase = claims["grid/phase_change/tiny-a"]
    assert not phase["supported"] and "needs at least 2 seeds, this grid has 1" in phase["sentence"]
    assert "a spread over seeds needs at least 2 seeds with a value, this preset has 1" in _finals(data)["grid/final/eval/loss/tiny-a"]["sentence"]
    sizes = json.loads((write_grid_report(tmp_path / "g").parent / GRID_REPORT_DATA).read_text())["size_lines"]
    assert "a trend needs at least 3 model sizes, this grid has 1" in sizes[0]


@pytest.mark.parametrize("model", [{}, {"n_layers": 1}, {"attn_only": False}, {"attn_only": False, "d_mlp": 24},
                                   {"normalization": "LN", "attn_only": False}, {"positional": "rotary"}])
def test_parameter_count_matches_the_model(model, monkeypatch):
    from circuits.model import transformer as model_module

    monkeypatch.setattr(model_module, "initial_state_dict", lambda cfg: {})  # count without initialising weights
    monkeypatch.setattr(model_module.FastTransformer, "load_state_dict", lambda self, *a, **k: None)
    config = tiny_config(model=model).model
    built = model_module.FastTransformer(config)
    assert parameter_count(config) == sum(p.numel() for p in built.parameters())


def test_run_without_metrics_is_untrained(tmp_path):
    summary = summarize_run(tmp_path / "missing", "tiny", 0)
    assert not summary.trained and not summary.censored


def _small_drop(drop: float, at: int = 272) -> list[float]:
    """A noiseless sigmoid fall of `drop` nats from ln 32 (the K-composition-blocked runs' 0.18–0.21 nats)."""
    import math

    return [math.log(32) - drop / (1 + math.exp(-(s - at) / 30)) for s in STEPS]


def test_three_seeds_of_a_small_smooth_drop_support_no_phase_change(tmp_path):
    """Issue 18: three +no-k-comp seeds made "drops in a phase change on every seed" supported."""
    jobs = grid_jobs(GridSpec(_presets(tmp_path)[1:], (0, 1, 2)), tmp_path / "g")
    for job, drop in zip(jobs, (0.18, 0.2, 0.21), strict=True):
        _write_run(job, _small_drop(drop), 3.0, None)
    claims = _claims(json.loads((write_grid_report(tmp_path / "g").parent / GRID_REPORT_DATA).read_text()))
    phase = claims["grid/phase_change/tiny-b"]
    assert not phase["supported"], phase["sentence"]
    assert "0 of 3 seeds show a transition" in phase["sentence"] and "of the metric's scale" in phase["sentence"]
    assert any(c["name"] == "share of seeds with a transition" for c in phase["checks"])


def test_every_grid_claim_states_its_checks(grid):
    write_grid_report(grid)
    for claim in json.loads((grid / GRID_REPORT_DATA).read_text())["claims"]:
        assert claim["checks"], claim["key"]


# ---- audit: verdicts that said "supported" on null inputs ----------------------------------------------------------
def test_a_loss_that_rises_on_every_seed_is_no_drop_in_a_phase_change():
    import math

    import nulls_grid as G

    from probes.claims.grid import grid_claims

    up = lambda d, at: [G.CHANCE + d / (1 + math.exp(-(s - at) / 30)) for s in G.STEPS]  # noqa: E731
    runs = G.synthetic({"attn-only-2l": [up(1.5, 1500), up(1.6, 1400), up(1.4, 1600)]})
    assert all(r.censored and "rises" in r.phase_reason for r in runs)
    phase = {c.key: c for c in grid_claims(runs)}["grid/phase_change/attn-only-2l"]
    assert not phase.supported and "0 of 3 seeds show a transition" in phase.sentence, phase.sentence


def _size(curves: dict) -> object:
    import nulls_grid as G

    from probes.claims.grid import by_preset, size_claim

    return size_claim(by_preset(G.synthetic(curves)), "eval/repeat_loss")


def test_a_size_trend_needs_differences_beyond_the_seeds_spread():
    """0.001-nat differences over three sizes were "monotone"; pure noise passed a third of the time."""
    import nulls_grid as G

    n = len(G.STEPS)
    tiny = _size({p: [[G.CHANCE + off] * n] * 2 for p, off in
                  (("attn-only-1l", 0.001), ("attn-only-2l", 0.002), ("attn-only-3l", 0.003))})
    assert not tiny.supported and "noise" in tiny.sentence, tiny.sentence
    one_seed = _size({p: [[G.CHANCE - d] * n] for p, d in (("attn-only-1l", 0.5), ("attn-only-2l", 3.0), ("attn-only-3l", 4.0))})
    assert not one_seed.supported and any(c.name == "seeds per size (fewest)" and not c.passed for c in one_seed.checks)
    seeds = {p: [[G.CHANCE - d - e] * n for e in (-0.1, 0.0, 0.1)] for p, d in
             (("attn-only-1l", 0.5), ("attn-only-2l", 3.0), ("attn-only-3l", 4.0))}
    real = _size(seeds)
    assert real.supported, real.sentence
    # smallest |Δ| 1.0 nat; noise √(0.1² + 0.1²) = 0.141 (sample std over the seeds): margin = 1.0 / 0.141 − k
    from probes.claims.thresholds import GRID_SIZE_NOISE_MULTIPLE

    assert real.margin == pytest.approx(1.0 / math.sqrt(0.02) - GRID_SIZE_NOISE_MULTIPLE, rel=1e-6)
    noisy = {p: [[G.CHANCE - d - e] * n for e in (-0.8, 0.0, 0.8)] for p, d in
             (("attn-only-1l", 0.5), ("attn-only-2l", 1.0), ("attn-only-3l", 1.5))}
    assert not _size(noisy).supported  # 0.5-nat steps within seeds spread 0.8

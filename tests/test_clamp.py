"""Clamping during training (circuits.model.clamp, probes.engine.clamped; Singh et al. 2024, arXiv 2404.07129)."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from builders import tiny_config

from circuits.config import RunConfig
from circuits.errors import WorkbenchError
from circuits.model.clamp import Clamp, ClampSet, frozen_slices, previous_token_pattern
from circuits.model.transformer import FastTransformer, build_bridge, initial_state_dict, token_losses
from circuits.overrides import build_run_config
from circuits.presets import preset
from circuits.store.runs import RunStore
from circuits.training.evaluation import EvalSet, evaluate
from circuits.training.trainer import clamp_set, train
from probes.engine.checkpoint import RunSource
from probes.engine.clamped import clamp_bridge
from probes.engine.interventions import FastEngine, HookEngine
from probes.measures import detectors


class Interrupt(Exception):
    pass


def clamped(config: RunConfig, *clamps: Clamp) -> RunConfig:
    return dataclasses.replace(config, clamps=clamps)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """A finished tiny run (the reference of the reference_* kinds)."""
    return train(tiny_config(model=dict(init_range=0.2), train=dict(steps=30, n_checkpoints=3)),
                 tmp_path_factory.mktemp("ref") / "ref", progress=False)


def _tokens(batch: int = 4, pos: int = 24, seed: int = 0) -> torch.Tensor:
    tokens = torch.randint(1, 32, (batch, pos), generator=torch.Generator().manual_seed(seed))
    tokens[:, 0] = 0
    return tokens


KIND_CASES = [Clamp("prev_token_pattern", 0), Clamp("prev_token_pattern", 1, head=1), Clamp("zero_head", 0, head=0),
              Clamp("mean_head", 1), Clamp("block_k_composition", 1), Clamp("block_k_composition", 1, head=0),
              Clamp("reference_pattern", 0), Clamp("reference_output", 0)]
MODELS = {"plain": dict(init_range=0.2), "LN+rotary": dict(normalization="LN", positional="rotary", init_range=0.2)}


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("clamp", KIND_CASES, ids=lambda c: c.label.split(" from")[0].replace(" ", "@"))
def test_clamped_bridge_equals_clamped_fast_model(reference_run, clamp, model):
    """Every kind: the hooks on the bridge (probes) compute what the training forward computes, and the clamp changes
    the logits (so equality is not that of two unclamped models)."""
    if clamp.kind.startswith("reference"):
        if model != "plain":
            pytest.skip("the reference run is a plain tiny model; its shape must match")
        clamp = dataclasses.replace(clamp, reference=str(reference_run.path))
    config = clamped(tiny_config(model=dict(seed=3, **MODELS[model])), clamp)  # initialised unlike the reference
    config.validate()
    state = initial_state_dict(config.model)
    fast, plain = FastTransformer(config.model, state), FastTransformer(config.model, state)
    fast.clamps = clamp_set(config)
    bridge = clamp_bridge(build_bridge(config.model, state), clamp_set(config))
    tokens = _tokens()
    with torch.no_grad():
        ours, theirs, unclamped = fast(tokens), bridge(tokens), plain(tokens)
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=0)
    assert (ours - unclamped).abs().max() > 1e-3


@pytest.mark.parametrize("clamp", KIND_CASES, ids=lambda c: c.label.split(" from")[0].replace(" ", "@"))
def test_the_clamped_fast_engine_patches_like_the_hook_engine_on_the_clamped_bridge(reference_run, clamp):
    """Every kind: head patches (all positions and last position only) through the fast engine's seams equal the
    hook engine's over the clamped bridge — one definition of a clamp, two engines. The hook engine runs one condition
    per pass, so a mean_head clamp averages over that condition's batch alone, as the fast engine's does."""
    from probes.measures.ablation import single_head_conditions

    if clamp.kind.startswith("reference"):
        clamp = dataclasses.replace(clamp, reference=str(reference_run.path))
    config = clamped(tiny_config(model=dict(seed=3, init_range=0.2)), clamp)
    state = initial_state_dict(config.model)
    fast = FastTransformer(config.model, state)
    fast.clamps = clamp_set(config)
    engines = FastEngine(fast), HookEngine(clamp_bridge(build_bridge(config.model, state), clamp_set(config)))
    tokens, conditions = _tokens(batch=2), single_head_conditions(config.model.n_layers, config.model.n_heads)
    for last_only in (False, True):
        outs = []
        for engine in engines:
            clean = engine.clean(tokens)
            values = [torch.zeros_like(z) for z in clean.z]
            run = lambda c: engine.patch_heads(clean, c, values, lambda logits, n: logits, last_only=last_only)  # noqa: B023, E731
            outs.append(run(conditions) if engine is engines[0] else torch.cat([run(c[None]) for c in conditions]))
        torch.testing.assert_close(outs[0], outs[1], atol=2e-5, rtol=0)


@pytest.mark.parametrize("kind", ["reference_pattern", "reference_output"])
def test_a_model_clamped_to_its_own_values_is_unchanged(reference_run, kind):
    """The reference values are the reference's, on the same tokens, at the same layer: clamping the reference's own
    final weights to them changes no logit (layer 1: its input already differs from layer 0's)."""
    config = reference_run.config()
    model, plain = (FastTransformer(config.model, reference_run.load_weights(30)) for _ in range(2))
    model.clamps = clamp_set(clamped(config, Clamp(kind, 1, reference=str(reference_run.path))))
    tokens = _tokens()
    with torch.no_grad():
        torch.testing.assert_close(model(tokens), plain(tokens), atol=1e-6, rtol=0)


def test_the_attention_probe_sees_an_exact_previous_token_head(tmp_path):
    """A clamped run's probes apply the clamp: its layer-0 head 1 scores exactly 1 on the previous-token detector,
    and the probes' engine is the fast engine applying the same clamp as seam edits (equal to the hook engine over
    the clamped bridge)."""
    config = clamped(tiny_config(train=dict(steps=12, n_checkpoints=2)), Clamp("prev_token_pattern", 0, head=1))
    source = RunSource(train(config, tmp_path / "run", progress=False))
    ckpt = source.load(source.steps()[-1])
    tokens = _tokens()
    patterns = detectors.attention_patterns(ckpt.bridge, tokens)
    torch.testing.assert_close(patterns[0, :, 1], previous_token_pattern(24).expand(4, 24, 24), atol=0, rtol=0)
    scores = detectors.previous_token_score(patterns, tokens)
    assert scores[0, 1] == 1.0 and scores[0, 0] < 0.9
    assert isinstance(ckpt.engine, FastEngine) and ckpt.engine.is_clamped
    torch.testing.assert_close(ckpt.engine.logits(tokens), HookEngine(ckpt.bridge).logits(tokens), atol=1e-5, rtol=0)
    fast = FastTransformer(config.model, ckpt.state)
    fast.clamps = clamp_set(config, step=ckpt.step)
    torch.testing.assert_close(ckpt.engine.logits(tokens), fast(tokens).detach(), atol=1e-5, rtol=0)


def test_frozen_slices_are_bit_identical_from_start_step_and_the_rest_trains(tmp_path):
    """Zeroed head 0.0 (q, k, v rows and W_O columns) and the clamped pattern of head 1.1 (q, k rows) from step 20:
    those slices move before step 20 and never after (weight decay 0.01 and Adam moments included); every other
    slice of the same tensors keeps changing."""
    clamps = (Clamp("zero_head", 0, head=0, start_step=20), Clamp("prev_token_pattern", 1, head=1, start_step=20))
    config = clamped(tiny_config(train=dict(steps=40, checkpoint_steps=(0, 10, 20, 30, 40))), *clamps)
    assert config.train.weight_decay > 0
    store = train(config, tmp_path / "run", progress=False)
    weights = {s: store.load_weights(s) for s in store.steps()}
    pieces = [p for c in clamps for p in frozen_slices(c, config.model)]
    assert {p.name for p in pieces} >= {"blocks.0.attn.v.weight", "blocks.0.attn.o.weight", "blocks.1.attn.q.bias"}
    for piece in pieces:
        at = {s: w[piece.name][piece.index] for s, w in weights.items()}
        assert not torch.equal(at[0], at[20]), piece  # trained before the clamp
        assert all(torch.equal(at[20], at[s]) for s in (30, 40)), piece  # frozen from step 20 on
    free = weights[40]["blocks.0.attn.v.weight"][8:]  # head 0.1's rows (d_head 8)
    assert not torch.equal(free, weights[20]["blocks.0.attn.v.weight"][8:])
    assert not torch.equal(weights[40]["blocks.1.attn.k.weight"][:8], weights[20]["blocks.1.attn.k.weight"][:8])


@pytest.mark.parametrize("clamp", [Clamp("zero_head", 0, head=0), Clamp("prev_token_pattern", 1),
                                   Clamp("reference_output", 1)], ids=lambda c: c.kind)
def test_frozen_slices_get_exactly_zero_gradient(reference_run, clamp):
    if clamp.reference is None and clamp.kind.startswith("reference"):
        clamp = dataclasses.replace(clamp, reference=str(reference_run.path))
    config = clamped(tiny_config(), clamp)
    model = FastTransformer(config.model, initial_state_dict(config.model))
    model.clamps = clamp_set(config)
    tokens = _tokens()
    token_losses(model(tokens), tokens).mean().backward()
    params = dict(model.named_parameters())
    for piece in frozen_slices(clamp, config.model):
        grad = params[piece.name].grad
        assert grad is None or torch.count_nonzero(grad[piece.index]) == 0, piece
    assert torch.count_nonzero(params["blocks.0.attn.v.weight"].grad) > 0 or clamp.layer == 0


def test_a_clamped_run_resumes_to_the_identical_run(tmp_path, reference_run):
    """Interrupted after its clamps switched on (one from step 12, one reference clamp from step 0), it resumes to
    the same weights and metrics as the uninterrupted run."""
    clamps = (Clamp("prev_token_pattern", 0, head=0, start_step=12), Clamp("reference_pattern", 1, reference=str(reference_run.path)))
    config = clamped(tiny_config(train=dict(steps=30, n_checkpoints=7)), *clamps)
    full = train(config, tmp_path / "full", progress=False)

    def stop(step: int) -> None:
        if step == 22:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(config, tmp_path / "cut", progress=False, on_step=stop)
    assert 12 < RunStore(tmp_path / "cut").steps()[-1] < 22
    resumed = train(config, tmp_path / "cut", progress=False)
    for key, value in full.load_weights(30).items():
        assert torch.equal(value, resumed.load_weights(30)[key]), key
    assert resumed.metrics() == full.metrics()


def test_evaluation_is_clamped_from_start_step_only(tmp_path):
    """The eval rows (the phase-change locator's input) equal the unclamped run's before start_step, differ after it,
    and equal `evaluate` of the clamped model at that step."""
    config = tiny_config(model=dict(init_range=0.5), train=dict(steps=24, eval_every=6, n_checkpoints=3))
    plain = train(config, tmp_path / "plain", progress=False).metrics()
    clamp = Clamp("zero_head", 1, start_step=12)
    run = train(clamped(config, clamp), tmp_path / "clamped", progress=False)
    ours, theirs = ({r["step"]: r["eval/loss"] for r in rows} for rows in (run.metrics(), plain))
    assert [ours[s] for s in (0, 1, 6)] == [theirs[s] for s in (0, 1, 6)]
    assert all(abs(ours[s] - theirs[s]) > 1e-3 for s in (12, 18, 24))
    model = FastTransformer(config.model, run.load_weights(24))
    model.clamps = ClampSet((clamp,), config.model, step=24)
    assert evaluate(model.eval(), EvalSet.for_run(config))["eval/loss"] == pytest.approx(ours[24], abs=1e-6)


@pytest.mark.parametrize("clamps, message", [
    ([Clamp("prev_token_pattern", 2)], r"layer 2 is out of range; this model has layers 0–1"),
    ([Clamp("zero_head", 0, head=2)], r"head 2 is out of range; heads are 0–1"),
    ([Clamp("mean_head", 0, start_step=60)], r"start_step 60 must be in \[0, steps=60\)"),
    ([Clamp("block_k_composition", 0)], r"layer 0 reads no earlier attention layer"),
    ([Clamp("reference_pattern", 0)], r"reference_pattern needs a reference run directory"),
    ([Clamp("zero_head", 0, reference="x")], r"zero_head takes no `reference`"),
    ([Clamp("reference_output", 0, head=1, reference="x")], r"set head to null"),
    ([Clamp("copy", 0)], r"clamp kind 'copy' is unknown; use one of"),
    ([Clamp("prev_token_pattern", 0), Clamp("prev_token_pattern", 0, head=1)], r"both edit the pattern of head 0.1"),
    ([Clamp("reference_pattern", 1, reference="/nonexistent/run")], r"reference run /nonexistent/run not found"),
])
def test_bad_clamps_get_one_clear_error(clamps, message):
    with pytest.raises(WorkbenchError, match=message):
        clamped(tiny_config(), *clamps).validate()


def test_a_reference_of_another_shape_or_itself_clamped_is_refused(tmp_path, reference_run):
    with pytest.raises(WorkbenchError, match=r"different model shape \(d_model: 16 ≠ 32\)"):
        clamped(tiny_config(model=dict(d_model=32)), Clamp("reference_pattern", 0, reference=str(reference_run.path))).validate()
    inner = train(clamped(tiny_config(train=dict(steps=4, warmup_steps=1, n_checkpoints=2)), Clamp("zero_head", 0)), tmp_path / "c", progress=False)
    with pytest.raises(WorkbenchError, match="is itself clamped; use an unclamped run"):
        clamped(tiny_config(), Clamp("reference_pattern", 0, reference=str(inner.path))).validate()


def test_an_unfinished_reference_is_refused_before_training(tmp_path, reference_run):
    config = tiny_config(train=dict(steps=30, n_checkpoints=3))
    with pytest.raises(Interrupt):
        train(config, tmp_path / "ref", progress=False, on_step=lambda s: (_ for _ in ()).throw(Interrupt) if s == 20 else None)
    with pytest.raises(WorkbenchError, match=r"reference run .* is unfinished \(last checkpoint at step 15 of 30\)"):
        clamp_set(clamped(config, Clamp("reference_output", 0, reference=str(tmp_path / "ref"))))


def test_config_json_round_trips_and_old_configs_load(tmp_path, reference_run):
    config = clamped(tiny_config(), Clamp("reference_pattern", 0, head=1, start_step=5, reference=str(reference_run.path)))
    assert RunConfig.from_json(config.to_json()) == config
    assert "clamps" not in json.loads(tiny_config().to_json())  # unclamped runs keep their old config.json
    assert RunConfig.from_json(tiny_config().to_json()).clamps == ()
    with pytest.raises(WorkbenchError, match=r"clamps\[0\] has unknown field\(s\) \['heads'\]"):
        RunConfig.from_json(json.dumps(json.loads(config.to_json()) | {"clamps": [{"kind": "zero_head", "layer": 0, "heads": 1}]}))


def test_clamps_by_preset_set_and_config_file(tmp_path):
    assert preset("attn-only-2l+prev-token").clamps == (Clamp("prev_token_pattern", 0),)
    assert preset("attn-only-2l+no-k-comp").clamps == (Clamp("block_k_composition", 1),)
    kept = build_run_config("attn-only-2l+prev-token", None, ["train.steps=500"])
    assert kept.clamps == preset("attn-only-2l+prev-token").clamps  # --set of another field keeps the preset's clamps
    item = '[{"kind": "zero_head", "layer": 1, "head": 2, "start_step": 100}]'
    assert build_run_config(None, None, [f"clamps={item}"]).clamps == (Clamp("zero_head", 1, head=2, start_step=100),)
    file = tmp_path / "run.json"
    file.write_text(json.dumps({"preset": "my-clamp", "clamps": json.loads(item)}))
    assert build_run_config(None, file, []).clamps[0].head == 2
    assert build_run_config("attn-only-2l+prev-token", None, ["clamps=[]"]).clamps == ()
    with pytest.raises(WorkbenchError, match=r"--set clamps=\{\}: clamps must be a JSON list"):
        build_run_config(None, None, ["clamps={}"])
    with pytest.raises(WorkbenchError, match=r"clamps\[0\].layer must be int, got \"0\""):
        build_run_config(None, None, ['clamps=[{"kind": "zero_head", "layer": "0"}]'])
    with pytest.raises(WorkbenchError, match=r"--set clamps=.*: clamp zero_head 0.9 from step 0: head 9 is out of range"):
        build_run_config(None, None, ['clamps=[{"kind": "zero_head", "layer": 0, "head": 9}]'])


def test_the_grid_report_puts_clamp_variants_beside_their_baseline(tmp_path):
    """Synthetic grid (saved files only): the baseline jumps after step 450, the clamp variant after 250 on one seed
    and never on the other — each preset is its own group, the censored seed is counted, the clamps are listed."""
    from test_report_grid import FLAT, _jump_at, _write_run

    from circuits.grids.grid import GridSpec, grid_jobs
    from circuits.store.files import GRID_REPORT_DATA
    from probes.report.grid import write_grid_report

    variant = tmp_path / "variant.json"
    variant.write_text(json.dumps({"preset": "tiny+zero", "clamps": [{"kind": "zero_head", "layer": 1, "head": 0}]}))
    base = tmp_path / "base.json"
    base.write_text(tiny_config(name="tiny").to_json())
    jobs = {j.name: j for j in grid_jobs(GridSpec((str(base), str(variant)), (0, 1)), tmp_path / "g")}
    for name, repeat in (("tiny-seed0", _jump_at(450)), ("tiny-seed1", _jump_at(450)), ("tiny+zero-seed0", _jump_at(250)),
                         ("tiny+zero-seed1", FLAT)):
        _write_run(jobs[name], repeat, 3.0, None)
    page = write_grid_report(tmp_path / "g").read_text()
    data = json.loads((tmp_path / "g" / GRID_REPORT_DATA).read_text())
    claims = {c["key"]: c["sentence"] for c in data["claims"]}
    assert "2 of 2 seeds show a transition; phase-change step median 500 [500–500]" in claims["grid/phase_change/tiny"]
    assert "1 of 2 seeds show a transition" in claims["grid/phase_change/tiny+zero"]
    assert "where the loss fell by 2.90 [2.90–2.90] nats" in claims["grid/phase_change/tiny+zero"]
    assert "tiny+zero-seed1 at step 1000" in claims["grid/phase_change/tiny+zero"]
    assert {r["name"]: r["clamps"] for r in data["runs"]}["tiny+zero-seed0"] == ["zero_head 1.0 from step 0"]
    assert "zero_head 1.0 from step 0" in page


# ----- science --------------------------------------------------------------------------------------------------
def _phase(store: RunStore):
    from probes.claims.grid import summarize_run

    return summarize_run(store.path, store.config().name, store.config().train.seed)


@pytest.mark.slow
def test_previous_token_attention_given_for_free_brings_the_phase_change_forward(default_run, shared_runs_root):
    """Science claim of the clamp study (Singh et al.'s step 1 given for free): with exact previous-token attention in
    every layer-0 head, the held-out repeat loss completes its drop earlier than in the default run of the same seed
    (the default's phase-change step minus 100 at least), and does complete it."""
    torch.set_num_threads(1)
    run = train(preset("attn-only-2l+prev-token"), shared_runs_root / "attn-only-2l+prev-token", progress=False)
    given, default = _phase(run), _phase(default_run)
    assert default.phase_step is not None, default.phase_reason
    assert given.phase_step is not None and given.phase_step <= default.phase_step - 100, (given, default)


@pytest.mark.long
def test_clamp_study_three_seeds(tmp_path):
    """The study (README "Clamping during training"), 3 seeds each, one process: baseline attn-only-2l; exact
    previous-token attention in layer 0; K-composition into layer 1 blocked; layer-0 pattern of the baseline seed 0's
    final checkpoint; layer-0 attention output of that checkpoint (Singh et al.'s appendix Fig. 7 clamp). Claims:
    every prev-token and every reference-pattern seed completes its drop before the earliest baseline seed; no
    K-comp-blocked and no reference-output seed learns induction in 3,000 steps (final held-out repeat loss above
    4 nats, every baseline below 1) — whatever the locator says of a small early drift."""
    from circuits.grids.grid import GridSpec, is_trained, run_grid, train_job
    from probes.claims.grid import by_preset, summarize_grid

    torch.set_num_threads(1)
    run_grid(GridSpec(("attn-only-2l",), (0, 1, 2)), tmp_path / "base", train_job, workers=1, progress=False, done=is_trained)
    files = []
    for kind, name in (("reference_pattern", "ref-l0-pattern"), ("reference_output", "ref-l0-output")):
        files.append(tmp_path / f"{name}.json")
        files[-1].write_text(json.dumps({"preset": f"attn-only-2l+{name}", "clamps": [
            {"kind": kind, "layer": 0, "reference": str(tmp_path / "base" / "attn-only-2l-seed0")}]}))
    spec = GridSpec(("attn-only-2l+prev-token", "attn-only-2l+no-k-comp", *map(str, files)), (0, 1, 2))
    run_grid(spec, tmp_path / "clamps", train_job, workers=1, progress=False, done=is_trained)
    groups = by_preset(summarize_grid(tmp_path / "base")) | by_preset(summarize_grid(tmp_path / "clamps"))
    base = [r.phase_step for r in groups["attn-only-2l"]]
    assert None not in base and all(r.final["eval/repeat_loss"] < 1.0 for r in groups["attn-only-2l"])
    for variant in ("attn-only-2l+prev-token", "attn-only-2l+ref-l0-pattern"):
        assert all(r.phase_step is not None and r.phase_step < min(base) for r in groups[variant]), (variant, groups[variant])
    for variant in ("attn-only-2l+no-k-comp", "attn-only-2l+ref-l0-output"):
        assert all(r.final["eval/repeat_loss"] > 4.0 for r in groups[variant]), (variant, groups[variant])

"""Grokking on modular addition (Nanda et al. 2023, arXiv 2301.05217): data split, Fourier basis, key frequencies,
restricted / excluded loss, the transitions' claims, config errors, and (slow) the preset really grokking."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from circuits.config import ModelConfig, RunConfig, TrainConfig
from circuits.data.configs import ModularData
from circuits.data.modular import ModularAddition, all_pairs, answers, split_pairs
from circuits.errors import WorkbenchError
from probes.claims.grokking import grokking_measures
from probes.claims.thresholds import EXCLUDED_MIN_RISE, GAP_MIN_EVALUATIONS, GROK_ACCURACY, KEY_FREQUENCY_MIN_SHARE, RANDOM_FREQUENCY_SETS
from probes.measures.grokking import (
    excluded_loss,
    fourier_basis,
    gini,
    key_component,
    key_frequencies,
    neuron_frequencies,
    random_frequency_sets,
    restricted_loss,
    sum_directions,
)
from probes.table import model_row

P = 13


def modular_config(p: int = P, fraction: float = 0.5, **train) -> RunConfig:
    model = ModelConfig(n_layers=1, d_model=32, n_heads=4, n_ctx=3, d_vocab=p + 1, attn_only=False, d_mlp=64, act_fn="relu")
    data = ModularData(seq_len=3, modulus=p, train_fraction=fraction)
    n_train = round(fraction * p * p)
    base = dict(steps=40, batch_size=n_train, lr=3e-3, warmup_steps=4, min_lr_ratio=1.0, weight_decay=1.0, beta2=0.98,
                eval_every=10, n_checkpoints=5)
    return RunConfig("tiny-grokking", model, data, TrainConfig(**{**base, **train}))


# ---- data -----------------------------------------------------------------------------------------------------------
def test_split_sizes_disjoint_complete_and_seeded():
    data = modular_config().data
    train, test = split_pairs(data)
    assert len(train) == data.train_size == round(0.5 * P * P) and len(train) + len(test) == P * P
    assert set(train.tolist()).isdisjoint(test.tolist()) and set(train.tolist()) | set(test.tolist()) == set(range(P * P))
    again, _ = split_pairs(data)
    other, _ = split_pairs(dataclasses.replace(data, split_seed=1))
    assert torch.equal(train, again) and not torch.equal(train, other)


def test_full_batch_sampler_returns_every_train_pair_with_its_answer():
    config = modular_config()
    sampler = ModularAddition(config.data, config.model)
    batch = sampler(config.train.batch_size, torch.Generator().manual_seed(0))
    train, _ = split_pairs(config.data)
    assert torch.equal(batch, all_pairs(P)[train]) and (batch[:, 2] == P).all()
    assert answers(torch.tensor([[5, 9, P], [12, 12, P]]), P).tolist() == [(5 + 9) % P, (12 + 12) % P]
    assert len(sampler(10, torch.Generator().manual_seed(0))) == 10  # mini-batches when asked for fewer


# ---- Fourier basis, key frequencies ---------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [7, 53])
def test_fourier_basis_is_orthonormal_with_nandas_layout(p):
    basis = fourier_basis(p)
    torch.testing.assert_close(basis @ basis.T, torch.eye(p, dtype=torch.float64), atol=1e-10, rtol=0)
    x = torch.arange(p, dtype=torch.float64)
    torch.testing.assert_close(basis[3] / basis[3].norm(), torch.cos(2 * math.pi * 2 * x / p) / torch.cos(2 * math.pi * 2 * x / p).norm())
    assert torch.allclose(basis[0], torch.full((p,), p**-0.5, dtype=torch.float64))


def test_key_frequencies_of_synthetic_neurons_including_the_last_frequency():
    """Neurons built from one frequency's linear and quadratic terms each get that frequency; a dead neuron gets none;
    k = (p−1)/2 is found (Nanda's loop stops one short of it: a stated deviation)."""
    p = 11
    pairs = all_pairs(p).double()
    a, b = pairs[:, 0], pairs[:, 1]
    w = lambda k: 2 * math.pi * k / p  # noqa: E731
    neurons = [torch.cos(w(2) * a) * torch.cos(w(2) * b), torch.cos(w(2) * (a + b)) + 0.5 * torch.sin(w(2) * a),
               torch.relu(torch.cos(w(3) * (a + b) + 0.4)), torch.sin(w(5) * a) + torch.cos(w(5) * b), torch.zeros(p * p)]
    acts = torch.stack(neurons, dim=1) + 1e-3 * torch.randn(p * p, 5, generator=torch.Generator().manual_seed(0)) * torch.tensor([1, 1, 1, 1, 0.0])
    freq, share = neuron_frequencies(acts, p)
    assert freq.tolist() == [2, 2, 3, 5, 0]
    assert (share[:2] > 0.99).all() and share[4] == 0
    assert key_frequencies(acts, p) == {2: 2, 3: 1, 5: 1}


# ---- restricted and excluded loss -----------------------------------------------------------------------------------
def fourier_logits(p: int, freqs: list[int], scale: float = 5.0) -> torch.Tensor:
    """Logits of Nanda's algorithm: Σ_k cos(w_k(a + b − c)), maximal at c = (a + b) mod p, for every input."""
    pairs = all_pairs(p).double()
    c = torch.arange(p, dtype=torch.float64)
    total = sum(torch.cos(2 * math.pi * k / p * (pairs[:, :1] + pairs[:, 1:2] - c)) for k in freqs)
    return scale * total


def test_key_component_decomposes_logits_exactly():
    p, keys = 13, [2, 5]
    directions = sum_directions(p, keys)
    torch.testing.assert_close(directions @ directions.T, torch.eye(4, dtype=torch.float64), atol=1e-10, rtol=0)
    algorithm = fourier_logits(p, keys)
    noise = torch.randn(p * p, p, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    kept = key_component(algorithm + noise, directions)
    rest = algorithm + noise - kept
    torch.testing.assert_close(key_component(algorithm, directions), algorithm, atol=1e-9, rtol=0)  # all in the span
    assert abs((kept * rest).sum()) < 1e-8  # the two parts are orthogonal


def test_restricted_and_excluded_loss_on_hand_built_logits():
    """The pure Fourier algorithm keeps its low loss when restricted to its frequencies and falls to chance (ln p)
    when they are excluded; restricted to other frequencies it is at chance too (the bias correction adds its
    input-mean, which is zero)."""
    p, keys = 13, [2, 5]
    logits, labels = fourier_logits(p, keys), answers(all_pairs(p), p)
    train, _ = split_pairs(modular_config(p).data)
    full = torch.nn.functional.cross_entropy(logits, labels).item()
    assert full < 0.1
    assert restricted_loss(logits, labels, sum_directions(p, keys)) == pytest.approx(full, abs=1e-9)
    assert restricted_loss(logits, labels, sum_directions(p, [1, 3])) == pytest.approx(math.log(p), abs=1e-9)
    assert excluded_loss(logits, labels, sum_directions(p, keys), train) == pytest.approx(math.log(p), abs=1e-9)
    assert excluded_loss(logits, labels, sum_directions(p, [1, 3]), train) < 0.1  # other frequencies: nothing removed


def test_gini_bounds():
    assert gini(torch.ones(10)) == pytest.approx(0.0, abs=1e-12)
    assert gini(torch.tensor([0.0] * 9 + [1.0])) == pytest.approx(0.9)


# ---- transitions and claims from a table ----------------------------------------------------------------------------
def synthetic_table(generalises: bool, test_falls: bool = True, blip: bool = False, random_restricted: float = 3.0,
                    weight_slope: float = -0.2) -> list[dict]:
    """Checkpoints every 100 steps: memorised at 200; the restricted loss falls from 600 (with as many random
    frequencies it stays at `random_restricted`), the test loss from 1200 (unless not `test_falls`); test accuracy
    reaches 1 at 1400 (or never; or at 1400 only, a `blip`); the excluded loss rises at memorisation as the train loss
    falls; the weight norm changes by `weight_slope` per step."""
    rows = []
    for step in range(0, 2001, 100):
        late = generalises and (step == 1400 if blip else step >= 1400)
        test_loss = 0.05 if late else (12.0 if step < 1200 or not test_falls else 1.0)
        values = {"train_accuracy": float(step >= 200), "test_accuracy": 1.0 if late else 0.1,
                  "train_loss": 0.01 if step >= 200 else 3.0, "test_loss": test_loss,
                  "restricted_loss": 3.0 if step < 600 else 0.5, "excluded_loss": 3.0 if step < 200 else 8.0,
                  "restricted_loss_random": 3.0 if step < 600 else random_restricted, "dominant_frequencies": 1.0,
                  "embed_gini": 0.1 if step < 1000 else 0.6, "embed_key_share": 0.2 if step < 1000 else 0.9,
                  "weight_norm_sq": 500.0 + weight_slope * step, "key_frequency_step": 2000, "modulus": P,
                  "key_frequency_neurons/4": 40.0, "key_frequency_variance/4": 0.9}
        rows += [{"step": step, "tokens": 0, **model_row("grokking", k, float(v))} for k, v in values.items()]
    return rows


NO_DECAY = synthetic_table(False, weight_slope=+0.1)  # a no-weight-decay control: its weight norm grows


def test_measures_find_both_steps_and_the_progress_measures():
    m = grokking_measures(synthetic_table(True), [], control_table=NO_DECAY)
    assert (m.memorisation_step, m.generalisation_step, m.gap) == (200, 1400, 1200)
    assert (m.restricted_fall_step, m.test_fall_step) == (600, 1200) and m.key_frequencies == [4]
    assert all(c.supported for c in m.claims), [c.sentence for c in m.claims if not c.supported]
    assert "a gap of 1200 steps" in m.claims[1].sentence
    assert all(c.checks for c in m.claims)  # every verdict states its margins


# ---- issue 18, "Every verdict can fail": each test below fails on the claims before the fix -------------------------
def _claim(m, key: str):
    return next(c for c in m.claims if c.key == key)


def test_restricted_leads_needs_the_test_loss_to_fall():
    """Defect 1: a run whose restricted loss falls while its test loss never does has no lead to claim."""
    m = grokking_measures(synthetic_table(False, test_falls=False), [], control_table=NO_DECAY)
    assert (m.restricted_fall_step, m.test_fall_step) == (600, None)
    claim = _claim(m, "grokking/restricted_leads")
    assert not claim.supported and "test loss falls" in claim.sentence


def random_relu_features(p: int = 53, neurons: int = 256, seed: int = 0) -> torch.Tensor:
    """MLP activations of random features: ReLU of random embeddings of a and b through a random layer."""
    gen = torch.Generator().manual_seed(seed)
    embed, w = torch.randn(p, 32, generator=gen), torch.randn(64, neurons, generator=gen)
    pairs = all_pairs(p)
    return torch.relu(torch.cat([embed[pairs[:, 0]], embed[pairs[:, 1]]], dim=1) @ w + torch.randn(neurons, generator=gen))


def test_random_relu_features_have_no_key_frequencies_above_the_variance_floor():
    """Defect 2: without a floor every one of the 26 frequencies of p = 53 is some random neuron's dominant one."""
    acts = random_relu_features()
    assert len(key_frequencies(acts, 53, min_share=0.0)) == 26  # Nanda's definition
    _, share = neuron_frequencies(acts, 53)
    assert share.max() < KEY_FREQUENCY_MIN_SHARE and key_frequencies(acts, 53) == {}


def test_key_frequencies_must_beat_as_many_random_frequencies():
    """Defect 2, the control: when as many random frequencies give the same restricted loss, the key frequencies
    carry nothing special, and neither the lead nor the key-frequency claim is supported."""
    m = grokking_measures(synthetic_table(True, random_restricted=0.5), [], control_table=NO_DECAY)
    for key in ("grokking/restricted_leads", "grokking/key_frequencies"):
        claim = _claim(m, key)
        assert not claim.supported and "random" in claim.sentence, claim.sentence
    assert _claim(grokking_measures(synthetic_table(True), [], control_table=NO_DECAY), "grokking/key_frequencies").supported


def test_random_frequency_sets_avoid_the_keys_and_are_seeded():
    sets = random_frequency_sets(53, [9, 19, 24])
    assert len(sets) == RANDOM_FREQUENCY_SETS and all(len(s) == 3 and not {9, 19, 24} & set(s) for s in sets)
    assert sets == random_frequency_sets(53, [9, 19, 24]) and random_frequency_sets(53, []) == []
    assert random_frequency_sets(7, [1, 2]) and all(len(s) == 2 for s in random_frequency_sets(7, [1, 2]))


def test_one_evaluation_above_the_line_is_no_generalisation():
    """Defect 3: test accuracy ≥ 99% at one checkpoint, back at 0.1 after it, is not a generalisation step."""
    m = grokking_measures(synthetic_table(True, blip=True), [], control_table=NO_DECAY)
    assert m.generalisation_step is None and not _claim(m, "grokking/generalisation").supported


def test_a_gap_of_one_evaluation_is_no_generalisation_gap():
    """Defect 3: memorised at step 200 and generalised at 210 (one evaluation later) is no sustained gap."""
    metrics = [{"step": s, "eval/train_accuracy": float(s >= 200), "eval/test_accuracy": float(s >= 210)} for s in range(0, 2001, 10)]
    m = grokking_measures(synthetic_table(True), metrics, control_table=NO_DECAY)
    assert (m.memorisation_step, m.generalisation_step) == (200, 210) and m.gap_evaluations == 1
    claim = _claim(m, "grokking/generalisation")
    assert not claim.supported and f"≥ {GAP_MIN_EVALUATIONS}" in claim.sentence


def test_the_weight_norm_claim_needs_a_no_decay_control():
    """Defect 4: a falling weight norm is no evidence of weight decay's cleanup without a run that has none. Without
    a control the trend is stated with no verdict; a control whose weights fall as much fails it."""
    alone = _claim(grokking_measures(synthetic_table(True), []), "grokking/weight_norm")
    assert not alone.supported and "no verdict" in alone.sentence and alone.control is None
    same = _claim(grokking_measures(synthetic_table(True), [], control_table=synthetic_table(True)), "grokking/weight_norm")
    assert not same.supported and same.control == pytest.approx(same.value)
    clean = _claim(grokking_measures(synthetic_table(True), [], control_table=NO_DECAY), "grokking/weight_norm")
    assert clean.supported and clean.value > 0 > clean.control


def test_a_run_that_never_generalises_is_censored_and_says_so():
    m = grokking_measures(synthetic_table(False), [])
    assert m.memorisation_step == 200 and m.generalisation_step is None and m.gap is None
    sentence = next(c for c in m.claims if c.key == "grokking/generalisation").sentence
    assert sentence.startswith("Not supported by this run:") and "censored" in sentence


def test_dense_metrics_override_checkpoint_accuracies():
    metrics = [{"step": s, "eval/train_accuracy": float(s >= 130), "eval/test_accuracy": float(s >= 1410)} for s in range(0, 2001, 10)]
    m = grokking_measures(synthetic_table(True), metrics)
    assert (m.memorisation_step, m.generalisation_step) == (130, 1410)


def test_a_table_without_grokking_rows_is_one_clear_error():
    with pytest.raises(WorkbenchError, match="--probes grokking"):
        grokking_measures([], [])


# ---- config errors --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    (dict(data=dict(modulus=12)), r"modulus must be an odd integer ≥ 3"),
    (dict(model=dict(d_vocab=20)), r"needs d_vocab = 14 .* set model.d_vocab=14"),
    (dict(data=dict(seq_len=2)), r"'a b =' \(3 tokens\), got seq_len=2; set data.seq_len=3"),
    (dict(data=dict(train_fraction=1.0)), r"train_fraction=1.0 must leave both a train and a test set"),
    (dict(train=dict(batch_size=500)), r"batch_size=500 exceeds the 84 training pairs .* set train.batch_size=84"),
    (dict(train=dict(beta2=1.0)), r"AdamW betas must lie in \[0, 1\)"),
])
def test_bad_modular_configs_are_one_clear_error(change, message):
    config = modular_config()
    sections = {name: dataclasses.replace(getattr(config, name), **change.get(name, {})) for name in ("model", "data", "train")}
    with pytest.raises(WorkbenchError, match=message):
        dataclasses.replace(config, **sections).validate()


# ---- the pipeline on a tiny run -------------------------------------------------------------------------------------
def test_tiny_run_trains_probes_and_reports(tmp_path):
    from circuits.model.transformer import FastTransformer, build_bridge
    from circuits.training.trainer import train
    from probes.registry import is_declared
    from probes.sweep.runner import load_notes
    from workbench import analyze, report

    config = modular_config()
    store = train(config, tmp_path / "run", progress=False)
    weights, pairs = store.load_weights(store.steps()[-1]), all_pairs(P)
    with torch.no_grad():  # trained weights: the bridge (MLP activations) and the fast model (logits) agree
        torch.testing.assert_close(build_bridge(config.model, weights)(pairs), FastTransformer(config.model, weights)(pairs),
                                   atol=1e-5, rtol=0)
    last = store.metrics()[-1]
    assert {"eval/train_accuracy", "eval/test_accuracy", "eval/train_loss", "eval/test_loss"} <= set(last)
    table = analyze(store, progress=False)  # by default the induction probes skip a modular-addition run …
    assert set(load_notes(store)) == {"attention", "weights", "icl", "ablation", "induction_controls"}
    assert {r["probe"] for r in table} == {"grokking"}  # … and the grokking probe joins the default set
    assert all(is_declared(r["probe"], r["metric"]) for r in table)
    assert {r["value"] for r in table if r["metric"] == "key_frequency_step"} == {store.steps()[-1]}
    page, summary = report(store)
    assert page.exists() and any("memorises first" in line for line in summary)


# ---- the preset groks (slow: one full training run, shared with notebook 05) --------------------------------------
@pytest.mark.slow
def test_the_grokking_preset_memorises_then_generalises_with_nandas_progress_measures(grokking_run):
    """Memorisation before generalisation, test accuracy ≥ 0.99 at the end; just before generalisation the restricted
    loss (key frequencies only) is already below the test loss; the excluded loss on the train pairs rises."""
    from workbench import analyze, report

    table = analyze(grokking_run, progress=False)  # the default set: the induction probes skip this run, grokking runs
    assert {r["probe"] for r in table} == {"grokking"}
    m = grokking_measures(table, grokking_run.metrics())
    assert m.memorisation_step is not None and m.generalisation_step is not None
    assert m.memorisation_step < m.generalisation_step
    assert grokking_run.metrics()[-1]["eval/test_accuracy"] >= GROK_ACCURACY
    before = m.at["before_generalisation"]
    assert before["restricted_loss"] < before["test_loss"]
    first, peak = m.at["first"], m.at["excluded_peak"]
    assert peak["excluded_loss"] - first["excluded_loss"] >= EXCLUDED_MIN_RISE and peak["train_loss"] < first["train_loss"]
    assert m.key_frequency_steps == [grokking_run.steps()[-1]] and m.key_frequencies
    page, summary = report(grokking_run)
    assert page.exists() and summary[: len(m.claims)] == [c.sentence for c in m.claims]


def test_a_test_accuracy_one_evaluation_behind_train_is_no_memorisation_phase():
    """Issue 18 audit: test accuracy following train accuracy one evaluation behind was "memorises first"."""
    table = synthetic_table(True)
    train = {r["step"]: r["value"] for r in table if r["metric"] == "train_accuracy"}
    steps = sorted(train)
    behind = {s: (train[steps[i - 1]] if i else 0.0) for i, s in enumerate(steps)}
    table = [dict(r, value=behind[r["step"]]) if r["metric"] == "test_accuracy" else r for r in table]
    claims = {c.key: c for c in grokking_measures(table, [], control_table=NO_DECAY).claims}
    assert not claims["grokking/memorisation"].supported, claims["grokking/memorisation"].sentence
    assert {c.key: c for c in grokking_measures(synthetic_table(True), [], control_table=NO_DECAY).claims}[
        "grokking/memorisation"].supported

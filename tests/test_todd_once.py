"""Todd et al. 2024's AIE is computed once per checkpoint: the fv, fv_controls, writers and attribution probes of one
checkpoint share one computation (`function_vectors.todd_cie`), and the shared result equals a fresh one."""
from __future__ import annotations

import pytest
import torch

from circuits.model.transformer import initial_state_dict
from circuits.presets import preset
from probes.engine.checkpoint import Checkpoint
from probes.engine.inputs import ProbeInputs
from probes.measures import function_vectors
from probes.registry import get_probe


@pytest.mark.slow  # the writers probe alone takes ~25 s on an untrained fv model
@pytest.mark.parametrize("probes", [("fv", "fv_controls", "attribution", "writers")])
def test_the_aie_is_computed_once_per_checkpoint_and_equals_a_fresh_one(probes, monkeypatch):
    config = preset("fv")
    state = initial_state_dict(config.model)
    ckpt, inputs = Checkpoint.native(config, state), ProbeInputs.for_run(config)
    calls = []
    original = function_vectors.prompt_indirect_effects
    monkeypatch.setattr(function_vectors, "prompt_indirect_effects", lambda *a: calls.append(1) or original(*a))
    rows = {name: get_probe(name).run(ckpt, inputs) for name in probes}
    assert len(calls) == 1
    fresh = Checkpoint.native(config, state)
    from circuits.data.tasks import default_suite

    suite = default_suite()
    batch = function_vectors.TaskBatch.build(suite, function_vectors.FVSettings(), config.model.n_ctx,
                                             function_vectors.split_tasks(suite)[0])
    shared, recomputed = next(iter(ckpt.engine.memo.values()))[1], original(fresh.engine, batch, function_vectors.mean_head_activations(fresh.engine, batch))
    torch.testing.assert_close(shared, recomputed, atol=1e-6, rtol=0)
    aie = {(r["layer"], r["head"]): r["value"] for r in rows["fv"] if r["metric"] == "aie"}
    exact = {(r["layer"], r["head"]): r["value"] for r in rows["attribution"] if r["metric"] == "exact_aie"}
    assert aie.keys() == exact.keys() and max(abs(aie[k] - exact[k]) for k in aie) < 1e-6

import sys
from pathlib import Path

import pytest
import torch

from circuits.errors import WorkbenchError
from circuits.model.transformer import FastTransformer, token_losses
from probes.engine.inputs import ProbeInputs
from probes.engine.interventions import FastEngine
from probes.measures.ablation import ABLATIONS, ablated_losses, ablation_effects, head_set_mask, single_head_conditions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from ablation_speed import naive_effects, naive_losses  # noqa: E402 - the benchmark's per-head run_with_hooks loop


@pytest.fixture(scope="module")
def trained(tiny_run):
    step = tiny_run.steps()[-1]
    config = tiny_run.config()
    return tiny_run.load_bridge(step), FastEngine(FastTransformer(config.model, tiny_run.load_weights(step))), ProbeInputs.for_run(config).ablation


def test_batched_effects_equal_the_per_head_run_with_hooks_loop(trained):
    bridge, fast, inputs = trained
    ours = ablation_effects(fast, inputs, ABLATIONS)
    for kind in ABLATIONS:
        naive = naive_effects(bridge, inputs, kind)
        for name in ("loss", "icl_score", "repeat_loss"):
            torch.testing.assert_close(ours[kind][name], naive[name], atol=1e-5, rtol=0)


def test_multi_layer_head_sets_equal_hooks_on_every_ablated_layer(trained):
    bridge, fast, inputs = trained
    heads = [(0, 1), (1, 0)]
    mask = head_set_mask(heads, 2, 2)[None]
    ours = ablated_losses(fast, inputs.text, inputs.text_reference, mask, ("mean",))["mean"][0]
    _, cache = bridge.run_with_cache(inputs.text_reference, names_filter=lambda n: n.endswith("hook_z"))

    def hook_for(layer, head):
        mean = cache[f"blocks.{layer}.attn.hook_z"].mean(0, keepdim=True)

        def hook(z, hook):
            z = z.clone()
            z[:, :, head] = mean[:, :, head]
            return z

        return (f"blocks.{layer}.attn.hook_z", hook)

    with torch.no_grad():
        logits = bridge.run_with_hooks(inputs.text, fwd_hooks=[hook_for(*h) for h in heads])
    torch.testing.assert_close(ours, token_losses(logits, inputs.text), atol=1e-5, rtol=0)
    single = ablated_losses(fast, inputs.text, inputs.text_reference, head_set_mask([(1, 0)], 2, 2)[None], ("zero",))["zero"][0]
    torch.testing.assert_close(single, naive_losses(bridge, inputs.text, inputs.text_reference, 1, 0, "zero"), atol=1e-5, rtol=0)


def test_the_clean_condition_changes_nothing_and_each_head_condition_is_one_head(trained):
    _, fast, inputs = trained
    clean = torch.zeros(1, 2, 2, dtype=torch.bool)
    for kind, losses in ablated_losses(fast, inputs.text, inputs.text_reference, clean).items():
        torch.testing.assert_close(losses[0], token_losses(fast.logits(inputs.text), inputs.text), atol=1e-6, rtol=0, msg=kind)
    conds = single_head_conditions(3, 4)
    assert conds.shape == (12, 3, 4) and (conds.flatten(1).sum(1) == 1).all()
    assert [tuple(c.nonzero()[0].tolist()) for c in conds] == [(layer, head) for layer in range(3) for head in range(4)]


def test_bad_ablation_requests_fail_with_one_clear_error(trained):
    _, fast, inputs = trained
    with pytest.raises(WorkbenchError, match="unknown ablation 'gaussian'"):
        ablated_losses(fast, inputs.text, inputs.text_reference, single_head_conditions(2, 2), ("gaussian",))
    with pytest.raises(WorkbenchError, match="head 2.0 does not exist"):
        head_set_mask([(2, 0)], 2, 2)
    with pytest.raises(WorkbenchError, match="reference batch shape"):
        ablated_losses(fast, inputs.text, inputs.text_reference[:3], single_head_conditions(2, 2))

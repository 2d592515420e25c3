"""Cost of the `llc` probe per checkpoint, against one `attention` probe pass on the same checkpoint, one run.

    python bench/llc_speed.py [RUN] [--step S] [--threads 1] [--sampling-threads 1] [--repeats 1]

RUN defaults to checkpoints/attn-only-2l (train it with `icl-workbench train`); S defaults to its last checkpoint.
Timed, interleaved (attention, llc, attention, llc, …) so that load from other processes falls on both alike:
  attention  `probes.measures.attention.attention_probe` (the bridge is built once before timing, as a sweep reuses it)
  llc        `probes.measures.llc.llc_probe` at DEFAULT_SETTINGS (chains × (burn-in + draws) SGLD steps on FastTransformer),
             once with the native sampler (probes.measures.sgld) and once with devinterp 2.0.1's (the reference),
             sampling on --sampling-threads torch threads (`probes.measures.llc.SAMPLING_THREADS`; 0: --threads)
It prints the median seconds of each over --repeats, the ratio llc / attention, native / devinterp, the SGLD steps per second, and
λ̂ with its diagnostics (so a fast but broken estimate would show).
"""
from __future__ import annotations

import argparse

import torch
from ablation_speed import timed_paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default="checkpoints/attn-only-2l")
    parser.add_argument("--step", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sampling-threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from circuits.store.runs import RunStore
    from probes.engine.checkpoint import RunSource
    from probes.engine.inputs import ProbeInputs
    from probes.measures import llc
    from probes.measures.attention import attention_probe
    from probes.measures.llc import DEFAULT_SETTINGS, llc_probe

    llc.SAMPLING_THREADS = args.sampling_threads or None

    source = RunSource(RunStore(args.run))
    step = args.step if args.step is not None else source.steps()[-1]
    ckpt, inputs = source.load(step), ProbeInputs.for_run(source.config)
    ckpt.bridge  # noqa: B018 - build the bridge outside the timing
    from dataclasses import replace

    import datasets  # noqa: F401 - devinterp's imports (transformers, datasets) are paid once per process, untimed
    import devinterp.slt.sampling  # noqa: F401

    arms = {"native": replace(DEFAULT_SETTINGS, sampler="native"), "devinterp": replace(DEFAULT_SETTINGS, sampler="devinterp")}
    fns = {"attention": lambda: attention_probe(ckpt, inputs)}
    fns |= {f"llc {name}": (lambda s=s: llc_probe(ckpt, inputs, s)) for name, s in arms.items()}
    timed = timed_paths(fns, args.repeats)
    t_att = timed["attention"][0]
    s = DEFAULT_SETTINGS
    sgld_steps = s.chains * (s.burnin + s.draws)
    print(f"{args.run} step {step}, threads={args.threads}, sampling threads={args.sampling_threads or args.threads}, "
          f"median of {args.repeats} interleaved rounds; {s.chains} chains × {s.burnin}+{s.draws} steps, batch {s.batch_size}")
    print(f"attention probe pass   : {t_att:8.3f} s")
    for name in arms:
        seconds, rows = timed[f"llc {name}"]
        print(f"llc, {name:10s} sampler: {seconds:8.3f} s  {seconds / t_att:6.1f}x the attention pass  "
              f"{sgld_steps / seconds:6.1f} SGLD steps/s  " + _estimate(rows))
    ratio = timed["llc devinterp"][0] / timed["llc native"][0]
    print(f"native speed-up over devinterp: {ratio:.2f}x; whole run of {len(source.steps())} checkpoints ≈ "
          f"{len(source.steps()) * timed['llc native'][0] / 60:.1f} min (native, extrapolated from this checkpoint)")


def _estimate(rows: list[dict]) -> str:
    value = {r["metric"]: r["value"] for r in rows}
    se = value["std"] / value.get("chains", 4) ** 0.5
    return (f"λ̂ = {value['mean']:.3f} ± {value['std']:.3f} (se {se:.3f}), split-R̂ {value['rhat']:.3f}, drift "
            f"{value['drift']:.3f}, flags disagree/unsettled/diverged = "
            f"{int(value['disagree'])}/{int(value['unsettled'])}/{int(value['diverged'])}")

if __name__ == "__main__":
    main()

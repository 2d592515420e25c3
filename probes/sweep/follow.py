"""Live analysis: probe each checkpoint of a run as training writes it (`icl-workbench analyze --follow RUN`).

`follow(RUN)` polls the run directory, probes every complete checkpoint it has not probed yet with
`probes.sweep.runner.run_sweep` (cached per checkpoint and probe, so each (step, probe) is computed once), refreshes the
report, and stops when the run's final checkpoint (step `config.train.steps`) has been probed — or at the timeout, or
when no trainer is running and no checkpoint has arrived for `stall` seconds.

Why a reader cannot disturb training:
- it lists checkpoints with `RunStore.steps()`, which sees only complete checkpoints: the trainer writes each one in
  a hidden temp folder and renames it into place (`circuits.store.runs.RunStore.save_checkpoint`);
- it writes only under RUN/analysis/ and RUN/report.html, which the trainer never reads;
- it never takes the run's lock (`circuits.store.lock`): it only reads RUN/.lock to tell whether a trainer is alive.

Final-only probes (`ProbeSpec.final_only`, costly controls) run once, on the final checkpoint. The report needs
two probed checkpoints; before that the follower only probes.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from circuits.device import resolve_device
from circuits.errors import WorkbenchError
from circuits.store.files import CONFIG_FILE, LOCK_FILE, STATE_FILE
from circuits.store.lock import is_stale, read_lock
from circuits.store.runs import RunStore
from probes.engine.checkpoint import RunSource
from probes.registry import check_probe_names, default_probes, get_probe
from probes.report.display import in_kernel
from probes.report.page import write_report
from probes.report.plotly_adapter import mime_bundle
from probes.sweep.runner import probe_inputs, run_sweep
from probes.table import Row, select

logger = logging.getLogger(__name__)
UpdateHook = Callable[[int, list[Row]], None]
REPORT_PROBES = ("attention", "icl")  # what `probes.report.page.write_report` needs in the table


@dataclass(frozen=True)
class FollowResult:
    """How a follow ended. `status`: "complete" (final checkpoint probed), "timeout", or "trainer_gone" (no live
    trainer and no new checkpoint for `stall` seconds). `probed`: the steps probed, ascending; `timeline`: (step,
    wall-clock time its probes finished); `report`: RUN/report.html if it was written."""

    run: Path
    status: str
    probed: tuple[int, ...]
    final_step: int | None
    message: str
    report: Path | None = None
    timeline: tuple[tuple[int, float], ...] = ()

    @property
    def complete(self) -> bool:
        return self.status == "complete"


@dataclass
class _Progress:
    """What the loop carries between polls (mutable, private)."""

    probed: list[int]
    timeline: list[tuple[int, float]]
    report: Path | None = None
    last_news: float = 0.0  # monotonic time of the last new checkpoint (or of the start)
    report_problem: str | None = None  # why the last report refresh failed (logged once per distinct reason)


@dataclass(frozen=True)
class _Plan:
    """What to run on each checkpoint and when to stop (fixed for one follow)."""

    probes: tuple[str, ...]
    final: int
    device: torch.device
    start: float  # monotonic
    timeout: float | None
    report: bool
    progress: bool
    on_update: UpdateHook | None

    def expired(self) -> bool:
        return self.timeout is not None and time.monotonic() - self.start >= self.timeout


def follow(run_dir: str | Path, probes: Sequence[str] | None = None, *, timeout: float | None = None, poll: float = 1.0,
           report: bool = True, on_update: UpdateHook | None = None, device: str | torch.device = "cpu",
           stall: float = 60.0, trainer_alive: Callable[[], bool] | None = None, progress: bool = False,
           preload: bool = True) -> FollowResult:
    """Probe each checkpoint of `run_dir` as it appears, until the final one (step `config.train.steps`) is probed.

    `probes`: as `icl-workbench analyze` (default: `probes.registry.default_probes`). Checkpoints
    are probed one at a time, oldest first; after each, `on_update(step, table of every probed step)`. Once caught
    up with the trainer, RUN/report.html is rewritten (`report=True`; from 2 probed checkpoints on, and only when the
    probes include attention and icl). Waits for the run to appear (a follower may start before the trainer). Stops
    with status "timeout" after `timeout` seconds (checked after each checkpoint: the one being probed finishes and
    stays cached), or "trainer_gone" when the trainer is not alive (`trainer_alive()`, by default: a live process
    holds RUN/.lock) and no checkpoint has arrived for `stall` seconds. Never takes the lock; writes only
    RUN/analysis/ and RUN/report.html. `progress`: tqdm bars of the sweeps. `preload`: import TransformerLens first
    (`preload_bridge`; False when a trainer thread of this process may be importing it right now).
    """
    _check_limits(timeout, poll, stall)
    run, start, device = Path(run_dir), time.monotonic(), resolve_device(device)
    alive = trainer_alive or (lambda: lock_holder_alive(run))
    if preload:
        preload_bridge()
    store = _wait_for_run(run, start, timeout, poll, stall, alive)
    if isinstance(store, FollowResult):
        return store
    chosen = resolve_probes(store, probes)
    plan = _Plan(chosen, store.config().train.steps, device, start, timeout, report and _report_possible(chosen), progress, on_update)
    state = _Progress([], [], last_news=time.monotonic())
    while True:
        _catch_up(store, plan, state)
        if plan.final in state.probed:
            return _result(store, "complete", state, plan.final, f"probed all {len(state.probed)} checkpoints of {run}")
        if plan.expired():
            return _result(store, "timeout", state, plan.final, _waiting(run, state, plan.final, timeout))
        if not alive() and time.monotonic() - state.last_news >= stall and not _unprobed(store, state):  # rescan after alive()
            return _result(store, "trainer_gone", state, plan.final, _gone(run, state, plan.final, stall))
        time.sleep(_pause(poll, start, timeout))


def _check_limits(timeout: float | None, poll: float, stall: float) -> None:
    bad = [f"{name}={value!r}" for name, value, ok in (("timeout", timeout, timeout is None or timeout >= 0),
                                                      ("poll", poll, poll > 0), ("stall", stall, stall >= 0)) if not ok]
    if bad:
        raise WorkbenchError(f"follow needs timeout ≥ 0 (or none), poll > 0 and stall ≥ 0 seconds; got {', '.join(bad)}.")


def resolve_probes(store: RunStore, probes: Sequence[str] | None) -> tuple[str, ...]:
    """The probes a follow runs: `probes` as given (checked), or what `run_sweep` runs by default on this run
    (`probes.registry.default_probes`)."""
    if probes is not None:
        check_probe_names(tuple(probes))
        return tuple(probes)
    return default_probes(probe_inputs(RunSource(store)))


def lock_holder_alive(run_dir: str | Path) -> bool:
    """True while a trainer holds RUN/.lock: the lock exists and its process lives (or runs on another host, or
    is writing the lock right now — both counted alive, as `circuits.store.lock` counts them). Reads the lock only."""
    holder = read_lock(Path(run_dir) / LOCK_FILE)
    if holder is None:
        return False
    return not holder or not is_stale(holder)  # an empty holder: a lock being written right now


def _wait_for_run(run: Path, start: float, timeout: float | None, poll: float, stall: float,
                  alive: Callable[[], bool]) -> RunStore | FollowResult:
    """The run's store once RUN/config.json exists; a FollowResult if the timeout or the stall limit comes first."""
    announced = False
    while not (run / CONFIG_FILE).is_file():
        if not announced:
            logger.info("waiting for a run to appear at %s (no %s yet)", run, CONFIG_FILE)
            announced = True
        now = time.monotonic()
        if timeout is not None and now - start >= timeout:
            why = f"timed out after {timeout:g} s: no run appeared at {run} (no {CONFIG_FILE}); nothing was probed."
            return FollowResult(run, "timeout", (), None, why)
        if not alive() and now - start >= stall and not (run / CONFIG_FILE).is_file():  # re-checked after alive()
            why = (f"no run appeared at {run} within {stall:g} s and no trainer holds {run / LOCK_FILE}; nothing was "
                   f"probed — start training with `icl-workbench train --out {run}`, then follow again.")
            return FollowResult(run, "trainer_gone", (), None, why)
        time.sleep(_pause(poll, start, timeout))
    return RunStore(run)


def preload_bridge() -> None:
    """Import TransformerLens's bridge now (5–15 s on this machine) instead of at the first checkpoint.

    `follow` calls it before waiting for the run, so a follower started with the trainer pays the import while
    the trainer starts up. With a trainer in this process, call it before starting the trainer's thread (and pass
    `preload=False` to `follow` if it is already running): two threads importing TransformerLens at once fail with
    importlib's `_DeadlockError` (its package has import cycles)."""
    import transformer_lens.model_bridge  # noqa: F401


def _catch_up(store: RunStore, plan: _Plan, state: _Progress) -> None:
    """Probe every complete checkpoint not probed yet, oldest first, then refresh the report once."""
    todo = [s for s in store.steps() if s not in state.probed]
    for step in todo:
        _probe_step(store, step, plan, state)
        if plan.expired():
            break
    if todo and plan.report and len(state.probed) >= 2:
        _refresh_report(store, state)


def _probe_step(store: RunStore, step: int, plan: _Plan, state: _Progress) -> None:
    """Probe one checkpoint (final-only probes only on the final one) and tell `on_update`."""
    steps = sorted(state.probed + [step])
    chosen = plan.probes if step == plan.final else tuple(p for p in plan.probes if not get_probe(p).final_only)
    table = run_sweep(store, chosen, steps=steps, progress=plan.progress, device=plan.device)
    state.probed, state.last_news = steps, time.monotonic()
    state.timeline.append((step, time.time()))
    logger.info("probed step %d of %s (%d checkpoints so far, final step %d)", step, store.path, len(steps), plan.final)
    if plan.on_update is not None:
        plan.on_update(step, table)


def _refresh_report(store: RunStore, state: _Progress) -> None:
    """Rewrite RUN/report.html; a table the report cannot use (e.g. its probes were skipped as not applicable to
    this model) is logged once and probing goes on."""
    try:
        state.report = write_report(store)
    except WorkbenchError as exc:
        if str(exc) != state.report_problem:
            logger.warning("report not refreshed while following: %s", exc)
        state.report_problem = str(exc)


def _unprobed(store: RunStore, state: _Progress) -> bool:
    """Whether a complete checkpoint not yet probed is there (a trainer that just finished wrote its last one
    before it released its lock)."""
    return any(s not in state.probed for s in store.steps())


def _report_possible(probes: tuple[str, ...]) -> bool:
    missing = [p for p in REPORT_PROBES if p not in probes]
    if missing:
        logger.warning("the report is not refreshed while following: it needs the %s probe(s) (requested %s)",
                       " and ".join(missing), ", ".join(probes) or "none")
    return not missing


def _result(store: RunStore, status: str, state: _Progress, final: int, message: str) -> FollowResult:
    return FollowResult(store.path, status, tuple(state.probed), final, message, state.report, tuple(state.timeline))


def _so_far(run: Path, state: _Progress, final: int) -> str:
    steps = state.probed
    got = f"probed {len(steps)} checkpoints (steps {_span(steps)})" if steps else "probed no checkpoint"
    return f"{got} of {run}; the final step {final} was not reached"


def _waiting(run: Path, state: _Progress, final: int, timeout: float) -> str:
    return f"timed out after {timeout:g} s: {_so_far(run, state, final)}. Follow again to continue (probed steps are cached)."


def _gone(run: Path, state: _Progress, final: int, stall: float) -> str:
    last = state.probed[-1] if state.probed else "-"
    return (f"no trainer is running on {run} (no live process holds {LOCK_FILE}) and no checkpoint arrived for "
            f"{stall:g} s: {_so_far(run, state, final)} (the run stops at step {last}). Resume it with "
            f"`icl-workbench train --out {run}` (same config), then follow again.")


def _span(steps: list[int]) -> str:
    return ", ".join(map(str, steps)) if len(steps) <= 6 else f"{steps[0]}, {steps[1]}, …, {steps[-1]}"


def _pause(poll: float, start: float, timeout: float | None) -> float:
    """Sleep `poll` seconds, but not past the timeout."""
    if timeout is None:
        return poll
    return max(0.0, min(poll, start + timeout - time.monotonic()))


def checkpoint_written_at(store: RunStore, step: int) -> float:
    """Wall-clock time a checkpoint was completed: the mtime of its state.json, the last file the trainer writes
    before renaming the folder into place."""
    return (store.checkpoint_dir(step) / STATE_FILE).stat().st_mtime


def live_figure(metrics: list[dict], table: list[Row], final_step: int) -> go.Figure:
    """The follow view: held-out repeat loss (the trainer's evaluations up to the newest probed step) above the top
    content-controlled induction score (raw − control, `probes.measures.detectors`) of each probed checkpoint."""
    steps = sorted({r["step"] for r in table})
    newest = steps[-1] if steps else 0
    rows = [r for r in metrics if r["step"] <= newest and "eval/repeat_loss" in r]
    top: dict[int, float] = {}
    for points in select(table, "attention", "induction").values():
        for step, value in points:
            top[step] = max(value, top.get(step, value))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=("held-out repeat loss (nats, 2nd copy)", "top induction score (raw − control)"))
    fig.add_trace(go.Scatter(x=[r["step"] for r in rows], y=[r["eval/repeat_loss"] for r in rows], mode="lines",
                             name="repeat loss"), row=1, col=1)
    fig.add_trace(go.Scatter(x=sorted(top), y=[top[s] for s in sorted(top)], mode="lines+markers", name="top induction score"), row=2, col=1)
    fig.update_xaxes(range=[0, final_step], title_text="step", row=2, col=1)
    title = f"step {newest} of {final_step}, {len(steps)} checkpoints probed"
    return fig.update_layout(height=480, title=title, showlegend=False)


def show_live(fig: go.Figure, handle: Any = None) -> Any:
    """Show `fig` in a notebook as one output that later calls replace in place: the first call (no `handle`)
    displays it and returns an IPython display handle; pass that handle to update the same output. A saved or
    exported notebook keeps the last figure. A no-op returning None outside a notebook kernel.

    The output is the bundle `plotly.io.show` displays for the current renderer (under
    `probes.report.display.setup_notebook`: plotly's JSON for JupyterLab and an HTML div for exports, plotly.js embedded
    once in the notebook). `display(fig, display_id=True)` would not do: a plotly figure displays itself through
    `_ipython_display_`, which ignores the display id, and `fig._repr_mimebundle_()` embeds plotly.js again on
    every call. The bundle is the one `plotly.io.show` builds (`probes.report.plotly_adapter.mime_bundle`).
    """
    if not in_kernel():
        return None
    from IPython.display import display

    bundle = mime_bundle(fig)
    if handle is None:
        return display(bundle, raw=True, display_id=True)
    handle.update(bundle, raw=True)
    return handle

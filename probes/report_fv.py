"""The function-vector section of the HTML report: accuracies over training, AIE per head, the induction → FV
transition per head, FV injection by layer, and ablation of FV vs induction heads (Todd et al. 2024; Yin &
Steinhardt 2025)."""
from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go

from probes.fv_analysis import FV_INDUCTION_THRESHOLD, Transition, transition_analysis
from probes.suite import Row
from probes.sweep import select

ACCURACIES = {"few_shot_accuracy": "10-shot", "zero_shot_accuracy": "zero-shot", "shuffled_accuracy": "10-shot shuffled labels"}


def _model_series(table: list[Row], metric: str) -> list[tuple[int, float]]:
    return select(table, "fv", metric).get((None, None), [])


def _final(table: list[Row], metric: str) -> float:
    return _model_series(table, metric)[-1][1]


def fig_accuracy(table: list[Row], t: Transition) -> go.Figure:
    fig = go.Figure()
    for metric, label in ACCURACIES.items():
        points = _model_series(table, metric)
        fig.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], name=label, mode="lines+markers"))
    layer = int(_final(table, "fv_best_layer"))
    points = _model_series(table, f"fv_zero_shot_accuracy/L{layer}")
    fig.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], name=f"zero-shot + FV after layer {layer}", mode="lines+markers"))
    for step, label, color in ((t.induction_step, "induction heads", "orange"), (t.fv_step, "few-shot jump", "green")):
        if step is not None:
            fig.add_vline(x=step, line_dash="dash", line_color=color, annotation_text=f"{label} (step {step})")
    return fig.update_layout(height=420, title="Task accuracy over training (top-1 of yq, test queries of all 32 tasks)",
                             xaxis_title="step", yaxis_title="accuracy")


def fig_aie(table: list[Row]) -> go.Figure:
    fig = go.Figure()
    for (layer, head), points in sorted(select(table, "fv", "aie").items()):
        fig.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], name=f"head {layer}.{head}", mode="lines"))
    return fig.update_layout(height=420, title="Average indirect effect (Todd) per head over training", xaxis_title="step", yaxis_title="AIE (Δ P(yq))")


def fig_plane(t: Transition) -> go.Figure:
    fig = go.Figure()
    for label, points in t.trajectories.items():
        highlighted = label in {f"{l}.{h}" for l, h in t.fv_heads}
        fig.add_trace(go.Scatter(x=[i for _, i, _ in points], y=[a for _, _, a in points], mode="lines+markers", name=f"head {label}",
                                 text=[f"step {s}" for s, _, _ in points], opacity=1.0 if highlighted else 0.25,
                                 marker=dict(color=[s for s, _, _ in points], colorscale="Viridis", size=6 if highlighted else 3)))
    fig.add_vline(x=FV_INDUCTION_THRESHOLD, line_dash="dot", annotation_text="induction threshold")
    return fig.update_layout(height=500, title="Each head's path in the (induction score, AIE) plane; marker colour = step; final FV heads opaque",
                             xaxis_title="induction score", yaxis_title="AIE")


def fig_layers(table: list[Row]) -> go.Figure:
    layers = sorted(int(r["metric"].rsplit("L", 1)[1]) for r in table if r["probe"] == "fv" and r["metric"].startswith("fv_zero_shot_accuracy/L") and r["step"] == table[-1]["step"])
    fig = go.Figure()
    for kind in ("zero_shot", "shuffled"):
        fig.add_trace(go.Bar(x=[f"after layer {l}" for l in layers], y=[_final(table, f"fv_{kind}_accuracy/L{l}") for l in layers], name=f"{kind} + FV"))
        fig.add_hline(y=_final(table, f"no_fv_{kind}_accuracy"), line_dash="dash", annotation_text=f"{kind}, no FV")
    return fig.update_layout(height=380, barmode="group", title="FV injection by layer at the last checkpoint", yaxis_title="accuracy")


def fig_ablation(table: list[Row]) -> go.Figure:
    names = ("fv", "induction", "fv_excl", "induction_excl")
    few = [_final(table, f"ablate_{n}/few_shot_accuracy") for n in names]
    icl = [_final(table, f"ablate_{n}/icl_score_change") for n in names]
    fig = px.bar(x=[n.replace("_excl", " (with exclusion)") for n in names], y=few, labels=dict(x="mean-ablated top heads", y="10-shot accuracy"))
    fig.add_hline(y=_final(table, "few_shot_accuracy"), line_dash="dash", annotation_text="no ablation")
    fig.update_traces(text=[f"ICL score Δ {v:+.2f}" for v in icl], textposition="outside")
    return fig.update_layout(height=420, title="Few-shot accuracy after ablating the top FV vs top induction heads (last checkpoint)")


def fv_summary(table: list[Row], t: Transition) -> list[str]:
    layer = int(_final(table, "fv_best_layer"))
    fmt = lambda heads: ", ".join(f"{l}.{h}" for l, h in heads)  # noqa: E731
    earlier = "; ".join(f"{h}: AIE onset step {t.aie_onset[h]}, earlier induction score {v:.2f} at step {s}" for h, (v, s) in t.earlier_induction.items())
    return [
        f"Induction heads formed first (some head's induction score ≥ {FV_INDUCTION_THRESHOLD} from step {t.induction_step}); "
        f"few-shot task accuracy passed halfway to its final value at step {t.fv_step}.",
        f"Final FV heads (top-{len(t.fv_heads)} by AIE): {fmt(t.fv_heads)}; top induction heads: {fmt(t.induction_heads)}.",
        f"{t.fraction_were_induction:.0%} of the final FV heads had an induction score ≥ {FV_INDUCTION_THRESHOLD} at a checkpoint before "
        f"their AIE reached half its final value ({earlier}).",
        f"10-shot accuracy {_final(table, 'few_shot_accuracy'):.2f}, zero-shot {_final(table, 'zero_shot_accuracy'):.2f}. On the "
        f"{_final(table, 'evaluated_prompts'):.0f} test prompts answered correctly with 10 shots, adding the task's FV after layer {layer} "
        f"lifts zero-shot accuracy {_final(table, 'no_fv_zero_shot_accuracy'):.2f} → {_final(table, f'fv_zero_shot_accuracy/L{layer}'):.2f} "
        f"(another task's FV: {_final(table, 'other_task_fv_zero_shot_accuracy'):.2f}; FV from random heads: "
        f"{_final(table, 'random_heads_fv_zero_shot_accuracy'):.2f}).",
        f"Mean-ablating the top FV heads drops 10-shot accuracy to {_final(table, 'ablate_fv/few_shot_accuracy'):.2f} "
        f"({_final(table, 'ablate_fv_excl/few_shot_accuracy'):.2f} with exclusion); the top induction heads to "
        f"{_final(table, 'ablate_induction/few_shot_accuracy'):.2f} ({_final(table, 'ablate_induction_excl/few_shot_accuracy'):.2f} with exclusion).",
    ]


def fv_section(table: list[Row]) -> tuple[list[str], list[go.Figure], Transition]:
    t = transition_analysis(table)
    return fv_summary(table, t), [fig_accuracy(table, t), fig_aie(table), fig_plane(t), fig_layers(table), fig_ablation(table)], t

"""Figures of the step-by-step page and the Draw page's saliency; every word comes from the locale tables."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mnist_core.data import N_CLASSES
from mnist_core.training.step import LossCurve, ModePasses
from ui.i18n import t

SCORE_COLOR, PROBABILITY_COLOR, LOG_COLOR = "#7f7f7f", "#1f77b4", "#9467bd"
TRUE_COLOR = "#2ca02c"  # the image's true digit, wherever it is marked
GRADIENT_COLOR = "#d62728"
CURVE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
EVAL_COLOR = "#d62728"
BAR_ROW_HEIGHT = 22  # px per parameter tensor in the gradient-size chart
SALIENCY_OPACITY = 0.7  # the attribution over the digit: the ink stays visible beneath it


def _digits() -> list[str]:
    return [str(digit) for digit in range(N_CLASSES)]


def scores_figure(scores: list[float], probabilities: list[float], log_probabilities: list[float],
                  true_digit: int) -> go.Figure:
    """Three panels for one image: raw scores, softmax probabilities, log_softmax; the true digit in green."""
    figure = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=(
        t("step.scores_panel_raw"), t("step.scores_panel_softmax"), t("step.scores_panel_log")))
    for column, (values, color, text) in enumerate((
        (scores, SCORE_COLOR, "{:.2f}"), (probabilities, PROBABILITY_COLOR, "{:.3f}"), (log_probabilities, LOG_COLOR, "{:.2f}"),
    ), start=1):
        colors = [TRUE_COLOR if digit == true_digit else color for digit in range(N_CLASSES)]
        figure.add_trace(go.Bar(x=_digits(), y=values, marker_color=colors, showlegend=False,
                                text=[text.format(v) for v in values], textposition="outside", cliponaxis=False,
                                hovertemplate=t("step.scores_hover") + "<extra></extra>"), row=1, col=column)
    figure.update_xaxes(type="category", title_text=t("step.axis_digit"))
    figure.update_layout(height=340, margin=dict(t=50, b=40, l=40, r=20))
    return figure


def gradient_norms_figure(norms: list[tuple[str, float]], passes: int) -> go.Figure:
    """One horizontal bar per parameter tensor, in the network's order, its length the gradient's L2 norm."""
    names = [name for name, _ in norms]
    figure = go.Figure(go.Bar(
        x=[value for _, value in norms], y=names, orientation="h", marker_color=GRADIENT_COLOR,
        text=[f"{value:.3g}" for _, value in norms], textposition="outside", cliponaxis=False,
        hovertemplate=t("step.norm_hover") + "<extra></extra>",
    ))
    figure.update_layout(
        title=t("step.norms_title", passes=passes), height=BAR_ROW_HEIGHT * len(norms) + 110,
        xaxis_title=t("step.axis_norm"), yaxis=dict(autorange="reversed", type="category"),
        margin=dict(t=50, b=40, l=110, r=60),
    )
    return figure


def loss_curves_figure(curves: list[LossCurve]) -> go.Figure:
    figure = go.Figure()
    for index, curve in enumerate(curves):
        name = (t("step.curve_momentum", momentum=f"{curve.momentum:g}") if curve.momentum is not None
                else t("step.curve_recipe"))
        figure.add_trace(go.Scatter(
            x=list(range(1, len(curve.losses) + 1)), y=curve.losses, mode="lines", name=name,
            line=dict(color=CURVE_COLORS[index % len(CURVE_COLORS)], width=1.8),
            hovertemplate=t("step.curve_hover") + "<extra></extra>",
        ))
    figure.update_layout(
        title=t("step.curves_title"), height=380, yaxis_title=t("step.axis_loss"),
        xaxis=dict(title=t("step.axis_step"), tickformat="d", dtick=max(1, max(len(c.losses) for c in curves) // 10)
                   if curves else 1),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
        margin=dict(t=70, b=40, l=60, r=20),
    )
    return figure


def mode_figure(passes: ModePasses) -> go.Figure:
    """Each digit's probability over the passes: a box per digit for train() mode, eval()'s one value as a dash."""
    train = passes.train_probabilities.numpy()
    figure = go.Figure()
    for digit in range(N_CLASSES):
        figure.add_trace(go.Box(
            y=train[:, digit].tolist(), x=[str(digit)] * len(train), name=t("step.mode_train_series"),
            marker_color=PROBABILITY_COLOR, boxpoints="all", jitter=0.4, pointpos=0, showlegend=digit == 0,
            legendgroup="train", hovertemplate=t("step.mode_hover") + "<extra></extra>",
        ))
    figure.add_trace(go.Scatter(
        x=_digits(), y=passes.eval_probabilities[0].tolist(), mode="markers", name=t("step.mode_eval_series"),
        marker=dict(color=EVAL_COLOR, symbol="line-ew-open", size=26, line=dict(width=3)),
        hovertemplate=t("step.mode_hover") + "<extra></extra>",
    ))
    figure.update_layout(
        title=t("step.mode_title", passes=len(train)), height=380, xaxis=dict(title=t("step.axis_digit"), type="category"),
        yaxis=dict(title=t("step.axis_probability"), range=[0, 1.05]), boxmode="overlay",
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
        margin=dict(t=70, b=40, l=60, r=20),
    )
    return figure


def saliency_figure(ink: np.ndarray, maps: list[tuple[str, np.ndarray]], title: str) -> go.Figure:
    """Each attribution map over the 28 x 28 input: the ink in grey beneath, red pushes toward the digit, blue
    away. One colour scale for all panels, so their strengths compare."""
    limit = max(float(np.abs(values).max()) for _, values in maps) or 1.0
    figure = make_subplots(rows=1, cols=len(maps), subplot_titles=[title for title, _ in maps],
                           horizontal_spacing=0.04)
    for column, (_, values) in enumerate(maps, start=1):
        figure.add_trace(go.Heatmap(z=ink.tolist(), colorscale="gray_r", zmin=0, zmax=1, showscale=False,
                                    hoverinfo="skip"), row=1, col=column)
        figure.add_trace(go.Heatmap(
            z=values.tolist(), colorscale="RdBu_r", zmin=-limit, zmax=limit, opacity=SALIENCY_OPACITY,
            coloraxis=None, showscale=column == len(maps), colorbar=dict(title=dict(text=t("draw.saliency_colorbar"))),
            hovertemplate=t("draw.saliency_hover") + "<extra></extra>",
        ), row=1, col=column)
    figure.update_xaxes(visible=False, constrain="domain")
    for column in range(1, len(maps) + 1):  # square pixels: each panel's y follows its own x
        figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x" if column == 1 else f"x{column}",
                            constrain="domain", row=1, col=column)
    figure.update_layout(title=title, height=360, margin=dict(t=80, b=10, l=10, r=10))
    return figure

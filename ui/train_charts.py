"""Plotly figures of the training page; every word on them comes from the [train] locale section."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from mnist_core import History
from ui.i18n import t

TRAIN_COLOR = "#1f77b4"  # the seed's plot: blue train-loss line ...
TEST_COLOR = "#d62728"  # ... red test-loss dots
COMPARE_COLORS = ("#1f77b4", "#ff7f0e")
MISTAKE_COLOR = "#d62728"
CHART_HEIGHT = 380
GRID_COLUMNS = 6
TILE_HEIGHT = 130  # pixels per row of digit images


def _add_loss_traces(figure: go.Figure, history: History, name: str, color: str, test_color: str,
                     row: int | None = None, col: int | None = None) -> None:
    place = {} if row is None else {"row": row, "col": col}
    figure.add_trace(go.Scatter(
        x=history.train_counter, y=history.train_losses, mode="lines", line={"color": color, "width": 1.5},
        name=t("train.chart_train_loss") + name,
        hovertemplate=t("train.chart_hover_train") + "<extra></extra>",
    ), **place)
    figure.add_trace(go.Scatter(
        x=history.test_counter, y=history.test_losses, mode="markers",
        marker={"color": test_color, "size": 9, "line": {"color": "white", "width": 1}},
        name=t("train.chart_test_loss") + name,
        hovertemplate=t("train.chart_hover_test") + "<extra></extra>",
    ), **place)


def training_figure(history: History) -> go.Figure:
    """The seed's result plot (train loss vs examples seen, test loss per epoch) beside test accuracy."""
    figure = make_subplots(rows=1, cols=2, column_widths=[0.68, 0.32], horizontal_spacing=0.09,
                           subplot_titles=(t("train.chart_loss_title"), t("train.chart_accuracy_title")))
    _add_loss_traces(figure, history, "", TRAIN_COLOR, TEST_COLOR, row=1, col=1)
    for examples in history.resume_points:
        figure.add_vline(x=examples, line={"dash": "dash", "color": "#7f7f7f"}, row=1, col=1,
                         annotation_text=t("train.chart_resumed"), annotation_position="top left")
    epochs = list(range(len(history.test_accuracy)))
    figure.add_trace(go.Scatter(
        x=epochs, y=[100 * a for a in history.test_accuracy], mode="lines+markers+text",
        text=[f"{100 * a:.1f}%" for a in history.test_accuracy], textposition="top center",
        line={"color": TEST_COLOR}, name=t("train.chart_accuracy"), showlegend=False,
        hovertemplate=t("train.chart_hover_accuracy") + "<extra></extra>",
    ), row=1, col=2)
    figure.update_xaxes(title_text=t("train.chart_examples_axis"), row=1, col=1)
    figure.update_yaxes(title_text=t("train.chart_loss_axis"), rangemode="tozero", row=1, col=1)
    figure.update_xaxes(title_text=t("train.chart_epoch_axis"), dtick=1, row=1, col=2)
    figure.update_yaxes(title_text=t("train.chart_accuracy_axis"), range=[0, 105], row=1, col=2)
    figure.update_layout(height=CHART_HEIGHT, margin={"t": 40, "b": 40, "l": 60, "r": 20},
                         legend={"orientation": "h", "y": -0.2}, hovermode="closest")
    return figure


def comparison_figure(runs: list[tuple[str, History]]) -> go.Figure:
    """Two (or more) runs' loss curves on one pair of axes."""
    figure = go.Figure()
    for (name, history), color in zip(runs, COMPARE_COLORS * len(runs)):
        _add_loss_traces(figure, history, f" · {name}", color, color)
    figure.update_layout(
        height=CHART_HEIGHT, margin={"t": 40, "b": 40, "l": 60, "r": 20}, title=t("train.compare_chart_title"),
        xaxis_title=t("train.chart_examples_axis"), yaxis_title=t("train.chart_loss_axis"),
        legend={"orientation": "h", "y": -0.25},
    )
    figure.update_yaxes(rangemode="tozero")
    return figure


def digit_grid_figure(pixels: torch.Tensor, labels: torch.Tensor, predicted: torch.Tensor,
                      titled: bool = True) -> go.Figure:
    """Test images titled "Prediction: N" as in the seed; wrong ones titled in red with the true digit.

    titled=False for a gallery whose images share one (true, predicted) pair named above it.
    """
    count = len(pixels)
    rows = max(1, -(-count // GRID_COLUMNS))
    titles = []
    for label, guess in zip(labels.tolist(), predicted.tolist()):
        if not titled:
            titles.append("")
        elif label == guess:
            titles.append(t("train.grid_prediction", digit=guess))
        else:
            titles.append(f"<span style='color:{MISTAKE_COLOR}'>{t('train.grid_wrong', digit=guess, truth=label)}</span>")
    figure = make_subplots(rows=rows, cols=GRID_COLUMNS, subplot_titles=titles,
                           horizontal_spacing=0.02, vertical_spacing=0.25 / rows)
    for index, image in enumerate(pixels):
        figure.add_trace(go.Heatmap(
            z=image.flip(0).tolist(), colorscale="gray_r", zmin=0, zmax=255, showscale=False,
            hovertemplate=t("train.grid_hover") + "<extra></extra>",
        ), row=index // GRID_COLUMNS + 1, col=index % GRID_COLUMNS + 1)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, scaleanchor="x", constrain="domain")
    figure.update_layout(height=TILE_HEIGHT * rows + 40, margin={"t": 30, "b": 10, "l": 10, "r": 10})
    for annotation in figure.layout.annotations:
        annotation.font.size = 12
    return figure


def confusion_figure(matrix: torch.Tensor) -> go.Figure:
    """Counts as a heat map; an invisible marker on every cell lets a click select it."""
    n_classes = matrix.shape[0]
    digits = list(range(n_classes))
    counts = matrix.tolist()
    figure = go.Figure(go.Heatmap(
        z=counts, x=digits, y=digits, colorscale="Blues", text=counts, texttemplate="%{text}",
        colorbar={"title": t("train.confusion_count")}, hoverinfo="skip",
    ))
    cells = [(true, guess) for true in digits for guess in digits]
    figure.add_trace(go.Scatter(
        x=[guess for _, guess in cells], y=[true for true, _ in cells], mode="markers",
        marker={"size": 28, "symbol": "square", "opacity": 0.01, "color": "#000000"},
        customdata=[[true, guess, counts[true][guess]] for true, guess in cells],
        hovertemplate=t("train.confusion_hover") + "<extra></extra>", showlegend=False,
    ))
    edges = [-0.5, n_classes - 0.5]  # the cells, not the selection markers, set the axes
    figure.update_xaxes(title_text=t("train.confusion_predicted_axis"), dtick=1, side="top", range=edges,
                        constrain="domain")
    figure.update_yaxes(title_text=t("train.confusion_true_axis"), dtick=1, range=edges[::-1], scaleanchor="x",
                        constrain="domain")
    figure.update_layout(height=480, margin={"t": 60, "b": 20, "l": 60, "r": 20}, clickmode="event+select")
    return figure


def per_class_figure(accuracy: torch.Tensor) -> go.Figure:
    values = [100 * a for a in accuracy.tolist()]
    figure = go.Figure(go.Bar(
        x=list(range(len(values))), y=values, text=[f"{v:.0f}%" for v in values], textposition="outside",
        marker={"color": TRAIN_COLOR}, hovertemplate=t("train.per_class_hover") + "<extra></extra>",
    ))
    figure.update_layout(
        height=320, margin={"t": 40, "b": 40, "l": 60, "r": 20}, title=t("train.per_class_title"),
        xaxis={"title": t("train.per_class_digit_axis"), "dtick": 1},
        yaxis={"title": t("train.chart_accuracy_axis"), "range": [0, 110]},
    )
    return figure

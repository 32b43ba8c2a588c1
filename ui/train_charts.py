"""Plotly figures of the training page; every word on them comes from the [train] locale section."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from mnist_core import History
from mnist_core.training.history import downsample_min_max
from ui.i18n import t

TRAIN_COLOR = "#1f77b4"  # the tutorial's plot: blue train-loss line ...
TEST_COLOR = "#d62728"  # ... red test-loss dots
COMPARE_COLORS = ("#1f77b4", "#ff7f0e")
COMPARE_LEGEND_HEIGHT = 60  # pixels: the legend names every run's three series under the plots
MISTAKE_COLOR = "#d62728"
CHART_HEIGHT = 380
GRID_COLUMNS = 6
TILE_HEIGHT = 130  # pixels per row of digit images
GRID_SPACING = 0.02  # between digit tiles, as a fraction of the figure's width
GRID_ROW_SPACING = 0.25  # between rows of tiles in all, as a fraction of the figure's height
# Train-loss points sent per curve: about the pixels across a wide chart, twice over (a bucket's low and
# high). Batch size 1 logged every batch gives 60,000 points an epoch; all of them, twice a second, would
# cost the server and the browser far more than they show.
MAX_CURVE_POINTS = 5_000
PERCENT_DECIMALS = 0  # a confusion cell's percentage: whole percents fit a 28 px cell; the hover gives one decimal


def _loss_traces(history: History, name: str, color: str, test_color: str) -> list[go.Scatter]:
    """The tutorial's two series: train loss as a line (at most MAX_CURVE_POINTS, spikes kept), test loss as dots."""
    examples, losses = downsample_min_max(np.asarray(history.train_counter), np.asarray(history.train_losses),
                                          MAX_CURVE_POINTS)
    return [
        go.Scatter(
            # Lists, not arrays: Plotly would send arrays in its binary form, and the browser tests read el.data's x.
            x=examples.tolist(), y=losses.tolist(), mode="lines", line={"color": color, "width": 1.5},
            name=t("train.chart_train_loss") + name,
            hovertemplate=t("train.chart_hover_train") + "<extra></extra>",
        ),
        go.Scatter(
            x=list(history.test_counter), y=list(history.test_losses), mode="markers",
            marker={"color": test_color, "size": 9, "line": {"color": "white", "width": 1}},
            name=t("train.chart_test_loss") + name,
            hovertemplate=t("train.chart_hover_test") + "<extra></extra>",
        ),
    ]


LOSS_DOMAIN = [0.0, 0.62]  # fractions of the plotting area's width: the loss plot gets about two thirds
ACCURACY_DOMAIN = [0.71, 1.0]
RESUME_COLOR = "#7f7f7f"
STOPPED_LABEL_Y = 0.9  # fraction of the loss plot's height: under a "resumed" label at the same place


def _subplot_title(text: str, domain: list[float]) -> dict:
    return {"text": text, "x": sum(domain) / 2, "xref": "paper", "y": 1.0, "yref": "paper",
            "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 16}}


def _loss_and_accuracy_axes(extra_annotations: list[dict] = ()) -> dict:
    """Layout of the two panels: loss against examples seen, test accuracy against epochs beside it."""
    return {
        # nonnegative: with one point (the test before training) Plotly would centre it on -1 to 1.
        "xaxis": {"domain": LOSS_DOMAIN, "anchor": "y", "rangemode": "nonnegative",
                  "title": {"text": t("train.chart_examples_axis")}},
        "yaxis": {"anchor": "x", "title": {"text": t("train.chart_loss_axis")}, "rangemode": "tozero"},
        "xaxis2": {"domain": ACCURACY_DOMAIN, "anchor": "y2", "dtick": 1, "rangemode": "nonnegative",
                   "title": {"text": t("train.chart_epoch_axis")}},
        "yaxis2": {"anchor": "x2", "range": [0, 105], "title": {"text": t("train.chart_accuracy_axis")}},
        "annotations": [_subplot_title(t("train.chart_loss_title"), LOSS_DOMAIN),
                        _subplot_title(t("train.chart_accuracy_title"), ACCURACY_DOMAIN), *extra_annotations],
    }


def training_figure(history: History) -> go.Figure:
    """The tutorial's result plot (train loss vs examples seen, test loss per epoch) beside test accuracy.

    Built as one layout dict rather than with make_subplots and update_* calls: those cost about
    20 ms of CPU per figure, which the live view pays twice a second beside a training job.
    """
    accuracy = go.Scatter(
        x=list(range(len(history.test_accuracy))), y=[100 * a for a in history.test_accuracy],
        mode="lines+markers+text", text=[f"{100 * a:.1f}%" for a in history.test_accuracy],
        textposition="top center", line={"color": TEST_COLOR}, name=t("train.chart_accuracy"), showlegend=False,
        cliponaxis=False,  # epoch 0 sits on the axis's left edge: draw its dot and label whole
        hovertemplate=t("train.chart_hover_accuracy") + "<extra></extra>", xaxis="x2", yaxis="y2",
    )
    # A dashed line where each continued run began, labelled at the top of the loss plot.
    resume_lines = [{"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain",
                     "line": {"dash": "dash", "color": RESUME_COLOR}} for x in history.resume_points]
    resume_labels = [{"text": t("train.chart_resumed"), "x": x, "xref": "x", "y": 1, "yref": "y domain",
                      "xanchor": "right", "yanchor": "top", "showarrow": False} for x in history.resume_points]
    # A dotted line where the run stopped inside an epoch that no test has closed yet: that epoch is partial.
    partial = history.partial_epoch()
    stopped_at = [history.stop_points[-1]] if partial is not None else []
    resume_lines += [{"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain",
                      "line": {"dash": "dot", "color": RESUME_COLOR}} for x in stopped_at]
    resume_labels += [{"text": t("train.chart_stopped", epoch=partial[0]), "x": x, "xref": "x", "y": STOPPED_LABEL_Y,
                       "yref": "y domain", "xanchor": "right", "yanchor": "top", "showarrow": False} for x in stopped_at]
    return go.Figure(
        data=[*_loss_traces(history, "", TRAIN_COLOR, TEST_COLOR), accuracy],
        layout={
            **_loss_and_accuracy_axes(extra_annotations=resume_labels),
            "shapes": resume_lines,
            "height": CHART_HEIGHT, "margin": {"t": 40, "b": 40, "l": 60, "r": 20},
            "legend": {"orientation": "h", "y": -0.2}, "hovermode": "closest",
        },
    )


def comparison_figure(runs: list[tuple[str, History]]) -> go.Figure:
    """Runs' loss curves on one pair of axes, and their test accuracy per epoch beside them."""
    colors = COMPARE_COLORS * len(runs)
    accuracy = [
        go.Scatter(x=list(range(len(history.test_accuracy))), y=[100 * a for a in history.test_accuracy],
                   mode="lines+markers", line={"color": color}, name=t("train.chart_accuracy") + f" · {name}",
                   hovertemplate=t("train.chart_hover_accuracy") + "<extra></extra>", xaxis="x2", yaxis="y2")
        for (name, history), color in zip(runs, colors)
    ]
    losses = [trace for (name, history), color in zip(runs, colors)
              for trace in _loss_traces(history, f" · {name}", color, color)]
    return go.Figure(
        data=[*losses, *accuracy],
        layout={
            **_loss_and_accuracy_axes(),
            "title": {"text": t("lab.compare_chart_title")},
            "height": CHART_HEIGHT + COMPARE_LEGEND_HEIGHT, "margin": {"t": 70, "b": 40, "l": 60, "r": 20},
            "legend": {"orientation": "h", "y": -0.25}, "hovermode": "closest",
        },
    )


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
    # One layout dict, as in training_figure: make_subplots and add_trace(row=, col=) cost about 0.3 s of
    # server CPU for 12 tiles and 0.6 s for 24 on a busy 2-core machine, paid by every full run of the page.
    tile_width = (1 - GRID_SPACING * (GRID_COLUMNS - 1)) / GRID_COLUMNS  # fractions of the figure
    row_spacing = GRID_ROW_SPACING / rows
    tile_height = (1 - row_spacing * (rows - 1)) / rows
    hover = t("train.grid_hover") + "<extra></extra>"
    traces, layout, annotations = [], {}, []
    for index, (image, title) in enumerate(zip(pixels, titles)):
        row, column = divmod(index, GRID_COLUMNS)
        axis = "" if index == 0 else str(index + 1)
        left, top = column * (tile_width + GRID_SPACING), 1 - row * (tile_height + row_spacing)
        layout[f"xaxis{axis}"] = {"domain": [left, left + tile_width], "anchor": f"y{axis}", "visible": False}
        layout[f"yaxis{axis}"] = {"domain": [top - tile_height, top], "anchor": f"x{axis}", "visible": False,
                                  "scaleanchor": f"x{axis}", "constrain": "domain"}
        traces.append(go.Heatmap(z=image.flip(0).cpu().numpy(), colorscale="gray_r", zmin=0, zmax=255, showscale=False,
                                 hovertemplate=hover, xaxis=f"x{axis}", yaxis=f"y{axis}"))
        if title:
            annotations.append({"text": title, "x": left + tile_width / 2, "xref": "paper", "y": top, "yref": "paper",
                                "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 12}})
    return go.Figure(data=traces, layout={**layout, "annotations": annotations, "height": TILE_HEIGHT * rows + 40,
                                          "margin": {"t": 30, "b": 10, "l": 10, "r": 10}})


def confusion_figure(matrix: torch.Tensor, percentages: torch.Tensor | None = None) -> go.Figure:
    """Counts as a heat map, or each row's percentages (row_percentages) when given, so a rare digit's mistakes
    show as strongly as a common one's; an invisible marker on every cell lets a click select it."""
    n_classes = matrix.shape[0]
    digits = list(range(n_classes))
    counts = matrix.tolist()
    if percentages is None:
        shown, text, colour_title, hover = counts, counts, t("train.confusion_count"), t("train.confusion_hover")
        share = [[0.0] * n_classes for _ in digits]
    else:
        share = percentages.tolist()
        shown, colour_title, hover = share, t("train.confusion_percent"), t("train.confusion_hover_percent")
        text = [[f"{value:.{PERCENT_DECIMALS}f}%" for value in row] for row in share]
    figure = go.Figure(go.Heatmap(
        z=shown, x=digits, y=digits, colorscale="Blues", text=text, texttemplate="%{text}",
        colorbar={"title": colour_title}, hoverinfo="skip", zmin=0, zmax=100 if percentages is not None else None,
    ))
    cells = [(true, guess) for true in digits for guess in digits]
    figure.add_trace(go.Scatter(
        x=[guess for _, guess in cells], y=[true for true, _ in cells], mode="markers",
        marker={"size": 28, "symbol": "square", "opacity": 0.01, "color": "#000000"},
        customdata=[[true, guess, counts[true][guess], share[true][guess]] for true, guess in cells],
        hovertemplate=hover + "<extra></extra>", showlegend=False,
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

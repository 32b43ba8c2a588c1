"""Drawings for the shape page: the formula in LaTeX and the sliding window over the padded input."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mnist_core.network.shapes import OutputSizeSteps, ShapeError
from ui.i18n import t

MAX_PICTURE_CELLS = 64  # padded side above which the grid is too fine to read

# Cell kinds in the picture, drawn in this order of colour
PADDING, INPUT, DROPPED, HOLE, TAP = range(5)
KIND_COLOURS = {
    PADDING: "#d9d9d9",  # zeros added around the input
    INPUT: "#cfe2f3",
    DROPPED: "#f4b6b6",  # input no window ever reads: the floor dropped it
    HOLE: "#fff2cc",  # inside the window's span, skipped by dilation
    TAP: "#e69138",  # multiplied by a kernel weight at this position
}
KIND_KEYS = {
    PADDING: "shapes.cell_padding", INPUT: "shapes.cell_input", DROPPED: "shapes.cell_dropped",
    HOLE: "shapes.cell_hole", TAP: "shapes.cell_tap",
}
OUTPUT_COLOURS = ("#eeeeee", "#e69138")  # other output cells, the one being computed


def _number(value: float) -> tuple[str, str]:
    """(relation, text): "=" and a short decimal when that is exact, else "\\approx" and 3 decimals."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return ("=" if float(text) == value else r"\approx"), text


def formula_latex(steps: OutputSizeSteps) -> str:
    """The output-size formula, then the learner's numbers, down to the result, one line per step."""
    left, right = (r"\left\lceil", r"\right\rceil") if steps.ceil_mode else (r"\left\lfloor", r"\right\rfloor")
    n, f, p, s, d = steps.n, steps.f, steps.p, steps.s, steps.d
    if d == 1:
        general = r"\frac{n + 2p - f}{s}"
        substituted = rf"\frac{{{n} + 2 \cdot {p} - {f}}}{{{s}}}"
    else:
        general = r"\frac{n + 2p - d(f - 1) - 1}{s}"
        substituted = rf"\frac{{{n} + 2 \cdot {p} - {d} \cdot ({f} - 1) - 1}}{{{s}}}"
    relation, quotient = _number(steps.quotient)
    lines = [
        rf"o &= {left} {general} {right} + 1",
        rf"&= {left} {substituted} {right} + 1",
        rf"&= {left} \frac{{{steps.numerator}}}{{{s}}} {right} + 1",
        rf"&{relation} {left} {quotient} {right} + 1",
        rf"&= {steps.rounded} + 1 = {steps.rounded + 1}",
    ]
    if steps.last_window_removed:
        lines.append(rf"&\to {steps.rounded + 1} - 1 = {steps.result}")
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def output_positions(steps: OutputSizeSteps) -> int:
    return steps.result * steps.result


def cell_kinds(steps: OutputSizeSteps, row: int, col: int) -> np.ndarray:
    """Kind of every padded input cell (PADDING, INPUT, ...) with the kernel at output cell (row, col)."""
    size, p = steps.padded, steps.p
    kinds = np.full((size, size), PADDING)
    kinds[p:p + steps.n, p:p + steps.n] = INPUT
    last_read = (steps.result - 1) * steps.s + steps.span  # first padded index no window reaches
    if last_read < p + steps.n:
        kinds[p:p + steps.n, last_read:p + steps.n] = DROPPED
        kinds[last_read:p + steps.n, p:p + steps.n] = DROPPED
    top, left = row * steps.s, col * steps.s
    kinds[top:top + steps.span, left:left + steps.span] = HOLE
    taps = np.arange(steps.f) * steps.d
    tap_rows, tap_cols = top + taps[taps + top < size], left + taps[taps + left < size]
    kinds[np.ix_(tap_rows, tap_cols)] = TAP
    return kinds


def sliding_window_figure(steps: OutputSizeSteps, position: int) -> go.Figure:
    """The padded input with the kernel at output position `position` (row-major, from 0), and the output grid."""
    row, col = divmod(position, steps.result)
    kinds = cell_kinds(steps, row, col)
    size = steps.padded
    colourscale = []
    for kind, colour in KIND_COLOURS.items():  # one flat band per kind on a 0..4 scale
        colourscale += [[kind / len(KIND_COLOURS), colour], [(kind + 1) / len(KIND_COLOURS), colour]]
    names = {kind: t(key) for kind, key in KIND_KEYS.items()}
    hover = np.vectorize(names.get)(kinds)

    figure = make_subplots(
        rows=1, cols=2, column_widths=[0.66, 0.34], horizontal_spacing=0.08,
        subplot_titles=(
            t("shapes.picture_input_title", size=size, n=steps.n, p=steps.p),
            t("shapes.picture_output_title", o=steps.result, row=row, col=col),
        ),
    )
    figure.add_trace(
        go.Heatmap(
            z=kinds, zmin=0, zmax=len(KIND_COLOURS), colorscale=colourscale, showscale=False, xgap=1, ygap=1,
            customdata=hover, hovertemplate=t("shapes.picture_hover") + "<extra></extra>",
        ),
        row=1, col=1,
    )
    output = np.zeros((steps.result, steps.result))
    output[row, col] = 1
    figure.add_trace(
        go.Heatmap(
            z=output, zmin=0, zmax=1, colorscale=[[0, OUTPUT_COLOURS[0]], [1, OUTPUT_COLOURS[1]]], showscale=False,
            xgap=1, ygap=1, hovertemplate=t("shapes.picture_hover_output") + "<extra></extra>",
        ),
        row=1, col=2,
    )
    top, left = row * steps.s, col * steps.s
    window = dict(type="rect", xref="x", yref="y", line=dict(color="#7f3f00", width=3))
    figure.add_shape(window, x0=left - 0.5, x1=left + steps.span - 0.5, y0=top - 0.5, y1=top + steps.span - 0.5)
    if col > 0:  # the previous position along the row: the gap between the two outlines is the stride
        figure.add_shape(
            window | dict(line=dict(color="#7f3f00", width=2, dash="dot")),
            x0=left - steps.s - 0.5, x1=left - steps.s + steps.span - 0.5,
            y0=top - 0.5, y1=top + steps.span - 0.5,
        )
        figure.add_annotation(
            x=left - steps.s / 2 - 0.5, y=top + steps.span - 0.5, xref="x", yref="y", yshift=-12, showarrow=False,
            text=t("shapes.picture_stride", s=steps.s), font=dict(color="#7f3f00"),
        )
    for kind, colour in KIND_COLOURS.items():  # legend entries; the heat map itself has none
        figure.add_trace(
            go.Scatter(x=[None], y=[None], mode="markers", name=names[kind],
                       marker=dict(symbol="square", size=12, color=colour, line=dict(color="#888", width=1))),
            row=1, col=1,
        )
    overhang = max(0, left + steps.span - size, top + steps.span - size)  # ceil mode: a window past the edge
    figure.update_xaxes(range=[-0.5, size + overhang - 0.5], row=1, col=1)
    figure.update_yaxes(range=[size + overhang - 0.5, -0.5], row=1, col=1, scaleanchor="x", constrain="domain")
    figure.update_yaxes(autorange="reversed", row=1, col=2, scaleanchor="x2", constrain="domain")
    figure.update_xaxes(showgrid=False, zeroline=False, showticklabels=size <= 32)
    figure.update_yaxes(showgrid=False, zeroline=False, showticklabels=size <= 32)
    figure.update_layout(
        height=520, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="#ffffff",
        legend=dict(orientation="h", yanchor="top", y=-0.02, x=0),
    )
    return figure


def rule_text(error: ShapeError) -> str:
    """The broken rule in the session's language, with the numbers that break it."""
    values = error.values
    dilated = values.get("span", values.get("kernel")) != values.get("kernel")
    return t(f"shapes.rule_{error.rule}{'_dilated' if dilated else ''}", **values)

"""Pictures for the drawing page. Every label goes through t(); the data arrive as numpy arrays."""

from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from PIL import Image, ImageOps

from mnist_core.data import N_CLASSES
from ui.i18n import t

STEP_IMAGE_SIDE = 140  # px: each preparation step is drawn in a box this size, pixels kept square
STEP_FRAME_PX = 2  # a grey line round each step's picture: white ink at a crop's edge would melt into the page
STEP_FRAME_COLOR = (128, 128, 128, 255)  # mid grey: seen against the black background, the white ink and the page
MAPS_PER_ROW = 10
PREPARED_COLOR, NAIVE_COLOR = "#1f77b4", "#ff7f0e"


def enlarged(ink: np.ndarray, side: int = STEP_IMAGE_SIDE) -> Image.Image:
    """An ink map as white-on-black pixels (MNIST's look), its longer side ``side`` px, no smoothing."""
    height, width = ink.shape
    factor = side / max(height, width)
    pixels = Image.fromarray(np.round(np.clip(ink, 0.0, 1.0) * 255).astype(np.uint8))
    return pixels.resize((max(1, round(width * factor)), max(1, round(height * factor))), Image.Resampling.NEAREST)


def step_picture(ink: np.ndarray, side: int = STEP_IMAGE_SIDE) -> Image.Image:
    """enlarged(ink), framed, in a transparent side x side square: every step the same size on the page."""
    framed = ImageOps.expand(enlarged(ink, side - 2 * STEP_FRAME_PX).convert("RGBA"), border=STEP_FRAME_PX,
                             fill=STEP_FRAME_COLOR)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(framed, ((side - framed.width) // 2, (side - framed.height) // 2))
    return square


def probability_figure(probabilities: np.ndarray, naive_probabilities: np.ndarray | None = None) -> go.Figure:
    """The ten class probabilities as bars; with a naive-resize reading, both side by side."""
    digits = [str(digit) for digit in range(N_CLASSES)]
    readings = [(t("draw.series_prepared"), probabilities, PREPARED_COLOR)]
    if naive_probabilities is not None:
        readings.append((t("draw.series_naive"), naive_probabilities, NAIVE_COLOR))
    figure = go.Figure(
        [
            go.Bar(
                name=name, x=digits, y=[float(p) for p in values], marker_color=color,
                text=[f"{p:.0%}" if p >= 0.01 else "" for p in values], textposition="outside",
                hovertemplate=t("draw.bar_hover") + "<extra></extra>",
            )
            for name, values, color in readings
        ]
    )
    figure.update_layout(
        title=t("draw.probabilities_title"),
        barmode="group",
        showlegend=naive_probabilities is not None,
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
        xaxis=dict(title=t("draw.axis_digit"), type="category"),
        yaxis=dict(title=t("draw.axis_probability"), range=[0, 1.1], tickformat=".0%"),
        height=360,
        margin=dict(t=60, b=40, l=60, r=20),
    )
    return figure


def maps_figure(maps: np.ndarray, title: str, label_key: str, height: int) -> go.Figure:
    """A grid of 2-D maps (N x H x W) on one diverging colour scale: red responds, blue is suppressed."""
    limit = float(np.abs(maps).max()) or 1.0
    figure = px.imshow(
        maps, facet_col=0, facet_col_wrap=min(MAPS_PER_ROW, len(maps)), facet_col_spacing=0.01,
        facet_row_spacing=0.06, color_continuous_scale="RdBu_r", zmin=-limit, zmax=limit,
    )
    figure.for_each_annotation(lambda note: note.update(text=t(label_key, number=int(note.text.split("=")[1]) + 1)))
    figure.update_xaxes(showticklabels=False)
    figure.update_yaxes(showticklabels=False)
    figure.update_traces(hovertemplate=t("draw.map_hover") + "<extra></extra>")
    figure.update_layout(
        title=title, height=height, margin=dict(t=70, b=10, l=10, r=10),
        coloraxis_colorbar=dict(title=dict(text=t("draw.map_colorbar"))),
    )
    return figure

"""Figures for the dataset page. Every label goes through t(); the data arrive as plain tensors and lists."""

from __future__ import annotations

from typing import NamedTuple

import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image

from mnist_core.data import IMAGE_SIZE, N_CLASSES
from ui.i18n import t

THUMBNAIL_SCALE = 3  # 28 px digits drawn at 84 px, nearest-neighbour, so pixels stay visible
SPLIT_COLORS = {"train": "#1f77b4", "test": "#ff7f0e"}
SAMPLES_PER_ROW = 8  # columns that still fit an 84 px digit beside the sidebar at 1280 px; a caption wraps in its column


def thumbnails(pixels: torch.Tensor) -> list[Image.Image]:
    """uint8 N x 1 x 28 x 28 -> enlarged greyscale images, white ink on black as in the tutorial's plot."""
    size = IMAGE_SIZE * THUMBNAIL_SCALE
    return [Image.fromarray(image[0].numpy()).resize((size, size), Image.NEAREST) for image in pixels]


class Verdict(NamedTuple):
    predicted: int  # the digit a model read
    right: bool  # whether it is the ground truth


def verdict_text(verdict: Verdict) -> str:
    """A mark and a colour, so a wrong answer stands out without colour vision too: green ✓, red ✗."""
    if verdict.right:
        return f":green[{t('dataset.predicted_right', digit=verdict.predicted)}]"
    return f":red[**{t('dataset.predicted_wrong', digit=verdict.predicted)}**]"


def draw_sample_grid(images: list[Image.Image], captions: list[str], verdicts: list[Verdict] | None = None) -> None:
    """Each digit in a cell of its own, its caption under it, and under that a model's reading when given.
    (One st.image of a list lays the captions out in a row of their own, where they run together:
    "Ground truth: 0 Ground truth: 0 ...")"""
    for start in range(0, len(images), SAMPLES_PER_ROW):
        for index, cell in zip(range(start, len(images)), st.columns(SAMPLES_PER_ROW)):  # zip stops at the row's end
            cell.image(images[index], caption=captions[index], output_format="PNG")  # lossless: JPEG blurs pixels
            if verdicts is not None:
                cell.markdown(verdict_text(verdicts[index]))


def class_distribution_figure(counts_by_split: dict[str, list[int]]) -> go.Figure:
    digits = [str(digit) for digit in range(N_CLASSES)]
    figure = go.Figure(
        [
            go.Bar(
                name=t(f"dataset.split_{split}"),
                x=digits,
                y=counts,
                marker_color=SPLIT_COLORS[split],
                hovertemplate=t("dataset.bar_hover") + "<extra></extra>",
            )
            for split, counts in counts_by_split.items()
        ]
    )
    figure.update_layout(
        title=t("dataset.distribution_title"),
        barmode="group",
        xaxis=dict(title=t("dataset.axis_digit"), type="category"),  # every digit gets its tick
        yaxis_title=t("dataset.axis_count"),
        legend_title_text=t("dataset.split"),
        height=380,
        margin=dict(t=60, b=40, l=60, r=20),
    )
    return figure


def digit_heatmap_figure(pixels: torch.Tensor, normalized: torch.Tensor, label: int) -> go.Figure:
    """One 28x28 digit; hover shows the raw 0-255 value and what the network receives after Normalize."""
    figure = go.Figure(
        go.Heatmap(
            z=pixels.reshape(IMAGE_SIZE, IMAGE_SIZE).tolist(),
            customdata=normalized.reshape(IMAGE_SIZE, IMAGE_SIZE).tolist(),
            colorscale="gray",
            zmin=0,
            zmax=255,
            colorbar=dict(title=dict(text=t("dataset.heatmap_colorbar"))),
            hovertemplate=t("dataset.heatmap_hover") + "<extra></extra>",
        )
    )
    figure.update_layout(
        title=t("dataset.heatmap_title", label=label),
        height=520,
        margin=dict(t=60, b=40, l=40, r=20),
        # square pixels, exactly the 28 x 28 grid, row 0 at the top as in the image
        xaxis=dict(title=t("dataset.axis_column"), range=[-0.5, IMAGE_SIZE - 0.5], constrain="domain"),
        yaxis=dict(
            title=t("dataset.axis_row"), range=[IMAGE_SIZE - 0.5, -0.5], scaleanchor="x", constrain="domain"
        ),
    )
    return figure

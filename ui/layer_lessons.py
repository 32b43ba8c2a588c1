"""The network editor's lessons: what each layer type does, tried on the real layer with the row's own numbers.

The computations live in mnist_core.network.lessons; this module words and draws them. A lesson is drawn only when
its row's expander is open, and each computation is cached by its numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from mnist_core import MEAN, STD
from mnist_core.network.lessons import (activation_curves, adaptive_pool_shapes, batchnorm_lesson, conv_lesson, dropout_lesson,
                                feature_maps, flatten_lesson, linear_lesson, pool_lesson)
from mnist_core.network.tutorial import FLAT_FEATURES, tutorial_layer
from mnist_core.network.spec import REFERENCE_BATCH_SIZE, LayerTrace
from mnist_core.network.shapes import shape_text
from ui import draw_figures
from ui.data import load_data
from ui.i18n import t

LESSON_IMAGES = 64  # one training batch of the tutorial: the batch BatchNorm's statistics are taken over
SHOWN_CHANNELS = 8  # channels drawn in a lesson's maps and tables: enough to see the pattern, small enough to read
DEFAULT_CHANNELS = 10  # maps to use where the row has no image input (a Dropout after Flatten): conv1's count
TUTORIAL_LAST_MAPS = tutorial_layer("flatten1").input_shape  # 20 x 4 x 4: the 320 of view(-1, 320)
CURVE_HEIGHT = 300
MAPS_HEIGHT = 260
RELU_COLOR, LEAKY_COLOR = "#7f7f7f", "#d62728"
SLOPE_RANGE = (0.0, 0.5)  # the slider's negative_slope: 0 is ReLU; 0.01 is PyTorch's default, 0.1-0.3 common


def _image_channels(trace: LayerTrace | None) -> int:
    if trace is not None and len(trace.input_shape) == 3:
        return trace.input_shape[0]
    return DEFAULT_CHANNELS


@st.cache_data(show_spinner=False, max_entries=64)
def _maps(channels: int) -> np.ndarray:
    """A real batch of digits through a stand-in first conv layer: LESSON_IMAGES x channels x 24 x 24."""
    return feature_maps(load_data().train_images[:LESSON_IMAGES], channels).numpy()


def _linear(arguments: dict, trace: LayerTrace | None) -> None:
    if trace is None:
        st.info(t("lab.lesson_unreached"))
        return
    lesson = linear_lesson(trace.input_shape[0], arguments["out_features"], arguments["bias"])
    st.markdown(t("lab.lesson_linear", inputs=f"{trace.input_shape[0]:,}", outputs=f"{arguments['out_features']:,}",
                  shape=shape_text(lesson.weight_shape), weights=f"{lesson.weights:,}", biases=f"{lesson.biases:,}",
                  total=f"{lesson.total:,}"))
    _flatten(TUTORIAL_LAST_MAPS)


def _flatten(shape) -> None:
    lesson = flatten_lesson(tuple(shape), REFERENCE_BATCH_SIZE)
    st.markdown(t("lab.lesson_flatten", batch=shape_text(lesson.batch_shape), features=lesson.features,
                  view=shape_text(lesson.view_shape), flat=shape_text(lesson.flatten_shape),
                  size=lesson.batch_shape[0]))
    if lesson.same_values:
        st.caption(t("lab.lesson_flatten_same"))
    if lesson.features == FLAT_FEATURES:
        st.caption(t("lab.lesson_flatten_tutorial"))


def _conv(arguments: dict, trace: LayerTrace | None) -> None:
    if trace is None:
        st.info(t("lab.lesson_unreached"))
        return
    lesson = conv_lesson(trace.input_shape, arguments["out_channels"], arguments["kernel_size"], arguments["stride"],
                         arguments["padding"], arguments["dilation"], arguments["bias"])
    st.markdown(t("lab.lesson_conv", shape=shape_text(lesson.weight_shape), weights=f"{lesson.weights:,}",
                  biases=lesson.biases, total=f"{lesson.weights + lesson.biases:,}",
                  input=shape_text(trace.input_shape), output=shape_text(lesson.output_shape)))


@st.cache_data(show_spinner=False, max_entries=64)
def _batchnorm_table(channels: int, labels: tuple[str, ...]) -> pd.DataFrame:
    lesson = batchnorm_lesson(torch.from_numpy(_maps(channels)))
    shown = slice(0, SHOWN_CHANNELS)
    columns = (lesson.mean_before, lesson.std_before, lesson.mean_train, lesson.std_train, lesson.mean_eval,
               lesson.std_eval)
    table = pd.DataFrame({label: np.round(values[shown], 3) for label, values in zip(labels[1:], columns)})
    table.insert(0, labels[0], range(1, len(table) + 1))
    return table


def _batchnorm(trace: LayerTrace | None) -> None:
    channels = _image_channels(trace)
    st.markdown(t("lab.lesson_batchnorm", channels=channels, learnable=2 * channels, running=2 * channels,
                  shape=shape_text((LESSON_IMAGES, channels, "H", "W"))))
    labels = tuple(t(f"lab.lesson_batchnorm_{name}") for name in
                   ("channel", "mean_before", "std_before", "mean_train", "std_train", "mean_eval", "std_eval"))
    st.dataframe(_batchnorm_table(channels, labels), hide_index=True)
    st.caption(t("lab.lesson_batchnorm_note", images=LESSON_IMAGES, shown=min(channels, SHOWN_CHANNELS)))


def _activation(arguments: dict, key: str) -> None:
    slope = st.slider(t("lab.lesson_slope"), *SLOPE_RANGE, float(min(max(arguments.get("negative_slope", 0.01),
                                                                          SLOPE_RANGE[0]), SLOPE_RANGE[1])),
                      0.01, key=f"{key}_slope", help=t("lab.lesson_slope_help"))
    x, leaky, relu = (values.tolist() for values in activation_curves(slope))  # plain lists: readable JSON
    figure = go.Figure([
        go.Scatter(x=x, y=relu, name=t("lab.lesson_relu_curve"), line={"color": RELU_COLOR, "dash": "dash"}),
        go.Scatter(x=x, y=leaky, name=t("lab.lesson_leaky_curve", slope=f"{slope:g}"), line={"color": LEAKY_COLOR}),
    ])
    figure.update_layout(height=CURVE_HEIGHT, margin={"t": 30, "b": 40, "l": 50, "r": 10},
                         xaxis_title=t("lab.lesson_curve_x"), yaxis_title=t("lab.lesson_curve_y"),
                         legend={"orientation": "h", "y": -0.25})
    st.plotly_chart(figure, key=f"{key}_curve")
    st.markdown(t("lab.lesson_activation", slope=f"{slope:g}", value=f"{-2 * slope:g}"))


def _adaptive(arguments: dict, trace: LayerTrace | None) -> None:
    channels = _image_channels(trace)
    pairs = adaptive_pool_shapes(channels, arguments["output_size"])
    st.markdown(t("lab.lesson_adaptive", size=arguments["output_size"]))
    st.dataframe(pd.DataFrame({t("lab.lesson_in_shape"): [shape_text(a) for a, _ in pairs],
                               t("lab.lesson_out_shape"): [shape_text(b) for _, b in pairs]}), hide_index=True)


def _dropout(kind: str, arguments: dict, trace: LayerTrace | None, key: str) -> None:
    channels = min(_image_channels(trace), SHOWN_CHANNELS)
    maps = torch.from_numpy(_maps(channels)[0])
    st.markdown(t("lab.lesson_dropout", p=f"{arguments['p']:g}", kept=f"{1 / (1 - arguments['p']):.2f}"))
    for column, each in zip(st.columns(2), ("Dropout", "Dropout2d")):
        lesson = dropout_lesson(each, arguments["p"], maps)
        with column:
            st.markdown(f"**`{each}`**" + (" ←" if each == kind else ""))
            st.caption(t("lab.lesson_dropout_counts", zeroed=lesson.zeroed_numbers, total=lesson.total_numbers,
                         channels=len(lesson.zeroed_channels), all=lesson.channels,
                         eval=t("lab.lesson_eval_same") if lesson.eval_unchanged else ""))
            st.plotly_chart(draw_figures.maps_figure(lesson.train, t("lab.lesson_dropout_title", kind=each),
                                                     "draw.map_label", MAPS_HEIGHT), key=f"{key}_{each}")


def _pool(kind: str) -> None:
    ink = load_data().train_images[0] * STD + MEAN
    lesson = pool_lesson(kind, ink)
    st.markdown(t(f"lab.lesson_pool_{'max' if kind == 'MaxPool2d' else 'avg'}", percent=f"{lesson.kept_fraction:.0%}"))
    left, right = st.columns(2)
    left.caption(t("lab.lesson_pool_patch"))
    left.dataframe(pd.DataFrame(np.round(lesson.patch, 2)), hide_index=True)
    right.caption(t("lab.lesson_pool_out"))
    right.dataframe(pd.DataFrame(np.round(lesson.pooled, 2)), hide_index=True)


def layer_lesson(layer_type: str, arguments: dict, trace: LayerTrace | None, key: str) -> None:
    """The lesson for one editor row: arguments has every argument (defaults filled), trace the row's shapes."""
    st.markdown(t(f"lab.about_{layer_type}"))
    if layer_type == "Linear":
        _linear(arguments, trace)
    elif layer_type == "Flatten":
        _flatten(trace.input_shape if trace is not None and len(trace.input_shape) == 3 else TUTORIAL_LAST_MAPS)
    elif layer_type == "Conv2d":
        _conv(arguments, trace)
    elif layer_type == "BatchNorm2d":
        _batchnorm(trace)
    elif layer_type in ("ReLU", "LeakyReLU"):
        _activation(arguments, key)
    elif layer_type == "AdaptiveAvgPool2d":
        _adaptive(arguments, trace)
    elif layer_type in ("Dropout", "Dropout2d"):
        _dropout(layer_type, arguments, trace, key)
    elif layer_type in ("MaxPool2d", "AvgPool2d"):
        _pool(layer_type)

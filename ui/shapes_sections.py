"""The shape calculator's result sections: the output size worked out, PyTorch's check, the parameters to
learn, the sliding window and the tutorial's network. The page (pages/shapes.py) draws the inputs and calls
these in order."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from mnist_core.network.shapes import (
    CONV,
    ConvLayer,
    OutputSizeSteps,
    PoolLayer,
    ShapeError,
    conv_output_steps,
    conv_parameters,
    pool_output_steps,
    pytorch_output_shape,
    shape_text,
)
from mnist_core.network.table import network_table
from mnist_core.network.tutorial import tutorial_spec
from ui.i18n import t
from ui.shapes_figures import MAX_PICTURE_CELLS, formula_latex, output_positions, rule_text, sliding_window_figure


@dataclass(frozen=True)
class CalculatorLayer:
    """The one layer the calculator shows, as the learner set it (every number already within its bounds)."""
    kind: str  # CONV or POOL
    n: int  # input height and width
    f: int  # kernel size
    p: int  # zeros per side
    s: int  # stride
    d: int  # dilation
    ceil_mode: bool = False  # pooling only
    in_channels: int = 1  # convolution only
    out_channels: int = 1


@st.cache_data(show_spinner=False, max_entries=256)
def pytorch_check(kind: str, n: int, f: int, p: int, s: int, d: int, ceil_mode: bool) -> tuple[str, tuple, str]:
    """(module repr, output shape or (), PyTorch's refusal or ""): one channel, since channels never change the size."""
    layer = ConvLayer(1, f, p, s, d) if kind == CONV else PoolLayer(f, s, p, d, ceil_mode)
    module = repr(layer.pytorch_module(1))
    try:
        return module, pytorch_output_shape(layer, (1, n, n)), ""
    except ValueError as refusal:
        return module, (), str(refusal)


def output_size_section(layer: CalculatorLayer) -> OutputSizeSteps | None:
    """The output size and the formula with the learner's numbers; None (after saying why) for an impossible layer."""
    n, f, p, s, d = layer.n, layer.f, layer.p, layer.s, layer.d
    try:
        steps = conv_output_steps(n, f, p, s, d) if layer.kind == CONV else pool_output_steps(n, f, s, p, d,
                                                                                              layer.ceil_mode)
    except ShapeError as error:
        st.error(t("shapes.impossible", reason=rule_text(error)), icon=":material/block:")
        return None
    st.metric(t("shapes.output_size"), shape_text((steps.result, steps.result)), help=t("shapes.output_size_help"))
    if layer.kind == CONV:
        st.markdown(t("shapes.output_shape_conv", shape=shape_text((layer.out_channels, steps.result, steps.result))))
    else:
        st.markdown(t("shapes.output_shape_pool"))
    st.latex(formula_latex(steps))
    if steps.last_window_removed:
        st.caption(t("shapes.last_window_removed", start=steps.rounded * s, limit=n + p))
    if steps.exact:
        st.success(t("shapes.exact", numerator=steps.numerator, s=s), icon=":material/check:")
    elif steps.ceil_mode:
        st.info(t("shapes.ceil_overhang", numerator=steps.numerator, s=s))
    else:
        st.info(t("shapes.dropped", numerator=steps.numerator, s=s, remainder=steps.numerator % s,
                  leftover=steps.leftover, dropped=steps.dropped_input, padding=steps.leftover - steps.dropped_input))
    return steps


def pytorch_section(layer: CalculatorLayer, steps: OutputSizeSteps | None) -> None:
    """A real forward pass of the same layer, and whether it agrees with the formula."""
    n = layer.n
    module, torch_shape, refusal = pytorch_check(layer.kind, n, layer.f, layer.p, layer.s, layer.d, layer.ceil_mode)
    call = f"{module}(torch.zeros(1, 1, {n}, {n})).shape"
    if refusal:
        st.markdown(t("shapes.pytorch_refuses_too") if steps is None else t("shapes.pytorch_refuses_only"))
        st.code(f"{call}\n# {refusal}", language="python", wrap_lines=True)
    else:
        if steps is not None and torch_shape[1:] == (steps.result, steps.result):
            st.success(t("shapes.pytorch_agrees"), icon=":material/verified:")
        else:
            st.error(t("shapes.pytorch_disagrees", shape=shape_text(torch_shape)))
        st.code(f"{call}\n# torch.Size({list((1,) + torch_shape)})", language="python", wrap_lines=True)
    st.caption(t("shapes.pytorch_one_channel"))


def parameters_section(layer: CalculatorLayer) -> None:
    """What a convolution learns, counted step by step; pooling learns nothing."""
    if layer.kind != CONV:
        st.caption(t("shapes.pool_no_parameters"))
        return
    params = conv_parameters(layer.in_channels, layer.out_channels, layer.f)
    st.subheader(t("shapes.parameters_heading"))
    rows = [  # (what, how, count)
        ("kernels_per_filter", t("shapes.parameters_kernels_per_filter_how"), params.kernels_per_filter),
        ("weights_per_kernel", f"{layer.f} × {layer.f}", params.weights_per_kernel),
        ("weights_per_filter", f"{params.kernels_per_filter} × {params.weights_per_kernel}", params.weights_per_filter),
        ("filters", t("shapes.parameters_filters_how"), params.filters),
        ("biases", t("shapes.parameters_biases_how"), params.biases),
        ("total", f"{params.filters} × {params.weights_per_filter} + {params.biases}", params.total),
    ]
    st.table(pd.DataFrame({
        t("shapes.parameters_what"): [t(f"shapes.parameters_{what}") for what, _, _ in rows],
        t("shapes.parameters_how"): [how for _, how, _ in rows],
        t("shapes.parameters_count"): [count for _, _, count in rows],
    }).set_index(t("shapes.parameters_what")))


def sliding_window_section(steps: OutputSizeSteps | None) -> None:
    st.header(t("shapes.picture_heading"))
    st.write(t("shapes.picture_intro"))
    if steps is None:
        st.info(t("shapes.picture_impossible"))
        return
    if steps.padded > MAX_PICTURE_CELLS:
        st.info(t("shapes.picture_too_big", size=steps.padded, limit=MAX_PICTURE_CELLS))
        return
    positions = output_positions(steps)
    position = 1
    if positions > 1:
        position = st.slider(t("shapes.picture_position"), 1, positions, 1, key="shapes_position",
                             help=t("shapes.picture_position_help"))
    st.plotly_chart(sliding_window_figure(steps, position - 1), key="shapes_picture")


def tutorial_network_section() -> None:
    """The tutorial's layers with their shapes and parameters, down to where view(-1, 320) gets its 320."""
    st.header(t("shapes.seed_heading"))
    st.write(t("shapes.seed_intro"))
    table = network_table(tutorial_spec())
    st.dataframe(
        pd.DataFrame({
            t("shapes.seed_layer"): [row.name for row in table],
            t("shapes.seed_code"): [row.code for row in table],
            t("shapes.seed_shape"): [shape_text(row.output_shape) for row in table],
            t("shapes.seed_numbers"): [math.prod(row.output_shape) for row in table],
            t("shapes.seed_parameters"): [row.parameters for row in table],
        }),
        hide_index=True,
        key="shapes_seed_table",
    )
    flat = next(row for row in table if row.name == "flatten1")
    channels, side, _ = next(row for row in reversed(table) if len(row.output_shape) == 3).output_shape
    st.markdown(t("shapes.seed_why_320", channels=channels, side=side, flat=flat.output_shape[0],
                  total=f"{sum(row.parameters for row in table):,}"))

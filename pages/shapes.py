"""Shape calculator: o = floor((n + 2p - f) / s) + 1, moved by the learner and checked by PyTorch."""

import math

import pandas as pd
import streamlit as st

from mnist_core.shapes import (
    CONV,
    POOL,
    ConvLayer,
    PoolLayer,
    ShapeError,
    conv_output_steps,
    conv_parameters,
    pool_output_steps,
    pytorch_output_shape,
    same_padding_plan,
    seed_network_table,
    shape_text,
)
from mnist_core.model import CONV1_CHANNELS, IMAGE_SIZE, KERNEL_SIZE, POOL_SIZE
from ui.i18n import t
from ui.step_tensor_lab import tensor_lab_section
from ui.navigation import ensure_router
from ui.shapes_chain import FIELD_BOUNDS
from ui.shapes_network import shapes_network_section
from ui.shapes_figures import MAX_PICTURE_CELLS, formula_latex, output_positions, rule_text, sliding_window_figure

ensure_router()

PRESETS = ("valid", "same", "custom")
DEFAULTS = {CONV: {"f": KERNEL_SIZE, "s": 1}, POOL: {"f": POOL_SIZE, "s": POOL_SIZE}}  # the seed's conv1 and pool


@st.cache_data(show_spinner=False, max_entries=256)
def pytorch_check(kind: str, n: int, f: int, p: int, s: int, d: int, ceil_mode: bool) -> tuple[str, tuple, str]:
    """(module repr, output shape or (), PyTorch's refusal or ""): one channel, since channels never change the size."""
    layer = ConvLayer(1, f, p, s, d) if kind == CONV else PoolLayer(f, s, p, d, ceil_mode)
    module = repr(layer.pytorch_module(1))
    try:
        return module, pytorch_output_shape(layer, (1, n, n)), ""
    except ValueError as refusal:
        return module, (), str(refusal)


st.title(t("shapes.title"))
st.write(t("shapes.intro"))

# --- One layer ------------------------------------------------------------------------------
st.header(t("shapes.calculator_heading"))
controls, results = st.columns([1, 1.5], gap="large")
with controls:
    # labels looked up now: a format_func is also called outside the script run, where t() has no session
    kind_names = {name: t(f"shapes.kind_{name}") for name in (CONV, POOL)}
    kind = st.radio(t("shapes.layer_kind"), (CONV, POOL), format_func=kind_names.get, horizontal=True,
                    key="shapes_kind")
    n = st.number_input(t("shapes.n"), *FIELD_BOUNDS["input_size"], IMAGE_SIZE, key="shapes_n", help=t("shapes.n_help"))
    left, right = st.columns(2)
    f = left.number_input(t("shapes.f"), *FIELD_BOUNDS["kernel_size"], DEFAULTS[kind]["f"], key=f"shapes_{kind}_f",
                          help=t("shapes.f_help"))
    s = right.number_input(t("shapes.s"), *FIELD_BOUNDS["stride"], DEFAULTS[kind]["s"], key=f"shapes_{kind}_s",
                           help=t("shapes.s_help"))
    d = left.number_input(t("shapes.d"), *FIELD_BOUNDS["dilation"], 1, key=f"shapes_{kind}_d", help=t("shapes.d_help"))
    preset_names = {name: t(f"shapes.preset_{name}") for name in PRESETS}
    preset = right.radio(t("shapes.preset"), PRESETS, format_func=preset_names.get,
                         horizontal=True, key=f"shapes_{kind}_preset", help=t("shapes.preset_help"))
    plan = same_padding_plan(f, d)
    if preset == "custom":
        p = st.number_input(t("shapes.p"), *FIELD_BOUNDS["padding"], 0, key=f"shapes_{kind}_p", help=t("shapes.p_help"))
    else:
        p = 0 if preset == "valid" else plan.left
        st.markdown(t(f"shapes.preset_{preset}_sets", p=p))
    in_channels = out_channels = 1
    ceil_mode = False
    if kind == CONV:
        left, right = st.columns(2)
        in_channels = left.number_input(t("shapes.in_channels"), *FIELD_BOUNDS["in_channels"], 1,
                                        key="shapes_in_channels", help=t("shapes.in_channels_help"))
        out_channels = right.number_input(t("shapes.out_channels"), *FIELD_BOUNDS["out_channels"], CONV1_CHANNELS,
                                          key="shapes_out_channels", help=t("shapes.out_channels_help"))
    else:
        ceil_mode = st.checkbox(t("shapes.ceil_mode"), key="shapes_ceil_mode", help=t("shapes.ceil_mode_help"))

    if preset == "same":
        if plan.symmetric:
            st.info(t("shapes.same_odd", f=f, d=d, total=plan.total, p=plan.left))
        else:
            st.warning(t("shapes.same_even", f=f, d=d, total=plan.total, left=plan.left, right=plan.right,
                         smaller=plan.left, larger=plan.left + 1))
        if s > 1:
            st.warning(t("shapes.same_strided", s=s))

    for concept in ("convolution", "padding", "stride", "odd_kernels", "formula", "channels", "pooling", "dilation"):
        with st.expander(t(f"shapes.concept_{concept}_title")):
            st.markdown(t(f"shapes.concept_{concept}"))

with results:
    steps = None
    try:
        if kind == CONV:
            steps = conv_output_steps(n, f, p, s, d)
        else:
            steps = pool_output_steps(n, f, s, p, d, ceil_mode)
    except ShapeError as error:
        st.error(t("shapes.impossible", reason=rule_text(error)), icon=":material/block:")
    if steps is not None:
        st.metric(t("shapes.output_size"), shape_text((steps.result, steps.result)),
                  help=t("shapes.output_size_help"))
        if kind == CONV:
            st.markdown(t("shapes.output_shape_conv", shape=shape_text((out_channels, steps.result, steps.result))))
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
                      leftover=steps.leftover, dropped=steps.dropped_input,
                      padding=steps.leftover - steps.dropped_input))

    module, torch_shape, refusal = pytorch_check(kind, n, f, p, s, d, ceil_mode)
    call = f"{module}(torch.zeros(1, 1, {n}, {n})).shape"
    if refusal:
        message = t("shapes.pytorch_refuses_too") if steps is None else t("shapes.pytorch_refuses_only")
        st.markdown(message)
        st.code(f"{call}\n# {refusal}", language="python", wrap_lines=True)
    else:
        if steps is not None and torch_shape[1:] == (steps.result, steps.result):
            st.success(t("shapes.pytorch_agrees"), icon=":material/verified:")
        else:
            st.error(t("shapes.pytorch_disagrees", shape=shape_text(torch_shape)))
        st.code(f"{call}\n# torch.Size({list((1,) + torch_shape)})", language="python", wrap_lines=True)
    st.caption(t("shapes.pytorch_one_channel"))

    if kind == CONV:
        params = conv_parameters(in_channels, out_channels, f)
        st.subheader(t("shapes.parameters_heading"))
        st.table(pd.DataFrame(
            {
                t("shapes.parameters_what"): [
                    t("shapes.parameters_kernels_per_filter"), t("shapes.parameters_weights_per_kernel"),
                    t("shapes.parameters_weights_per_filter"), t("shapes.parameters_filters"),
                    t("shapes.parameters_biases"), t("shapes.parameters_total"),
                ],
                t("shapes.parameters_how"): [
                    t("shapes.parameters_kernels_per_filter_how"), f"{f} × {f}",
                    f"{params.kernels_per_filter} × {params.weights_per_kernel}",
                    t("shapes.parameters_filters_how"), t("shapes.parameters_biases_how"),
                    f"{params.filters} × {params.weights_per_filter} + {params.biases}",
                ],
                t("shapes.parameters_count"): [
                    params.kernels_per_filter, params.weights_per_kernel, params.weights_per_filter,
                    params.filters, params.biases, params.total,
                ],
            }
        ).set_index(t("shapes.parameters_what")))
    else:
        st.caption(t("shapes.pool_no_parameters"))

# --- The sliding window ---------------------------------------------------------------------
st.header(t("shapes.picture_heading"))
st.write(t("shapes.picture_intro"))
if steps is None:
    st.info(t("shapes.picture_impossible"))
elif steps.padded > MAX_PICTURE_CELLS:
    st.info(t("shapes.picture_too_big", size=steps.padded, limit=MAX_PICTURE_CELLS))
else:
    positions = output_positions(steps)
    position = 1
    if positions > 1:
        position = st.slider(t("shapes.picture_position"), 1, positions, 1, key="shapes_position",
                             help=t("shapes.picture_position_help"))
    st.plotly_chart(sliding_window_figure(steps, position - 1), key="shapes_picture")

# --- The seed's network ---------------------------------------------------------------------
st.header(t("shapes.seed_heading"))
st.write(t("shapes.seed_intro"))
table = seed_network_table()
st.dataframe(
    pd.DataFrame(
        {
            t("shapes.seed_layer"): [row.name for row in table],
            t("shapes.seed_code"): [row.code for row in table],
            t("shapes.seed_shape"): [shape_text(row.output_shape) for row in table],
            t("shapes.seed_numbers"): [math.prod(row.output_shape) for row in table],
            t("shapes.seed_parameters"): [row.parameters for row in table],
        }
    ),
    hide_index=True,
    key="shapes_seed_table",
)
flat = next(row for row in table if row.name == "view")
channels, side, _ = next(row for row in reversed(table) if len(row.output_shape) == 3).output_shape
st.markdown(t("shapes.seed_why_320", channels=channels, side=side, flat=flat.output_shape[0],
              total=f"{sum(row.parameters for row in table):,}"))

# --- Your own network -----------------------------------------------------------------------
shapes_network_section()

# --- The tensor lab ----------------------------------------------------------------------------
tensor_lab_section()

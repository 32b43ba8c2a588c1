"""Shape calculator: o = floor((n + 2p - f) / s) + 1, moved by the learner and checked by PyTorch."""

import streamlit as st

from mnist_core.network.shapes import CONV, POOL, SamePadding, same_padding_plan
from mnist_core.data import IMAGE_SIZE
from mnist_core.network.tutorial import tutorial_layer
from ui.i18n import t
from ui.navigation import ensure_router
from ui.shapes_chain import out_of_range, show_out_of_range
from ui.shapes_network import shapes_network_section
from ui.shapes_sections import (
    CalculatorLayer,
    output_size_section,
    parameters_section,
    pytorch_section,
    sliding_window_section,
    tutorial_network_section,
)
from ui.step_tensor_lab import tensor_lab_section

PRESETS = ("valid", "same", "custom")
# Each number box's starting value: the tutorial's conv1 and its pooling, on an MNIST image
CONV1, POOL1 = tutorial_layer("conv1").layer, tutorial_layer("pool1").layer
LAYER_DEFAULTS = {CONV: {"f": CONV1.get("kernel_size"), "s": 1, "d": 1, "p": 0},
                  POOL: {"f": POOL1.get("kernel_size"), "s": POOL1.get("kernel_size"), "d": 1, "p": 0}}
SHARED_DEFAULTS = {"n": IMAGE_SIZE, "in_channels": 1, "out_channels": CONV1.get("out_channels")}
BOUNDS_FIELD = {  # a number's name on this page (and in locales) -> its field in FIELD_BOUNDS
    "n": "input_size", "f": "kernel_size", "s": "stride", "d": "dilation", "p": "padding",
    "in_channels": "in_channels", "out_channels": "out_channels",
}
CONCEPTS = ("convolution", "padding", "stride", "odd_kernels", "formula", "channels", "pooling", "dilation")


def number_key(name: str, kind: str | None = None) -> str:
    """shapes_n for the numbers both kinds share; shapes_conv_f, shapes_pool_f... for each kind's own."""
    return f"shapes_{name}" if kind is None else f"shapes_{kind}_{name}"


def set_starting_values() -> None:
    """Each box's first value, written to its key once. Not value=: beside a write to the same key (a kept value,
    a reset) Streamlit logs a warning with a stack trace."""
    for name, value in SHARED_DEFAULTS.items():
        st.session_state.setdefault(number_key(name), value)
    for kind, numbers in LAYER_DEFAULTS.items():
        for name, value in numbers.items():
            st.session_state.setdefault(number_key(name, kind), value)


def number_box(container, name: str, kind: str | None = None):
    """A whole-number box with no min or max: Streamlit would refuse an out-of-range number silently and keep
    showing the last answer, so the page checks the numbers itself and names every bad one."""
    return container.number_input(t(f"shapes.{name}"), step=1, key=number_key(name, kind), persist_state="session",
                                  help=t(f"shapes.{name}_help"))


def padding_notes(preset: str, plan: SamePadding, f: int, d: int, s: int) -> None:
    """Why 'same' pads as it does: evenly for an odd kernel, one short for an even one, never at a stride."""
    if preset != "same":
        return
    if plan.symmetric:
        st.info(t("shapes.same_odd", f=f, d=d, total=plan.total, p=plan.left))
    else:
        st.warning(t("shapes.same_even", f=f, d=d, total=plan.total, left=plan.left, right=plan.right,
                     smaller=plan.left, larger=plan.left + 1))
    if s > 1:
        st.warning(t("shapes.same_strided", s=s))


def layer_inputs() -> CalculatorLayer | None:
    """The layer's boxes; the layer, or None after naming every number outside its range."""
    # labels looked up now: a format_func is also called outside the script run, where t() has no session
    kind_names = {name: t(f"shapes.kind_{name}") for name in (CONV, POOL)}
    kind = st.radio(t("shapes.layer_kind"), (CONV, POOL), format_func=kind_names.get, horizontal=True,
                    key="shapes_kind", persist_state="session")
    numbers = {"n": number_box(st, "n")}
    left, right = st.columns(2)
    numbers["f"] = number_box(left, "f", kind)
    numbers["s"] = number_box(right, "s", kind)
    numbers["d"] = number_box(left, "d", kind)
    preset_names = {name: t(f"shapes.preset_{name}") for name in PRESETS}
    preset = right.radio(t("shapes.preset"), PRESETS, format_func=preset_names.get, horizontal=True,
                         key=f"shapes_{kind}_preset", persist_state="session", help=t("shapes.preset_help"))
    if preset == "custom":
        numbers["p"] = number_box(st, "p", kind)
    ceil_mode = False
    if kind == CONV:
        left, right = st.columns(2)
        numbers["in_channels"] = number_box(left, "in_channels")
        numbers["out_channels"] = number_box(right, "out_channels")
    else:
        ceil_mode = st.checkbox(t("shapes.ceil_mode"), key="shapes_ceil_mode", persist_state="session",
                                help=t("shapes.ceil_mode_help"))

    refused = out_of_range({BOUNDS_FIELD[name]: value for name, value in numbers.items()})
    if refused:
        show_out_of_range(refused, {field: t(f"shapes.{name}") for name, field in BOUNDS_FIELD.items()})
        return None
    plan = same_padding_plan(numbers["f"], numbers["d"])
    if preset != "custom":
        numbers["p"] = 0 if preset == "valid" else plan.left
        st.markdown(t(f"shapes.preset_{preset}_sets", p=numbers["p"]))
    padding_notes(preset, plan, numbers["f"], numbers["d"], numbers["s"])
    return CalculatorLayer(kind=kind, ceil_mode=ceil_mode, **numbers)


def concepts() -> None:
    for concept in CONCEPTS:
        with st.expander(t(f"shapes.concept_{concept}_title")):
            st.markdown(t(f"shapes.concept_{concept}"))


def one_layer_section():
    """The calculator: the boxes and concepts on the left, the worked answer on the right. Its steps, or None."""
    st.header(t("shapes.calculator_heading"))
    controls, results = st.columns([1, 1.5], gap="large")
    with controls:
        layer = layer_inputs()
        concepts()
    with results:
        if layer is None:  # no answer rather than the last one: the boxes no longer say what it was for
            st.info(t("shapes.fix_numbers"))
            return None
        steps = output_size_section(layer)
        pytorch_section(layer, steps)
        parameters_section(layer)
    return steps


ensure_router()
set_starting_values()
st.title(t("shapes.title"))
st.write(t("shapes.intro"))
steps = one_layer_section()
sliding_window_section(steps)
tutorial_network_section()
shapes_network_section()
tensor_lab_section()

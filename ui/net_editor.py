"""The network editor: one NetSpec as rows of widgets, used by the Train page and the shape calculator.

Each place ("train", "shapes") keeps its own layers in st.session_state as a plain list of row dicts
({"id", "type", "args"}), and every widget copies its value back on change. So a network survives a page
switch (Streamlit forgets the widgets of a page that is not shown) and a language switch, and a callback
can replace it (a preset, a loaded file, "Open in the Train page") before any widget is drawn.

The rows are checked with mnist_core.network.spec: trace_spec gives each row's output shape and parameters and
the first layer that cannot work; check_spec adds the limits. Pages only call ``net_editor``.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from mnist_core.network.spec import (INPUT_SHAPE, LAYER_ARGUMENTS, LAYER_TYPES, MAX_KERNEL, MAX_LAYERS, MAX_WIDTH,
                                REFERENCE_BATCH_SIZE, NetSpec, SpecError, SpecTrace, check_spec, trace_spec)
from mnist_core.training.presets import PRESETS
from mnist_core.network.shapes import shape_text
from ui.i18n import t
from ui.layer_lessons import layer_lesson

CUSTOM = "custom"  # the preset name of a network that was edited or loaded
BYTES_PER_MB = 10**6
# What "Add" inserts for each type: a common choice that fits most places (a 3 x 3 conv that keeps the size,
# a 2 x 2 pooling that halves it, 10 outputs for a Linear layer that ends a network).
NEW_LAYER_ARGUMENTS = {
    "Conv2d": {"out_channels": 16, "kernel_size": 3, "padding": 1},
    "MaxPool2d": {"kernel_size": 2},
    "AvgPool2d": {"kernel_size": 2},
    "AdaptiveAvgPool2d": {"output_size": 1},
    "LeakyReLU": {"negative_slope": 0.1},
    "Dropout": {"p": 0.5},
    "Dropout2d": {"p": 0.25},
    "Linear": {"out_features": 10},
}
PADDING_CHOICES = ("same", "valid", *range(MAX_KERNEL + 1))
PROBABILITY_STEP = 0.05
SLOPE_STEP = 0.01
# Layers whose widths can reach MAX_WIDTH; every other whole number is a side, at most the input's side.
WIDTH_ARGUMENTS = ("out_channels", "out_features")


@dataclass(frozen=True)
class EditorResult:
    spec: NetSpec | None  # None when the rows are not a network at all (no layers)
    trace: SpecTrace | None
    error: SpecError | None  # the first problem: a layer that cannot work, or a limit

    @property
    def ok(self) -> bool:
        return self.spec is not None and self.error is None


# --- State ------------------------------------------------------------------------------------


def _key(place: str, name: str) -> str:
    return f"lab_{place}_{name}"


def _new_row(place: str, layer: dict) -> dict:
    counter = _key(place, "next_id")
    row_id = st.session_state.get(counter, 0)
    st.session_state[counter] = row_id + 1
    return {"id": row_id, "type": layer["type"], "args": {k: v for k, v in layer.items() if k != "type"}}


def set_layers(place: str, layers: list[dict], preset: str) -> None:
    """Replace the network of place (new row ids, so every widget starts from the new values)."""
    st.session_state[_key(place, "rows")] = [_new_row(place, layer) for layer in layers]
    st.session_state.pop(_key(place, "add_at"), None)  # a new network: new layers go before its last again
    st.session_state[_key(place, "preset")] = preset
    if preset != CUSTOM:
        st.session_state[_key(place, "base")] = preset


def load_preset(place: str, name: str) -> None:
    set_layers(place, PRESETS[name].spec["layers"], name)


def rows(place: str, default_preset: str = "tutorial") -> list[dict]:
    if _key(place, "rows") not in st.session_state:
        load_preset(place, default_preset)
    return st.session_state[_key(place, "rows")]


def preset_name(spec: NetSpec) -> str:
    """The preset whose network spec is, or CUSTOM."""
    return next((name for name, preset in PRESETS.items() if NetSpec.from_dict(preset.spec) == spec), CUSTOM)


def preset_of(place: str) -> str:
    """The preset the network still is, or CUSTOM once edited."""
    return st.session_state.get(_key(place, "preset"), CUSTOM)


def base_preset(place: str) -> str:
    """The preset last chosen: what "reset" brings back."""
    return st.session_state.get(_key(place, "base"), "tutorial")


def layers_of(place: str) -> list[dict]:
    """The rows as NetSpec's JSON layers."""
    return [{"type": row["type"], **row["args"]} for row in rows(place)]


def _edited(place: str) -> None:
    st.session_state[_key(place, "preset")] = CUSTOM


def _add(place: str) -> None:
    kind = st.session_state[_key(place, "add_type")]
    position = int(st.session_state[_key(place, "add_at")])
    rows(place).insert(position - 1, _new_row(place, {"type": kind, **NEW_LAYER_ARGUMENTS.get(kind, {})}))
    _edited(place)


def _remove(place: str, index: int) -> None:
    del rows(place)[index]
    _edited(place)


def _move(place: str, index: int, offset: int) -> None:
    layers, target = rows(place), index + offset
    if 0 <= target < len(layers):
        layers[index], layers[target] = layers[target], layers[index]
        _edited(place)


def _widget_key(place: str, row: dict, name: str) -> str:
    return _key(place, f"{row['id']}_{name}")


def _store(place: str, row: dict, name: str) -> None:
    value = st.session_state[_widget_key(place, row, name)]
    if value is None:  # a cleared stride: the kernel size again, as PyTorch's default
        row["args"].pop(name, None)
    else:
        row["args"][name] = value
    _edited(place)


# --- Checking ---------------------------------------------------------------------------------


def check_rows(place: str, input_shape: tuple[int, ...] = INPUT_SHAPE,
               batch_size: int = REFERENCE_BATCH_SIZE) -> EditorResult:
    """The rows as a spec, traced on input_shape; the limits are checked on the training input (1 x 28 x 28)."""
    try:
        spec = NetSpec.from_dict({"layers": layers_of(place)})
    except SpecError as error:
        return EditorResult(None, None, error)
    trace = trace_spec(spec, input_shape)
    error = trace.error
    if error is None and tuple(input_shape) == INPUT_SHAPE:
        try:
            check_spec(spec, batch_size)
        except SpecError as limit:
            error = limit
    return EditorResult(spec, trace, error)


def _worded(value):
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return shape_text(value)
    if isinstance(value, (tuple, list)):
        return ", ".join(map(str, value))
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return value


def error_text(error: SpecError) -> str:
    """The refusal in the session's language: the layer (position and type), then the rule with its numbers."""
    values = {name: _worded(value) for name, value in error.values.items()}
    if error.rule == "too_much_memory":
        values.update(value=f"{error.values['value'] / BYTES_PER_MB:,.0f}", limit=f"{error.values['limit'] // BYTES_PER_MB:,}")
    if error.rule in ("kernel_too_large", "window_outside", "pool_padding") or (
            error.rule == "whole_number" and "minimum" in error.values):  # the shape functions' own rules
        dilated = error.values.get("span", error.values.get("kernel")) != error.values.get("kernel")
        reason = t(f"shapes.rule_{error.rule}{'_dilated' if dilated else ''}", **values)
    else:
        field = t(f"lab.arg_{error.field}") if error.field in _ALL_ARGUMENTS else (error.field or "")
        reason = t(f"lab.rule_{error.rule}", field=field, **values)
    if error.layer is None:
        return reason
    return t("lab.error_layer", position=error.layer, type=error.layer_type, reason=reason)


_ALL_ARGUMENTS = {name for arguments in LAYER_ARGUMENTS.values() for name in arguments}


def linear_mismatches(spec: NetSpec, trace: SpecTrace) -> dict[int, tuple[int, int]]:
    """Linear layers whose input differs from the same network's on 1 x 28 x 28: position -> (here, at 28).

    A Linear layer's in_features is fixed when it is built: weights made for 28 x 28 cannot take this input.
    """
    if trace.input_shape == INPUT_SHAPE:
        return {}
    reference = {layer.position: layer.input_shape for layer in trace_spec(spec).layers}
    return {layer.position: (layer.input_shape[0], reference[layer.position][0]) for layer in trace.layers
            if layer.layer.type == "Linear" and layer.position in reference
            and reference[layer.position] != layer.input_shape}


# --- Drawing ----------------------------------------------------------------------------------


def _argument_widget(place: str, row: dict, name: str, column) -> None:
    argument = LAYER_ARGUMENTS[row["type"]][name]
    value = row["args"].get(name, argument.default)
    common = dict(key=_widget_key(place, row, name), on_change=_store, args=(place, row, name),
                  help=t("lab.arg_help", name=name))
    label = t(f"lab.arg_{name}")
    if argument.kind == "bool":
        column.checkbox(label, value=value, **common)
    elif argument.kind == "padding":
        column.selectbox(label, PADDING_CHOICES, index=PADDING_CHOICES.index(value), **common)
    elif argument.kind == "probability":
        column.number_input(label, 0.0, 1.0 - PROBABILITY_STEP / 5, float(value), PROBABILITY_STEP, **common)
    elif argument.kind == "number":
        column.number_input(label, value=float(value), step=SLOPE_STEP, format="%.3f", **common)
    else:
        high = MAX_WIDTH if name in WIDTH_ARGUMENTS else MAX_KERNEL
        column.number_input(label, argument.minimum, high, value, 1,
                            placeholder=t("lab.stride_default") if argument.default is None else None, **common)


def _row_result(layer_trace, error: SpecError | None, position: int, mismatch) -> None:
    if error is not None and error.layer == position:
        st.error(error_text(error), icon=":material/block:")
    elif layer_trace is None:
        st.caption(t("lab.row_unreached"))
    else:
        st.markdown(t("lab.row_result", input=shape_text(layer_trace.input_shape),
                      output=shape_text(layer_trace.output_shape), parameters=f"{layer_trace.parameters:,}"))
        if mismatch is not None:
            st.warning(t("lab.row_linear_mismatch", here=f"{mismatch[0]:,}", built=f"{mismatch[1]:,}"))


def _row(place: str, index: int, row: dict, count: int, result: EditorResult, mismatches: dict) -> None:
    position = index + 1
    traced = {layer.position: layer for layer in result.trace.layers} if result.trace else {}
    arguments = list(LAYER_ARGUMENTS[row["type"]])
    with st.container(border=True, key=_widget_key(place, row, "row")):
        heading, *columns = st.columns([1.4, *([1] * max(len(arguments), 1))], vertical_alignment="bottom")
        heading.markdown(f"**{position}.** `{row['type']}`")
        for name, column in zip(arguments, columns):
            _argument_widget(place, row, name, column)
        outcome, up, down, remove = st.columns([7, 1, 1, 1], vertical_alignment="center")
        with outcome:
            _row_result(traced.get(position), result.error, position, mismatches.get(position))
        up.button("↑", key=_widget_key(place, row, "up"), on_click=_move, args=(place, index, -1), width="stretch",
                  disabled=index == 0, help=t("lab.move_up"))
        down.button("↓", key=_widget_key(place, row, "down"), on_click=_move, args=(place, index, 1),
                    width="stretch", disabled=index == count - 1, help=t("lab.move_down"))
        remove.button("✕", key=_widget_key(place, row, "remove"), on_click=_remove, args=(place, index),
                      width="stretch", help=t("lab.remove"))
        lesson = st.expander(t("lab.lesson_label", type=row["type"]), key=_widget_key(place, row, "lesson"),
                             on_change="rerun", icon=":material/school:")
        if lesson.open:  # computed only when opened: each lesson runs real layers on real digits
            with lesson:
                layer_lesson(row["type"], {**{n: LAYER_ARGUMENTS[row["type"]][n].default for n in arguments},
                                           **row["args"]}, traced.get(position), key=_widget_key(place, row, "try"))


def _add_controls(place: str, count: int) -> None:
    type_column, at_column, button_column = st.columns([2, 1, 1], vertical_alignment="bottom")
    type_column.selectbox(t("lab.add_type"), LAYER_TYPES, index=LAYER_TYPES.index("LeakyReLU"),
                          key=_key(place, "add_type"))
    # Before the last layer by default: a network ends in its 10 scores, so new layers go inside it.
    at_key = _key(place, "add_at")
    if not 1 <= st.session_state.get(at_key, 0) <= count + 1:
        st.session_state[at_key] = max(count, 1)
    at_column.number_input(t("lab.add_at"), 1, count + 1, step=1, key=at_key, help=t("lab.add_at_help"))
    button_column.button(t("lab.add"), on_click=_add, args=(place,), key=_key(place, "add"), icon=":material/add:",
                         disabled=count >= MAX_LAYERS, help=t("lab.add_help", limit=MAX_LAYERS))


def net_editor(place: str, input_shape: tuple[int, ...] = INPUT_SHAPE, batch_size: int = REFERENCE_BATCH_SIZE,
               default_preset: str = "tutorial") -> EditorResult:
    """Draw place's network as editable rows with their shapes, totals and first error; return the check."""
    layers = rows(place, default_preset)
    result = check_rows(place, input_shape, batch_size)
    mismatches = linear_mismatches(result.spec, result.trace) if result.trace is not None else {}
    st.caption(t("lab.editor_input", shape=shape_text(input_shape)))
    for index, row in enumerate(layers):
        _row(place, index, row, len(layers), result, mismatches)
    _add_controls(place, len(layers))
    if result.trace is not None:
        totals = st.columns(3)
        totals[0].metric(t("lab.total_parameters"), f"{result.trace.total_parameters:,}")
        totals[1].metric(t("lab.activation_memory"), f"{result.trace.activation_bytes(batch_size) / BYTES_PER_MB:,.1f} MB",
                         help=t("lab.activation_memory_help", batch=batch_size))
        totals[2].metric(t("lab.output_shape"), shape_text(result.trace.output_shape))
    if result.error is not None:
        st.error(f"**{t('lab.cannot_train')}** {error_text(result.error)}", icon=":material/block:")
    elif mismatches:
        here, built = next(iter(mismatches.values()))
        st.error(t("lab.input_breaks_linear", side=input_shape[-1], here=f"{here:,}", built=f"{built:,}",
                   size=INPUT_SHAPE[-1]), icon=":material/block:")
    elif tuple(input_shape) != INPUT_SHAPE:
        st.success(t("lab.input_any_size", side=input_shape[-1], size=INPUT_SHAPE[-1]))
    return result

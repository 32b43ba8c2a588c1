"""The shape page's editable layer chain: layers kept in st.session_state, one row of widgets each.

Layers live in a plain list of dicts, and every widget copies its value back on change, so the chain
survives a page switch (Streamlit forgets the widgets of a page that is not shown) and a language switch.
"""

from __future__ import annotations

import streamlit as st

from mnist_core.shapes import CONV, ConvLayer, Layer, LayerTrace, PoolLayer, seed_layers
from ui.i18n import t

CHAIN_KEY = "shapes_chain"
NEXT_ID_KEY = "shapes_chain_next_id"
# field -> (minimum, maximum) for every number the shape page takes; layer fields first, in display order
FIELD_BOUNDS = {
    "out_channels": (1, 512),
    "kernel_size": (1, 31),
    "padding": (0, 31),
    "stride": (1, 31),
    "dilation": (1, 8),
    "input_size": (1, 512),
    "in_channels": (1, 512),
}


def _as_dict(layer: Layer) -> dict:
    fields = {name: getattr(layer, name) for name in FIELD_BOUNDS if hasattr(layer, name)}
    if layer.kind != CONV and layer.stride is None:
        fields["stride"] = layer.kernel_size
    return {"kind": layer.kind, **fields}


def _new_row(layer: Layer) -> dict:
    row_id = st.session_state.get(NEXT_ID_KEY, 0)
    st.session_state[NEXT_ID_KEY] = row_id + 1
    return {"id": row_id, **_as_dict(layer)}


def reset_to_seed() -> None:
    st.session_state[CHAIN_KEY] = [_new_row(layer) for layer in seed_layers()]


def chain_rows() -> list[dict]:
    if CHAIN_KEY not in st.session_state:
        reset_to_seed()
    return st.session_state[CHAIN_KEY]


def as_layer(row: dict) -> Layer:
    if row["kind"] == CONV:
        return ConvLayer(row["out_channels"], row["kernel_size"], row["padding"], row["stride"], row["dilation"])
    return PoolLayer(row["kernel_size"], row["stride"], row["padding"], row["dilation"])


def add_layer(layer: Layer) -> None:
    chain_rows().append(_new_row(layer))


def remove_layer(index: int) -> None:
    del chain_rows()[index]


def move_layer(index: int, offset: int) -> None:
    rows = chain_rows()
    target = index + offset
    if 0 <= target < len(rows):
        rows[index], rows[target] = rows[target], rows[index]


def widget_key(row: dict, field: str) -> str:
    return f"{CHAIN_KEY}_{row['id']}_{field}"


def _store(row: dict, field: str) -> None:
    row[field] = st.session_state[widget_key(row, field)]


def layer_row_controls(index: int, row: dict, trace: LayerTrace, describe_result) -> None:
    """One bordered row: the layer's numbers, up / down / remove, and what the layer makes of its input."""
    rows = chain_rows()
    with st.container(border=True):
        heading, *number_columns = st.columns([1.4, 1, 1, 1, 1, 1], vertical_alignment="bottom")
        kind_name = t(f"shapes.kind_{row['kind']}")
        heading.markdown(f"**{index + 1}. {kind_name}**")
        fields = [name for name in FIELD_BOUNDS if name in row]  # a pooling row has no out_channels
        for column, field in zip(number_columns[-len(fields):], fields):
            low, high = FIELD_BOUNDS[field]
            column.number_input(
                t(f"shapes.chain_{field}"), low, high, value=row[field], key=widget_key(row, field),
                on_change=_store, args=(row, field),
            )
        result, up, down, remove = st.columns([7, 1, 1, 1], vertical_alignment="center")
        with result:
            describe_result(trace)
        up.button("↑", key=widget_key(row, "up"), on_click=move_layer, args=(index, -1), width="stretch",
                  disabled=index == 0, help=t("shapes.chain_up"))
        down.button("↓", key=widget_key(row, "down"), on_click=move_layer, args=(index, 1), width="stretch",
                    disabled=index == len(rows) - 1, help=t("shapes.chain_down"))
        remove.button("✕", key=widget_key(row, "remove"), on_click=remove_layer, args=(index,), width="stretch",
                      help=t("shapes.chain_remove"))

"""Bounds of the shape page's number inputs (the calculator's layer and its input), and their check.

The inputs take any number (no min_value or max_value): Streamlit would refuse an out-of-range number silently,
keep the last one and show its old answer, so the page checks them here and names every bad field.
The editable chain that lived here is now the network editor (ui/net_editor.py), which takes every layer type.
"""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

from ui.i18n import t

# field -> (minimum, maximum) for every number the shape page takes
FIELD_BOUNDS = {
    "out_channels": (1, 512),
    "kernel_size": (1, 31),
    "padding": (0, 31),
    "stride": (1, 31),
    "dilation": (1, 8),
    "input_size": (1, 512),
    "in_channels": (1, 512),
}


class OutOfRange(NamedTuple):
    field: str  # a key of FIELD_BOUNDS
    value: object  # what the box holds: a number, or None for an emptied box
    low: int
    high: int


def out_of_range(values: dict[str, object]) -> list[OutOfRange]:
    """Every value (field -> number) that is not a whole number within its FIELD_BOUNDS, in the order given."""
    refused = []
    for field, value in values.items():
        low, high = FIELD_BOUNDS[field]
        whole = isinstance(value, int) and not isinstance(value, bool)
        if not whole or not low <= value <= high:
            refused.append(OutOfRange(field, value, low, high))
    return refused


def show_out_of_range(refused: list[OutOfRange], labels: dict[str, str]) -> None:
    """One message naming every refused number and its allowed range, in the words of its box (labels: field ->
    the box's label), as the Train page names its refused settings."""
    reasons = [
        t("shapes.out_of_range_empty" if value is None else "shapes.out_of_range", field=labels[field], value=value,
          low=low, high=high)
        for field, value, low, high in refused
    ]
    heading = f"**{t('shapes.out_of_range_heading')}**"
    st.error(f"{heading} {reasons[0]}" if len(reasons) == 1 else "\n".join([heading, *(f"- {r}" for r in reasons)]),
             icon=":material/block:")

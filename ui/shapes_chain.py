"""Bounds of the shape page's number inputs (the calculator's layer and its input).

The editable chain that lived here is now the network editor (ui/net_editor.py), which takes every layer type.
"""

from __future__ import annotations

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

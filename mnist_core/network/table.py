"""A network as a table: each layer's PyTorch call, output shape and parameter count, worked out from its spec.

    for row in network_table(tutorial_spec()):
        print(row.name, row.code, row.output_shape, row.parameters)   # conv1 nn.Conv2d(1, 10, kernel_size=5) ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .spec import INPUT_SHAPE, LayerTrace, NetSpec, check_spec

# The argument PyTorch takes first, worked out from the input: a layer's spec leaves it out.
INPUT_ARGUMENT = {"Conv2d": 0, "BatchNorm2d": 0, "Linear": 0}  # index into the input shape (channels, features)
POSITIONAL = {"Conv2d": ("out_channels",), "Linear": ("out_features",)}  # written without name=, as PyTorch's docs


@dataclass(frozen=True)
class NetworkRow:
    name: str  # the layer's name in the built model (conv1, pool1, fc1, ...); "input" for the image itself
    code: str  # the PyTorch call that makes the layer
    output_shape: tuple[int, ...]  # of one image, batch dimension left out
    parameters: int


def python_literal(value: Any) -> str:
    """A Python literal for an argument: strings in double quotes ("same"), numbers and booleans as Python writes them."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def module_call(layer: LayerTrace) -> str:
    """The torch.nn constructor call for one traced layer, e.g. ``nn.Conv2d(1, 10, kernel_size=5)``.

    The input size comes from the trace; other arguments are written as the spec gives them (defaults left out)."""
    spec = layer.layer
    given = dict(spec.arguments)
    parts = []
    if spec.type in INPUT_ARGUMENT:
        parts.append(str(layer.input_shape[INPUT_ARGUMENT[spec.type]]))
    for name in POSITIONAL.get(spec.type, ()):
        parts.append(python_literal(given.pop(name)))
    parts += [f"{name}={python_literal(value)}" for name, value in given.items()]
    return f"nn.{spec.type}({', '.join(parts)})"


def network_table(spec: NetSpec) -> list[NetworkRow]:
    """The input, then every layer of a valid spec; SpecError (from check_spec) for one that cannot work."""
    trace = check_spec(spec)
    rows = [NetworkRow("input", "x", INPUT_SHAPE, 0)]
    rows += [NetworkRow(layer.name, module_call(layer), layer.output_shape, layer.parameters) for layer in trace.layers]
    return rows

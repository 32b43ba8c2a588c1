"""A network as data: an ordered list of torch.nn layers, checked before anything is built.

    {"layers": [
      {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1},
      {"type": "BatchNorm2d"},
      {"type": "LeakyReLU", "negative_slope": 0.1},
      {"type": "MaxPool2d", "kernel_size": 2},
      {"type": "Flatten"},
      {"type": "Linear", "out_features": 10}
    ]}

``type`` is the torch.nn class name; the other keys are that class's own argument names, PyTorch's
defaults when left out. Input sizes (in_channels, num_features, in_features) are inferred, never written.
The input is one 1 x 28 x 28 image; the last layer must give 10 numbers, to which the model applies
log_softmax, as the tutorial's forward does.

``trace_spec`` pushes the input shape through the layers with the shape functions of ``shapes`` and
stops at the first layer that cannot work, with a ``SpecError`` that names the layer, the rule and the
numbers. ``build_model`` only builds a spec that traces cleanly and stays within the limits, so a typo
or a hostile file cannot exhaust the server.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import IMAGE_SIZE, N_CLASSES
from .shapes import ShapeError, conv_output_size, pool_output_size, same_padding_plan, shape_text

INPUT_SHAPE = (1, IMAGE_SIZE, IMAGE_SIZE)  # one greyscale MNIST image: channels, height, width

# Limits: what a classroom server can afford per learner, far above any network the lab needs.
MAX_LAYERS = 24
MAX_WIDTH = 512  # channels of a conv layer, features of a linear layer
MAX_PARAMETERS = 2_000_000
MAX_ACTIVATION_BYTES = 300 * 10**6  # of one training batch, forward values plus their gradients
MAX_KERNEL = IMAGE_SIZE  # kernel, stride, padding and dilation above the input's side can never help
REFERENCE_BATCH_SIZE = 64  # the tutorial's training batch: the limit's default when no batch is given
BYTES_PER_ACTIVATION = 4 * 2  # float32 value kept for backward, plus its gradient

Shape = tuple[int, ...]  # (channels, height, width) of one image, or (features,) once flat


class SpecError(ValueError):
    """A network description that cannot be built, with what a UI needs to word it in any language.

    layer: 1-based position of the offending layer (None for the whole spec), layer_type its type,
    field the argument at fault (None when the layer as a whole is), rule the broken rule, values its numbers.
    Rules: "not_a_spec", "no_layers", "not_a_layer", "unknown_type", "unknown_argument",
    "missing_argument", "whole_number", "number", "boolean", "choice", "probability", "same_needs_stride_1",
    the shape rules of ShapeError ("kernel_too_large", "window_outside", "pool_padding"),
    "needs_image" (a 2-d layer after Flatten), "needs_flat" (Linear on C x H x W), "output_size" (the last
    layer does not give 10), and the limits "too_many_layers", "too_wide", "too_many_parameters",
    "too_much_memory".
    """

    def __init__(self, message: str, rule: str, layer: int | None = None, layer_type: str | None = None,
                 field: str | None = None, **values: Any) -> None:
        where = f"Layer {layer} ({layer_type}): " if layer is not None else ""
        super().__init__(where + message)
        self.rule, self.layer, self.layer_type, self.field, self.values = rule, layer, layer_type, field, values


# --- The layer types --------------------------------------------------------------------------

REQUIRED = object()  # marks an argument without a PyTorch default


@dataclass(frozen=True)
class Argument:
    kind: str  # "int" (whole number >= minimum), "padding" (int or "same"/"valid"), "number", "probability", "bool"
    default: Any = REQUIRED
    minimum: int = 0


def _size(minimum: int = 1, default: Any = REQUIRED) -> Argument:
    return Argument("int", default, minimum)


LAYER_ARGUMENTS: dict[str, dict[str, Argument]] = {
    "Conv2d": {"out_channels": _size(), "kernel_size": _size(), "stride": _size(default=1),
               "padding": Argument("padding", 0), "dilation": _size(default=1), "bias": Argument("bool", True)},
    "MaxPool2d": {"kernel_size": _size(), "stride": _size(default=None), "padding": _size(0, 0),
                  "dilation": _size(default=1), "ceil_mode": Argument("bool", False)},
    "AvgPool2d": {"kernel_size": _size(), "stride": _size(default=None), "padding": _size(0, 0),
                  "ceil_mode": Argument("bool", False)},
    "AdaptiveAvgPool2d": {"output_size": _size()},
    "BatchNorm2d": {},
    "ReLU": {},
    "LeakyReLU": {"negative_slope": Argument("number", 0.01)},
    "Dropout": {"p": Argument("probability", 0.5)},
    "Dropout2d": {"p": Argument("probability", 0.5)},
    "Flatten": {},
    "Linear": {"out_features": _size(), "bias": Argument("bool", True)},
}
LAYER_TYPES = tuple(LAYER_ARGUMENTS)
IMAGE_LAYERS = {"Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d", "Dropout2d"}
# Attribute names in the built model, numbered per kind: the tutorial's conv1, conv2, fc1, fc2 are then the
# tutorial Net's own state_dict keys, so checkpoints written before the spec existed still load.
NAME_PREFIX = {"Conv2d": "conv", "Linear": "fc", "BatchNorm2d": "bn", "MaxPool2d": "pool", "AvgPool2d": "avgpool",
               "AdaptiveAvgPool2d": "adaptive_pool", "ReLU": "relu", "LeakyReLU": "leaky_relu",
               "Dropout": "drop", "Dropout2d": "drop2d", "Flatten": "flatten"}


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its torch.nn type and the arguments given (defaults are not stored, so JSON stays as written)."""

    type: str
    arguments: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str) -> Any:
        """An argument's value, PyTorch's default when it was left out."""
        given = dict(self.arguments)
        return given[name] if name in given else LAYER_ARGUMENTS[self.type][name].default

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **dict(self.arguments)}


@dataclass(frozen=True)
class NetSpec:
    """An ordered list of layers; ``from_dict``/``from_json`` check every type and argument."""

    layers: tuple[LayerSpec, ...]

    @classmethod
    def from_dict(cls, values: Any) -> "NetSpec":
        if not isinstance(values, dict) or not isinstance(values.get("layers"), list):
            raise SpecError('A network is a JSON object with a "layers" list.', "not_a_spec")
        extra = sorted(set(values) - {"layers"})
        if extra:
            raise SpecError(f'A network has only "layers"; unknown keys: {", ".join(map(str, extra))}.',
                            "unknown_argument", field=str(extra[0]))
        if not values["layers"]:
            raise SpecError("A network needs at least one layer.", "no_layers")
        if len(values["layers"]) > MAX_LAYERS:
            raise SpecError(f"{len(values['layers'])} layers is more than the limit of {MAX_LAYERS}.",
                            "too_many_layers", count=len(values["layers"]), limit=MAX_LAYERS)
        return cls(tuple(_parse_layer(position, layer) for position, layer in enumerate(values["layers"], 1)))

    @classmethod
    def from_json(cls, text: str | bytes) -> "NetSpec":
        try:
            values = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SpecError(f"This is not valid JSON ({exc}).", "not_a_spec") from exc
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        return {"layers": [layer.to_dict() for layer in self.layers]}

    def to_json(self) -> str:
        """One layer per line, as the README shows the format."""
        lines = ",\n".join("  " + json.dumps(layer.to_dict()) for layer in self.layers)
        return '{"layers": [\n' + lines + "\n]}"


def _parse_layer(position: int, values: Any) -> LayerSpec:
    if not isinstance(values, dict) or "type" not in values:
        raise SpecError('Each layer is a JSON object with a "type".', "not_a_layer", position)
    layer_type = values["type"]
    if layer_type not in LAYER_ARGUMENTS:
        raise SpecError(f"{layer_type!r} is not a supported layer; use one of {', '.join(LAYER_TYPES)}.",
                        "unknown_type", position, str(layer_type), choices=LAYER_TYPES)
    allowed = LAYER_ARGUMENTS[layer_type]
    for name in values:
        if name != "type" and name not in allowed:
            hint = {"in_channels": ", inferred from the layer before",
                    "in_features": ", inferred from the layer before",
                    "num_features": ", inferred from the layer before"}.get(name, "")
            raise SpecError(f"unknown argument {name!r}{hint}; it takes {', '.join(allowed) or 'none'}.",
                            "unknown_argument", position, layer_type, str(name), choices=tuple(allowed))
    for name, argument in allowed.items():
        if argument.default is REQUIRED and name not in values:
            raise SpecError(f"{name} is required.", "missing_argument", position, layer_type, name)
        if name in values:
            _check_argument(position, layer_type, name, argument, values[name])
    return LayerSpec(layer_type, tuple((name, values[name]) for name in allowed if name in values))


def _check_argument(position: int, layer_type: str, name: str, argument: Argument, value: Any) -> None:
    def refuse(message: str, rule: str, **numbers: Any) -> SpecError:
        return SpecError(f"{name} {message}, got {value!r}.", rule, position, layer_type, name, value=value, **numbers)

    is_int = isinstance(value, int) and not isinstance(value, bool)
    if argument.kind == "bool":
        if not isinstance(value, bool):
            raise refuse("must be true or false", "boolean")
    elif argument.kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise refuse("must be a number", "number")
    elif argument.kind == "probability":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise refuse("must be a probability, at least 0 and below 1", "probability", low=0, high=1)
    elif argument.kind == "padding" and isinstance(value, str):
        if value not in ("same", "valid"):
            raise refuse('must be a whole number, "same" or "valid"', "choice", choices=("same", "valid"))
    elif value is None and argument.default is None:
        return  # stride None: the kernel size, as in PyTorch
    else:  # "int", or "padding" given as a number
        high = MAX_WIDTH if name in ("out_channels", "out_features") else MAX_KERNEL
        if not is_int or not argument.minimum <= value <= high:
            if is_int and value > high and high == MAX_WIDTH:
                raise refuse(f"is over the limit of {MAX_WIDTH}", "too_wide", limit=MAX_WIDTH)
            raise refuse(f"must be a whole number from {argument.minimum} to {high}", "whole_number",
                         low=argument.minimum, high=high)


# --- Shapes and parameters --------------------------------------------------------------------


@dataclass(frozen=True)
class LayerTrace:
    position: int  # 1-based, as errors name it
    layer: LayerSpec
    name: str  # attribute in the built model: conv1, fc2, ...
    input_shape: Shape
    output_shape: Shape
    parameters: int


@dataclass(frozen=True)
class SpecTrace:
    """Every layer's shapes and parameter count; ``error`` is the first layer that cannot work, if any."""

    input_shape: Shape
    layers: tuple[LayerTrace, ...]  # the layers that work, in order, up to the first error
    error: SpecError | None

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].output_shape if self.layers else self.input_shape

    @property
    def total_parameters(self) -> int:
        return sum(layer.parameters for layer in self.layers)

    def activation_bytes(self, batch_size: int = REFERENCE_BATCH_SIZE) -> int:
        """Estimated memory of one training batch's activations: every layer's output kept for backward,
        plus its gradient, in float32. Optimizer state and the weights themselves are not included."""
        elements = math.prod(self.input_shape) + sum(math.prod(layer.output_shape) for layer in self.layers)
        return elements * batch_size * BYTES_PER_ACTIVATION


def trace_spec(spec: NetSpec, input_shape: Shape = INPUT_SHAPE) -> SpecTrace:
    """Push input_shape through the layers; stop at the first that cannot work (shape rules only, no limits)."""
    shape = tuple(input_shape)
    counts: dict[str, int] = {}
    traces: list[LayerTrace] = []
    for position, layer in enumerate(spec.layers, 1):
        try:
            output, parameters = _layer_shape(layer, shape)
        except ShapeError as exc:
            error = SpecError(str(exc), exc.rule, position, layer.type, **exc.values)
            return SpecTrace(tuple(input_shape), tuple(traces), error)
        except SpecError as exc:
            exc.layer, exc.layer_type = position, layer.type
            exc.args = (f"Layer {position} ({layer.type}): {exc.args[0]}",)
            return SpecTrace(tuple(input_shape), tuple(traces), exc)
        prefix = NAME_PREFIX[layer.type]
        counts[prefix] = counts.get(prefix, 0) + 1
        traces.append(LayerTrace(position, layer, f"{prefix}{counts[prefix]}", shape, output, parameters))
        shape = output
    error = None
    if shape != (N_CLASSES,):
        last = spec.layers[-1]
        error = SpecError(f"the network must end with {N_CLASSES} numbers, one score per digit, but gives "
                          f"{shape_text(shape)}. End with Linear(out_features={N_CLASSES}) after Flatten.",
                          "output_size", len(spec.layers), last.type, shape=shape, expected=N_CLASSES)
    return SpecTrace(tuple(input_shape), tuple(traces), error)


def _layer_shape(layer: LayerSpec, shape: Shape) -> tuple[Shape, int]:
    """Output shape of one image and the layer's learnable numbers; ShapeError/SpecError if impossible."""
    kind = layer.type
    if kind in IMAGE_LAYERS and len(shape) != 3:
        raise SpecError(f"works on images (C × H × W) but gets {shape[0]} flat features; move it before Flatten.",
                        "needs_image", shape=shape)
    if kind == "Linear":
        if len(shape) != 1:
            raise SpecError(f"needs flat features but gets {shape_text(shape)}; put Flatten (the view(-1, "
                            f"{math.prod(shape)}) of the tutorial) before it.", "needs_flat", shape=shape,
                            features=math.prod(shape))
        out = layer.get("out_features")
        return (out,), shape[0] * out + (out if layer.get("bias") else 0)
    if kind == "Flatten":
        return (math.prod(shape),), 0
    if kind == "Conv2d":
        channels, height, width = shape
        out, f, s, d = layer.get("out_channels"), layer.get("kernel_size"), layer.get("stride"), layer.get("dilation")
        padding = layer.get("padding")
        if padding == "same":
            if s != 1:
                raise SpecError('padding "same" needs stride 1 (PyTorch refuses it otherwise).',
                                "same_needs_stride_1", field="padding", stride=s)
            plan = same_padding_plan(f, d)
            # PyTorch pads plan.left before and plan.right after: the size stays, provided the kernel fits.
            sides = tuple(conv_output_size(n + plan.total - 2 * (plan.total // 2), f, plan.total // 2, 1, d)
                          for n in (height, width))
        else:
            p = 0 if padding == "valid" else padding
            sides = tuple(conv_output_size(n, f, p, s, d) for n in (height, width))
        weights = out * channels * f * f + (out if layer.get("bias") else 0)
        return (out, *sides), weights
    if kind in ("MaxPool2d", "AvgPool2d"):
        channels, height, width = shape
        f, s, p = layer.get("kernel_size"), layer.get("stride"), layer.get("padding")
        d = layer.get("dilation") if kind == "MaxPool2d" else 1
        return (channels, *(pool_output_size(n, f, s, p, d, layer.get("ceil_mode")) for n in (height, width))), 0
    if kind == "AdaptiveAvgPool2d":
        side = layer.get("output_size")
        return (shape[0], side, side), 0
    if kind == "BatchNorm2d":
        return shape, 2 * shape[0]  # a scale and a shift per channel (the running mean and variance are not learned)
    return shape, 0  # ReLU, LeakyReLU, Dropout, Dropout2d: same shape, nothing to learn


def check_spec(spec: NetSpec, batch_size: int = REFERENCE_BATCH_SIZE) -> SpecTrace:
    """The trace of a spec that works and fits the limits; SpecError naming the first problem otherwise."""
    trace = trace_spec(spec)
    if trace.error is not None:
        raise trace.error
    for layer in trace.layers:
        if len(layer.output_shape) == 3 and layer.output_shape[0] > MAX_WIDTH:
            raise SpecError(f"{layer.output_shape[0]} channels is over the limit of {MAX_WIDTH}.", "too_wide",
                            layer.position, layer.layer.type, limit=MAX_WIDTH, value=layer.output_shape[0])
    if trace.total_parameters > MAX_PARAMETERS:
        raise SpecError(f"The network has {trace.total_parameters:,} parameters, over the limit of "
                        f"{MAX_PARAMETERS:,}.", "too_many_parameters", value=trace.total_parameters,
                        limit=MAX_PARAMETERS)
    needed = trace.activation_bytes(batch_size)
    if needed > MAX_ACTIVATION_BYTES:
        raise SpecError(f"A training batch of {batch_size} would need about {needed / 1e6:,.0f} MB of activations, "
                        f"over the limit of {MAX_ACTIVATION_BYTES // 10**6} MB. Shrink the early layers (channels, "
                        "or pool sooner) or the batch.", "too_much_memory", value=needed,
                        limit=MAX_ACTIVATION_BYTES, batch_size=batch_size)
    return trace


# --- The model ----------------------------------------------------------------------------------


class SeededDropout(nn.Dropout):
    """nn.Dropout that draws its mask from ``generator`` when one is set, else from the global RNG.

    A training job sets its own generator, so concurrent jobs never change each other's masks. The mask is
    drawn as PyTorch's own CPU dropout draws it (bernoulli of 1 - p, scaled by 1 / (1 - p)), so the same
    generator state gives the same mask as F.dropout after torch.manual_seed.
    """

    generator: torch.Generator | None = None

    def _noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return tuple(x.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or self.generator is None:
            return super().forward(x)
        noise = torch.empty(self._noise_shape(x), dtype=x.dtype, device=x.device)
        noise.bernoulli_(1 - self.p, generator=self.generator).div_(1 - self.p)
        return x * noise


class SeededDropout2d(SeededDropout):
    """nn.Dropout2d (whole channels) with the same generator rule: one draw per image and channel."""

    def _noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (*x.shape[:2], *([1] * (x.dim() - 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or self.generator is None:
            return F.dropout2d(x, self.p, self.training)
        return super().forward(x)


class SpecNet(nn.Sequential):
    """The layers of a NetSpec in order, then log_softmax over the 10 scores (the tutorial's forward)."""

    def __init__(self, spec: NetSpec, modules: "OrderedDict[str, nn.Module]") -> None:
        super().__init__(modules)
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(super().forward(x), dim=1)

    def use_generator(self, generator: torch.Generator | None) -> None:
        """Draw every dropout mask from generator (None: the global RNG)."""
        for module in self.modules():
            if isinstance(module, SeededDropout):
                module.generator = generator

    @torch.no_grad()
    def feature_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The output of every layer before Flatten, by name, as the eval-mode forward pass sees them."""
        was_training = self.training
        self.eval()
        maps = {}
        for name, module in self.named_children():
            if isinstance(module, nn.Flatten):
                break
            x = module(x)
            maps[name] = x
        self.train(was_training)
        return maps


def _module(layer: LayerSpec, input_shape: Shape) -> nn.Module:
    get = layer.get
    kind = layer.type
    if kind == "Conv2d":
        return nn.Conv2d(input_shape[0], get("out_channels"), get("kernel_size"), stride=get("stride"),
                         padding=get("padding"), dilation=get("dilation"), bias=get("bias"))
    if kind == "MaxPool2d":
        return nn.MaxPool2d(get("kernel_size"), get("stride"), get("padding"), get("dilation"), ceil_mode=get("ceil_mode"))
    if kind == "AvgPool2d":
        return nn.AvgPool2d(get("kernel_size"), get("stride"), get("padding"), ceil_mode=get("ceil_mode"))
    if kind == "AdaptiveAvgPool2d":
        return nn.AdaptiveAvgPool2d(get("output_size"))
    if kind == "BatchNorm2d":
        return nn.BatchNorm2d(input_shape[0])
    if kind == "ReLU":
        return nn.ReLU()
    if kind == "LeakyReLU":
        return nn.LeakyReLU(get("negative_slope"))
    if kind == "Dropout":
        return SeededDropout(get("p"))
    if kind == "Dropout2d":
        return SeededDropout2d(get("p"))
    if kind == "Flatten":
        return nn.Flatten()
    return nn.Linear(input_shape[0], get("out_features"), bias=get("bias"))


def build_model(spec: NetSpec, batch_size: int = REFERENCE_BATCH_SIZE) -> SpecNet:
    """The checked spec as a module; parameters are created in layer order, from the global RNG as
    torch.nn does (seed it, or use engine.new_training_state, for reproducible weights)."""
    trace = check_spec(spec, batch_size)
    return SpecNet(spec, OrderedDict((layer.name, _module(layer.layer, layer.input_shape)) for layer in trace.layers))


def expected_state_shapes(spec: NetSpec) -> dict[str, tuple[torch.Size, torch.dtype]]:
    """Every state_dict key of the spec's model with its shape and dtype, without allocating the weights
    (built on the meta device), so a checkpoint can be checked before any tensor is made."""
    with torch.device("meta"):
        model = build_model(spec)
    return {key: (value.shape, value.dtype) for key, value in model.state_dict().items()}


def confirm_shapes(spec: NetSpec) -> list[Shape]:
    """Each layer's output shape from a real forward pass of a zero image (eval mode), to check the trace."""
    model = build_model(spec).eval()
    shapes, x = [], torch.zeros(1, *INPUT_SHAPE)
    with torch.no_grad():
        for module in model.children():
            x = module(x)
            shapes.append(tuple(x.shape[1:]))
    return shapes

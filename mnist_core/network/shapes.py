"""Output-size arithmetic for convolution and max pooling, as PyTorch computes it.

The tutorial's formula o = floor((n + 2p - f) / s) + 1 is the dilation-1 case of
o = floor((n + 2p - d(f - 1) - 1) / s) + 1.

Every impossible layer raises ShapeError, a ValueError that names the rule it breaks
(``rule``) with the numbers involved (``values``), so a page can word the reason in any language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import torch
from torch import nn

CONV = "conv"
POOL = "pool"


class ShapeError(ValueError):
    """A layer that cannot be applied to its input.

    rule names the broken rule; values holds the numbers a message needs:
      "whole_number":    name, minimum, value  (a size, kernel, stride... below its minimum)
      "kernel_too_large": kernel, span, padded (the dilated kernel does not fit the padded input)
      "window_outside":  kernel, span, padded, stride (ceil mode: even the first window starts too late)
      "pool_padding":    padding, kernel, limit (PyTorch pads a pooling at most half its kernel)
    """

    def __init__(self, rule: str, message: str, **values) -> None:
        super().__init__(message)
        self.rule = rule
        self.values = values


def _check_at_least(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ShapeError(
            "whole_number",
            f"{name} must be a whole number of at least {minimum}, got {value!r}.",
            name=name, minimum=minimum, value=value,
        )


def shape_text(shape) -> str:
    """(20, 4, 4) -> "20 × 4 × 4": how every page and message writes a tensor's shape."""
    return " × ".join(map(str, shape))


def effective_kernel_size(f: int, d: int = 1) -> int:
    """How many input cells a dilated kernel spans: d(f - 1) + 1."""
    return d * (f - 1) + 1


def _kernel_words(f: int, d: int, span: int) -> str:
    return f"kernel {f}" if d == 1 else f"kernel {f} with dilation {d} (spanning {span})"


@dataclass(frozen=True)
class OutputSizeSteps:
    """The output-size formula with the numbers substituted, one value per step."""

    n: int  # input size, cells
    f: int  # kernel size
    p: int  # zero padding per side
    s: int  # stride
    d: int  # dilation
    ceil_mode: bool  # pooling only: round the division up instead of down
    span: int  # d(f - 1) + 1: cells one window covers
    padded: int  # n + 2p
    numerator: int  # padded - span: how far the window can slide
    quotient: float  # numerator / s, before rounding
    rounded: int  # floor (or ceil) of the quotient: whole strides that fit
    last_window_removed: bool  # ceil mode: PyTorch drops a last window that would start in the right padding
    result: int  # output size
    leftover: int  # padded cells after the last window's end, never read
    dropped_input: int  # of those leftover cells, real input rows/cols (the rest is padding)

    @property
    def exact(self) -> bool:
        return self.numerator % self.s == 0


def _output_steps(n: int, f: int, p: int, s: int, d: int, ceil_mode: bool) -> OutputSizeSteps:
    span = effective_kernel_size(f, d)
    padded = n + 2 * p
    numerator = padded - span
    rounded = -(-numerator // s) if ceil_mode else numerator // s
    result = rounded + 1
    last_window_removed = ceil_mode and (result - 1) * s >= n + p
    if last_window_removed:
        result -= 1
    if result < 1:
        if span > padded and not ceil_mode:
            raise ShapeError(
                "kernel_too_large",
                f"{_kernel_words(f, d, span)} is larger than the padded input {padded}.",
                kernel=f, span=span, padded=padded,
            )
        raise ShapeError(
            "window_outside",
            f"{_kernel_words(f, d, span)} overhangs the padded input {padded} by at least the stride {s}, "
            "so not even one window starts inside it.",
            kernel=f, span=span, padded=padded, stride=s,
        )
    last_window_end = (result - 1) * s + span
    leftover = max(0, padded - last_window_end)
    return OutputSizeSteps(
        n=n, f=f, p=p, s=s, d=d, ceil_mode=ceil_mode, span=span, padded=padded, numerator=numerator,
        quotient=numerator / s, rounded=rounded, last_window_removed=last_window_removed, result=result,
        leftover=leftover, dropped_input=max(0, leftover - p),
    )


def conv_output_steps(n: int, f: int, p: int = 0, s: int = 1, d: int = 1) -> OutputSizeSteps:
    """Each step of a convolution's output size along one axis, as ``nn.Conv2d`` computes it."""
    _check_at_least("input size n", n, 1)
    _check_at_least("kernel size f", f, 1)
    _check_at_least("padding p", p, 0)
    _check_at_least("stride s", s, 1)
    _check_at_least("dilation d", d, 1)
    return _output_steps(n, f, p, s, d, ceil_mode=False)


def pool_output_steps(
    n: int, f: int, s: int | None = None, p: int = 0, d: int = 1, ceil_mode: bool = False
) -> OutputSizeSteps:
    """Each step of max pooling's output size along one axis, as ``nn.MaxPool2d`` computes it.

    The stride defaults to the kernel size, as in PyTorch. Padding may be at most half the kernel
    (PyTorch checks half of f, and half of the dilated span, so f // 2 is the limit that binds).
    With ceil_mode a last window may hang over the edge, but it must start inside the input or the left padding.
    """
    s = f if s is None else s
    _check_at_least("input size n", n, 1)
    _check_at_least("kernel size f", f, 1)
    _check_at_least("padding p", p, 0)
    _check_at_least("stride s", s, 1)
    _check_at_least("dilation d", d, 1)
    limit = f // 2
    if p > limit:
        raise ShapeError(
            "pool_padding",
            f"padding {p} is more than half the kernel {f}; max pooling allows at most {limit}.",
            padding=p, kernel=f, limit=limit,
        )
    return _output_steps(n, f, p, s, d, ceil_mode)


def conv_output_size(n: int, f: int, p: int = 0, s: int = 1, d: int = 1) -> int:
    """Output length of a convolution along one axis, as ``nn.Conv2d`` computes it.

    n: input size, f: kernel size, p: zero padding per side, s: stride, d: dilation.
    """
    return conv_output_steps(n, f, p, s, d).result


def pool_output_size(
    n: int, f: int, s: int | None = None, p: int = 0, d: int = 1, ceil_mode: bool = False
) -> int:
    """Output length of max pooling along one axis, as ``nn.MaxPool2d`` computes it (stride defaults to f)."""
    return pool_output_steps(n, f, s, p, d, ceil_mode).result


@dataclass(frozen=True)
class SamePadding:
    """The padding that keeps the size unchanged at stride 1.

    A stride-1 window removes d(f - 1) cells (the span minus one), so the padding must add
    exactly that many back. Symmetric padding adds 2p, an even number: it works only when
    d(f - 1) is even, which is always true for an odd kernel. For an even kernel PyTorch's
    padding="same" pads one cell more on the right (and bottom) than on the left (and top).
    """

    f: int
    d: int
    total: int  # d(f - 1): padding cells needed in all, both sides together
    left: int  # total // 2: what PyTorch's padding="same" puts on the left/top
    right: int  # total - left: on the right/bottom

    @property
    def symmetric(self) -> bool:
        return self.left == self.right

    @property
    def per_side(self) -> int | None:
        """The symmetric p, or None when no whole p exists."""
        return self.left if self.symmetric else None


def same_padding_plan(f: int, d: int = 1) -> SamePadding:
    _check_at_least("kernel size f", f, 1)
    _check_at_least("dilation d", d, 1)
    total = d * (f - 1)
    return SamePadding(f=f, d=d, total=total, left=total // 2, right=total - total // 2)


def same_padding(f: int, d: int = 1) -> int | None:
    """Padding per side that keeps the size unchanged at stride 1, or None if none exists."""
    return same_padding_plan(f, d).per_side


@dataclass(frozen=True)
class ConvParameters:
    """Learnable numbers of one nn.Conv2d: a filter is a stack of kernels, one per input channel."""

    in_channels: int
    out_channels: int
    f: int
    kernels_per_filter: int  # = in_channels
    weights_per_kernel: int  # f * f
    weights_per_filter: int  # in_channels * f * f
    filters: int  # = out_channels: each filter makes one output channel
    biases: int  # one per filter
    total: int


def conv_parameters(in_channels: int, out_channels: int, f: int, bias: bool = True) -> ConvParameters:
    _check_at_least("input channels", in_channels, 1)
    _check_at_least("output channels", out_channels, 1)
    _check_at_least("kernel size f", f, 1)
    weights_per_filter = in_channels * f * f
    biases = out_channels if bias else 0
    return ConvParameters(
        in_channels=in_channels, out_channels=out_channels, f=f, kernels_per_filter=in_channels,
        weights_per_kernel=f * f, weights_per_filter=weights_per_filter, filters=out_channels,
        biases=biases, total=out_channels * weights_per_filter + biases,
    )


# --- Layer chains ---------------------------------------------------------------------------

Shape = tuple[int, int, int]  # (channels, height, width) of one image


@dataclass(frozen=True)
class ConvLayer:
    out_channels: int
    kernel_size: int
    padding: int = 0
    stride: int = 1
    dilation: int = 1
    kind: str = field(default=CONV, init=False)

    def output_shape(self, shape: Shape) -> Shape:
        _, height, width = shape
        return (self.out_channels, *(
            conv_output_size(n, self.kernel_size, self.padding, self.stride, self.dilation) for n in (height, width)
        ))

    def parameters(self, shape: Shape) -> int:
        return conv_parameters(shape[0], self.out_channels, self.kernel_size).total

    def pytorch_module(self, in_channels: int) -> nn.Module:
        return nn.Conv2d(in_channels, self.out_channels, self.kernel_size, self.stride, self.padding, self.dilation)


@dataclass(frozen=True)
class PoolLayer:
    kernel_size: int = 2
    stride: int | None = None  # None: the kernel size, as in PyTorch
    padding: int = 0
    dilation: int = 1
    ceil_mode: bool = False
    kind: str = field(default=POOL, init=False)

    def output_shape(self, shape: Shape) -> Shape:
        channels, height, width = shape
        return (channels, *(
            pool_output_size(n, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
            for n in (height, width)
        ))

    def parameters(self, shape: Shape) -> int:
        return 0  # pooling only picks the largest value; nothing to learn

    def pytorch_module(self, in_channels: int) -> nn.Module:
        return nn.MaxPool2d(self.kernel_size, self.stride, self.padding, self.dilation, ceil_mode=self.ceil_mode)


Layer = ConvLayer | PoolLayer


def pytorch_output_shape(layer: Layer, input_shape: Shape) -> tuple[int, ...]:
    """Shape that PyTorch itself gives: the layer's module on a zero tensor of one image.

    Raises ValueError with PyTorch's own message when PyTorch refuses the layer.
    """
    module = layer.pytorch_module(input_shape[0])
    try:
        with torch.no_grad():
            return tuple(module(torch.zeros(1, *input_shape)).shape[1:])
    except RuntimeError as error:
        raise ValueError(f"PyTorch refuses this layer: {error}") from None

"""Output-size arithmetic for convolution and max pooling, as PyTorch computes it.

The seed's formula o = floor((n + 2p - f) / s) + 1 is the dilation-1 case of
o = floor((n + 2p - d(f - 1) - 1) / s) + 1.
"""

from __future__ import annotations

import math


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}.")


def _check_non_negative(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of at least 0, got {value!r}.")


def effective_kernel_size(f: int, d: int = 1) -> int:
    """How many input cells a dilated kernel spans: d(f - 1) + 1."""
    return d * (f - 1) + 1


def conv_output_size(n: int, f: int, p: int = 0, s: int = 1, d: int = 1) -> int:
    """Output length of a convolution along one axis, as ``nn.Conv2d`` computes it.

    n: input size, f: kernel size, p: zero padding per side, s: stride, d: dilation.
    """
    _check_positive("input size n", n)
    _check_positive("kernel size f", f)
    _check_non_negative("padding p", p)
    _check_positive("stride s", s)
    _check_positive("dilation d", d)
    span = effective_kernel_size(f, d)
    padded = n + 2 * p
    if span > padded:
        what = f"kernel {f}" if d == 1 else f"kernel {f} with dilation {d} (spanning {span})"
        raise ValueError(f"{what} is larger than the padded input {padded}.")
    return (padded - span) // s + 1


def pool_output_size(
    n: int, f: int, s: int | None = None, p: int = 0, d: int = 1, ceil_mode: bool = False
) -> int:
    """Output length of max pooling along one axis, as ``nn.MaxPool2d`` computes it.

    The stride defaults to the kernel size, as in PyTorch. Padding may be at most half
    the (dilated) kernel. With ceil_mode a last window may hang over the edge, but it must start
    inside the input or the left padding.
    """
    s = f if s is None else s
    _check_positive("input size n", n)
    _check_positive("kernel size f", f)
    _check_non_negative("padding p", p)
    _check_positive("stride s", s)
    _check_positive("dilation d", d)
    span = effective_kernel_size(f, d)
    if p > span // 2:
        raise ValueError(
            f"padding {p} is more than half the kernel {span}; pooling allows at most {span // 2}."
        )
    padded = n + 2 * p
    if span > padded:
        what = f"kernel {f}" if d == 1 else f"kernel {f} with dilation {d} (spanning {span})"
        raise ValueError(f"{what} is larger than the padded input {padded}.")
    rounding = math.ceil if ceil_mode else math.floor
    out = rounding((padded - span) / s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1  # PyTorch drops a last window that would start in the right padding
    return out


def same_padding(f: int, d: int = 1) -> int | None:
    """Padding per side that keeps the size unchanged at stride 1, or None if none exists.

    Symmetric padding adds 2p cells, and the kernel removes d(f - 1), so we need
    2p = d(f - 1): possible only when d(f - 1) is even (always, for an odd kernel).
    """
    _check_positive("kernel size f", f)
    _check_positive("dilation d", d)
    removed = d * (f - 1)
    return removed // 2 if removed % 2 == 0 else None

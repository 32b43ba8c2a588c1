"""Random changes to a training batch that make a net read digits drawn with a mouse or a finger.

A digit drawn on the canvas differs from MNIST's scanned pen strokes: even, often thick or thin ink with
hard edges, a tilt or a slant, a size and position the page's preparation only partly undoes. Each kind
below imitates one of these, on the whole batch at once, on the batch's device:

- rotate: turn by up to MAX_ROTATION_DEGREES and slant (shear) by up to MAX_SLANT, as handwriting leans;
- scale: grow or shrink by a factor within SCALE_RANGE;
- shift: move by up to MAX_SHIFT_PIXELS in each direction;
- stroke: thicker or thinner ink (a blend towards a 3 x 3 dilation or erosion, max_pool2d(x, 3, 1, 1) and
  -max_pool2d(-x, 3, 1, 1)), and on some images the
  hard-edged, even ink of a drawing tool instead of MNIST's soft grey edges.

The geometric kinds share one affine_grid/grid_sample call with a per-image 2 x 3 matrix. Every random
number comes from the caller's torch.Generator, never the global RNG: two jobs in one process cannot
disturb each other, and the same generator state gives the same batch. Labels are untouched.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .data import IMAGE_SIZE, MEAN, STD

AUGMENTATIONS = ("rotate", "scale", "shift", "stroke")

MAX_ROTATION_DEGREES = 15.0  # canvas digits lean both ways; more and a 6 starts to look like a 9 turned
MAX_SLANT = 0.3  # horizontal shear, in pixels of sideways shift per pixel of height (about 17 degrees)
SCALE_RANGE = (0.8, 1.2)  # size factor: the page fits digits to 20 px, but thin or wide ones end up smaller
MAX_SHIFT_PIXELS = 3.0  # pixels of the 28 x 28 image; the page centres by mass, which a stroke's tail skews
# Stroke: each image blends towards its 3 x 3 dilation (ink about 1 px wider each side) or erosion by a
# fraction in [0, MAX_STROKE_BLEND]; thinner is drawn less often, since MNIST's thin 1s would vanish.
MAX_STROKE_BLEND = 1.0
THINNER_FRACTION = 0.3  # share of images thinned rather than thickened
PEN_FRACTION = 0.5  # share of images given a drawing tool's hard-edged ink
PEN_THRESHOLD = 0.35  # ink level (0-1) that becomes the middle of the hard edge ...
PEN_EDGE_WIDTH = 0.3  # ... and the ink range over which that edge rises from none to full
MIN_INK_KEPT_BY_THINNING = 0.5  # fraction of its ink a thinned digit must keep, or it is thickened instead

_BACKGROUND = -MEAN / STD  # a blank pixel after normalize: MNIST's background is not 0 once normalized


def _to_ink(images: torch.Tensor) -> torch.Tensor:
    """Normalized images -> ink in [0, 1] (0 background), where padding with zeros means blank paper."""
    return images * STD + MEAN


def _from_ink(ink: torch.Tensor) -> torch.Tensor:
    return (ink - MEAN) / STD


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=generator.device) * (high - low) + low


def _affine_matrices(n: int, kinds: tuple[str, ...] | list[str], generator: torch.Generator) -> torch.Tensor | None:
    """N x 2 x 3 matrices for affine_grid (output coordinates -> input coordinates), or None if no geometry."""
    geometric = [kind for kind in ("rotate", "scale", "shift") if kind in kinds]
    if not geometric:
        return None
    angle = torch.zeros(n, device=generator.device)
    slant = torch.zeros(n, device=generator.device)
    scale = torch.ones(n, device=generator.device)
    shift = torch.zeros(n, 2, device=generator.device)
    # Draws in a fixed order, one set per kind present, so a kind's numbers do not depend on the others.
    if "rotate" in kinds:
        angle = _uniform(n, -MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES, generator) * (math.pi / 180)
        slant = _uniform(n, -MAX_SLANT, MAX_SLANT, generator)
    if "scale" in kinds:
        scale = _uniform(n, *SCALE_RANGE, generator)
    if "shift" in kinds:
        # affine_grid's coordinates run from -1 to 1 across the image: one pixel is 2 / IMAGE_SIZE.
        shift = _uniform(2 * n, -MAX_SHIFT_PIXELS, MAX_SHIFT_PIXELS, generator).reshape(n, 2) * (2 / IMAGE_SIZE)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # The output pixel at p samples the input at A p + t: A = (rotation x shear) / scale, t = -shift.
    row_x = torch.stack([cos, cos * slant - sin], dim=1) / scale[:, None]
    row_y = torch.stack([sin, sin * slant + cos], dim=1) / scale[:, None]
    linear = torch.stack([row_x, row_y], dim=1)  # N x 2 x 2
    return torch.cat([linear, -shift[:, :, None]], dim=2)


def _dilate(ink: torch.Tensor) -> torch.Tensor:
    """The largest value in each pixel's 3 x 3 neighbourhood: F.max_pool2d(ink, 3, 1, 1), exactly.

    Done as a row maximum then a column maximum over shifted slices: on a CPU that is about 15 times faster
    than max_pool2d's stride-1 kernel. Replicate padding equals max_pool2d's (a border pixel's copy is
    already in its own window).
    """
    padded = F.pad(ink, (1, 1, 1, 1), mode="replicate")
    rows = torch.maximum(torch.maximum(padded[..., :-2, :], padded[..., 1:-1, :]), padded[..., 2:, :])
    return torch.maximum(torch.maximum(rows[..., :-2], rows[..., 1:-1]), rows[..., 2:])


def _stroke(ink: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Hard-edged ink on some images, then each image thicker or thinner by its own amount."""
    n = ink.shape[0]
    pen = torch.rand(n, generator=generator, device=generator.device) < PEN_FRACTION
    blend = _uniform(n, 0.0, MAX_STROKE_BLEND, generator)
    thinner = torch.rand(n, generator=generator, device=generator.device) < THINNER_FRACTION
    # Per-image choices as 0/1 weights of lerp: broadcast arithmetic, cheaper than where() over the batch.
    pen, blend, thinner = (t.to(ink.device, ink.dtype)[:, None, None, None] for t in (pen, blend, thinner))
    hard = ((ink - PEN_THRESHOLD) / PEN_EDGE_WIDTH + 0.5).clamp(0.0, 1.0)
    ink = torch.lerp(ink, hard, pen)  # first, as a pen draws: the stroke width then changes the pen's line
    thicker_ink = _dilate(ink)
    thinner_ink = -_dilate(-ink)
    # Never erase a digit: where erosion would take most of the ink (thin strokes), thicken instead.
    kept = thinner_ink.sum(dim=(1, 2, 3), keepdim=True) / ink.sum(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    thinner = thinner * (kept >= MIN_INK_KEPT_BY_THINNING)
    target = torch.lerp(thicker_ink, thinner_ink, thinner)
    return torch.lerp(ink, target, blend)


def augment_batch(images: torch.Tensor, kinds, generator: torch.Generator) -> torch.Tensor:
    """A randomly changed copy of normalized N x 1 x 28 x 28 images, on their device, same dtype.

    kinds: names from AUGMENTATIONS (any order; an empty list returns the images unchanged). Random numbers
    are drawn on the generator's device and moved to the images' device.
    """
    unknown = [kind for kind in kinds if kind not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; choose from {', '.join(AUGMENTATIONS)}.")
    if not kinds or images.shape[0] == 0:
        return images
    n = images.shape[0]
    ink = _to_ink(images.float())
    theta = _affine_matrices(n, kinds, generator)
    if theta is not None:
        grid = F.affine_grid(theta.to(ink.device), list(ink.shape), align_corners=False)
        ink = F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if "stroke" in kinds:
        ink = _stroke(ink, generator)
    return _from_ink(ink).to(images.dtype)


def augmented_grid(images: torch.Tensor, kinds, seed: int, count: int = 16) -> torch.Tensor:
    """The first ``count`` images, each augmented: count x 1 x 28 x 28, normalized like the input.

    The same seed gives the same images; turn them into 0-255 pixels with data.to_pixels to show them.
    """
    generator = torch.Generator(device=images.device).manual_seed(seed)
    return augment_batch(images[:count], kinds, generator)

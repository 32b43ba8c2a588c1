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

from ..data import IMAGE_SIZE, MEAN, STD

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
MIN_INK_KEPT_BY_THINNING = 0.5  # fraction of its ink a thinned digit must keep, or its stroke stays as it was

# One row of uniform [0, 1) numbers per image, one column per random choice, drawn in a single call. A column
# belongs to one choice whatever kinds are asked for, so a kind's numbers do not depend on the others.
_ANGLE, _SLANT, _SCALE, _SHIFT_X, _SHIFT_Y, _PEN, _BLEND, _THINNER = range(8)
_RANDOM_COLUMNS = 8


def _symmetric(uniform: torch.Tensor, largest: float) -> torch.Tensor:
    """Uniform [0, 1) -> uniform [-largest, largest)."""
    return (uniform * 2 - 1) * largest


def _affine_matrices(draws: torch.Tensor, kinds) -> torch.Tensor:
    """N x 2 x 3 matrices for affine_grid: the output pixel at p samples the input at A p + t."""
    n = draws.shape[0]
    angle = slant = torch.zeros(n, device=draws.device)
    inverse_scale = torch.ones(n, device=draws.device)
    shift = torch.zeros(n, 2, device=draws.device)
    if "rotate" in kinds:
        angle = _symmetric(draws[:, _ANGLE], math.radians(MAX_ROTATION_DEGREES))
        slant = _symmetric(draws[:, _SLANT], MAX_SLANT)
    if "scale" in kinds:
        low, high = SCALE_RANGE
        inverse_scale = 1 / (low + draws[:, _SCALE] * (high - low))
    if "shift" in kinds:
        # affine_grid's coordinates run from -1 to 1 across the image: one pixel is 2 / IMAGE_SIZE.
        shift = _symmetric(draws[:, _SHIFT_X : _SHIFT_Y + 1], MAX_SHIFT_PIXELS * 2 / IMAGE_SIZE)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # A = (rotation x shear) / scale; t = -shift, so the digit moves by +shift.
    return torch.stack(
        [
            cos * inverse_scale, (cos * slant - sin) * inverse_scale, -shift[:, 0],
            sin * inverse_scale, (sin * slant + cos) * inverse_scale, -shift[:, 1],
        ],
        dim=1,
    ).reshape(n, 2, 3)  # fmt: skip


def _dilate(ink: torch.Tensor) -> torch.Tensor:
    """The largest value in each pixel's 3 x 3 neighbourhood: F.max_pool2d(ink, 3, 1, 1), exactly.

    Done as a row maximum then a column maximum over shifted slices: on a CPU that is about 15 times faster
    than max_pool2d's stride-1 kernel. Replicate padding equals max_pool2d's (a border pixel's copy is
    already in its own window). Erosion is -_dilate(-ink).
    """
    padded = F.pad(ink, (1, 1, 1, 1), mode="replicate")
    rows = torch.maximum(torch.maximum(padded[..., :-2, :], padded[..., 1:-1, :]), padded[..., 2:, :])
    return torch.maximum(torch.maximum(rows[..., :-2], rows[..., 1:-1]), rows[..., 2:])


def _stroke(ink: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
    """Hard-edged ink on some images, then each image thicker or thinner by its own amount."""
    per_image = draws.to(ink.dtype)[:, :, None, None]  # N x columns x 1 x 1, broadcast over each image
    # Per-image choices as 0/1 weights and signs: broadcast arithmetic, cheaper than where() over the batch.
    pen = (per_image[:, _PEN : _PEN + 1] < PEN_FRACTION).to(ink.dtype)
    blend = per_image[:, _BLEND : _BLEND + 1] * MAX_STROKE_BLEND
    thinner = per_image[:, _THINNER : _THINNER + 1] < THINNER_FRACTION
    hard = ink.mul(1 / PEN_EDGE_WIDTH).add_(0.5 - PEN_THRESHOLD / PEN_EDGE_WIDTH).clamp_(0.0, 1.0)
    ink = torch.lerp(ink, hard, pen)  # first, as a pen draws: the stroke width then changes the pen's line
    # One dilation for the whole batch: of the ink (thicker), or of the negated ink (erosion: thinner).
    sign = 1 - 2 * thinner.to(ink.dtype)
    changed = _dilate(ink * sign).mul_(sign)
    # Never erase a digit: where erosion would take most of its ink (thin strokes), leave the stroke as it is.
    ink_sums = torch.stack([changed.sum(dim=(1, 2, 3)), ink.sum(dim=(1, 2, 3))])
    keeps_ink = (ink_sums[0] >= MIN_INK_KEPT_BY_THINNING * ink_sums[1])[:, None, None, None]
    return torch.lerp(ink, changed, blend * (keeps_ink | ~thinner))


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
    draws = torch.rand(n, _RANDOM_COLUMNS, generator=generator, device=generator.device).to(images.device)
    ink = images.float() * STD + MEAN  # 0 is blank paper, so padding with zeros adds blank paper
    if any(kind in kinds for kind in ("rotate", "scale", "shift")):
        grid = F.affine_grid(_affine_matrices(draws, kinds), list(ink.shape), align_corners=False)
        ink = F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if "stroke" in kinds:
        ink = _stroke(ink, draws)
    return ink.sub_(MEAN).div_(STD).to(images.dtype)  # back to the normalized scale, in place on our own copy


def augmented_grid(images: torch.Tensor, kinds, seed: int, count: int = 16) -> torch.Tensor:
    """The first ``count`` images, each augmented: count x 1 x 28 x 28, normalized like the input.

    The same seed gives the same images; turn them into 0-255 pixels with data.to_pixels to show them.
    """
    generator = torch.Generator(device=images.device).manual_seed(seed)
    return augment_batch(images[:count], kinds, generator)

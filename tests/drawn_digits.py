"""The drawing page's evaluation set: real MNIST test digits as a person would draw them.

Each digit of the embedded test split is put on a 280 x 280 canvas the way the canvas
sends it to the app (black ink in the alpha channel over a transparent background):
scaled up to a random size (small to nearly the whole canvas), placed off centre,
strokes made solid like a pen's and thickened or thinned. Seeded, so the set is the same on
every run; generated on the fly, since 1,000 canvases would take 300 MB.

Used by tests/unit/test_preprocess.py and bench/canvas_accuracy.py.
"""

from __future__ import annotations

import io
from typing import Iterator

import numpy as np
from PIL import Image
from scipy import ndimage

CANVAS_SIDE = 280  # the drawing page's canvas, in pixels
EVALUATION_SEED = 2024
SMALLEST_DIGIT = 70  # px: the longer side of the drawn digit, smallest ...
LARGEST_DIGIT = 260  # ... and largest, of the 280 px canvas
STROKE_CHANGE = (-0.5, 1.2)  # thinning (negative) or thickening, in MNIST pixels


def draw_like_a_person(digit: np.ndarray, rng: np.random.Generator, side: int = CANVAS_SIDE) -> np.ndarray:
    """One 28 x 28 uint8 MNIST digit -> a side x side x 4 uint8 canvas image, ink in the alpha."""
    ink = np.asarray(digit, dtype=np.float32) / 255.0
    rows, cols = np.nonzero(ink.any(axis=1))[0], np.nonzero(ink.any(axis=0))[0]
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    longer = int(rng.integers(SMALLEST_DIGIT, LARGEST_DIGIT + 1))
    factor = longer / max(ink.shape)  # canvas pixels per MNIST pixel
    height, width = max(1, round(ink.shape[0] * factor)), max(1, round(ink.shape[1] * factor))
    big = np.asarray(Image.fromarray(ink).resize((width, height), Image.Resampling.BILINEAR))
    pen = np.clip((big - 0.3) / 0.3, 0.0, 1.0)  # a pen's solid stroke with soft edges, not MNIST's grey blur

    change = float(rng.uniform(*STROKE_CHANGE))
    size = int(round(abs(change) * factor))
    if size >= 2:
        morph = ndimage.grey_dilation if change > 0 else ndimage.grey_erosion
        changed = morph(pen, size=(size, size))
        pen = changed if changed.max() > 0.5 else pen  # never erase a thin digit entirely

    canvas = np.zeros((side, side, 4), dtype=np.uint8)
    top = int(rng.integers(0, side - height + 1))
    left = int(rng.integers(0, side - width + 1))
    canvas[top : top + height, left : left + width, 3] = np.round(pen * 255).astype(np.uint8)
    return canvas


def evaluation_digits(count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The embedded set's test split (100 per class, uint8 N x 28 x 28) and labels, first ``count``.

    Taken in an interleaved class order so that any prefix is balanced across the ten digits.
    """
    from mnist_core.data import load_embedded

    _, _, images, labels = load_embedded()
    images, labels = images.numpy(), labels.numpy()
    order = np.lexsort((labels, _rank_within_class(labels)))
    chosen = order[:count] if count is not None else order
    return images[chosen], labels[chosen]


def _rank_within_class(labels: np.ndarray) -> np.ndarray:
    rank = np.zeros(len(labels), dtype=np.int64)
    for digit in np.unique(labels):
        positions = np.nonzero(labels == digit)[0]
        rank[positions] = np.arange(len(positions))
    return rank


def drawn_digits(
    images: np.ndarray, seed: int = EVALUATION_SEED, side: int = CANVAS_SIDE
) -> Iterator[np.ndarray]:
    """Canvas images for ``images``, in order, the same for the same seed."""
    rng = np.random.default_rng(seed)
    for digit in images:
        yield draw_like_a_person(digit, rng, side)


def png_bytes(array: np.ndarray) -> bytes:
    """An image array as a PNG file's bytes, as a browser upload or the canvas export would carry it."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()

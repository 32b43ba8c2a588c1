"""Any drawing or photo of a digit -> the 1 x 1 x 28 x 28 input the network was trained on.

MNIST was made this way (LeCun et al.): each digit was scaled so its longer side fits a
20 x 20 box, keeping the aspect ratio, with anti-aliasing; then it was placed in a 28 x 28
field so that its centre of mass sits at the centre. A drawing prepared the same way looks
to the network like the digits it learnt from; a naive resize of the whole canvas does not.

Images are handled as "ink maps": float32 arrays in [0, 1], 1 where the ink is darkest
(MNIST's white-on-black convention), whatever the input's colours were.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from .data import IMAGE_SIZE, normalize

FIT_SIZE = 20  # MNIST digits were scaled so the longer side fits 20 px, then centred in 28
# Where MNIST put the centre of mass: pixel (14, 14), i.e. IMAGE_SIZE / 2, not the geometric 13.5.
# Measured on the training digits: mean (14.0, 14.0), std 0.29 (whole-pixel shifts, as here).
FIELD_CENTRE = IMAGE_SIZE / 2
MIN_CONTRAST = 0.15  # ink must differ from the background by 15% of the full range to count
NOISE_FLOOR = 0.1  # ink-map values below this (paper texture, JPEG noise) are background
MIN_INK_FRACTION = 0.0005  # less ink than 0.05% of the image area (in full-ink pixels) is blank
MIN_INK_PIXELS = 2.0  # ... and never less than two full pixels, whatever the image size
MAX_IMAGE_BYTES = 15 * 1024 * 1024  # a 12-megapixel phone JPEG is about 5 MB
MAX_IMAGE_PIXELS = 25_000_000  # refuse decompression bombs before decoding (a 12 MP phone photo is fine)
IMAGE_FORMATS = ("PNG", "JPEG")  # what the page's uploader offers; Pillow alone would open dozens more
WORKING_SIDE = 1024  # larger photos are shrunk to this longer side first: no digit needs more

ImageSource = Union[str, os.PathLike, bytes, BinaryIO]


class BlankImageError(ValueError):
    """The image holds no ink (or too little to be a digit); nothing should be predicted."""


class ImageReadError(ValueError):
    """A file or upload that is not an image we can read, with the reason.

    ``reason`` ("too_many_pixels", "huge", "too_big", "format", "damaged", "unreadable", "empty") and ``values``
    let a UI word the message in any language.
    """

    def __init__(self, message: str, reason: str, **values):
        super().__init__(message)
        self.reason, self.values = reason, values


@dataclass(frozen=True)
class MnistStyleInput:
    """The steps of MNIST-style preparation, each an ink map (1 = ink), and the network input."""

    crop: np.ndarray  # the ink's bounding box, at the input's resolution
    fitted: np.ndarray  # the crop scaled so its longer side is FIT_SIZE px
    centred: np.ndarray  # IMAGE_SIZE x IMAGE_SIZE, centre of mass at the centre
    tensor: torch.Tensor  # 1 x 1 x 28 x 28, normalized like the training data
    bounding_box: tuple[int, int, int, int]  # top, left, bottom, right (exclusive) in the input


@dataclass(frozen=True)
class NaiveInput:
    """The whole image squeezed to 28 x 28, as a first attempt would do it."""

    resized: np.ndarray  # IMAGE_SIZE x IMAGE_SIZE ink map
    tensor: torch.Tensor  # 1 x 1 x 28 x 28, normalized


def load_image(source: ImageSource, name: str | None = None) -> np.ndarray:
    """Decode a PNG or JPEG into an array: H x W (grey) or H x W x 4 (RGBA, when it has transparency).

    A phone photo is turned upright (EXIF orientation) and shrunk to WORKING_SIDE px. Grey is uint8,
    or float32 in [0, 1] for 16-bit images (their full depth kept). Raises ImageReadError, and nothing
    else, for any file that is not a readable PNG or JPEG within the limits.
    """
    data, name = _read_image_bytes(source, name)
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as opened:
            width, height = opened.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageReadError(
                    f"{name} is {width} x {height} pixels; images up to {MAX_IMAGE_PIXELS // 1_000_000} megapixels are accepted.",
                    "too_many_pixels", width=width, height=height, limit=MAX_IMAGE_PIXELS // 1_000_000,
                )
            image = _upright(opened)
            image.load()
            return image_array(image)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own limit, for sizes the header hides
        raise ImageReadError(
            f"{name} is too large; images up to {MAX_IMAGE_PIXELS // 1_000_000} megapixels are accepted.",
            "huge", limit=MAX_IMAGE_PIXELS // 1_000_000,
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{name} is not an image format we can read (PNG or JPEG work).", "format") from exc
    except Exception as exc:  # truncated or corrupt data: Pillow's decoders raise OSError, struct.error, TypeError...
        detail = f"{type(exc).__name__}: {exc}" if not isinstance(exc, (OSError, SyntaxError, ValueError)) else exc
        raise ImageReadError(f"{name} could not be decoded: the file looks damaged ({detail}).", "damaged") from exc


def _upright(opened: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; as stored when the EXIF block is unreadable (a
    damaged EXIF block says nothing trustworthy about orientation, and the pixels may still be fine)."""
    try:
        return ImageOps.exif_transpose(opened)
    except Exception:  # struct.error, TypeError, ... from Pillow's EXIF parser
        return opened


# Greyscale modes deeper than 8 bits. convert("L") clips them at 255 instead of scaling, so a 16-bit
# scan of dark ink on white paper turns into a white page.
DEEP_GREY_MODES = {"I;16": 2**16 - 1, "I;16B": 2**16 - 1, "I;16L": 2**16 - 1, "I;16N": 2**16 - 1, "I": None, "F": None}
# Full ranges tried, smallest first, for modes that do not say their depth (I: 32-bit integers, F: floats).
NATURAL_RANGES = (1.0, 2.0**8 - 1, 2.0**16 - 1, 2.0**32 - 1)


def image_array(image: Image.Image) -> np.ndarray:
    """Any Pillow image -> what ink_map reads, shrunk to WORKING_SIDE px: uint8 H x W x 4 when it has
    transparency, else grey: uint8 H x W for 8-bit modes, float32 in [0, 1] for deeper ones."""
    has_alpha = image.mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
        image.mode == "P" and "transparency" in image.info)
    if image.mode in DEEP_GREY_MODES:
        image = Image.fromarray(_unit_grey(image))  # mode F: resized at full depth
    else:
        image = image.convert("RGBA" if has_alpha else "L")  # palette, CMYK, YCbCr, 1-bit, RGB ...
    if max(image.size) > WORKING_SIDE:
        image.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BOX)
    return np.asarray(image)


def _unit_grey(image: Image.Image) -> np.ndarray:
    """A deep greyscale image as float32 in [0, 1], scaled by its mode's full range (not clipped)."""
    values = np.asarray(image).astype(np.float64)
    values[~np.isfinite(values)] = 0.0  # F images can hold NaN or infinity: no ink there
    full_range = DEEP_GREY_MODES[image.mode]
    low = min(0.0, float(values.min(initial=0.0)))
    if full_range is None:  # I and F: the smallest natural range that holds every value
        span = float(values.max(initial=0.0)) - low
        full_range = next((r for r in NATURAL_RANGES if span <= r), span)
    return ((values - low) / max(full_range, np.finfo(np.float32).tiny)).astype(np.float32)


def _read_image_bytes(source: ImageSource, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), name or "the uploaded image"
    elif hasattr(source, "read"):
        name = name or str(getattr(source, "name", "the uploaded image"))
        try:
            data = source.read(MAX_IMAGE_BYTES + 1)
        except (OSError, ValueError) as exc:  # a closed or failing stream
            raise ImageReadError(f"{name} cannot be read ({exc}).", "unreadable") from exc
        if not isinstance(data, bytes):
            raise ImageReadError(f"{name} cannot be read (a text stream, not bytes).", "unreadable")
    else:
        path = Path(source)
        name = name or str(path)
        try:
            if path.stat().st_size > MAX_IMAGE_BYTES:
                raise _too_big(name, path.stat().st_size)
            data = path.read_bytes()
        except OSError as exc:
            raise ImageReadError(f"{name} cannot be read ({exc.strerror or exc}).", "unreadable") from exc
    if len(data) > MAX_IMAGE_BYTES:
        raise _too_big(name, len(data))
    if not data:
        raise ImageReadError(f"{name} is empty (0 bytes).", "empty")
    return data, name


def _too_big(name: str, size: int) -> ImageReadError:
    megabytes, limit = round(size / 2**20, 1), MAX_IMAGE_BYTES // 2**20
    return ImageReadError(f"{name} is {megabytes} MB; images up to {limit} MB are accepted.", "too_big",
                          size=megabytes, limit=limit)


def ink_map(image: np.ndarray) -> np.ndarray:
    """Where the ink is, as float32 in [0, 1], from any of the supported image layouts.

    - RGBA over a transparent background (the drawing canvas): the ink is the alpha channel.
    - Grey, RGB or opaque RGBA, dark ink on light paper or light ink on dark: the background
      level is read from the border; the ink is whatever departs furthest from it. Values
      no higher than the border's own variation (uneven light, paper grain) count as background.
    Raises BlankImageError when no ink stands out from the background.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(
            f"Expected a grey (H x W), RGB (H x W x 3) or RGBA (H x W x 4) image, got an array of shape {image.shape}."
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise BlankImageError("The image has no pixels.")
    scale = 255.0 if image.dtype == np.uint8 or image.max(initial=0) > 1.0 else 1.0
    values = image.astype(np.float32) / scale

    if values.ndim == 3 and values.shape[2] == 4:
        alpha = values[:, :, 3]
        if np.median(_border(alpha)) < 0.5:  # a transparent background: the ink is the alpha
            ink = alpha
            if ink.max() < MIN_CONTRAST:
                raise BlankImageError("The drawing is empty: draw a digit first.")
            return _check_enough_ink(ink)
        # An opaque background: composite over white and read it like any other picture.
        values = values[:, :, :3] * alpha[:, :, None] + (1.0 - alpha[:, :, None])
    if values.ndim == 3:
        values = values @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma, as PIL's "L"

    background = float(np.median(_border(values)))
    darker, lighter = background - float(values.min()), float(values.max()) - background
    contrast = (background - values) if darker >= lighter else (values - background)
    strongest = float(contrast.max())
    if strongest < MIN_CONTRAST:
        raise BlankImageError("The image is blank: no ink stands out from the background.")
    floor = max(NOISE_FLOOR, float(np.percentile(_border(contrast), 99)) / strongest)
    if floor >= 1.0:
        raise BlankImageError("The image is blank: nothing is darker or lighter than its border.")
    ink = np.clip((contrast / strongest - floor) / (1.0 - floor), 0.0, 1.0)
    return _check_enough_ink(ink)


def _border(values: np.ndarray) -> np.ndarray:
    """The outer ring of an image, about 2% of its size wide (at least one pixel)."""
    width = max(1, min(values.shape[:2]) // 50)
    ring = np.ones(values.shape[:2], dtype=bool)
    ring[width:-width, width:-width] = False
    return values[ring]


def _check_enough_ink(ink: np.ndarray) -> np.ndarray:
    needed = max(MIN_INK_PIXELS, MIN_INK_FRACTION * ink.size)
    if float(ink.sum()) < needed:
        raise BlankImageError("There is too little ink to read a digit: draw it larger or with a thicker stroke.")
    return ink.astype(np.float32, copy=False)


def ink_bounding_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """top, left, bottom, right (exclusive) of the pixels holding any ink."""
    rows, cols = np.nonzero(ink.any(axis=1))[0], np.nonzero(ink.any(axis=0))[0]
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _resize(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    """Anti-aliased resize of an ink map (Lanczos; its small overshoot is clipped away)."""
    resized = Image.fromarray(ink.astype(np.float32)).resize((width, height), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def fit_longer_side(crop: np.ndarray, size: int = FIT_SIZE) -> np.ndarray:
    """Scale so the longer side is ``size`` px, keeping the aspect ratio (a thin 1 stays thin)."""
    height, width = crop.shape
    factor = size / max(height, width)
    return _resize(crop, max(1, round(height * factor)), max(1, round(width * factor)))


def centre_by_mass(fitted: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Place ``fitted`` in a size x size field with its centre of mass at the field's centre.

    The shift is whole pixels (no blur), limited so that no ink leaves the field.
    """
    height, width = fitted.shape
    field = np.zeros((size, size), dtype=np.float32)
    top, left = (size - height) // 2, (size - width) // 2
    field[top : top + height, left : left + width] = fitted
    if not field.any():  # ink too faint and scattered to survive the fit: it has no centre of mass
        raise BlankImageError("There is too little ink to read a digit: draw it larger or with a thicker stroke.")
    mass_row, mass_col = ndimage.center_of_mass(field)
    centre = FIELD_CENTRE * size / IMAGE_SIZE
    shift_row = int(np.clip(round(centre - mass_row), -top, size - height - top))
    shift_col = int(np.clip(round(centre - mass_col), -left, size - width - left))
    return ndimage.shift(field, (shift_row, shift_col), order=0, mode="constant", cval=0.0)


def to_network_input(field: np.ndarray) -> torch.Tensor:
    """A 28 x 28 ink map -> 1 x 1 x 28 x 28, normalized exactly like the training images."""
    return normalize(torch.from_numpy(np.ascontiguousarray(field, dtype=np.float32) * 255.0)).reshape(
        1, 1, IMAGE_SIZE, IMAGE_SIZE
    )


def prepare_mnist_style(image: np.ndarray) -> MnistStyleInput:
    """Find the ink, crop to it, fit the longer side to 20 px, centre by mass in 28 x 28, normalize.

    Raises BlankImageError for blank or near-blank input.
    """
    ink = ink_map(image)
    box = ink_bounding_box(ink)
    top, left, bottom, right = box
    crop = ink[top:bottom, left:right]
    fitted = fit_longer_side(crop)
    centred = centre_by_mass(fitted)
    return MnistStyleInput(crop=crop, fitted=fitted, centred=centred, tensor=to_network_input(centred), bounding_box=box)


def prepare_naive(image: np.ndarray) -> NaiveInput:
    """The whole image resized to 28 x 28, with no cropping or centring: the comparison case."""
    resized = _resize(ink_map(image), IMAGE_SIZE, IMAGE_SIZE)
    return NaiveInput(resized=resized, tensor=to_network_input(resized))

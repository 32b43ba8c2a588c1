"""MNIST-style preparation of drawings and photos (mnist_core.preprocess)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from mnist_core import normalize, to_pixels
from mnist_core.data import load_embedded
from mnist_core.inference import inference_model, read_image, read_tensor
from mnist_core.preprocess import (
    FIELD_CENTRE,
    FIT_SIZE,
    BlankImageError,
    ImageReadError,
    centre_by_mass,
    image_array,
    ink_map,
    load_image,
    prepare_mnist_style,
    prepare_naive,
)
from tests.conftest import ROOT
from tests.drawn_digits import CANVAS_SIDE, drawn_digits, evaluation_digits, png_bytes

FUZZ_CASES = ROOT / "tests" / "fuzz_cases"  # files that once crashed a loader, kept as regressions


def canvas_with_bar(top: int, left: int, height: int, width: int, side: int = CANVAS_SIDE) -> np.ndarray:
    """The canvas's format: black RGB, ink in alpha, transparent elsewhere."""
    canvas = np.zeros((side, side, 4), dtype=np.uint8)
    canvas[top : top + height, left : left + width, 3] = 255
    return canvas


@pytest.fixture(scope="module")
def test_digits():
    _, _, images, labels = load_embedded()
    return images.numpy(), labels.numpy()


def centre_of_mass(field: np.ndarray) -> tuple[float, float]:
    return tuple(float(v) for v in ndimage.center_of_mass(field))


# --- blank and near-blank -------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((280, 280, 4), dtype=np.uint8),  # an untouched canvas
        np.full((100, 120), 255, dtype=np.uint8),  # white paper
        np.zeros((28, 28), dtype=np.uint8),  # black field
        np.full((60, 60, 3), (200, 30, 30), dtype=np.uint8),  # one flat colour
        np.random.default_rng(0).normal(200, 4, (200, 200)).clip(0, 255).astype(np.uint8),  # paper grain only
    ],
    ids=["empty-canvas", "white", "black", "flat-colour", "paper-grain"],
)
def test_blank_images_are_reported_not_predicted(image):
    with pytest.raises(BlankImageError):
        prepare_mnist_style(image)
    with pytest.raises(BlankImageError):
        prepare_naive(image)


def test_a_speck_on_the_canvas_is_near_blank():
    speck = canvas_with_bar(140, 140, 2, 2)
    with pytest.raises(BlankImageError, match="too little ink"):
        prepare_mnist_style(speck)


def test_faint_alpha_is_blank():
    canvas = canvas_with_bar(50, 50, 100, 20)
    canvas[..., 3] //= 20  # alpha 12 of 255: invisible
    with pytest.raises(BlankImageError):
        prepare_mnist_style(canvas)


def test_blank_error_is_a_value_error_with_a_message_for_learners():
    with pytest.raises(ValueError, match="draw a digit"):
        prepare_mnist_style(np.zeros((280, 280, 4), dtype=np.uint8))


# --- polarity and channels -----------------------------------------------------------


def test_alpha_ink_is_read_from_the_alpha_channel(test_digits):
    digit = test_digits[0][0]
    canvas = np.zeros((28, 28, 4), dtype=np.uint8)
    canvas[..., 3] = digit  # RGB stays black: only the alpha carries the drawing
    np.testing.assert_allclose(ink_map(canvas), digit / 255.0, atol=1e-6)


@pytest.mark.parametrize("polarity", ["light-on-dark", "dark-on-light"])
@pytest.mark.parametrize("channels", ["grey", "rgb", "opaque-rgba"])
def test_both_polarities_give_the_same_input(test_digits, polarity, channels):
    digit = test_digits[0][3]
    grey = digit if polarity == "light-on-dark" else 255 - digit
    if channels == "grey":
        image = grey
    elif channels == "rgb":
        image = np.stack([grey] * 3, axis=-1)
    else:
        image = np.concatenate([np.stack([grey] * 3, axis=-1), np.full((28, 28, 1), 255, np.uint8)], axis=-1)
    reference = prepare_mnist_style(digit)
    prepared = prepare_mnist_style(image)
    np.testing.assert_allclose(prepared.centred, reference.centred, atol=1e-5)


def test_mid_grey_paper_with_dark_ink_is_not_mistaken_for_light_ink():
    paper = np.full((200, 200), 110, dtype=np.uint8)  # darker than mid-grey, yet the ink is darker still
    paper[40:160, 95:105] = 10
    prepared = prepare_mnist_style(paper)
    assert prepared.bounding_box == (40, 95, 160, 105)


def test_unevenly_lit_photo_finds_the_ink_not_the_shadow():
    rows = np.linspace(0, 1, 300)[:, None]
    photo = (230 - 60 * rows * np.ones((1, 240))).astype(np.float32)  # paper darkening towards the bottom
    photo[80:220, 100:130] = 40  # a thick dark stroke
    prepared = prepare_mnist_style(photo.clip(0, 255).astype(np.uint8))
    top, left, bottom, right = prepared.bounding_box
    assert (top, bottom) == (80, 220) and (left, right) == (100, 130)


def test_unsupported_array_shapes_are_refused_clearly():
    with pytest.raises(ValueError, match="Expected a grey"):
        ink_map(np.zeros((10, 10, 2), dtype=np.uint8))


# --- cropping, fitting and centring ---------------------------------------------------


@pytest.mark.parametrize("top, left", [(0, 0), (10, 200), (180, 20), (90, 120)])
def test_off_centre_drawings_end_up_centred(top, left):
    canvas = canvas_with_bar(top, left, 90, 60)
    prepared = prepare_mnist_style(canvas)
    assert prepared.bounding_box == (top, left, top + 90, left + 60)
    row, col = centre_of_mass(prepared.centred)
    assert abs(row - FIELD_CENTRE) <= 0.5 and abs(col - FIELD_CENTRE) <= 0.5


def test_the_longer_side_is_fitted_to_20_pixels_keeping_the_aspect_ratio():
    tall = prepare_mnist_style(canvas_with_bar(20, 100, 200, 50))  # 4:1
    assert tall.fitted.shape == (FIT_SIZE, 5)
    wide = prepare_mnist_style(canvas_with_bar(100, 20, 60, 240))
    assert wide.fitted.shape == (5, FIT_SIZE)


def test_centre_of_mass_not_box_centre_is_placed_at_the_centre():
    # A "7"-like shape: a heavy top bar and a thin stem; its mass sits high in its box.
    shape = np.zeros((20, 20), dtype=np.float32)
    shape[0:3, :] = 1.0
    shape[:, 15:18] = 1.0
    centred = centre_by_mass(shape)
    row, col = centre_of_mass(centred)
    assert abs(row - FIELD_CENTRE) <= 0.5 and abs(col - FIELD_CENTRE) <= 0.5
    rows_with_ink = np.nonzero(centred.any(axis=1))[0]
    assert rows_with_ink[0] + rows_with_ink[-1] > 2 * FIELD_CENTRE  # the box itself moved down
    assert centred.sum() == pytest.approx(shape.sum())  # whole-pixel shift: no ink lost or blurred


def test_centring_never_pushes_ink_out_of_the_field():
    shape = np.zeros((20, 20), dtype=np.float32)
    shape[0, :] = 1.0  # all mass in the top row: a full shift would cut it off
    shape[19, 0] = 0.01
    centred = centre_by_mass(shape)
    assert centred.sum() == pytest.approx(shape.sum())


def test_tiny_drawing_is_scaled_up_to_the_mnist_size():
    canvas = canvas_with_bar(5, 5, 12, 4)  # a little "1" in a corner
    prepared = prepare_mnist_style(canvas)
    assert prepared.fitted.shape[0] == FIT_SIZE
    rows = np.nonzero(prepared.centred.max(axis=1) > 0.5)[0]
    assert rows[-1] - rows[0] + 1 >= FIT_SIZE - 2


def test_huge_image_is_prepared_like_a_small_one():
    side = 3000
    huge = np.zeros((side, side), dtype=np.uint8)
    huge[500:2500, 1400:1700] = 255
    small = np.zeros((300, 300), dtype=np.uint8)
    small[50:250, 140:170] = 255
    np.testing.assert_allclose(prepare_mnist_style(huge).centred, prepare_mnist_style(small).centred, atol=0.02)


def test_mnist_digit_survives_preparation(test_digits):
    """A real MNIST digit is already prepared; preparing it again changes it little."""
    images, _ = test_digits
    for digit in images[:50]:
        prepared = prepare_mnist_style(digit)
        assert prepared.tensor.shape == (1, 1, 28, 28)
        assert np.abs(to_pixels(prepared.tensor)[0, 0].numpy().astype(int) - digit.astype(int)).mean() < 40


def test_tensor_is_normalized_like_the_training_images():
    prepared = prepare_mnist_style(canvas_with_bar(30, 30, 100, 40))
    expected = normalize(torch.from_numpy(prepared.centred * 255.0)).reshape(1, 1, 28, 28)
    torch.testing.assert_close(prepared.tensor, expected)
    assert prepared.tensor.min().item() == pytest.approx(normalize(torch.tensor(0.0)).item())


def test_naive_resize_shrinks_the_whole_canvas():
    naive = prepare_naive(canvas_with_bar(0, 0, 70, 70))  # a blob in the top-left quarter
    assert naive.resized.shape == (28, 28)
    assert naive.resized[:7, :7].mean() > 0.9 and naive.resized[10:, 10:].max() < 0.05


# --- loading files ---------------------------------------------------------------------


def test_load_image_keeps_transparency_and_reads_grey(tmp_path):
    canvas = canvas_with_bar(10, 10, 50, 20)
    assert load_image(png_bytes(canvas)).shape == (280, 280, 4)
    path = tmp_path / "digit.jpg"
    Image.fromarray(np.full((40, 30, 3), 250, np.uint8)).save(path)
    assert load_image(path).shape == (40, 30)


def test_load_image_turns_phone_photos_upright():
    image = Image.fromarray(np.zeros((20, 40), np.uint8))
    exif = image.getexif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90 degrees to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    assert load_image(buffer.getvalue()).shape == (40, 20)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"this is not an image", "not an image format"),
        (png_bytes(np.random.default_rng(0).integers(0, 255, (30, 30), dtype=np.uint8))[:400], "damaged"),
    ],
    ids=["empty", "text", "truncated-png"],
)
def test_unreadable_images_raise_a_clear_error(data, message):
    with pytest.raises(ImageReadError, match=message):
        load_image(data, name="upload.png")


def encoded(image: Image.Image, image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def scans(test_digits, count: int = 3) -> list[np.ndarray]:
    """Real digits as 8-bit scans: dark ink on white paper, MNIST's grey edges kept, 224 px square."""
    return [255 - np.kron(digit, np.ones((8, 8), np.uint8)) for digit in test_digits[0][:count]]


DEEP_AND_ODD_MODES = {
    # mode: the 8-bit scan as a file in that mode, the way a scanner, an editor or a phone writes it
    "I;16": lambda scan: encoded(Image.fromarray(scan.astype(np.uint16) * 257)),  # 16-bit greyscale PNG
    "P": lambda scan: encoded(Image.fromarray(scan).convert("P")),  # palette PNG
    "LA": lambda scan: encoded(Image.fromarray(scan).convert("LA")),  # grey + opaque alpha
    "RGBA": lambda scan: encoded(Image.fromarray(scan).convert("RGBA")),
    "CMYK": lambda scan: encoded(Image.fromarray(scan).convert("CMYK"), "JPEG"),  # print-workflow JPEG
}


@pytest.mark.parametrize("mode", DEEP_AND_ODD_MODES)
def test_every_file_mode_is_scaled_like_the_8_bit_image(test_digits, mode):
    """convert("L") clipped 16-bit greys at 255: a 16-bit scan became a white page with black ink."""
    for scan in scans(test_digits):
        data = DEEP_AND_ODD_MODES[mode](scan)
        assert Image.open(io.BytesIO(data)).mode == mode
        expected = prepare_mnist_style(load_image(encoded(Image.fromarray(scan)))).centred
        assert np.abs(prepare_mnist_style(load_image(data)).centred - expected).max() < 0.02


@pytest.mark.parametrize(
    "make",
    [
        lambda scan: Image.fromarray(scan.astype(np.int32) * 257),  # I: 32-bit integers holding 16-bit greys
        lambda scan: Image.fromarray(scan.astype(np.float32) / 255),  # F: floats in [0, 1]
        lambda scan: Image.fromarray(scan.astype(np.float32)),  # F: floats in [0, 255]
    ],
    ids=["I-16-bit-range", "F-unit", "F-8-bit-range"],
)
def test_integer_and_float_images_are_scaled_by_their_range(test_digits, make):
    for scan in scans(test_digits):
        expected = prepare_mnist_style(scan).centred
        assert np.abs(prepare_mnist_style(image_array(make(scan))).centred - expected).max() < 0.02


def test_a_field_without_ink_has_no_centre_to_place():
    with pytest.raises(BlankImageError, match="too little ink"):
        centre_by_mass(np.zeros((FIT_SIZE, FIT_SIZE), np.float32))


def test_a_corrupt_exif_block_is_ignored_not_a_crash():
    """ImageOps.exif_transpose raised struct.error on this file; its pixels are fine."""
    data = (FUZZ_CASES / "corrupt_exif_struct_error.jpg").read_bytes()
    image = load_image(data)
    assert image.shape == Image.open(io.BytesIO(data)).size[::-1]


def test_missing_file_raises_a_clear_error(tmp_path):
    with pytest.raises(ImageReadError, match="cannot be read"):
        load_image(tmp_path / "nope.png")


def test_oversized_upload_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr("mnist_core.preprocess.MAX_IMAGE_BYTES", 100)
    with pytest.raises(ImageReadError, match="MB"):
        load_image(png_bytes(np.random.default_rng(0).integers(0, 255, (50, 50), dtype=np.uint8)))


# --- the evaluation set, through a trained net ---------------------------------------


def test_evaluation_set_is_deterministic_and_canvas_shaped():
    images, labels = evaluation_digits(20)
    assert list(labels[:10]) == list(range(10))
    first = list(drawn_digits(images))
    again = list(drawn_digits(images))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert first[0].shape == (CANVAS_SIDE, CANVAS_SIDE, 4)
    assert all(c[..., :3].max() == 0 and c[..., 3].max() == 255 for c in first)  # ink only in the alpha


def test_preparation_reads_drawn_digits_nearly_as_well_as_the_originals(trained_state):
    """The page's claim, on 200 drawn digits: preparation keeps accuracy; a naive resize loses it."""
    model = inference_model(trained_state)
    originals, labels = evaluation_digits(200)
    original_correct = prepared_correct = naive_correct = 0
    for original, canvas, label in zip(originals, drawn_digits(originals), labels):
        original_input = normalize(torch.from_numpy(original).reshape(1, 1, 28, 28))
        original_correct += read_tensor(model, original_input).digit == label
        prepared_correct += read_image(model, canvas)[0].digit == label
        naive_correct += read_tensor(model, prepare_naive(canvas).tensor).digit == label
    assert original_correct >= 140  # the 3-epoch net reads most original digits
    assert prepared_correct >= original_correct - 10  # within 5 points of the originals
    assert naive_correct <= prepared_correct - 40  # at least 20 points worse


def test_only_png_and_jpeg_are_decoded():
    """Pillow opens dozens of formats; the page offers PNG and JPEG, so nothing else is parsed."""
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((20, 20), dtype=np.uint8)).save(buffer, format="TIFF")
    with pytest.raises(ImageReadError, match="not an image format we can read"):
        load_image(buffer.getvalue(), name="scan.tif")


def test_huge_dimensions_are_refused_from_the_header():
    """A 7000 x 7000 PNG compresses to a few hundred KB but would decode to about 150 MB of pixels."""
    buffer = io.BytesIO()
    Image.new("L", (7000, 7000)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 1_000_000
    with pytest.raises(ImageReadError, match="7000 x 7000 pixels; images up to 25 megapixels"):
        load_image(buffer.getvalue(), name="bomb.png")


def test_every_read_error_names_its_reason_for_the_page():
    """The drawing page words each reason through locales ("draw.image_error_<reason>") in any language."""
    from ui.i18n import strings

    reasons = {}
    for data in (b"", b"this is not an image"):
        with pytest.raises(ImageReadError) as caught:
            load_image(data, name="upload.png")
        reasons[caught.value.reason] = caught.value.values
    assert set(reasons) == {"empty", "format"}
    for language in ("en", "zh"):
        for reason in ("too_many_pixels", "huge", "too_big", "format", "damaged", "unreadable", "empty"):
            assert f"draw.image_error_{reason}" in strings(language)


def test_a_failing_stream_is_an_image_read_error():
    stream = io.BytesIO(b"\x89PNG")
    stream.close()
    with pytest.raises(ImageReadError, match="cannot be read") as caught:
        load_image(stream, name="upload.png")
    assert caught.value.reason == "unreadable"

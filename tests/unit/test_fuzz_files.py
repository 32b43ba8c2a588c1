"""Fuzzing every loader of untrusted files with Hypothesis: whatever the bytes, a loader returns a value or
raises its declared error (CheckpointError; ImageReadError, then BlankImageError while preparing).

Inputs: a real small checkpoint with bytes overwritten (mostly where the zip and the pickle keep their
structure, where damage goes deepest) or cut short; a real PNG and a real JPEG with EXIF, mutated the same
way; random bytes, bare and behind each format's signature. Seeded (derandomize) so CI runs the same cases.

Files that once escaped as another exception are kept in tests/fuzz_cases/ and loaded by
test_kept_cases_raise_only_declared_errors; tests/fuzz_cases/make_issue_cases.py rebuilds the crafted ones.
"""

from __future__ import annotations

import io
import zipfile
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_core import TrainConfig, checkpoint_bytes, new_training_state
from mnist_core.checkpoint import CheckpointError, load_checkpoint
from mnist_core.preprocess import BlankImageError, ImageReadError, load_image, prepare_mnist_style
from tests.conftest import ROOT

# Pillow warns about each damaged EXIF block it skips, and about a header claiming over 89 megapixels
# (load_image refuses anything over 25 right after); the fuzzed files are damaged on purpose.
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin"),
              pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")]

FUZZ_CASES = ROOT / "tests" / "fuzz_cases"
# Cases per test: 2,700 in all. Checkpoints have the most structure to damage, so they get the most.
CHECKPOINT_MUTATIONS = 1200
IMAGE_MUTATIONS = 500  # per format: PNG and JPEG
RANDOM_FILES = 250  # per loader
IMAGE_HEADER_BYTES = 300  # where a small PNG or JPEG keeps its headers, EXIF block and tables
MAX_MUTATED_BYTES = 8
MAX_RANDOM_BYTES = 4096
SMALL_RECORD_BYTES = 64  # zip records this small hold the format's version and byte order, not weights
SIGNATURES = (b"", b"PK\x03\x04", b"\x80\x02", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0")


def fuzz_settings(cases: int) -> settings:
    return settings(max_examples=cases, deadline=None, derandomize=True, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- the real files that get mutated ----------------------------------------------------------------------

def small_checkpoint() -> bytes:
    """An untrained net after one SGD step (so momentum buffers exist) with a short history."""
    state = new_training_state(TrainConfig(device="cpu", random_seed=3))
    generator = torch.Generator().manual_seed(0)
    data, target = torch.rand(8, 1, 28, 28, generator=generator), torch.arange(8)
    torch.nn.functional.nll_loss(state.model(data), target).backward()
    state.optimizer.step()
    for step in range(3):
        state.history.train_losses.append(2.3 - step / 10)
        state.history.train_counter.append(64 * step)
    state.history.test_losses.append(2.3)
    state.history.test_counter.append(0)
    state.history.test_accuracy.append(0.1)
    return checkpoint_bytes(state)


def record_start(data: bytes, header_offset: int) -> int:
    """Where a zip entry's bytes begin: after its local header (30 bytes), name and extra field (torch pads
    the extra field so that tensor bytes are aligned; the central directory does not repeat the padding)."""
    name, extra = (int.from_bytes(data[header_offset + at : header_offset + at + 2], "little") for at in (26, 28))
    return header_offset + 30 + name + extra


def pickle_record(data: bytes) -> tuple[range, list[int]]:
    """Where the pickle's bytes lie, and where its CRC-32 is written (local header, central directory)."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    entry = next(entry for entry in archive.infolist() if entry.filename.endswith("data.pkl"))
    start = record_start(data, entry.header_offset)
    record = archive.start_dir  # central directory records: 46 bytes, then name, extra field and comment
    while int.from_bytes(data[record + 42 : record + 46], "little") != entry.header_offset:
        name, extra, comment = (int.from_bytes(data[record + at : record + at + 2], "little") for at in (28, 30, 32))
        record += 46 + name + extra + comment
    return range(start, start + entry.file_size), [entry.header_offset + 14, record + 16]


def with_pickle_crc_fixed(data: bytes) -> bytes:
    """Python's zipfile refuses a record whose CRC-32 does not match (torch's reader does not check);
    fixing it lets the damage reach the unpickler. torch.save writes the local header's CRC as 0 (the
    flags point to the central directory), which the fix leaves alone."""
    fixed = bytearray(data)
    crc = zlib.crc32(data[PICKLE_BYTES.start : PICKLE_BYTES.stop]).to_bytes(4, "little")
    for offset in PICKLE_CRC_OFFSETS:
        if any(data[offset : offset + 4]):
            fixed[offset : offset + 4] = crc
    return bytes(fixed)


def with_png_crcs_fixed(data: bytes) -> bytes:
    """PNG readers refuse a chunk whose CRC-32 does not match; fixing them lets the damage reach the decoder."""
    fixed, position = bytearray(data), len(b"\x89PNG\r\n\x1a\n")
    while position + 12 <= len(fixed):
        length = int.from_bytes(fixed[position : position + 4], "big")
        end = position + 8 + length
        if end + 4 > len(fixed):
            break
        fixed[end : end + 4] = zlib.crc32(fixed[position + 4 : end]).to_bytes(4, "big")
        position = end + 4
    return bytes(fixed)


def structural_offsets(data: bytes) -> list[int]:
    """Byte offsets of the zip's headers and central directory and of the pickle: damage there reaches
    the parsers; damage in tensor bytes only changes weights."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    offsets = set(range(archive.start_dir, len(data)))  # central directory and end record
    for entry in archive.infolist():
        header_end = record_start(data, entry.header_offset)
        offsets.update(range(entry.header_offset, header_end))
        if entry.filename.endswith(".pkl") or entry.file_size <= SMALL_RECORD_BYTES:
            offsets.update(range(header_end, header_end + entry.file_size))
    return sorted(offsets)


def digit_scan(side: int = 56) -> np.ndarray:
    """A handwritten-looking 7 as dark ink on light paper, side x side px, with grey edges."""
    image = np.full((side, side), 235, np.uint8)
    image[side // 5 : side // 5 + 5, side // 5 : side - side // 5] = 20
    for row in range(side // 5, side - side // 6):
        column = side - side // 5 - (row - side // 5) // 2
        image[row, column - 3 : column + 3] = 30
    return image


def png_file() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(digit_scan()).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_file() -> bytes:
    """A phone-style JPEG: an EXIF block with an orientation, a maker and a date, for the EXIF parser."""
    image = Image.fromarray(digit_scan()).convert("RGB")
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees
    exif[0x010F] = "Maker"
    exif[0x0132] = "2026:11:29 12:00:00"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=90)
    return buffer.getvalue()


CHECKPOINT = small_checkpoint()
CHECKPOINT_STRUCTURE = structural_offsets(CHECKPOINT)
PICKLE_BYTES, PICKLE_CRC_OFFSETS = pickle_record(CHECKPOINT)
IMAGES = {"png": png_file(), "jpeg": jpeg_file()}


# --- properties ----------------------------------------------------------------------------------------------

def mutated(data: bytes, changes: list[tuple[int, int]], cut: int | None) -> bytes:
    damaged = bytearray(data)
    for offset, value in changes:
        damaged[offset % len(damaged)] = value
    return bytes(damaged[:cut] if cut is not None else damaged)


def loads_or_refuses_checkpoint(data: bytes) -> str:
    """What became of the file; --hypothesis-show-statistics lists these, to show how deep the fuzzing got."""
    try:
        load_checkpoint(data)
        return "loaded"
    except CheckpointError as exc:
        return "refused: " + " ".join(str(exc).removeprefix("the uploaded file").split()[:4])


def reads_or_refuses_image(data: bytes) -> str:
    try:
        image = load_image(data, name="fuzzed")
    except ImageReadError as exc:
        return f"refused: {exc.reason}"
    try:
        prepare_mnist_style(image)
        return "read"
    except BlankImageError:
        return "blank"


def changes_at(offsets: st.SearchStrategy[int]) -> st.SearchStrategy[list[tuple[int, int]]]:
    return st.lists(st.tuples(offsets, st.integers(0, 255)), min_size=1, max_size=MAX_MUTATED_BYTES)


@fuzz_settings(CHECKPOINT_MUTATIONS)
@given(
    changes=st.one_of(
        changes_at(st.integers(PICKLE_BYTES.start, PICKLE_BYTES.stop - 1)),  # the pickle alone, CRC fixed below
        changes_at(st.one_of(st.sampled_from(CHECKPOINT_STRUCTURE), st.integers(0, len(CHECKPOINT) - 1))),
    ),
    cut=st.one_of(st.none(), st.none(), st.none(), st.integers(0, len(CHECKPOINT))),
)
def test_mutated_checkpoints_load_or_raise_checkpoint_error(changes, cut):
    damaged = mutated(CHECKPOINT, changes, cut)
    if cut is None and all(offset in PICKLE_BYTES for offset, _ in changes):
        damaged = with_pickle_crc_fixed(damaged)
    event(loads_or_refuses_checkpoint(damaged))


@pytest.mark.parametrize("image_format", IMAGES)
@fuzz_settings(IMAGE_MUTATIONS)
@given(data=st.data())
def test_mutated_images_load_or_raise_declared_errors(image_format, data):
    original = IMAGES[image_format]
    offsets = st.one_of(st.integers(0, IMAGE_HEADER_BYTES), st.integers(0, len(original) - 1))
    changes = data.draw(changes_at(offsets), label="changes")
    cut = data.draw(st.one_of(st.none(), st.none(), st.none(), st.integers(0, len(original))), label="cut")
    damaged = mutated(original, changes, cut)
    if image_format == "png" and data.draw(st.booleans(), label="fix CRCs"):
        damaged = with_png_crcs_fixed(damaged)
    event(reads_or_refuses_image(damaged))


@fuzz_settings(RANDOM_FILES)
@given(signature=st.sampled_from(SIGNATURES), rest=st.binary(max_size=MAX_RANDOM_BYTES))
def test_random_bytes_are_refused_as_checkpoints(signature, rest):
    event(loads_or_refuses_checkpoint(signature + rest))


@fuzz_settings(RANDOM_FILES)
@given(signature=st.sampled_from(SIGNATURES), rest=st.binary(max_size=MAX_RANDOM_BYTES))
def test_random_bytes_are_refused_as_images(signature, rest):
    event(reads_or_refuses_image(signature + rest))


def test_the_fuzzed_files_are_real_and_load():
    """The mutations start from files the loaders accept, or the fuzzing would test nothing."""
    assert load_checkpoint(CHECKPOINT).history.train_counter == [0, 64, 128]
    assert len(CHECKPOINT_STRUCTURE) < len(CHECKPOINT) // 4
    for data in IMAGES.values():
        prepare_mnist_style(load_image(data))
    assert load_image(IMAGES["jpeg"]).shape == (56, 56)


# --- kept cases ----------------------------------------------------------------------------------------------

KEPT = sorted(path for path in FUZZ_CASES.iterdir() if path.suffix in (".pt", ".png", ".jpg"))


def test_cases_are_kept():
    names = {path.name for path in KEPT}
    assert {"expanded_momentum_250M.pt", "history_tensor_claims_a_million_points.pt",
            "corrupt_exif_struct_error.jpg"} <= names


@pytest.mark.parametrize("path", KEPT, ids=[path.name for path in KEPT])
def test_kept_cases_raise_only_declared_errors(path):
    """Each file once escaped a loader as another exception (or cost gigabytes); see the README beside them."""
    if path.suffix == ".pt":
        with pytest.raises(CheckpointError):
            load_checkpoint(path)
    else:
        reads_or_refuses_image(path.read_bytes())

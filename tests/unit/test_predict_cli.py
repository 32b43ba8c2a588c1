"""``python -m mnist_core predict --checkpoint PATH IMAGE...``: one JSON object per line per image."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mnist_core import save_checkpoint
from mnist_core.cli import EXIT_IMAGES_UNREAD, main
from tests.conftest import ROOT
from tests.drawn_digits import drawn_digits, evaluation_digits


@pytest.fixture(scope="module")
def checkpoint(trained_state, tmp_path_factory):
    return save_checkpoint(trained_state, tmp_path_factory.mktemp("ckpt") / "model.pt")


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    """Ten real test digits (0-9) as files people would have: scans, photos, canvas exports."""
    folder = tmp_path_factory.mktemp("images")
    originals, labels = evaluation_digits(10)
    canvases = list(drawn_digits(originals))
    files = []
    for original, canvas, label in zip(originals, canvases, labels):
        if label % 3 == 0:  # dark ink on white paper, as a scan
            path = folder / f"scan_{label}.png"
            Image.fromarray(255 - np.kron(original, np.ones((8, 8), np.uint8))).save(path)
        elif label % 3 == 1:  # a JPEG of light ink on a dark background
            path = folder / f"photo_{label}.jpg"
            Image.fromarray(np.kron(original, np.ones((10, 10), np.uint8))).convert("RGB").save(path, quality=90)
        else:  # the drawing canvas's PNG: ink in the alpha channel
            path = folder / f"canvas_{label}.png"
            Image.fromarray(canvas).save(path)
        files.append((path, int(label)))
    return files


def run_cli(argv, capsys) -> tuple[int, list[dict], str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_prints_one_json_object_per_image_in_order(checkpoint, digit_files, capsys):
    paths = [str(path) for path, _ in digit_files]
    code, results, _ = run_cli(["predict", "--checkpoint", str(checkpoint), *paths], capsys)
    assert code == 0
    assert [r["file"] for r in results] == paths
    for result in results:
        assert set(result) == {"file", "digit", "probabilities"}
        assert len(result["probabilities"]) == 10
        assert sum(result["probabilities"]) == pytest.approx(1.0, abs=1e-4)
        assert result["digit"] == int(np.argmax(result["probabilities"]))
    correct = sum(r["digit"] == label for r, (_, label) in zip(results, digit_files))
    assert correct >= 7  # a 3-epoch net on real digits in three file styles


def test_blank_and_unreadable_files_get_an_error_not_a_crash(checkpoint, digit_files, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((100, 100), 255, np.uint8)).save(blank)
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(digit_files[0][0].read_bytes()[:200])
    missing = tmp_path / "missing.png"
    good = digit_files[0][0]
    files = [blank, text, empty, truncated, missing, tmp_path, good]
    code, results, _ = run_cli(["predict", "--checkpoint", str(checkpoint), *map(str, files)], capsys)
    assert code == EXIT_IMAGES_UNREAD == 1  # the good file was read; the exit code says some were not
    assert [r["file"] for r in results] == [str(f) for f in files]
    for result in results[:-1]:
        assert set(result) == {"file", "error"}, result
        assert result["error"]
    assert "blank" in results[0]["error"]
    assert "not an image format" in results[1]["error"]
    assert "empty" in results[2]["error"]
    assert set(results[-1]) == {"file", "digit", "probabilities"}  # the good file after them still works


def test_a_file_that_crashed_the_decoder_does_not_stop_the_files_after_it(checkpoint, digit_files, capsys):
    """A JPEG with a damaged EXIF block raised struct.error out of predict, before the next good file."""
    damaged = ROOT / "tests" / "fuzz_cases" / "corrupt_exif_struct_error.jpg"
    paths = [str(digit_files[0][0]), str(damaged), str(digit_files[1][0])]
    code, results, _ = run_cli(["predict", "--checkpoint", str(checkpoint), *paths], capsys)
    assert [r["file"] for r in results] == paths
    assert "digit" in results[0] and "digit" in results[2]
    assert code == (EXIT_IMAGES_UNREAD if "error" in results[1] else 0)


def test_any_unexpected_failure_is_one_error_line_and_the_batch_goes_on(checkpoint, digit_files, monkeypatch, capsys):
    import mnist_core.inference as inference

    real_load_image = inference.load_image

    def load_image(path):
        if path == digit_files[0][0]:
            raise struct.error("a decoder bug")
        return real_load_image(path)

    monkeypatch.setattr(inference, "load_image", load_image)
    paths = [str(digit_files[0][0]), str(digit_files[1][0])]
    code, results, _ = run_cli(["predict", "--checkpoint", str(checkpoint), *paths], capsys)
    assert code == EXIT_IMAGES_UNREAD
    assert results[0] == {"file": paths[0], "error": f"{paths[0]} could not be read (error: a decoder bug)."}
    assert "digit" in results[1]


def test_a_folder_as_checkpoint_exits_2_with_one_line(digit_files, tmp_path, capsys):
    """Before: an IsADirectoryError traceback."""
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--checkpoint", str(tmp_path), str(digit_files[0][0])])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"python -m mnist_core predict: error: {tmp_path} is a folder; give the path of a checkpoint file inside it."


@pytest.mark.parametrize(
    "content, message",
    [
        (b"random bytes, not a checkpoint", "not a readable PyTorch checkpoint"),
        (None, "cannot be read"),
    ],
    ids=["garbage", "missing"],
)
def test_bad_checkpoint_exits_2_with_the_reason(content, message, digit_files, tmp_path, capsys):
    path = tmp_path / "model.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--checkpoint", str(path), str(digit_files[0][0])])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_needs_a_checkpoint_and_an_image(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "image.png"])
    assert exit_info.value.code == 2
    assert "--checkpoint" in capsys.readouterr().err


def test_runs_as_a_module(checkpoint, digit_files):
    """The real command line, as a user types it."""
    path, _ = digit_files[0]
    completed = subprocess.run(
        [sys.executable, "-m", "mnist_core", "predict", "--checkpoint", str(checkpoint), str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["file"] == str(path)

"""``python -m mnist_core train``: test lines, a JSON summary, checkpoints, --resume, and bad flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mnist_core import load_checkpoint
from mnist_core.training import engine
from mnist_core.cli import main
from mnist_core.data import IDX_FILES, load_embedded, write_idx_folder
from tests.conftest import ROOT

SUMMARY_KEYS = {"test_loss", "accuracy", "epochs_done", "seconds", "data_source", "device", "checkpoint", "preset",
                "parameters"}


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    """300 training and 100 test digits (all ten classes) as gzipped IDX files."""
    train_x, train_y, test_x, test_y = load_embedded()
    folder = tmp_path_factory.mktemp("idx")
    return write_idx_folder(folder, (train_x[::13][:300], train_y[::13][:300], test_x[::10], test_y[::10]), compress=True)


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_trains_prints_a_line_per_test_and_a_json_summary(digits_dir, tmp_path, capsys):
    checkpoint = tmp_path / "run.pt"
    code, lines, err = run(
        ["train", "--n-epochs", "2", "--data-dir", str(digits_dir), "--checkpoint", str(checkpoint),
         "--device", "cpu", "--batch-size-train", "32", "--log-interval", "2"], capsys)
    assert code == 0
    assert [line.split(":")[0] for line in lines[:-1]] == ["epoch 0", "epoch 1", "epoch 2"]
    assert "accuracy" in lines[0] and "/100 (" in lines[0]
    summary = json.loads(lines[-1])
    assert set(summary) == SUMMARY_KEYS
    assert summary["epochs_done"] == 2 and summary["data_source"] == "folder" and summary["device"] == "cpu"
    assert 0 <= summary["accuracy"] <= 1 and summary["seconds"] > 0
    assert summary["test_loss"] < 2.3
    assert "300 train + 100 test" in err
    state = load_checkpoint(checkpoint)
    assert state.epochs_done == 2 and state.config.batch_size_train == 32 and state.config.log_interval == 2
    assert state.history.test_losses[-1] == pytest.approx(summary["test_loss"])


def test_resume_continues_the_counters_and_history(digits_dir, tmp_path, capsys):
    checkpoint = tmp_path / "run.pt"
    base = ["train", "--data-dir", str(digits_dir), "--checkpoint", str(checkpoint), "--device", "cpu"]
    assert run(base + ["--n-epochs", "1"], capsys)[0] == 0
    code, lines, _ = run(base + ["--n-epochs", "1", "--resume", "--learning-rate", "0.02"], capsys)
    assert code == 0
    assert lines[0].startswith("epoch 2:") and "600 training examples seen" in lines[0]
    assert json.loads(lines[-1])["epochs_done"] == 2
    state = load_checkpoint(checkpoint)
    assert state.history.test_counter == [0, 300, 600] and state.history.resume_points == [300]
    assert state.config.learning_rate == 0.02 and state.optimizer.param_groups[0]["lr"] == 0.02


def test_a_fresh_run_does_not_overwrite_a_checkpoint_unless_forced(digits_dir, tmp_path, capsys):
    checkpoint = tmp_path / "run.pt"
    base = ["train", "--data-dir", str(digits_dir), "--checkpoint", str(checkpoint), "--device", "cpu"]
    assert run(base + ["--n-epochs", "2"], capsys)[0] == 0
    saved = checkpoint.read_bytes()
    with pytest.raises(SystemExit) as info:
        main(base + ["--n-epochs", "1"])
    assert info.value.code == 2 and "already exists: pass --resume to continue it, --force" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(base + ["--learning-rate", "0"])
    assert "learning_rate must be above 0" in capsys.readouterr().err  # a bad flag is named first
    assert checkpoint.read_bytes() == saved
    assert run(base + ["--n-epochs", "1", "--force"], capsys)[0] == 0
    assert load_checkpoint(checkpoint).epochs_done == 1  # started afresh


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--learning-rate", "0"], "learning_rate must be above 0"),
        (["--momentum", "1"], "momentum must be at least 0 and below 1"),
        (["--n-epochs", "0"], "n_epochs (the number of epochs) must be between 1"),
        (["--batch-size-train", "many"], "argument --batch-size-train: invalid int value: 'many'"),
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["--resume", "--force"], "--resume continues the checkpoint and --force starts over"),
    ],
)
def test_bad_flags_exit_2_with_a_one_line_reason(argv, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--checkpoint", str(tmp_path / "x.pt"), *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert words in err[-1] and err[-1].startswith("python -m mnist_core") and ": error: " in err[-1]


def test_corrupt_data_dir_is_an_error_not_a_fallback(digits_dir, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in IDX_FILES.values():
        (broken / f"{name}.gz").write_bytes((digits_dir / f"{name}.gz").read_bytes())
    (broken / f"{IDX_FILES['train_labels']}.gz").write_bytes(b"not gzip")
    with pytest.raises(SystemExit) as info:
        main(["train", "--data-dir", str(broken), "--checkpoint", str(tmp_path / "x.pt"), "--device", "cpu"])
    assert info.value.code == 2
    assert "train-labels-idx1-ubyte.gz: cannot be read" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_resume_without_a_checkpoint_or_from_a_bad_one(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--resume", "--checkpoint", str(tmp_path / "none.pt")])
    assert info.value.code == 2 and "--resume: no checkpoint at" in capsys.readouterr().err
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(SystemExit) as info:
        main(["train", "--resume", "--checkpoint", str(tmp_path / "bad.pt"), "--device", "cpu"])
    assert info.value.code == 2 and "is not a readable PyTorch checkpoint" in capsys.readouterr().err


def test_divergence_exits_1_and_keeps_the_last_good_checkpoint(digits_dir, tmp_path, monkeypatch, capsys):
    def huge_learning_rate(model, config, recipe=None):
        return torch.optim.SGD(model.parameters(), lr=1e30, momentum=config.momentum)

    monkeypatch.setattr(engine, "make_optimizer", huge_learning_rate)
    checkpoint = tmp_path / "run.pt"
    code, lines, err = run(
        ["train", "--data-dir", str(digits_dir), "--checkpoint", str(checkpoint), "--device", "cpu"], capsys)
    assert code == 1
    assert "training diverged" in err and "The last good weights were kept" in err
    assert lines == [lines[0]] and lines[0].startswith("epoch 0:")  # no summary for a run that failed
    assert not checkpoint.exists()  # no epoch finished


def test_help_documents_every_flag():
    result = subprocess.run([sys.executable, "-m", "mnist_core", "train", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for flag in ("--n-epochs", "--batch-size-train", "--batch-size-test", "--learning-rate", "--momentum",
                 "--log-interval", "--random-seed", "--device", "--data-dir", "--checkpoint", "--resume", "--force",
                 "--cuda-graph", "--preset", "--net", "--optimizer", "--nesterov", "--weight-decay", "--schedule",
                 "--augment"):
        assert flag in result.stdout
    assert "checkpoints/cli.pt" in result.stdout


def test_real_process_end_to_end(digits_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mnist_core", "train", "--n-epochs", "1", "--data-dir", str(digits_dir),
         "--checkpoint", str(tmp_path / "cli.pt"), "--device", "cpu"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and json.loads(lines[-1])["epochs_done"] == 1
    assert (tmp_path / "cli.pt").is_file()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has the device")
def test_unavailable_device_exits_2(digits_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--device", "cuda", "--data-dir", str(digits_dir), "--checkpoint", str(tmp_path / "x.pt")])
    assert info.value.code == 2
    assert "device 'cuda' is not available here; choose one of cpu" in capsys.readouterr().err


@pytest.mark.parametrize(
    "where, words",
    [
        (lambda tmp: tmp, "is a folder; give a file path such as"),
        (lambda tmp: tmp / "notes.txt" / "run.pt", "notes.txt is a file, not a folder"),
        (lambda tmp: Path("/proc/run.pt"), "cannot be written: creating a file in /proc failed"),
    ],
    ids=["folder", "under-a-file", "unwritable"],
)
def test_unusable_checkpoint_paths_exit_2_before_any_training(where, words, digits_dir, tmp_path, capsys):
    """Before, a folder with --force trained a whole epoch and then crashed on save (IsADirectoryError)."""
    (tmp_path / "notes.txt").write_text("a file")
    for extra in ([], ["--force"]):
        with pytest.raises(SystemExit) as info:
            main(["train", "--data-dir", str(digits_dir), "--checkpoint", str(where(tmp_path)), "--device", "cpu",
                  *extra])
        captured = capsys.readouterr()
        assert info.value.code == 2
        assert captured.out == ""  # no test line: nothing trained
        last = captured.err.strip().splitlines()[-1]
        assert last.startswith("python -m mnist_core train: error: --checkpoint") and words in last


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_exits_2(digits_dir, tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    with pytest.raises(SystemExit) as info:
        main(["train", "--data-dir", str(digits_dir), "--checkpoint", str(folder / "run.pt"), "--device", "cpu"])
    assert info.value.code == 2 and "cannot be written" in capsys.readouterr().err


def test_runs_without_checkpoint_take_the_next_free_numbered_file(digits_dir, tmp_path, monkeypatch, capsys):
    """Before, the second run stopped: checkpoints/cli.pt already exists."""
    monkeypatch.chdir(tmp_path)
    base = ["train", "--data-dir", str(digits_dir), "--device", "cpu", "--n-epochs", "1"]
    written = []
    for _ in range(3):
        code, lines, err = run(base, capsys)
        assert code == 0
        written.append(json.loads(lines[-1])["checkpoint"])
        assert f"checkpoint: {written[-1]} (pass --checkpoint to choose another)" in err
    assert written == ["checkpoints/cli.pt", "checkpoints/cli-2.pt", "checkpoints/cli-3.pt"]
    code, lines, err = run(base + ["--resume"], capsys)
    assert code == 0 and json.loads(lines[-1])["checkpoint"] == "checkpoints/cli-3.pt"
    assert "checkpoint: checkpoints/cli-3.pt (the newest numbered default" in err
    assert load_checkpoint(tmp_path / "checkpoints" / "cli-3.pt").epochs_done == 2
    assert load_checkpoint(tmp_path / "checkpoints" / "cli.pt").epochs_done == 1


def test_a_run_ending_before_its_first_epoch_frees_its_numbered_file(digits_dir, tmp_path, monkeypatch, capsys):
    def huge_learning_rate(model, config, recipe=None):
        return torch.optim.SGD(model.parameters(), lr=1e30, momentum=config.momentum)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(engine, "make_optimizer", huge_learning_rate)
    code, _, _ = run(["train", "--data-dir", str(digits_dir), "--device", "cpu"], capsys)
    assert code == 1
    assert list((tmp_path / "checkpoints").iterdir()) == []

"""Checkpoints: a full round trip, atomic writes, and every kind of bad file refused with no side effect."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from mnist_core import CheckpointError, TrainConfig, checkpoint_bytes, load_checkpoint, new_training_state, save_checkpoint, train
from mnist_core import checkpoint as checkpoint_module
from mnist_core.checkpoint import DEFAULT_CHECKPOINT_DIR, checkpoint_dict
from tests.conftest import ROOT

FUZZ_CASES = ROOT / "tests" / "fuzz_cases"  # hostile files kept as regressions (see its README)


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_round_trip_keeps_everything(trained_state, tmp_path):
    path = save_checkpoint(trained_state, tmp_path / "sub" / "model.pt")
    loaded = load_checkpoint(path)
    assert same_tensors(loaded.model.state_dict(), trained_state.model.state_dict())
    saved_optimizer, loaded_optimizer = trained_state.optimizer.state_dict(), loaded.optimizer.state_dict()
    assert saved_optimizer["param_groups"] == loaded_optimizer["param_groups"]
    for index, buffers in saved_optimizer["state"].items():
        assert torch.equal(buffers["momentum_buffer"], loaded_optimizer["state"][index]["momentum_buffer"])
    assert loaded.config == trained_state.config
    assert loaded.history == trained_state.history
    assert (loaded.epochs_done, loaded.examples_seen) == (3, 3 * 4000)
    assert torch.equal(loaded.shuffle_generator.get_state(), trained_state.shuffle_generator.get_state())
    assert torch.equal(loaded.torch_rng_state, trained_state.torch_rng_state)
    assert loaded.optimizer.param_groups[0]["params"][0] is next(loaded.model.parameters())


def test_bytes_and_file_objects_load_too(trained_state):
    data = checkpoint_bytes(trained_state)
    assert len(data) < 1_000_000
    for source in (data, io.BytesIO(data)):
        assert load_checkpoint(source).history == trained_state.history


def test_default_folder_is_relative_and_named():
    assert DEFAULT_CHECKPOINT_DIR == Path("checkpoints")


def test_interrupted_write_leaves_the_old_file_and_no_debris(trained_state, tmp_path, monkeypatch):
    target = tmp_path / "model.pt"
    save_checkpoint(new_training_state(TrainConfig(device="cpu")), target)
    before = target.read_bytes()

    def interrupted(fd):
        raise KeyboardInterrupt  # Ctrl-C, or the process killed, after part of the bytes were written

    monkeypatch.setattr(checkpoint_module.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(trained_state, target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.pt"]


def test_write_into_a_missing_file_never_leaves_a_partial_one(trained_state, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_module.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(trained_state, tmp_path / "model.pt")
    assert os.listdir(tmp_path) == []


class RunsCode:
    """Unpickling this calls Path.touch(marker): the kind of payload a hostile file carries."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("how", ["torch.save", "plain pickle"])
def test_pickle_that_would_run_code_is_refused_without_running_it(trained_state, tmp_path, how):
    marker = tmp_path / "code_ran"
    payload = checkpoint_dict(trained_state)
    payload["history"] = RunsCode(marker)
    path = tmp_path / "hostile.pt"
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    rng_before = torch.get_rng_state()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert not marker.exists()
    if how == "torch.save":
        assert "was refused: it holds Python objects other than tensors" in str(info.value)
    else:  # the safe unpickler stops even earlier, at pickle protocol 4's framing
        assert "is not a readable PyTorch checkpoint" in str(info.value)
    assert torch.equal(torch.get_rng_state(), rng_before)


def test_truncated_and_random_files(trained_state, tmp_path):
    data = checkpoint_bytes(trained_state)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(os.urandom(5000))
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(tmp_path / "missing.pt")


def saved(payload) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def test_another_models_state_dict_is_refused_with_a_hint():
    with pytest.raises(CheckpointError, match="not a checkpoint of this app. It looks like a bare state_dict"):
        load_checkpoint(saved(nn.Linear(3, 2).state_dict()))


def test_checkpoint_of_another_network_or_shape(trained_state):
    payload = checkpoint_dict(trained_state)
    payload["model_state"] = nn.Sequential(nn.Linear(784, 10)).state_dict()
    with pytest.raises(CheckpointError, match="holds a different model: its layers are"):
        load_checkpoint(saved(payload))

    payload = checkpoint_dict(trained_state)
    payload["model_state"]["conv2.weight"] = torch.zeros(40, 10, 5, 5)
    with pytest.raises(CheckpointError, match=r"conv2.weight has shape \(40, 10, 5, 5\), expected \(20, 10, 5, 5\)"):
        load_checkpoint(saved(payload))

    payload = checkpoint_dict(trained_state)
    payload["model_state"]["fc1.bias"][3] = float("nan")
    with pytest.raises(CheckpointError, match="fc1.bias contains NaN"):
        load_checkpoint(saved(payload))


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda p: p.pop("optimizer_state"), "missing optimizer_state"),
        (lambda p: p.update(version=99), "checkpoint version 99"),
        (lambda p: p["config"].update(learning_rate=-1), "invalid training config or recipe: learning_rate"),
        (lambda p: p.update(epochs_done=-1), "invalid progress counters"),
        (lambda p: p["history"]["train_counter"].pop(), "inconsistent history"),
        (lambda p: p.update(optimizer_state={"state": {}, "param_groups": []}), "optimizer state that does not fit"),
        (lambda p: p["rng"].update(shuffle=torch.zeros(3, dtype=torch.uint8)), "invalid RNG state"),
        (lambda p: p.update(version=torch.tensor([1, 1])), "checkpoint version a Tensor"),
        (lambda p: p["history"].update(test_accuracy=["x"] * len(p["history"]["test_losses"])), "invalid history"),
        (lambda p: p["history"]["test_accuracy"].pop(), "inconsistent history"),
        (lambda p: p["history"]["train_losses"].__setitem__(0, float("nan")), "invalid history"),
        (lambda p: p["model_state"].update({0: torch.zeros(1)}), "holds a different model"),
        (lambda p: p["model_state"].update({"fc2.bias": torch.zeros(1000)[:10]}), "fc2.bias is not a plain"),
        (lambda p: p["model_state"].update({"fc2.bias": torch.zeros(10).to_sparse()}), "fc2.bias is not a plain"),
        (lambda p: p["model_state"].update({"fc2.bias": torch.zeros(10, dtype=torch.float64)}), "fc2.bias is not a plain"),
        (lambda p: next(iter(p["optimizer_state"]["state"].values())).update(momentum_buffer=torch.zeros(3)),
         "momentum_buffer"),
        (lambda p: p["optimizer_state"]["state"].update({99: {}}), "optimizer state that does not fit"),
        (lambda p: p["optimizer_state"]["param_groups"][0]["params"].pop(), "optimizer state that does not fit"),
        (lambda p: next(iter(p["optimizer_state"]["state"].values())).update(step=torch.zeros(3)), "'step'"),
        (lambda p: next(iter(p["optimizer_state"]["state"].values())).update(
            momentum_buffer=torch.zeros(1, dtype=torch.float64).expand(250_000_000)),
         "momentum_buffer is not a plain tensor of its own: shape \\(250000000,\\) over 8 stored bytes"),
        (lambda p: p["history"].update(train_losses=torch.zeros(1, dtype=torch.float64).expand(1_000_000)),
         "history.train_losses is not a plain tensor of its own"),
        (lambda p: p["history"].update(train_losses=(1.0,) * len(p["history"]["train_counter"])), "not a list"),
        (lambda p: p["rng"].update(torch=torch.zeros(1, dtype=torch.uint8).expand(5056)), "rng.torch is not a plain"),
    ],
)
@pytest.mark.filterwarnings("ignore:Validating sparse tensor invariants")
def test_inconsistent_contents_are_refused(trained_state, change, words):
    payload = checkpoint_dict(trained_state)
    change(payload)
    with pytest.raises(CheckpointError, match=words):
        load_checkpoint(saved(payload))


def test_oversized_files_are_refused_before_reading(trained_state, tmp_path, monkeypatch):
    data = checkpoint_bytes(trained_state)
    monkeypatch.setattr(checkpoint_module, "MAX_CHECKPOINT_BYTES", len(data) - 1)
    path = tmp_path / "big.pt"
    path.write_bytes(data)
    for source in (path, data, io.BytesIO(data)):
        with pytest.raises(CheckpointError, match="a checkpoint of this network is under 1 MB"):
            load_checkpoint(source)


def test_compressed_entries_are_refused_before_unpacking(trained_state, tmp_path):
    """A zip of deflated entries could unpack to gigabytes; torch.load would accept it."""
    stored = zipfile.ZipFile(io.BytesIO(checkpoint_bytes(trained_state)))
    path = tmp_path / "deflated.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for entry in stored.infolist():
            archive.writestr(entry.filename, stored.read(entry))
    torch.load(path, weights_only=True)  # the point: PyTorch itself would read it
    with pytest.raises(CheckpointError, match="compressed entries"):
        load_checkpoint(path)


def test_optimizer_settings_come_from_the_config_not_the_file(trained_state):
    payload = checkpoint_dict(trained_state)
    payload["optimizer_state"]["param_groups"][0].update(lr=1e9, maximize=True)
    state = load_checkpoint(saved(payload))
    group = state.optimizer.param_groups[0]
    assert group["lr"] == trained_state.config.learning_rate and group["maximize"] is False


def test_a_zip_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "archive.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(path)


def test_loaded_state_continues_training(trained_state, embedded_data):
    loaded = load_checkpoint(checkpoint_bytes(trained_state))
    small = embedded_data.to("cpu")
    events = list(train(loaded, small, n_epochs=1, cpu_threads=1))
    assert events[-1].epoch == 4 and events[-1].examples_seen == 4 * 4000
    assert loaded.history.test_counter[-1] == 16000 and loaded.history.resume_points == [12000]
    assert trained_state.epochs_done == 3  # the original is untouched


def test_checkpoint_dict_is_a_copy_not_a_view(trained_state):
    payload = checkpoint_dict(trained_state)
    payload["model_state"]["fc1.bias"].fill_(0)
    payload["optimizer_state"]["state"][0]["momentum_buffer"].fill_(0)
    assert trained_state.model.fc1.bias.abs().sum() > 0
    assert trained_state.optimizer.state_dict()["state"][0]["momentum_buffer"].abs().sum() > 0


# --- claims a file makes about sizes are checked before anything is built from them -------------------

def fresh_payload() -> dict:
    """A checkpoint of an untrained net with one momentum buffer: the smallest real file, built in milliseconds."""
    state = new_training_state(TrainConfig(device="cpu"))
    payload = checkpoint_dict(state)
    first = next(state.model.parameters())
    payload["optimizer_state"]["state"][0] = {"momentum_buffer": torch.zeros_like(first)}
    return payload


PEAK_MEMORY_SCRIPT = """
import resource, sys
from mnist_core.checkpoint import CheckpointError, load_checkpoint

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux

load_checkpoint(sys.argv[1])
good = peak_mb()
for hostile in sys.argv[2:]:
    try:
        load_checkpoint(hostile)
        print("loaded")
    except CheckpointError as exc:
        print(f"{good} {peak_mb()} {exc}")
"""


def test_tiny_files_claiming_gigabytes_are_refused_without_allocating_them(tmp_path):
    """The issue's files (kept in tests/fuzz_cases): a momentum buffer claiming 250 million float64 (2 GB)
    over one stored number, and a history list claiming a million points over one. Before the fix,
    load_state_dict expanded the first (peak +950 MB) and History.from_dict the second (+610 MB)."""
    good = tmp_path / "good.pt"
    good.write_bytes(saved(fresh_payload()))
    hostile = [FUZZ_CASES / "expanded_momentum_250M.pt", FUZZ_CASES / "history_tensor_claims_a_million_points.pt"]
    assert all(path.stat().st_size < 200_000 for path in hostile)
    result = subprocess.run([sys.executable, "-c", PEAK_MEMORY_SCRIPT, str(good), *map(str, hostile)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    refusals = [line.split(" ", 2) for line in result.stdout.splitlines()]
    assert len(refusals) == 2
    assert "momentum_buffer is not a plain tensor of its own" in refusals[0][2]
    assert "history.train_losses is not a plain tensor of its own" in refusals[1][2]
    good_mb, refusing_mb = float(refusals[-1][0]), float(refusals[-1][1])  # the peak over both refusals
    assert refusing_mb - good_mb < PEAK_MEMORY_MARGIN_MB


PEAK_MEMORY_MARGIN_MB = 100  # the bound on what refusing a hostile file may cost beyond a good load


def with_pickle(data: bytes, pickled: bytes) -> bytes:
    """The same torch.save zip with its data.pkl replaced: how a hand-made pickle reaches torch.load."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for entry in source.infolist():
            archive.writestr(entry, pickled if entry.filename.endswith("data.pkl") else source.read(entry))
    return out.getvalue()


def test_a_pickle_building_millions_of_objects_is_refused_before_unpickling():
    """A million empty dicts cost 1 byte each in the file and 64 bytes each in memory."""
    many_dicts = b"\x80\x02(" + b"}" * 1_000_000 + b"l."  # PROTO 2, MARK, EMPTY_DICT x 1e6, LIST, STOP
    with pytest.raises(CheckpointError, match="holds more values than any checkpoint of this app"):
        load_checkpoint(with_pickle(saved(fresh_payload()), many_dicts))


def test_history_lists_are_limited_before_they_are_built(monkeypatch):
    payload = fresh_payload()
    payload["history"].update(train_losses=[0.5] * 300, train_counter=list(range(300)))
    data = saved(payload)
    monkeypatch.setattr(checkpoint_module, "MAX_PICKLE_OPCODES", 500)
    with pytest.raises(CheckpointError, match="a history holds at most 1,000,000 points"):
        load_checkpoint(data)
    monkeypatch.undo()
    monkeypatch.setattr(checkpoint_module, "MAX_HISTORY_POINTS", 299)
    with pytest.raises(CheckpointError, match="train_losses has 300 points, more than the limit of 299"):
        load_checkpoint(data)
    monkeypatch.undo()
    assert len(load_checkpoint(data).history.train_losses) == 300


def test_any_optimizers_state_fits_if_each_tensor_has_its_parameters_shape():
    """Adam's exp_avg and exp_avg_sq have the parameter's shape; its step is a scalar."""
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 4)).sum().backward()
    optimizer.step()
    values = optimizer.state_dict()
    expected = [[(p.shape, p.dtype) for p in model.parameters()]]
    checked = checkpoint_module.check_optimizer_state(values, expected, "adam.pt")
    assert [sorted(entries) for entries in checked] == [["exp_avg", "exp_avg_sq", "step"]] * 4
    values["state"][1]["exp_avg_sq"] = torch.zeros(4)
    with pytest.raises(CheckpointError, match=r"parameter 1's 'exp_avg_sq': \(4,\)"):
        checkpoint_module.check_optimizer_state(values, expected, "adam.pt")
    values["state"][1]["exp_avg_sq"] = torch.zeros(1).expand(3)
    with pytest.raises(CheckpointError, match="not a plain"):
        checkpoint_module.check_optimizer_state(values, expected, "adam.pt")


def test_channels_last_weights_are_plain_tensors():
    payload = fresh_payload()
    key = next(k for k, v in payload["model_state"].items() if v.dim() == 4 and v.shape[1] > 1)
    payload["model_state"][key] = payload["model_state"][key].contiguous(memory_format=torch.channels_last)
    assert not payload["model_state"][key].is_contiguous()
    load_checkpoint(saved(payload))


def test_a_folder_is_refused_with_a_reason(tmp_path):
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)


# --- files from before stop_points: one answer to "is the last epoch partial" --------------------------------

def payload_before_stop_points(examples_past_last_test: int) -> dict:
    """A file as written before stop_points existed: one epoch of 60,000 examples tested, then
    ``examples_past_last_test`` more trained before it was saved."""
    payload = fresh_payload()
    payload["epochs_done"], payload["examples_seen"] = 1, 60_000 + examples_past_last_test
    payload["history"] = {"train_losses": [2.3, 0.4], "train_counter": [640, 60_000], "test_losses": [2.3, 0.2],
                          "test_counter": [0, 60_000], "test_accuracy": [0.1, 0.94], "resume_points": []}
    return payload


def test_an_old_file_stopped_inside_an_epoch_is_partial_to_every_view():
    state = load_checkpoint(saved(payload_before_stop_points(640)))
    assert state.examples_into_epoch == 640  # the sidebar's and Continue's answer
    assert state.history.partial_epoch() == (2, 640)  # the table's and chart's answer
    assert list(state.history.stop_points) == [60_640]


def test_an_old_file_saved_at_an_epoch_end_stays_whole():
    state = load_checkpoint(saved(payload_before_stop_points(0)))
    assert state.examples_into_epoch == 0 and state.history.partial_epoch() is None
    assert list(state.history.stop_points) == []

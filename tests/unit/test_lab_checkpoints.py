"""Checkpoints of any network: old tutorial files still load, specs and recipes round trip, continued
training keeps the recipe's optimizer, and a hostile spec is refused before any model is built."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from mnist_core import CheckpointError, MnistData, TrainConfig, evaluate, load_checkpoint, new_training_state, train
from mnist_core import checkpoint as checkpoint_module
from mnist_core.checkpoint import checkpoint_bytes, checkpoint_dict
from mnist_core.network.tutorial import tutorial_spec
from mnist_core.network.spec import NetSpec
from mnist_core.training.presets import PRESETS
from mnist_core.training.recipe import Recipe

# Written by the code before the network lab (commit 0259990): no "spec" or "recipe" keys, 1 epoch on every
# 10th embedded digit (400 training, 100 test images).
OLD_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "tutorial_before_netspec.pt"


def every_tenth(data: MnistData) -> MnistData:
    return MnistData(data.train_images[::10], data.train_labels[::10], data.test_images[::10],
                     data.test_labels[::10], data.source, data.location)


def test_a_checkpoint_from_before_the_network_lab_loads_as_the_tutorial(embedded_data):
    payload = torch.load(OLD_CHECKPOINT, weights_only=True)
    assert "spec" not in payload and "recipe" not in payload  # really the old format
    state = load_checkpoint(OLD_CHECKPOINT)
    assert state.spec == tutorial_spec() and state.recipe == Recipe()
    small = every_tenth(embedded_data)
    loss, correct = evaluate(state.model, small.test_images, small.test_labels)
    assert correct / small.n_test == pytest.approx(state.history.test_accuracy[-1])  # the weights it was tested with
    assert loss == pytest.approx(state.history.test_losses[-1], rel=1e-5)
    events = list(train(state, small, n_epochs=1, cpu_threads=1))  # and it continues
    assert state.epochs_done == 2 and events[-1].epoch == 2


def test_spec_and_recipe_round_trip_and_continue_with_their_optimizer(embedded_data):
    preset = PRESETS["modern"]
    spec = NetSpec.from_dict(preset.spec)
    config = TrainConfig(n_epochs=1, batch_size_train=50, device="cpu", learning_rate=0.01)
    state = new_training_state(config, spec=spec, recipe=preset.recipe)
    small = every_tenth(embedded_data)
    list(train(state, small, cpu_threads=1))
    loaded = load_checkpoint(checkpoint_bytes(state))
    assert loaded.spec == spec and loaded.recipe == preset.recipe
    assert type(loaded.optimizer) is type(state.optimizer)
    for key, value in state.model.state_dict().items():  # BatchNorm's running statistics included
        assert torch.equal(loaded.model.state_dict()[key], value)
    assert evaluate(loaded.model, small.test_images, small.test_labels) == evaluate(state.model, small.test_images, small.test_labels)
    again = load_checkpoint(checkpoint_bytes(state))
    list(train(loaded, small, n_epochs=1, cpu_threads=1))
    list(train(again, small, n_epochs=1, cpu_threads=1))
    assert all(torch.equal(a, b) for a, b in zip(loaded.model.parameters(), again.model.parameters()))  # resumes exactly


def test_a_hostile_spec_is_refused_before_any_model_is_built(monkeypatch):
    payload = checkpoint_dict(new_training_state(TrainConfig(device="cpu")))
    wide = {"type": "Conv2d", "out_channels": 512, "kernel_size": 1}
    payload["spec"] = {"layers": [wide] * 22 + [{"type": "Flatten"}, {"type": "Linear", "out_features": 10}]}
    buffer = io.BytesIO()
    torch.save(payload, buffer)

    def no_build(*args, **kwargs):
        raise AssertionError("a model was built from a refused spec")

    monkeypatch.setattr(checkpoint_module, "build_model", no_build)
    monkeypatch.setattr(checkpoint_module, "expected_state_shapes", no_build)
    with pytest.raises(CheckpointError, match="describes a network this app refuses") as info:
        load_checkpoint(buffer.getvalue())
    assert "limit" in str(info.value)


def test_a_checkpoint_whose_weights_do_not_fit_its_spec_is_refused():
    payload = checkpoint_dict(new_training_state(TrainConfig(device="cpu")))
    payload["spec"] = PRESETS["leaky"].spec  # the tutorial's weights, but BatchNorm layers claimed
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with pytest.raises(CheckpointError, match="different model"):
        load_checkpoint(buffer.getvalue())


def test_a_very_long_history_saves_thinned_and_loads():
    """Batch size 1 with every batch logged reaches millions of points; the file keeps the curve's shape
    (spikes included) within the loader's limits, and the run's history in memory keeps every point."""
    from mnist_core.checkpoint import MAX_SAVED_TRAIN_POINTS

    state = new_training_state(TrainConfig(device="cpu"))
    n = 1_500_000
    losses = torch.linspace(2.3, 0.1, n).double()
    losses[777_777] = 9.0  # one bad batch
    for column, values in (("train_losses", losses.tolist()), ("train_counter", list(range(n)))):
        getattr(state.history, column).extend(values)
    loaded = load_checkpoint(checkpoint_bytes(state))
    assert len(state.history.train_losses) == n
    saved = list(loaded.history.train_losses)
    assert len(saved) <= MAX_SAVED_TRAIN_POINTS and 9.0 in saved
    counters = list(loaded.history.train_counter)
    assert counters[0] == 0 and counters[-1] == n - 1 and counters == sorted(counters)

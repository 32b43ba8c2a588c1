"""The training generator: the tutorial's event sequence and counters, stopping, divergence, resuming."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import torch

from mnist_core import (
    BatchEvent,
    MnistData,
    StoppedEvent,
    TestEvent,
    TrainConfig,
    TrainingDiverged,
    evaluate,
    load_checkpoint,
    checkpoint_bytes,
    new_training_state,
    predict,
    train,
)
from mnist_core.training.engine import apply_config, examples_to_train, sgd_step


def subset(data: MnistData, n_train: int, n_test: int) -> MnistData:
    """Every k-th image, so all ten digits stay in (the embedded set is sorted by digit)."""
    train_step, test_step = data.n_train // n_train, data.n_test // n_test
    return MnistData(
        train_images=data.train_images[::train_step][:n_train],
        train_labels=data.train_labels[::train_step][:n_train],
        test_images=data.test_images[::test_step][:n_test],
        test_labels=data.test_labels[::test_step][:n_test],
        source=data.source, location=data.location,
    )


@pytest.fixture(scope="module")
def small(embedded_data):
    return subset(embedded_data, 650, 200)  # 650 = 10 full batches of 64 and one of 10


def cpu_config(**changes) -> TrainConfig:
    return TrainConfig(**{"device": "cpu", **changes})


def state_dict_copy(state):
    return {k: v.clone() for k, v in state.model.state_dict().items()}


def test_training_reduces_the_loss_on_real_digits(trained_state):
    history = trained_state.history
    assert trained_state.epochs_done == 3
    assert history.test_losses[-1] < history.test_losses[0] - 1.0
    assert history.test_accuracy[0] < 0.2 < 0.7 < history.test_accuracy[-1]  # 189 SGD steps: about 77%
    assert sum(history.train_losses[-5:]) < sum(history.train_losses[:5])


def test_event_sequence_and_counters_follow_the_seed(small):
    config = cpu_config(n_epochs=2, log_interval=3)
    state = new_training_state(config)
    events = list(train(state, small, cpu_threads=1))
    n_train, batches = small.n_train, 11

    kinds = [(type(e).__name__, e.epoch, getattr(e, "batch_index", None)) for e in events]
    assert kinds == [("TestEvent", 0, None)] + [
        item for epoch in (1, 2)
        for item in [("BatchEvent", epoch, b) for b in (0, 3, 6, 9)] + [("TestEvent", epoch, None)]
    ]
    # The tutorial's formulas: train_counter = batch_idx*64 + (epoch-1)*len(dataset); test_counter = i*len(dataset).
    batch_events = [e for e in events if isinstance(e, BatchEvent)]
    assert [e.examples_seen for e in batch_events] == [
        b * 64 + (epoch - 1) * n_train for epoch in (1, 2) for b in (0, 3, 6, 9)
    ]
    assert all(e.batches_per_epoch == batches for e in batch_events)
    history = state.history
    assert history.train_counter == [e.examples_seen for e in batch_events]
    assert history.train_losses == [e.loss for e in batch_events]
    test_events = [e for e in events if isinstance(e, TestEvent)]
    assert history.test_counter == [i * n_train for i in range(3)] == [e.examples_seen for e in test_events]
    assert history.test_losses == [e.loss for e in test_events]
    assert history.test_accuracy == [e.accuracy for e in test_events]
    assert all(e.total == 200 and 0 <= e.correct <= 200 for e in test_events)
    assert (state.epochs_done, state.examples_seen) == (2, 2 * n_train)


def test_test_event_matches_evaluate(small):
    state = new_training_state(cpu_config(n_epochs=1))
    events = list(train(state, small, cpu_threads=1))
    loss, correct = evaluate(state.model, small.test_images, small.test_labels, batch_size=7)
    assert events[-1].loss == pytest.approx(loss, rel=1e-5) and events[-1].correct == correct
    assert state.model.training  # evaluate leaves the mode as it found it


def test_stopping_between_batches(small):
    state = new_training_state(cpu_config(n_epochs=3, log_interval=1))
    polls = []

    def should_stop():
        polls.append(1)
        return len(polls) > 4  # allow four batches

    events = list(train(state, small, should_stop=should_stop, cpu_threads=1))
    assert isinstance(events[-1], StoppedEvent)
    assert (events[-1].epoch, events[-1].batch_index, events[-1].examples_seen) == (1, 4, 4 * 64)
    assert [type(e) for e in events[:-1]] == [TestEvent] + [BatchEvent] * 4
    assert (state.epochs_done, state.examples_seen) == (0, 4 * 64)
    assert len(polls) == 5  # nothing ran after the stop


def diverging_state(log_interval: int):
    """A learning rate of 1e30 (far beyond TrainConfig's limit of 10, set on the optimizer) overflows for certain."""
    state = new_training_state(cpu_config(n_epochs=2, log_interval=log_interval))
    state.optimizer.param_groups[0]["lr"] = 1e30
    return state


def test_huge_learning_rate_stops_with_the_last_good_weights(small):
    state = diverging_state(log_interval=1)
    seen = []
    with pytest.raises(TrainingDiverged, match="diverged. Try a smaller learning rate than") as info:
        for event in train(state, small, cpu_threads=1):
            seen.append((event, state_dict_copy(state), state.examples_seen))
    assert "nan" in str(info.value).lower() or "inf" in str(info.value).lower()
    last_event, last_weights, last_examples = seen[-1]
    assert isinstance(last_event, BatchEvent)
    for name, value in state.model.state_dict().items():
        assert torch.isfinite(value).all(), name
        assert torch.equal(value, last_weights[name]), name
    assert state.examples_seen == last_examples
    assert len(state.history.train_losses) == len(seen) - 1  # every recorded loss is a finite one
    assert all(torch.isfinite(torch.tensor(state.history.train_losses)))
    # What was kept can be saved and loaded (a checkpoint refuses non-finite weights).
    assert load_checkpoint(checkpoint_bytes(state)).examples_seen == last_examples


def test_divergence_between_logged_batches_is_caught_at_the_next_one(small):
    state = diverging_state(log_interval=3)
    seen = []
    with pytest.raises(TrainingDiverged):
        for _event in train(state, small, cpu_threads=1):
            seen.append(state_dict_copy(state))
    assert all(torch.equal(v, seen[-1][k]) for k, v in state.model.state_dict().items())


def test_resume_equals_training_straight_through(small):
    config = cpu_config(n_epochs=2, log_interval=2)
    straight = new_training_state(config)
    list(train(straight, small, cpu_threads=1))

    first = new_training_state(config)
    list(train(first, small, n_epochs=1, cpu_threads=1))
    resumed = load_checkpoint(checkpoint_bytes(first))
    list(train(resumed, small, n_epochs=1, cpu_threads=1))

    assert resumed.epochs_done == straight.epochs_done == 2
    assert resumed.history.train_counter == straight.history.train_counter
    assert resumed.history.test_counter == straight.history.test_counter
    assert resumed.history.train_losses == pytest.approx(straight.history.train_losses, rel=1e-5, abs=1e-6)
    assert resumed.history.test_losses == pytest.approx(straight.history.test_losses, rel=1e-5, abs=1e-6)
    for name, value in straight.model.state_dict().items():
        assert torch.allclose(resumed.model.state_dict()[name], value, atol=1e-6), name
    assert resumed.history.resume_points == [small.n_train]


def test_same_seed_same_run_and_the_global_rng_is_left_alone(small):
    config = cpu_config(n_epochs=1, log_interval=1)
    before = torch.get_rng_state()
    a, b = new_training_state(config), new_training_state(config)
    assert torch.equal(torch.get_rng_state(), before)
    list(train(a, small, cpu_threads=1))
    list(train(b, small, cpu_threads=1))
    assert a.history.train_losses == b.history.train_losses
    other = new_training_state(cpu_config(n_epochs=1, log_interval=1, random_seed=2))
    list(train(other, small, cpu_threads=1))
    assert other.history.train_losses != a.history.train_losses


def test_apply_config_changes_the_optimizer():
    state = new_training_state(cpu_config())
    apply_config(state, cpu_config(learning_rate=0.2, momentum=0.0))
    assert state.optimizer.param_groups[0]["lr"] == 0.2 and state.optimizer.param_groups[0]["momentum"] == 0.0
    assert state.config.learning_rate == 0.2


def test_predict_gives_probabilities_that_agree_with_the_test_accuracy(trained_state, embedded_data):
    probabilities = predict(trained_state.model, embedded_data.test_images, batch_size=300)
    assert probabilities.shape == (1000, 10)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(1000), atol=1e-5)
    correct = (probabilities.argmax(dim=1) == embedded_data.test_labels).sum().item()
    assert correct / 1000 == trained_state.history.test_accuracy[-1]
    assert predict(trained_state.model, embedded_data.test_images[:0]).shape == (0, 10)


def test_zero_epochs_is_refused(small):
    state = new_training_state(cpu_config())
    with pytest.raises(ValueError, match="n_epochs must be at least 1"):
        next(train(state, small, n_epochs=0))


def test_snapshot_survives_later_training(small):
    """The kept copy is a copy: training on does not change it."""
    state = new_training_state(cpu_config(n_epochs=1))
    before = copy.deepcopy(state.model.state_dict())
    list(train(state, small, cpu_threads=1))
    assert not torch.equal(before["fc2.weight"], state.model.state_dict()["fc2.weight"])


def test_device_choice_and_cpu_threads(monkeypatch):
    from mnist_core import available_devices, resolve_device
    from mnist_core.training import device as device_module

    assert resolve_device("auto").type == available_devices()[0] and available_devices()[-1] == "cpu"
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(device_module, "usable_cores", lambda: 4)
    monkeypatch.setattr(device_module, "busy_cores_elsewhere", lambda: 2.6)
    assert device_module.free_cores() == 1  # 4 cores, about 3 busy
    monkeypatch.setattr(device_module, "busy_cores_elsewhere", lambda: 9.0)
    assert device_module.free_cores() == 1  # never below one
    monkeypatch.setattr(device_module, "busy_cores_elsewhere", lambda: 0.2)
    assert device_module.free_cores() == 4
    threads = torch.get_num_threads()
    try:
        assert device_module.configure_cpu_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


def test_busy_cores_elsewhere_leaves_out_this_process(monkeypatch):
    """Two CPUs over one sample: 150 busy ticks of 200, 100 of them this process's own."""
    from mnist_core.training import device as device_module

    readings = iter([(1_000, 5_000), (1_150, 5_200)])  # (busy, total) before and after
    own = iter([300, 400])
    monkeypatch.setattr(device_module.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(device_module, "_cpu_ticks", lambda cpus: next(readings))
    monkeypatch.setattr(device_module, "_own_ticks", lambda: next(own))
    monkeypatch.setattr(device_module.time, "sleep", lambda seconds: None)
    assert device_module.busy_cores_elsewhere() == pytest.approx(0.5)  # 50 ticks of 100 per core


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="reads Linux's /proc")
def test_cpu_tick_readers_parse_this_machine():
    from mnist_core.training import device as device_module

    busy, total = device_module._cpu_ticks(os.sched_getaffinity(0))
    assert 0 <= busy <= total and total > 0
    assert device_module._own_ticks() > 0  # importing torch alone costs CPU time
    assert 0.0 <= device_module.busy_cores_elsewhere(0.05) <= os.cpu_count()


def test_stop_after_an_unlogged_divergence_keeps_the_last_good_weights(embedded_data):
    """Weights can turn NaN between logged batches; Stop must not hand those back."""
    state = new_training_state(TrainConfig(n_epochs=1, device="cpu", log_interval=1000))
    polls = iter(range(10_000))
    good: dict = {}

    def stop_on_the_third_poll() -> bool:
        poll = next(polls)
        if poll == 1:
            good.update(copy.deepcopy(state.model.state_dict()))  # what the logged batch 0 kept
            with torch.no_grad():
                state.model.fc2.bias.fill_(float("nan"))  # as a blow-up in batch 1 would leave it
        return poll == 2

    events = list(train(state, embedded_data, should_stop=stop_on_the_third_poll))
    assert isinstance(events[-1], StoppedEvent)
    assert all(torch.isfinite(p).all() for p in state.model.parameters())


def test_training_is_sgd_step_over_shuffled_batches(small, monkeypatch):
    """The engine's eager path is the public five-line sgd_step, batch after batch: written out by hand with the
    same order and dropout stream, the tutorial's loop gives the engine's losses and weights bit for bit."""
    from mnist_core.training import engine

    config = cpu_config(n_epochs=1, log_interval=1)
    calls = []
    monkeypatch.setattr(engine, "sgd_step", lambda *args: calls.append(1) or sgd_step(*args))
    by_engine = new_training_state(config)
    list(train(by_engine, small, cpu_threads=1))
    assert len(calls) == 11  # every batch went through sgd_step

    by_hand = new_training_state(config)
    dropout = torch.Generator()
    dropout.set_state(by_hand.torch_rng_state)
    model, optimizer = by_hand.model, by_hand.optimizer
    model.use_generator(dropout)
    model.to(memory_format=torch.channels_last)  # as the engine trains
    model.train()
    order = torch.randperm(small.n_train, generator=torch.Generator().manual_seed(config.random_seed))
    losses = []
    for start in range(0, small.n_train, config.batch_size_train):
        batch = order[start : start + config.batch_size_train]
        losses.append(sgd_step(model, optimizer, small.train_images[batch], small.train_labels[batch]).item())
    assert losses == by_engine.history.train_losses
    for name, value in by_engine.model.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


def stop_after(batches: int):
    """A should_stop that lets this many batches train, then stops."""
    polls = []
    return lambda: polls.append(1) or len(polls) > batches


@pytest.mark.parametrize("through_checkpoint", [False, True], ids=["in-memory", "checkpoint"])
def test_stop_mid_epoch_then_continue_finishes_that_epoch(small, through_checkpoint):
    """Issue 15: stopped in epoch 2 after 4 of its 11 batches, then continued for one epoch. Continue finishes
    epoch 2 (the same examples in the same order), so the run equals one straight through, and the partial
    epoch is labelled partial until its test: never 'epoch 2' at the wrong number of examples."""
    config = cpu_config(n_epochs=2, log_interval=1)
    straight = new_training_state(config)
    list(train(straight, small, cpu_threads=1))

    state = new_training_state(config)
    events = list(train(state, small, should_stop=stop_after(11 + 4), cpu_threads=1))
    assert isinstance(events[-1], StoppedEvent)
    assert (events[-1].epoch, events[-1].batch_index, events[-1].examples_seen) == (2, 4, small.n_train + 4 * 64)
    assert (state.epochs_done, state.examples_into_epoch) == (1, 4 * 64)
    assert state.history.partial_epoch() == (2, 4 * 64) and state.history.stop_points == [small.n_train + 4 * 64]
    assert examples_to_train(state, small.n_train, 1) == small.n_train - 4 * 64
    if through_checkpoint:
        state = load_checkpoint(checkpoint_bytes(state))
        assert state.examples_into_epoch == 4 * 64 and state.history.partial_epoch() == (2, 4 * 64)

    more = list(train(state, small, n_epochs=1, cpu_threads=1))
    assert [e.batch_index for e in more if isinstance(e, BatchEvent)] == list(range(4, 11))
    assert isinstance(more[-1], TestEvent) and more[-1].epoch == 2
    assert (state.epochs_done, state.examples_seen, state.examples_into_epoch) == (2, 2 * small.n_train, 0)
    assert state.history.test_counter == [0, small.n_train, 2 * small.n_train] == straight.history.test_counter
    assert state.history.partial_epoch() is None
    assert state.history.train_counter == straight.history.train_counter
    assert state.history.train_losses == straight.history.train_losses
    assert state.history.test_losses == straight.history.test_losses
    for name, value in straight.model.state_dict().items():
        assert torch.equal(state.model.state_dict()[name], value), name


def test_a_divergence_mid_epoch_leaves_that_epoch_partial(small):
    state = diverging_state(log_interval=1)
    with pytest.raises(TrainingDiverged):
        list(train(state, small, cpu_threads=1))
    assert state.epochs_done == 0 and state.examples_into_epoch == state.examples_seen > 0
    assert state.history.partial_epoch() == (1, state.examples_seen)

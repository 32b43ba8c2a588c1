"""NetSpec: the JSON round trip, every layer type, every refusal and limit, and the tutorial preset equal
to the tutorial's own class (tests/tutorial_reference.py) loss for loss."""

from __future__ import annotations

import json
import threading

import pytest
import torch
import torch.nn.functional as F

from mnist_core import TrainConfig, new_training_state, train
from mnist_core.network.tutorial import tutorial_spec
from mnist_core.network.tutorial import TUTORIAL_SPEC
from tests.tutorial_reference import TutorialNet
from mnist_core.network.spec import (
    LAYER_TYPES,
    MAX_ACTIVATION_BYTES,
    MAX_LAYERS,
    MAX_PARAMETERS,
    MAX_WIDTH,
    NetSpec,
    SpecError,
    build_model,
    check_spec,
    confirm_shapes,
    expected_state_shapes,
    trace_spec,
)

ISSUE_EXAMPLE = """{"layers": [
  {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1},
  {"type": "BatchNorm2d"},
  {"type": "LeakyReLU", "negative_slope": 0.1},
  {"type": "MaxPool2d", "kernel_size": 2},
  {"type": "Dropout2d", "p": 0.25},
  {"type": "AdaptiveAvgPool2d", "output_size": 2},
  {"type": "Flatten"},
  {"type": "Linear", "out_features": 10}
]}"""

# Every type with non-default arguments, ending in 10 numbers.
EVERY_TYPE = {"layers": [
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": "same", "dilation": 2, "bias": False},
    {"type": "BatchNorm2d"},
    {"type": "ReLU"},
    {"type": "Conv2d", "out_channels": 12, "kernel_size": 4, "stride": 2, "padding": 1},
    {"type": "LeakyReLU", "negative_slope": 0.2},
    {"type": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1, "ceil_mode": True},
    {"type": "Dropout2d", "p": 0.1},
    {"type": "AvgPool2d", "kernel_size": 2, "stride": 1, "ceil_mode": False},
    {"type": "AdaptiveAvgPool2d", "output_size": 3},
    {"type": "Flatten"},
    {"type": "Dropout", "p": 0.3},
    {"type": "Linear", "out_features": 24, "bias": False},
    {"type": "Linear", "out_features": 10},
]}


def layers(*extra: dict) -> dict:
    return {"layers": [*extra, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]}


def refusal(values) -> SpecError:
    with pytest.raises(SpecError) as info:
        check_spec(NetSpec.from_dict(values))
    return info.value


def test_the_issue_example_round_trips_exactly():
    spec = NetSpec.from_json(ISSUE_EXAMPLE)
    assert spec.to_dict() == json.loads(ISSUE_EXAMPLE)  # defaults are not written, inferred sizes never
    assert NetSpec.from_json(spec.to_json()) == spec
    assert check_spec(spec).output_shape == (10,)


def test_every_type_traces_as_pytorch_computes_it():
    spec = NetSpec.from_dict(EVERY_TYPE)
    assert {layer.type for layer in spec.layers} == set(LAYER_TYPES)
    trace = check_spec(spec)
    assert [layer.output_shape for layer in trace.layers] == confirm_shapes(spec)  # a real forward pass
    model = build_model(spec)
    assert trace.total_parameters == sum(p.numel() for p in model.parameters())
    for layer in trace.layers:
        module = getattr(model, layer.name)
        assert layer.parameters == sum(p.numel() for p in module.parameters())


def test_the_tutorial_spec_is_the_seed_net():
    trace = check_spec(tutorial_spec())
    assert trace.total_parameters == 21_840
    assert [layer.output_shape for layer in trace.layers if layer.name == "flatten1"] == [(320,)]
    net_shapes = {key: (value.shape, value.dtype) for key, value in TutorialNet().state_dict().items()}
    assert expected_state_shapes(tutorial_spec()) == net_shapes  # same keys, so old checkpoints load


def test_the_tutorial_preset_trains_loss_for_loss_like_net(embedded_data):
    """Same seed, same batches: the spec-built model and the tutorial's own class give the same 100 losses."""
    images, labels = embedded_data.train_images, embedded_data.train_labels
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(3))
    losses = {}
    for name, make in (("net", TutorialNet), ("spec", lambda: build_model(tutorial_spec()))):
        torch.manual_seed(1)
        model = make()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
        model.train()
        losses[name] = []
        for batch in order[: 100 * 32].split(32):  # 100 batches; dropout draws from the seeded global RNG
            optimizer.zero_grad()
            loss = F.nll_loss(model(images[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            losses[name].append(loss.item())
    assert losses["net"] == losses["spec"]
    assert losses["net"][-1] < losses["net"][0]


def test_dropout_from_a_generator_draws_the_masks_of_the_global_rng():
    model = build_model(NetSpec.from_dict(TUTORIAL_SPEC)).train()
    x = torch.randn(16, 1, 28, 28)
    torch.manual_seed(7)
    from_global = model(x)
    model.use_generator(torch.Generator().manual_seed(7))
    state_before = torch.get_rng_state()
    from_generator = model(x)
    assert torch.equal(from_global, from_generator)
    assert torch.equal(torch.get_rng_state(), state_before)  # the global stream was not touched


@pytest.mark.parametrize("values, rule, layer, field", [
    ({"layer": []}, "not_a_spec", None, None),
    ({"layers": []}, "no_layers", None, None),
    ({"layers": ["Conv2d"]}, "not_a_layer", 1, None),
    (layers({"type": "Conv3d", "out_channels": 3}), "unknown_type", 1, None),
    (layers({"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "in_channels": 1}), "unknown_argument", 1, "in_channels"),
    (layers({"type": "Conv2d", "kernel_size": 3}), "missing_argument", 1, "out_channels"),
    (layers({"type": "Conv2d", "out_channels": 2.5, "kernel_size": 3}), "whole_number", 1, "out_channels"),
    (layers({"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "bias": 1}), "boolean", 1, "bias"),
    (layers({"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": "full"}), "choice", 1, "padding"),
    (layers({"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": "same"}),
     "same_needs_stride_1", 1, "padding"),
    (layers({"type": "LeakyReLU", "negative_slope": "steep"}), "number", 1, "negative_slope"),
    (layers({"type": "Dropout", "p": 1.5}), "probability", 1, "p"),
    (layers({"type": "MaxPool2d", "kernel_size": 14}, {"type": "Conv2d", "out_channels": 4, "kernel_size": 3}),
     "kernel_too_large", 2, None),
    (layers({"type": "MaxPool2d", "kernel_size": 2, "padding": 2}), "pool_padding", 1, None),
    ({"layers": [{"type": "Linear", "out_features": 10}]}, "needs_flat", 1, None),
    ({"layers": [{"type": "Flatten"}, {"type": "BatchNorm2d"}, {"type": "Linear", "out_features": 10}]}, "needs_image", 2, None),
    ({"layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 12}]}, "output_size", 2, None),
    ({"layers": [{"type": "Conv2d", "out_channels": 10, "kernel_size": 28}]}, "output_size", 1, None),
])
def test_a_spec_that_cannot_work_names_the_layer_and_the_rule(values, rule, layer, field):
    error = refusal(values)
    assert (error.rule, error.layer, error.field) == (rule, layer, field)
    if layer is not None:
        assert str(error).startswith(f"Layer {layer} (")


def test_the_first_broken_layer_stops_the_trace_and_keeps_the_ones_before():
    trace = trace_spec(NetSpec.from_dict(layers({"type": "MaxPool2d", "kernel_size": 2}, {"type": "Linear", "out_features": 5})))
    assert [layer.output_shape for layer in trace.layers] == [(1, 14, 14)]
    assert trace.error.rule == "needs_flat" and trace.error.values["features"] == 196


@pytest.mark.parametrize("values, rule, limit", [
    ({"layers": [{"type": "ReLU"}] * (MAX_LAYERS - 1) + [{"type": "Flatten"}, {"type": "Linear", "out_features": 10}]},
     "too_many_layers", MAX_LAYERS),
    (layers({"type": "Conv2d", "out_channels": MAX_WIDTH + 1, "kernel_size": 3}), "too_wide", MAX_WIDTH),
    (layers({"type": "Conv2d", "out_channels": 512, "kernel_size": 3, "padding": 1}), "too_many_parameters", MAX_PARAMETERS),
    (layers(*[{"type": "Conv2d", "out_channels": 256, "kernel_size": 1}] * 3, {"type": "MaxPool2d", "kernel_size": 28}),
     "too_much_memory", MAX_ACTIVATION_BYTES),
])
def test_limits_are_named(values, rule, limit):
    error = refusal(values)
    assert error.rule == rule and error.values["limit"] == limit
    assert f"{limit:,}" in str(error) or str(limit) in str(error) or f"{limit // 10**6}" in str(error)


def test_the_memory_limit_follows_the_batch_size():
    spec = NetSpec.from_dict(layers({"type": "Conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1}))
    check_spec(spec, batch_size=64)
    with pytest.raises(SpecError) as info:
        check_spec(spec, batch_size=4096)
    assert info.value.rule == "too_much_memory" and info.value.values["batch_size"] == 4096


def test_concurrent_builds_with_one_seed_give_one_net():
    """The seeded build holds a lock: other threads' builds cannot take numbers out of its stream."""
    config = TrainConfig(device="cpu", random_seed=5)
    expected = new_training_state(config).model.state_dict()
    results, errors = [], []

    def build():
        try:
            for _ in range(5):
                results.append(new_training_state(config).model.state_dict())
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 20
    assert all(all(torch.equal(state[k], expected[k]) for k in expected) for state in results)


def test_two_runs_at_once_equal_each_alone_tensor_for_tensor(embedded_data):
    """Dropout and shuffling draw from each run's own generators: a run trained beside another one (in another
    thread, at the same thread count) ends with exactly the weights it has alone."""
    data = embedded_data
    configs = [TrainConfig(device="cpu", n_epochs=1, random_seed=seed, log_interval=5) for seed in (1, 2)]

    def run(config):
        state = new_training_state(config)
        for _ in train(state, data, cpu_threads=1):
            pass
        return state

    alone = [run(config) for config in configs]
    together: list = [None, None]

    def run_into(index):
        together[index] = run(configs[index])

    threads = [threading.Thread(target=run_into, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for solo, shared in zip(alone, together):
        solo_weights, shared_weights = solo.model.state_dict(), shared.model.state_dict()
        assert all(torch.equal(solo_weights[key], shared_weights[key]) for key in solo_weights)
        assert list(solo.history.train_losses) == list(shared.history.train_losses)
        assert torch.equal(solo.torch_rng_state, shared.torch_rng_state)

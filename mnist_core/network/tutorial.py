"""The tutorial's network as data: the one definition the app builds, draws, checks and trains it from.

The learner's notes write the network as a class (kept in tests/tutorial_reference.py to check against):
conv 1→10 k5, max-pool 2, ReLU; conv 10→20 k5, Dropout2d, max-pool 2, ReLU; view(-1, 320);
fc 320→50, ReLU, dropout; fc 50→10; log_softmax. Here it is the list of layers in the order forward() runs
them. Built in this order, the parameters are created in the class's order, so one seed gives both the same
weights, and the built model's names (conv1, conv2, fc1, fc2) are the class's state_dict keys, so
checkpoints written before the spec existed still load.
"""

from __future__ import annotations

from functools import cache

from .spec import LayerTrace, NetSpec, SpecNet, SpecTrace, build_model, check_spec

TUTORIAL_SPEC = {"layers": [
    {"type": "Conv2d", "out_channels": 10, "kernel_size": 5},  # conv1: 1 -> 10 channels, 5 x 5 kernels
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "ReLU"},
    {"type": "Conv2d", "out_channels": 20, "kernel_size": 5},  # conv2: 10 -> 20 channels
    {"type": "Dropout2d", "p": 0.5},  # nn.Dropout2d()'s default, as the tutorial leaves it
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "ReLU"},
    {"type": "Flatten"},  # the tutorial's x.view(-1, 320)
    {"type": "Linear", "out_features": 50},  # fc1
    {"type": "ReLU"},
    {"type": "Dropout", "p": 0.5},  # F.dropout's default
    {"type": "Linear", "out_features": 10},  # fc2: one score per digit; SpecNet ends with log_softmax
]}


def tutorial_spec() -> NetSpec:
    """The tutorial's network as a NetSpec (the ``tutorial`` preset)."""
    return NetSpec.from_dict(TUTORIAL_SPEC)


def tutorial_model() -> SpecNet:
    """The tutorial's ``Net()``: fresh weights from the global RNG, as the tutorial's seeded constructor."""
    return build_model(tutorial_spec())


@cache
def tutorial_trace() -> SpecTrace:
    """Every layer's name (conv1, pool1, ...), shapes and parameter count, worked out from the spec."""
    return check_spec(tutorial_spec())


def tutorial_layer(name: str) -> LayerTrace:
    """One traced layer by its name in the built model, e.g. ``tutorial_layer("conv1").layer.get("kernel_size")``."""
    return next(layer for layer in tutorial_trace().layers if layer.name == name)


FLAT_FEATURES = tutorial_layer("flatten1").output_shape[0]  # the 320 of view(-1, 320)

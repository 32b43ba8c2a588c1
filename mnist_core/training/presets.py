"""Named networks with the recipe that trains them: a spec (plain data, NetSpec's JSON) plus Recipe and TrainConfig.

Kept as data, as nanoGPT keeps its model configs: ``NetSpec.from_dict(preset.spec)`` builds the model, and
the JSON a learner sees with ``python -m mnist_core nets --show NAME`` is exactly this dict.
expected_accuracy is what bench/presets.py measured on the embedded 4,000 / 1,000 digits (CPU, seed 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .augment import AUGMENTATIONS
from .config import TrainConfig
from ..network.tutorial import TUTORIAL_SPEC
from .recipe import Recipe


@dataclass(frozen=True)
class Preset:
    name: str
    purpose: str  # one line, for a list of presets
    expected_accuracy: float  # percent correct on the embedded test digits, as bench/presets.py measured it (seed 1)
    spec: dict[str, Any]  # {"layers": [{"type": "Conv2d", ...}, ...]}, NetSpec's JSON format
    recipe: Recipe = field(default_factory=Recipe)
    config: TrainConfig = field(default_factory=TrainConfig)


def _conv(out_channels: int, kernel_size: int, **more: Any) -> dict[str, Any]:
    return {"type": "Conv2d", "out_channels": out_channels, "kernel_size": kernel_size, **more}


# Functions, not shared dicts: every layer of every spec is its own dict, so editing one edits nothing else.
def _max_pool() -> dict[str, Any]:
    return {"type": "MaxPool2d", "kernel_size": 2}  # halves each side


def _relu() -> dict[str, Any]:
    return {"type": "ReLU"}


def _leaky() -> dict[str, Any]:
    return {"type": "LeakyReLU", "negative_slope": 0.1}  # negative inputs keep a tenth of their slope: no unit dies


def _batch_norm() -> dict[str, Any]:
    return {"type": "BatchNorm2d"}


def _flatten() -> dict[str, Any]:
    return {"type": "Flatten"}

# TUTORIAL_SPEC (network/tutorial.py): the tutorial's layers in the order its forward() runs them;
# 21,840 parameters, created in its Net's order, so one seed gives both the same initial weights.

# The tutorial with BatchNorm2d after each convolution and LeakyReLU for ReLU: the same shapes, so the two can be
# compared side by side; 21,900 parameters (BatchNorm adds a scale and a shift per channel).
LEAKY_SPEC = {
    "layers": [
        _conv(10, 5),
        _batch_norm(),
        _max_pool(),
        _leaky(),
        _conv(20, 5),
        _batch_norm(),
        {"type": "Dropout2d", "p": 0.5},
        _max_pool(),
        _leaky(),
        _flatten(),
        {"type": "Linear", "out_features": 50},
        _leaky(),
        {"type": "Dropout", "p": 0.5},
        {"type": "Linear", "out_features": 10},
    ]
}

# Four 3 x 3 conv blocks (conv, BatchNorm, ReLU) with max pooling between, then global average pooling and one
# Linear layer: few parameters, translation tolerant, and quick on a CPU.
MODERN_SPEC = {
    "layers": [
        _conv(16, 3, padding=1), _batch_norm(), _relu(), _max_pool(),  # 28 -> 14
        _conv(32, 3, padding=1), _batch_norm(), _relu(), _max_pool(),  # 14 -> 7
        _conv(64, 3, padding=1), _batch_norm(), _relu(), _max_pool(),  # 7 -> 3
        _conv(96, 3, padding=1), _batch_norm(), _relu(),
        {"type": "AdaptiveAvgPool2d", "output_size": 1},
        _flatten(),
        {"type": "Linear", "out_features": 10},
    ]
}

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="tutorial",
            purpose="The 2017 PyTorch MNIST tutorial's network and recipe, exactly.",
            expected_accuracy=77.3,
            spec=TUTORIAL_SPEC,
        ),
        Preset(
            name="modern",
            purpose="A small modern CNN: BatchNorm, global average pooling, AdamW with OneCycle, canvas-style augmentation.",
            expected_accuracy=98.7,
            spec=MODERN_SPEC,
            # AdamW's usual decay; OneCycle warms up to a peak 10x Adam's default rate (0.001), which BatchNorm
            # tolerates; every augmentation, since canvas digits differ from MNIST's in all four ways.
            recipe=Recipe(optimizer="adamw", weight_decay=0.01, schedule="onecycle", augment=AUGMENTATIONS),
            # 10 epochs of 63 batches: 98.5-98.7% on the embedded test digits (seeds 1-3) for about 15 s of
            # CPU time, well inside the 90 s target on 2 cores.
            config=TrainConfig(n_epochs=10, learning_rate=0.01),
        ),
        Preset(
            name="leaky",
            purpose="The tutorial's network with BatchNorm2d and LeakyReLU added, to compare with tutorial.",
            expected_accuracy=88.4,
            spec=LEAKY_SPEC,
        ),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called name; a ValueError lists the names there are."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"no preset called {name!r}; choose one of {', '.join(PRESETS)}.") from None

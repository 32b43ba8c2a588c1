"""The lab's lessons compute on the real torch.nn layers: their numbers must be the layers' own."""

from __future__ import annotations

import math

import pytest
import torch

from mnist_core.network.lessons import (activation_curves, adaptive_pool_shapes, batchnorm_lesson, conv_lesson, dropout_lesson,
                                feature_maps, flatten_lesson, linear_lesson, pool_lesson)


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(16, 1, 28, 28, generator=generator)


def test_linear_counts_the_tutorials_fc1():
    lesson = linear_lesson(320, 50)
    assert (lesson.weight_shape, lesson.weights, lesson.biases, lesson.total) == ((50, 320), 16_000, 50, 16_050)
    assert linear_lesson(320, 50, bias=False).total == 16_000


def test_view_minus_one_is_the_batch_and_equals_flatten():
    lesson = flatten_lesson((20, 4, 4), 64)
    assert (lesson.view_shape, lesson.flatten_shape, lesson.features) == ((64, 320), (64, 320), 320)
    assert lesson.same_values


def test_conv_parameters_and_shape():
    lesson = conv_lesson((10, 12, 12), 20, 5)
    assert (lesson.weight_shape, lesson.weights, lesson.biases, lesson.output_shape) == ((20, 10, 5, 5), 5_000, 20,
                                                                                          (20, 8, 8))
    assert conv_lesson((1, 28, 28), 16, 3, padding="same").output_shape == (16, 28, 28)


def test_batchnorm_normalizes_in_train_but_not_yet_in_eval(digits):
    maps = feature_maps(digits, 6)
    lesson = batchnorm_lesson(maps)
    assert lesson.shape == tuple(maps.shape) and lesson.learnable == lesson.running == 12
    # std a little under 1 where a channel barely varies: BatchNorm divides by sqrt(var + eps), eps = 1e-5
    assert abs(lesson.mean_train).max() < 1e-4 and abs(lesson.std_train - 1).max() < 0.05
    assert abs(lesson.mean_eval - lesson.mean_before).max() > 1e-3  # the running statistics moved only 10%


def test_leaky_relu_keeps_a_slope_below_zero():
    x, leaky, relu = activation_curves(0.2)
    assert leaky[0] == pytest.approx(0.2 * x[0]) and relu[0] == 0 and leaky[-1] == relu[-1] == x[-1]


def test_adaptive_pool_gives_one_size_for_two_inputs():
    assert adaptive_pool_shapes(20, 4) == [((20, 28, 28), (20, 4, 4)), ((20, 32, 32), (20, 4, 4))]


@pytest.mark.parametrize("kind", ["Dropout", "Dropout2d"])
def test_dropout_zeroes_numbers_or_whole_channels_in_train_only(kind, digits):
    maps = feature_maps(digits, 8)[0]
    lesson = dropout_lesson(kind, 0.5, maps)
    assert lesson.eval_unchanged and 0 < lesson.zeroed_numbers < lesson.total_numbers
    kept = torch.from_numpy(lesson.train) != 0
    assert torch.allclose(torch.from_numpy(lesson.train)[kept], (maps * 2)[kept])  # scaled by 1 / (1 - p)
    if kind == "Dropout2d":
        assert lesson.zeroed_channels  # whole maps gone
        per_channel = torch.from_numpy(lesson.train).flatten(1).abs().sum(dim=1)
        assert all(per_channel[c] == 0 for c in lesson.zeroed_channels)
    else:
        assert not lesson.zeroed_channels  # single numbers: no 24 x 24 map loses all of its numbers at p = 0.5
    assert dropout_lesson(kind, 0.5, maps).zeroed_numbers == lesson.zeroed_numbers  # seeded: the same every rerun


@pytest.mark.parametrize(("kind", "reduce"), [("MaxPool2d", torch.amax), ("AvgPool2d", torch.mean)])
def test_pooling_keeps_one_number_of_four(kind, reduce, digits):
    lesson = pool_lesson(kind, digits[0])
    assert lesson.patch.shape == (4, 4) and lesson.pooled.shape == (2, 2) and lesson.kept_fraction == 0.25
    patch = torch.from_numpy(lesson.patch)
    assert math.isclose(float(lesson.pooled[0, 0]), float(reduce(patch[:2, :2])), rel_tol=1e-6)

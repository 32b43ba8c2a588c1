"""What each layer type does, computed on the real torch.nn layer and real tensors, for the lab's lessons.

Every function builds the layer the network editor would build, runs it, and returns plain numbers and
arrays for a page to show: nothing here is a drawing of what a layer "would" do. Random numbers come from
a seeded torch.Generator, never the global RNG, so a lesson shows the same thing on every rerun and never
changes a training job's draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import IMAGE_SIZE
from .spec import SeededDropout, SeededDropout2d

LESSON_SEED = 0  # one fixed draw: the lesson's weights and masks are the same on every rerun
FEATURE_KERNEL = 5  # the tutorial's conv1 kernel: the stand-in layer that makes feature maps from digits
FEATURE_WEIGHT_SCALE = 0.2  # spread of the stand-in conv's weights: maps of a few units, like a fresh net's
ADAPTIVE_INPUT_SIDES = (IMAGE_SIZE, 32)  # MNIST's 28, and the 32 x 32 of CIFAR-sized inputs
POOL_WINDOW = 2  # 2 x 2 windows, stride 2: each output keeps 1 number of 4
CURVE_RANGE = 3.0  # the activation plots run from -CURVE_RANGE to +CURVE_RANGE
CURVE_POINTS = 121  # samples along that range: smooth enough, and 0 falls on a sample


# --- Linear, Flatten and view -------------------------------------------------------------------


@dataclass(frozen=True)
class LinearLesson:
    weight_shape: tuple[int, int]  # (out_features, in_features): torch stores one row per output
    weights: int
    biases: int
    total: int
    output_shape: tuple[int, ...]  # of a batch of two flat inputs


def linear_lesson(in_features: int, out_features: int, bias: bool = True) -> LinearLesson:
    """The parameters of the real nn.Linear(in_features, out_features, bias), counted from its tensors."""
    layer = nn.Linear(in_features, out_features, bias=bias, device="meta")  # shapes only: nothing allocated
    weights = layer.weight.numel()
    biases = 0 if layer.bias is None else layer.bias.numel()
    output = layer(torch.zeros(2, in_features, device="meta")).shape
    return LinearLesson(tuple(layer.weight.shape), weights, biases, weights + biases, tuple(output))


@dataclass(frozen=True)
class FlattenLesson:
    batch_shape: tuple[int, ...]  # N x C x H x W going in
    view_shape: tuple[int, ...]  # x.view(-1, C*H*W): the -1 becomes N
    flatten_shape: tuple[int, ...]  # nn.Flatten()(x): the same
    features: int  # C*H*W, the number the next Linear's in_features must be
    same_values: bool  # view and Flatten give the same numbers in the same order


def flatten_lesson(shape: tuple[int, ...], batch_size: int) -> FlattenLesson:
    """x.view(-1, features) and nn.Flatten on a real batch of shape (batch_size, *shape)."""
    features = math.prod(shape)
    x = torch.arange(batch_size * features, dtype=torch.float32).reshape(batch_size, *shape)
    viewed, flat = x.view(-1, features), nn.Flatten()(x)
    return FlattenLesson(tuple(x.shape), tuple(viewed.shape), tuple(flat.shape), features,
                         bool(torch.equal(viewed, flat)))


# --- Conv2d ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvLesson:
    weight_shape: tuple[int, ...]  # (out_channels, in_channels, f, f)
    weights: int
    biases: int
    output_shape: tuple[int, ...]  # of one image, C x H x W


def conv_lesson(input_shape: tuple[int, int, int], out_channels: int, kernel_size: int, stride: int = 1,
                padding: int | str = 0, dilation: int = 1, bias: bool = True) -> ConvLesson:
    """The real nn.Conv2d's weight tensor and its output shape on one input of input_shape (meta: no memory)."""
    layer = nn.Conv2d(input_shape[0], out_channels, kernel_size, stride, padding, dilation, bias=bias, device="meta")
    output = layer(torch.zeros(1, *input_shape, device="meta")).shape
    biases = 0 if layer.bias is None else layer.bias.numel()
    return ConvLesson(tuple(layer.weight.shape), layer.weight.numel(), biases, tuple(output[1:]))


def feature_maps(images: torch.Tensor, channels: int, seed: int = LESSON_SEED) -> torch.Tensor:
    """A real batch's feature maps: images (N x 1 x 28 x 28) through a seeded Conv2d(1, channels, 5), then ReLU.

    It stands in for a network's first layer, so the lessons that need C x H x W inputs work on maps of real
    digits with the channel count of the editor's row.
    """
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(channels, 1, FEATURE_KERNEL, FEATURE_KERNEL, generator=generator) * FEATURE_WEIGHT_SCALE
    return F.relu(F.conv2d(images.float().cpu(), weight))


# --- BatchNorm2d ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchNormLesson:
    shape: tuple[int, ...]  # N x C x H x W, in and out alike
    learnable: int  # weight and bias: 2 x C
    running: int  # running_mean and running_var: 2 x C, updated in train(), used in eval()
    mean_before: np.ndarray  # per channel, over the batch and every position
    std_before: np.ndarray
    mean_train: np.ndarray  # after the layer in train(): the batch's own statistics, so about 0 and 1
    std_train: np.ndarray
    mean_eval: np.ndarray  # after the layer in eval(): the running statistics of one update, so not 0 and 1
    std_eval: np.ndarray


def _channel_stats(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(dim=(0, 2, 3)).numpy(), x.std(dim=(0, 2, 3), unbiased=False).numpy()


@torch.no_grad()
def batchnorm_lesson(maps: torch.Tensor) -> BatchNormLesson:
    """A fresh nn.BatchNorm2d on a batch of feature maps (N x C x H x W), once in train() and once in eval()."""
    layer = nn.BatchNorm2d(maps.shape[1])
    learnable = sum(p.numel() for p in layer.parameters())
    running = layer.running_mean.numel() + layer.running_var.numel()
    after_train = layer.train()(maps)  # also moves the running statistics 10% (momentum 0.1) towards the batch's
    after_eval = layer.eval()(maps)
    return BatchNormLesson(tuple(after_train.shape), learnable, running, *_channel_stats(maps),
                           *_channel_stats(after_train), *_channel_stats(after_eval))


# --- ReLU and LeakyReLU --------------------------------------------------------------------------


@torch.no_grad()
def activation_curves(negative_slope: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, nn.LeakyReLU(negative_slope)(x), nn.ReLU()(x)) over -CURVE_RANGE..CURVE_RANGE."""
    x = torch.linspace(-CURVE_RANGE, CURVE_RANGE, CURVE_POINTS)
    return x.numpy(), nn.LeakyReLU(negative_slope)(x).numpy(), nn.ReLU()(x).numpy()


# --- AdaptiveAvgPool2d ---------------------------------------------------------------------------


@torch.no_grad()
def adaptive_pool_shapes(channels: int, output_size: int,
                         sides: tuple[int, ...] = ADAPTIVE_INPUT_SIDES) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(input shape, output shape) of the real nn.AdaptiveAvgPool2d(output_size) on square inputs of each side."""
    layer = nn.AdaptiveAvgPool2d(output_size)
    return [((channels, side, side), tuple(layer(torch.zeros(1, channels, side, side)).shape[1:])) for side in sides]


# --- Dropout and Dropout2d ------------------------------------------------------------------------


@dataclass(frozen=True)
class DropoutLesson:
    kind: str  # "Dropout" or "Dropout2d"
    p: float
    train: np.ndarray  # C x H x W after the layer in train(): zeros, and the rest scaled by 1 / (1 - p)
    eval_unchanged: bool  # in eval() the layer returns its input as it is
    zeroed_numbers: int  # numbers set to 0 by the layer (not those that were 0 already)
    total_numbers: int
    zeroed_channels: list[int]  # channels that are 0 everywhere after the layer but were not before
    channels: int


@torch.no_grad()
def dropout_lesson(kind: str, p: float, maps: torch.Tensor, seed: int = LESSON_SEED) -> DropoutLesson:
    """The real layer (the editor's seeded Dropout or Dropout2d) on one image's feature maps (C x H x W)."""
    layer = (SeededDropout2d if kind == "Dropout2d" else SeededDropout)(p)
    layer.generator = torch.Generator().manual_seed(seed)
    batch = maps.unsqueeze(0)
    trained = layer.train()(batch)[0]
    unchanged = bool(torch.equal(layer.eval()(batch)[0], maps))
    zeroed = (trained == 0) & (maps != 0)
    was_alive = maps.flatten(1).abs().sum(dim=1) > 0
    dead_now = trained.flatten(1).abs().sum(dim=1) == 0
    return DropoutLesson(kind, p, trained.numpy(), unchanged, int(zeroed.sum()), maps.numel(),
                         torch.nonzero(was_alive & dead_now).flatten().tolist(), maps.shape[0])


# --- MaxPool2d and AvgPool2d ----------------------------------------------------------------------


@dataclass(frozen=True)
class PoolLesson:
    kind: str  # "MaxPool2d" or "AvgPool2d"
    patch: np.ndarray  # a 4 x 4 patch of a real digit's pixels (0-1 ink)
    pooled: np.ndarray  # 2 x 2: each number stands for one 2 x 2 window
    kept_fraction: float  # output numbers / input numbers


@torch.no_grad()
def pool_lesson(kind: str, image: torch.Tensor) -> PoolLesson:
    """The real 2 x 2 pooling layer on the 4 x 4 patch of image (1 x 28 x 28 ink) with the most ink."""
    ink = image.float().cpu()[0]
    side = 2 * POOL_WINDOW
    sums = F.avg_pool2d(ink[None, None], side, stride=1)[0, 0]
    top, left = divmod(int(sums.argmax()), sums.shape[1])
    patch = ink[top:top + side, left:left + side]
    layer = nn.MaxPool2d(POOL_WINDOW) if kind == "MaxPool2d" else nn.AvgPool2d(POOL_WINDOW)
    pooled = layer(patch[None, None])[0, 0]
    return PoolLesson(kind, patch.numpy(), pooled.numpy(), pooled.numel() / patch.numel())

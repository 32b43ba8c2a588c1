"""The seed tutorial's network, layer for layer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data import IMAGE_SIZE, N_CLASSES  # noqa: F401  (re-exported: the net's input side and outputs)
from .shapes import conv_output_size, pool_output_size

KERNEL_SIZE = 5
POOL_SIZE = 2
CONV1_CHANNELS = 10
CONV2_CHANNELS = 20
HIDDEN_UNITS = 50


def feature_map_size() -> int:
    """Side length after conv1 -> pool -> conv2 -> pool: 28 -> 24 -> 12 -> 8 -> 4."""
    side = IMAGE_SIZE
    for _ in range(2):
        side = pool_output_size(conv_output_size(side, KERNEL_SIZE), POOL_SIZE)
    return side


FLAT_FEATURES = CONV2_CHANNELS * feature_map_size() ** 2  # the 320 of view(-1, 320)
DROPOUT_P = 0.5  # nn.Dropout2d() and F.dropout's default, as the seed leaves them

# The same network as data (see netspec): built in this order, its parameters are created in Net's order,
# so torch.manual_seed gives both the same weights, and its attribute names are Net's state_dict keys.
TUTORIAL_SPEC = {"layers": [
    {"type": "Conv2d", "out_channels": CONV1_CHANNELS, "kernel_size": KERNEL_SIZE},
    {"type": "MaxPool2d", "kernel_size": POOL_SIZE},
    {"type": "ReLU"},
    {"type": "Conv2d", "out_channels": CONV2_CHANNELS, "kernel_size": KERNEL_SIZE},
    {"type": "Dropout2d", "p": DROPOUT_P},
    {"type": "MaxPool2d", "kernel_size": POOL_SIZE},
    {"type": "ReLU"},
    {"type": "Flatten"},
    {"type": "Linear", "out_features": HIDDEN_UNITS},
    {"type": "ReLU"},
    {"type": "Dropout", "p": DROPOUT_P},
    {"type": "Linear", "out_features": N_CLASSES},
]}


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, CONV1_CHANNELS, kernel_size=KERNEL_SIZE)
        self.conv2 = nn.Conv2d(CONV1_CHANNELS, CONV2_CHANNELS, kernel_size=KERNEL_SIZE)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(FLAT_FEATURES, HIDDEN_UNITS)
        self.fc2 = nn.Linear(HIDDEN_UNITS, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), POOL_SIZE))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), POOL_SIZE))
        x = x.reshape(-1, FLAT_FEATURES)  # reshape, not view: also works on channels-last input
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)

    @torch.no_grad()
    def feature_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Activations of the conv blocks as the eval-mode forward pass sees them (no dropout),
        for the drawing page's look inside the net: conv1, pool1 (after relu), conv2, pool2 (after relu)."""
        conv1 = self.conv1(x)
        pool1 = F.relu(F.max_pool2d(conv1, POOL_SIZE))
        conv2 = self.conv2(pool1)
        pool2 = F.relu(F.max_pool2d(conv2, POOL_SIZE))
        return {"conv1": conv1, "pool1": pool1, "conv2": conv2, "pool2": pool2}

"""Reading digits with a trained net: the drawing page and ``python -m mnist_core predict`` share this."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import torch

from .checkpoint import Source, load_checkpoint
from .engine import TrainingState, predict
from .model import Net
from .preprocess import BlankImageError, ImageReadError, MnistStyleInput, load_image, prepare_mnist_style

UNSURE_BELOW = 0.5  # a top probability under this is reported as "not sure"


@dataclass(frozen=True)
class Reading:
    """What the net makes of one image."""

    probabilities: np.ndarray  # ten class probabilities, digit 0 first; they sum to 1

    @property
    def digit(self) -> int:
        return int(self.probabilities.argmax())

    @property
    def confidence(self) -> float:
        return float(self.probabilities.max())

    @property
    def unsure(self) -> bool:
        return self.confidence < UNSURE_BELOW


def inference_model(source: TrainingState | Net) -> Net:
    """A CPU copy in eval mode, so training that goes on elsewhere cannot change it mid-read."""
    model = source.model if isinstance(source, TrainingState) else source
    copied = copy.deepcopy(model).to("cpu")
    return copied.eval()


def load_inference_model(source: Source) -> Net:
    """A checkpoint file (path, bytes or upload) -> a net ready to read digits; CheckpointError if unusable."""
    return inference_model(load_checkpoint(source, device="cpu"))


def read_tensor(model: Net, tensor: torch.Tensor) -> Reading:
    """One normalized 1 x 1 x 28 x 28 input -> its reading."""
    return Reading(predict(model, tensor)[0].cpu().numpy())


def read_image(model: Net, image: np.ndarray) -> tuple[Reading, MnistStyleInput]:
    """A canvas array or decoded image -> the reading and the prepared input; BlankImageError if blank."""
    prepared = prepare_mnist_style(image)
    return read_tensor(model, prepared.tensor), prepared


@torch.no_grad()
def layer_activations(model: Net, tensor: torch.Tensor) -> dict[str, np.ndarray]:
    """conv1's 10 maps of 24 x 24 and conv2's 20 maps of 8 x 8 for one input, before ReLU."""
    maps = model.feature_maps(tensor)
    return {name: maps[name][0].cpu().numpy() for name in ("conv1", "conv2")}


def conv1_kernels(model: Net) -> np.ndarray:
    """The ten learned 5 x 5 kernels of conv1 (10 x 5 x 5)."""
    return model.conv1.weight.detach()[:, 0].cpu().numpy()


def predict_files(model: Net, paths: Iterable[str | os.PathLike]) -> Iterator[dict]:
    """One JSON-ready dict per image file: {file, digit, probabilities} or {file, error}."""
    for path in paths:
        name = os.fspath(path)
        try:
            reading, _ = read_image(model, load_image(path))
        except (ImageReadError, BlankImageError) as exc:
            yield {"file": name, "error": str(exc)}
            continue
        yield {
            "file": name,
            "digit": reading.digit,
            "probabilities": [round(float(p), 6) for p in reading.probabilities],
        }

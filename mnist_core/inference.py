"""Reading digits with a trained net: the drawing page and ``python -m mnist_core predict`` share this."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import torch

from .checkpoint import Source, load_checkpoint
from .training.engine import TrainingState, predict
from .network.spec import SpecNet
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


def inference_model(source: TrainingState | SpecNet) -> SpecNet:
    """A CPU copy in eval mode, so training that goes on elsewhere cannot change it mid-read."""
    model = source.model if isinstance(source, TrainingState) else source
    copied = copy.deepcopy(model).to("cpu")
    return copied.eval()


def load_inference_model(source: Source) -> SpecNet:
    """A checkpoint file (path, bytes or upload) -> a net ready to read digits; CheckpointError if unusable."""
    return inference_model(load_checkpoint(source, device="cpu"))


def read_tensor(model: SpecNet, tensor: torch.Tensor) -> Reading:
    """One normalized 1 x 1 x 28 x 28 input -> its reading."""
    return Reading(predict(model, tensor)[0].cpu().numpy())


def read_image(model: SpecNet, image: np.ndarray) -> tuple[Reading, MnistStyleInput]:
    """A canvas array or decoded image -> the reading and the prepared input; BlankImageError if blank."""
    prepared = prepare_mnist_style(image)
    return read_tensor(model, prepared.tensor), prepared


@torch.no_grad()
def layer_activations(model: SpecNet, tensor: torch.Tensor) -> dict[str, np.ndarray]:
    """Every conv layer's maps for one input, before what follows it (the tutorial: conv1's 10 maps of
    24 x 24, conv2's 20 of 8 x 8), by layer name in network order."""
    maps = model.feature_maps(tensor)
    return {name: maps[name][0].cpu().numpy() for name, module in model.named_children()
            if isinstance(module, torch.nn.Conv2d)}


def conv1_kernels(model: SpecNet) -> np.ndarray | None:
    """The first conv layer's learned kernels on the input image (the tutorial: 10 x 5 x 5); None without one."""
    first = next((module for module in model.children() if isinstance(module, torch.nn.Conv2d)), None)
    return None if first is None else first.weight.detach()[:, 0].cpu().numpy()


def predict_files(model: SpecNet, paths: Iterable[str | os.PathLike]) -> Iterator[dict]:
    """One JSON-ready dict per image file: {file, digit, probabilities} or {file, error}.

    A file that cannot be read never stops the ones after it.
    """
    for path in paths:
        name = os.fspath(path)
        try:
            reading, _ = read_image(model, load_image(path))
        except (ImageReadError, BlankImageError) as exc:
            yield {"file": name, "error": str(exc)}
            continue
        except Exception as exc:  # the loaders raise only the errors above; this is the last guard of a batch
            yield {"file": name, "error": f"{name} could not be read ({type(exc).__name__}: {exc})."}
            continue
        yield {
            "file": name,
            "digit": reading.digit,
            "probabilities": [round(float(p), 6) for p in reading.probabilities],
        }

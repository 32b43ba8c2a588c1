"""Why the net answers as it does: which pixels pushed it toward a digit, by Captum's attribution methods.

``saliency_map(model, tensor, digit)`` returns one number per input pixel (28 x 28): positive where the ink there
raised the network's score for ``digit`` (the last layer's number for it, before softmax), negative where it
lowered it. Any digit can be asked for, so "why not 4?" is the same call with digit 4. Scores, not
log-probabilities: a confident answer's log-probability is saturated near 0 and its gradient nearly vanishes, so
its map would be almost blank however clearly the strokes speak for it.

Methods (Captum, not hand-written gradients):
- ``integrated_gradients`` (default): the gradient averaged along a straight path from a blank canvas to the
  image, times the ink; the attributions add up to the change in score from blank to this image.
  Pixels without ink get none.
- ``saliency``: the plain gradient at the image (signed), which also marks empty pixels where ink would help.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import IntegratedGradients, Saliency
from torch import nn

from ..data import IMAGE_SIZE, N_CLASSES, normalize
from ..network.spec import SpecNet

METHODS = ("integrated_gradients", "saliency")
# Integrated Gradients' path steps: 32 keep the completeness error (sum of attributions against the change in
# score) within a few percent on these nets, in one batch of 32 images: a few ms on a CPU.
INTEGRATED_GRADIENTS_STEPS = 32


class ExplainError(ValueError):
    """A request that cannot be explained: rule and values let a UI word it."""

    def __init__(self, message: str, rule: str, **values) -> None:
        super().__init__(message)
        self.rule, self.values = rule, values


@dataclass(frozen=True)
class Attribution:
    digit: int  # the digit the map explains
    method: str
    values: np.ndarray  # 28 x 28, float32: + pushes toward digit, - away from it
    score: float  # the network's score for digit on this image (before softmax)


def blank_input() -> torch.Tensor:
    """An empty canvas as the net sees it: zero ink, normalized (1 x 1 x 28 x 28)."""
    return normalize(torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE))


def digit_scores(model: SpecNet, inputs: torch.Tensor) -> torch.Tensor:
    """The 10 scores per input, the layers without the final log_softmax (what the attributions explain)."""
    return nn.Sequential.forward(model, inputs)


def saliency_map(model: SpecNet, tensor: torch.Tensor, digit: int, method: str = METHODS[0]) -> Attribution:
    """The 28 x 28 attribution of one normalized input (1 x 1 x 28 x 28) toward ``digit``, in eval mode.

    The model's weights and mode are left as they were; only the input's gradient is computed.
    """
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit < N_CLASSES:
        raise ExplainError(f"The digit must be a whole number from 0 to {N_CLASSES - 1}, got {digit!r}.", "digit",
                           value=digit, high=N_CLASSES - 1)
    if method not in METHODS:
        raise ExplainError(f"The method must be one of {', '.join(METHODS)}, got {method!r}.", "method",
                           value=method, choices=METHODS)
    if tuple(tensor.shape) != (1, 1, IMAGE_SIZE, IMAGE_SIZE):
        raise ExplainError(f"One 1 x 1 x {IMAGE_SIZE} x {IMAGE_SIZE} input is needed, got {tuple(tensor.shape)}.",
                           "shape", shape=tuple(tensor.shape))
    device = next(model.parameters()).device
    inputs = tensor.detach().to(device).float().requires_grad_()  # Captum warns when it has to set this
    was_training = model.training
    model.eval()

    def scores(x: torch.Tensor) -> torch.Tensor:
        return digit_scores(model, x)

    try:
        with torch.enable_grad():  # a caller inside torch.no_grad() still gets its map
            if method == "saliency":
                values = Saliency(scores).attribute(inputs, target=int(digit), abs=False)
            else:
                values = IntegratedGradients(scores).attribute(
                    inputs, baselines=blank_input().to(device), target=int(digit),
                    n_steps=INTEGRATED_GRADIENTS_STEPS,
                )
        with torch.no_grad():
            score = float(scores(inputs)[0, int(digit)])
    finally:
        model.train(was_training)
    return Attribution(int(digit), method, values[0, 0].detach().cpu().numpy().astype(np.float32), score)

"""What a trained net gets right and wrong on the test split: confusion matrix, per-class accuracy, picks."""

from __future__ import annotations

import torch

from ..data import N_CLASSES


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor, n_classes: int = N_CLASSES) -> torch.Tensor:
    """Counts (n_classes x n_classes, int64): row = true digit, column = predicted digit."""
    if labels.shape != predicted.shape:
        raise ValueError(f"labels and predictions differ in shape: {tuple(labels.shape)} vs {tuple(predicted.shape)}.")
    labels, predicted = labels.long().cpu(), predicted.long().cpu()
    for name, values in (("labels", labels), ("predictions", predicted)):
        if len(values) and not (0 <= int(values.min()) and int(values.max()) < n_classes):
            raise ValueError(f"{name} must be classes 0 to {n_classes - 1}, got {int(values.min())} to {int(values.max())}.")
    flat = torch.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def per_class_accuracy(matrix: torch.Tensor) -> torch.Tensor:
    """Fraction of each true digit classified correctly (float64); NaN for a digit absent from the split."""
    totals = matrix.sum(dim=1).double()
    correct = matrix.diagonal().double()
    return torch.where(totals > 0, correct / totals.clamp(min=1), torch.full_like(totals, float("nan")))


def row_percentages(matrix: torch.Tensor) -> torch.Tensor:
    """Each row of a confusion matrix as percentages of its own total (float64), so a cell reads "of the true 4s,
    this share was read as 9" whatever the digit's count. A row with no images (a digit absent from the split)
    stays all zero rather than 0 / 0."""
    totals = matrix.sum(dim=1, keepdim=True).double()
    shares = 100 * matrix.double() / totals.clamp(min=1)  # clamp: an empty row is 0 / 1, never a division by zero
    return torch.where(totals > 0, shares, torch.zeros_like(shares))


def pair_indices(labels: torch.Tensor, predicted: torch.Tensor, true_digit: int, predicted_digit: int,
                 limit: int | None = None) -> torch.Tensor:
    """Positions of the test images of ``true_digit`` that the net read as ``predicted_digit``, in order."""
    positions = ((labels.cpu() == true_digit) & (predicted.cpu() == predicted_digit)).nonzero().flatten()
    return positions if limit is None else positions[:limit]


def sample_indices(labels: torch.Tensor, predicted: torch.Tensor, count: int, mistakes_only: bool = False) -> torch.Tensor:
    """``count`` positions spread evenly over the split (or over its mistakes), for the prediction grid.

    Even spacing rather than the first ``count``: a split sorted by digit still shows many digits.
    """
    pool = (labels.cpu() != predicted.cpu()).nonzero().flatten() if mistakes_only else torch.arange(len(labels))
    if len(pool) <= count:
        return pool
    return pool[torch.linspace(0, len(pool) - 1, count).round().long()]

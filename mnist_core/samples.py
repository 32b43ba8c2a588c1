"""Looking at the data: which samples to show, how many of each digit, and the pixel statistics."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .data import MEAN, N_CLASSES, STD

MIN_SAMPLES = 6  # the tutorial's first look at the test data shows 6 digits
MAX_SAMPLES = 64


class SampleError(ValueError):
    """A request for samples that cannot be met, with the reason."""


@dataclass(frozen=True)
class PixelStats:
    mean: float  # of all pixels, scaled to [0, 1] as ToTensor does
    std: float


def class_counts(labels: torch.Tensor) -> list[int]:
    """How many images of each digit 0-9 (zeros included)."""
    return torch.bincount(labels.flatten().cpu(), minlength=N_CLASSES)[:N_CLASSES].tolist()


def pick_samples(labels: torch.Tensor, count: int, digit: int | None = None, seed: int = 0) -> torch.Tensor:
    """Indices of `count` images chosen at random (reproducible with `seed`), all of `digit` if given.

    Returns fewer than `count` when the split holds fewer images of that digit; raises
    SampleError when it holds none.
    """
    if not MIN_SAMPLES <= count <= MAX_SAMPLES:
        raise SampleError(f"Show between {MIN_SAMPLES} and {MAX_SAMPLES} samples, not {count}.")
    if digit is not None and not 0 <= digit < N_CLASSES:
        raise SampleError(f"{digit} is not a digit: choose 0-9.")
    labels = labels.flatten().cpu()
    candidates = torch.arange(len(labels)) if digit is None else (labels == digit).nonzero().flatten()
    if len(candidates) == 0:
        wanted = "images" if digit is None else f"images of the digit {digit}"
        raise SampleError(f"This split holds no {wanted}.")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(candidates), generator=generator)[:count]
    return candidates[order]


def pixel_stats(normalized_images: torch.Tensor) -> PixelStats:
    """Mean and std of the images on ToTensor's [0, 1] scale, i.e. what Normalize((MEAN,), (STD,)) assumes.

    The images are stored normalized, so the statistics are mapped back through x * STD + MEAN.
    """
    if normalized_images.numel() == 0:
        raise SampleError("No images to measure.")
    flat = normalized_images.detach().double().flatten()
    return PixelStats(mean=float(flat.mean() * STD + MEAN), std=float(flat.std() * STD))

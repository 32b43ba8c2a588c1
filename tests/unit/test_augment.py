"""Augmentation: batched, label- and shape-preserving, reproducible from its generator, blind to the global RNG."""

from __future__ import annotations

import pytest
import torch

from mnist_core.training.augment import AUGMENTATIONS, augment_batch, augmented_grid
from mnist_core.data import MEAN, STD, normalize

BACKGROUND = -MEAN / STD  # a blank pixel, normalized
KIND_SETS = [(kind,) for kind in AUGMENTATIONS] + [AUGMENTATIONS]


def _digits(n: int = 12) -> torch.Tensor:
    """Normalized N x 1 x 28 x 28 images: a bar of ink of varying length and position, on blank paper."""
    pixels = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    for i in range(n):
        pixels[i, 0, 6 + i % 4 : 20 + i % 4, 11 + i % 5 : 15 + i % 5] = 255
    return normalize(pixels)


@pytest.mark.parametrize("kinds", KIND_SETS)
def test_keeps_shape_dtype_device_and_changes_the_images(kinds):
    images = _digits()
    out = augment_batch(images, kinds, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == images.dtype and out.device == images.device
    assert not torch.equal(out, images)
    assert torch.isfinite(out).all()
    # Still on the normalized scale: blank paper stays blank paper, ink stays at most full ink.
    assert out.min() >= BACKGROUND - 1e-4 and out.max() <= (1 - MEAN) / STD + 1e-4


def test_labels_stay_with_their_images():
    """augment_batch sees no labels; each output image is its own input image changed, in the same place."""
    images = _digits(10)
    images[3] = BACKGROUND  # a blank page stays blank whatever is done to it
    out = augment_batch(images, AUGMENTATIONS, torch.Generator().manual_seed(1))
    assert torch.allclose(out[3], images[3], atol=1e-5)
    assert all(not torch.allclose(out[i], images[3], atol=1e-5) for i in range(10) if i != 3)


def test_nothing_to_do_returns_the_images():
    images = _digits()
    assert augment_batch(images, (), torch.Generator()) is images


def test_same_generator_state_gives_the_same_batch():
    images = _digits()
    first = augment_batch(images, AUGMENTATIONS, torch.Generator().manual_seed(7))
    second = augment_batch(images, AUGMENTATIONS, torch.Generator().manual_seed(7))
    assert torch.equal(first, second)


def test_different_seeds_and_successive_batches_differ():
    images = _digits()
    generator = torch.Generator().manual_seed(7)
    first = augment_batch(images, AUGMENTATIONS, generator)
    later = augment_batch(images, AUGMENTATIONS, generator)
    other = augment_batch(images, AUGMENTATIONS, torch.Generator().manual_seed(8))
    assert not torch.equal(first, later)
    assert not torch.equal(first, other)


def test_each_image_gets_its_own_random_change():
    images = _digits(1).expand(8, 1, 28, 28).contiguous()
    out = augment_batch(images, AUGMENTATIONS, torch.Generator().manual_seed(3))
    assert len({tuple(image.flatten().tolist()) for image in out}) == 8


def test_does_not_touch_the_global_rng():
    before = torch.get_rng_state()
    augment_batch(_digits(), AUGMENTATIONS, torch.Generator().manual_seed(0))
    augmented_grid(_digits(), AUGMENTATIONS, seed=0)
    assert torch.equal(torch.get_rng_state(), before)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="flip"):
        augment_batch(_digits(), ("flip",), torch.Generator())


def test_shift_moves_the_ink_and_keeps_its_amount():
    images = _digits(4)
    out = augment_batch(images, ("shift",), torch.Generator().manual_seed(0))
    ink_in, ink_out = images * STD + MEAN, out * STD + MEAN
    # Whole or fractional pixels, bilinear: the ink total stays within a few percent while the bar stays inside.
    assert torch.allclose(ink_out.sum(dim=(1, 2, 3)), ink_in.sum(dim=(1, 2, 3)), rtol=0.05)


def test_stroke_makes_ink_thicker_or_thinner_never_gone():
    images = _digits(16)
    out = augment_batch(images, ("stroke",), torch.Generator().manual_seed(0))
    ink_in = (images * STD + MEAN).sum(dim=(1, 2, 3))
    ink_out = (out * STD + MEAN).sum(dim=(1, 2, 3))
    assert (ink_out > 0.3 * ink_in).all()
    assert (ink_out > ink_in * 1.05).any()


def test_augmented_grid_is_deterministic_for_a_seed():
    images = _digits(20)
    grid = augmented_grid(images, AUGMENTATIONS, seed=5)
    assert grid.shape == (16, 1, 28, 28)
    assert torch.equal(grid, augmented_grid(images, AUGMENTATIONS, seed=5))
    assert not torch.equal(grid, augmented_grid(images, AUGMENTATIONS, seed=6))
    assert augmented_grid(images, AUGMENTATIONS, seed=5, count=4).shape == (4, 1, 28, 28)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda_with_a_cuda_generator():
    images = _digits().cuda()
    out = augment_batch(images, AUGMENTATIONS, torch.Generator(device="cuda").manual_seed(0))
    assert out.device == images.device
    again = augment_batch(images, AUGMENTATIONS, torch.Generator(device="cuda").manual_seed(0))
    assert torch.equal(out, again)


def test_stroke_dilation_is_max_pool():
    """The fast 3 x 3 dilation equals max_pool2d(x, 3, 1, 1) and its erosion -max_pool2d(-x, 3, 1, 1)."""
    from mnist_core.training.augment import _dilate

    ink = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert torch.equal(_dilate(ink), torch.nn.functional.max_pool2d(ink, 3, 1, 1))
    assert torch.equal(-_dilate(-ink), -torch.nn.functional.max_pool2d(-ink, 3, 1, 1))

"""Sample selection, class counts and pixel statistics on the real embedded digits."""

import pytest
import torch

from mnist_core import MEAN, STD, normalize, to_pixels
from mnist_core.samples import MAX_SAMPLES, MIN_SAMPLES, SampleError, class_counts, pick_samples, pixel_stats


def test_class_counts_of_the_embedded_splits(embedded_data):
    assert class_counts(embedded_data.train_labels) == [400] * 10
    assert class_counts(embedded_data.test_labels) == [100] * 10


def test_class_counts_include_absent_digits():
    assert class_counts(torch.tensor([3, 3, 9])) == [0, 0, 0, 2, 0, 0, 0, 0, 0, 1]


def test_pick_is_reproducible_and_the_seed_changes_it(embedded_data):
    labels = embedded_data.test_labels
    first = pick_samples(labels, 16, seed=1)
    assert torch.equal(first, pick_samples(labels, 16, seed=1))
    assert not torch.equal(first, pick_samples(labels, 16, seed=2))
    assert len(first) == 16 and len(set(first.tolist())) == 16


def test_pick_filters_to_one_digit(embedded_data):
    labels = embedded_data.train_labels
    picked = pick_samples(labels, MAX_SAMPLES, digit=7, seed=0)
    assert len(picked) == MAX_SAMPLES
    assert set(labels[picked].tolist()) == {7}


def test_pick_returns_what_there_is_when_a_class_is_small():
    labels = torch.tensor([0, 1, 1, 2, 5, 5, 5, 5, 5, 5, 5])
    assert sorted(pick_samples(labels, MIN_SAMPLES, digit=1).tolist()) == [1, 2]


@pytest.mark.parametrize(
    "count, digit, message",
    [(MIN_SAMPLES - 1, None, "between"), (MAX_SAMPLES + 1, None, "between"), (6, 10, "not a digit"), (6, 4, "no images")],
)
def test_pick_explains_impossible_requests(count, digit, message):
    with pytest.raises(SampleError, match=message):
        pick_samples(torch.tensor([0, 1, 2, 3]), count, digit=digit)


def test_pixel_stats_on_known_pixels():
    pixels = torch.tensor([[0.0, 255.0], [0.0, 255.0]])  # half black, half white: mean 0.5, std ~0.577
    stats = pixel_stats(normalize(pixels))
    assert stats.mean == pytest.approx(0.5, abs=1e-6)
    assert stats.std == pytest.approx(torch.tensor([0.0, 1.0, 0.0, 1.0]).std().item(), abs=1e-6)


def test_pixel_stats_of_real_digits_are_near_the_tutorial_constants(embedded_data):
    stats = pixel_stats(embedded_data.train_images)
    pixels = to_pixels(embedded_data.train_images).double() / 255
    assert stats.mean == pytest.approx(pixels.mean().item(), abs=1e-3)
    assert stats.std == pytest.approx(pixels.std().item(), abs=1e-3)
    assert stats.mean == pytest.approx(MEAN, abs=0.01)  # a 4,000-digit sample, so only close
    assert stats.std == pytest.approx(STD, abs=0.01)


def test_pixel_stats_need_images():
    with pytest.raises(SampleError):
        pixel_stats(torch.empty(0, 1, 28, 28))

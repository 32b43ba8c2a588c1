"""Confusion matrix, per-class accuracy and the picks behind the prediction grid and the gallery."""

import math
import warnings

import pytest
import torch

from mnist_core import predict
from mnist_core.training.metrics import (
    confusion_matrix,
    pair_indices,
    per_class_accuracy,
    row_percentages,
    sample_indices,
)


def test_confusion_matrix_counts_each_true_predicted_pair():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    predicted = torch.tensor([0, 1, 1, 2, 0, 2])
    matrix = confusion_matrix(labels, predicted, n_classes=3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_per_class_accuracy_is_the_diagonal_over_the_row_and_nan_for_absent_digits():
    matrix = torch.tensor([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    accuracy = per_class_accuracy(matrix)
    assert accuracy[:2].tolist() == [0.5, 1.0] and math.isnan(accuracy[2])


def test_row_percentages_sum_to_100_and_an_empty_row_stays_zero():
    matrix = torch.tensor([[1, 1, 0], [0, 0, 0], [1, 0, 3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division warning for the empty row
        percent = row_percentages(matrix)
    assert percent.dtype == torch.float64
    assert percent[0].tolist() == [50.0, 50.0, 0.0] and percent[2].tolist() == [25.0, 0.0, 75.0]
    assert percent[1].tolist() == [0.0, 0.0, 0.0]  # a digit absent from the split: zeros, not NaN
    assert not percent.isnan().any()
    assert torch.allclose(percent.sum(dim=1)[[0, 2]], torch.full((2,), 100.0, dtype=torch.float64))


def test_row_percentages_of_a_real_confusion_matrix_sum_to_100_per_row():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (1000,), generator=generator)
    predicted = torch.where(torch.rand(1000, generator=generator) < 0.8, labels,
                            torch.randint(0, 10, (1000,), generator=generator))
    percent = row_percentages(confusion_matrix(labels, predicted))
    assert torch.allclose(percent.sum(dim=1), torch.full((10,), 100.0, dtype=torch.float64))
    assert torch.allclose(percent.diagonal(), 100 * per_class_accuracy(confusion_matrix(labels, predicted)))


def test_confusion_matrix_rejects_out_of_range_and_mismatched_input():
    with pytest.raises(ValueError, match="classes 0 to 9"):
        confusion_matrix(torch.tensor([3, 10]), torch.tensor([3, 3]))
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_matrix(torch.tensor([1, 2]), torch.tensor([1]))


def test_pair_indices_finds_the_images_of_one_cell_in_order():
    labels = torch.tensor([4, 9, 4, 4, 9])
    predicted = torch.tensor([9, 9, 4, 9, 4])
    assert pair_indices(labels, predicted, 4, 9).tolist() == [0, 3]
    assert pair_indices(labels, predicted, 4, 9, limit=1).tolist() == [0]
    assert pair_indices(labels, predicted, 1, 1).tolist() == []


def test_sample_indices_spread_over_the_split_or_its_mistakes():
    labels = torch.arange(100) // 10  # sorted by digit, as the embedded test split is
    predicted = labels.clone()
    predicted[[5, 50, 95]] = 0
    spread = sample_indices(labels, predicted, 10)
    assert len(set(labels[spread].tolist())) == 10
    assert sample_indices(labels, predicted, 10, mistakes_only=True).tolist() == [50, 95]  # 5 is a 0 read as 0
    assert sample_indices(labels, predicted, 2, mistakes_only=True).tolist() == [50, 95]


def test_real_trained_net_matrix_matches_its_accuracy(trained_state, embedded_data):
    predicted = predict(trained_state.model, embedded_data.test_images).argmax(dim=1)
    matrix = confusion_matrix(embedded_data.test_labels, predicted)
    assert matrix.sum() == embedded_data.n_test
    assert matrix.diagonal().sum() / embedded_data.n_test == pytest.approx(trained_state.history.test_accuracy[-1])
    assert (matrix.sum(dim=1) == 100).all()  # 100 test digits of each class

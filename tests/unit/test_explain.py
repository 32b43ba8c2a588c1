"""Saliency toward any digit (mnist_core.training.explain, Captum): a 28 x 28 map that means what it says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnist_core.training.explain import METHODS, ExplainError, blank_input, digit_scores, saliency_map
from mnist_core.inference import inference_model


@pytest.fixture(scope="module")
def model(trained_state):
    return inference_model(trained_state)


@pytest.fixture(scope="module")
def image(embedded_data):
    return embedded_data.test_images[:1]


@pytest.mark.parametrize("method", METHODS)
def test_saliency_is_28_by_28_toward_any_digit(model, image, method):
    for digit in (0, 4, 9):
        attribution = saliency_map(model, image, digit, method)
        assert attribution.values.shape == (28, 28) and attribution.values.dtype == np.float32
        assert attribution.digit == digit and attribution.method == method
        assert np.isfinite(attribution.values).all() and np.abs(attribution.values).max() > 0
    assert not np.array_equal(saliency_map(model, image, 4, method).values, saliency_map(model, image, 7, method).values)


def test_integrated_gradients_add_up_to_the_change_from_a_blank_canvas(model, image):
    """Completeness: the attributions sum to score[digit](image) - score[digit](blank), within a few percent."""
    attribution = saliency_map(model, image, 3, "integrated_gradients")
    with torch.no_grad():
        blank = float(digit_scores(model, blank_input())[0, 3])
        assert attribution.score == pytest.approx(float(digit_scores(model, image)[0, 3]), rel=1e-6)
    change = attribution.score - blank
    assert float(attribution.values.sum()) == pytest.approx(change, rel=0.1, abs=0.05)


def test_saliency_leaves_the_model_as_it_was(model, image):
    model.train()
    weights = [p.detach().clone() for p in model.parameters()]
    saliency_map(model, image, 1)
    assert model.training
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), weights))
    assert all(p.grad is None for p in model.parameters())
    model.eval()


def test_saliency_works_inside_no_grad(model, image):
    with torch.no_grad():
        assert saliency_map(model, image, 2).values.shape == (28, 28)


@pytest.mark.parametrize("digit, method, shape, rule", [
    (10, "saliency", (1, 1, 28, 28), "digit"),
    (-1, "saliency", (1, 1, 28, 28), "digit"),
    (1, "occlusion", (1, 1, 28, 28), "method"),
    (1, "saliency", (2, 1, 28, 28), "shape"),
])
def test_bad_requests_are_refused_with_a_rule(model, digit, method, shape, rule):
    with pytest.raises(ExplainError) as caught:
        saliency_map(model, torch.zeros(shape), digit, method)
    assert caught.value.rule == rule

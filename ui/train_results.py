"""The Train page's results of a trained model: a grid of test digits with their predictions, the confusion
matrix (a click picks a cell), a gallery of one (true, predicted) pair, and the accuracy per digit."""

from __future__ import annotations

import streamlit as st

from mnist_core import predict, to_pixels
from mnist_core.training.metrics import (
    confusion_matrix,
    pair_indices,
    per_class_accuracy,
    row_percentages,
    sample_indices,
)
from ui import train_charts
from ui.i18n import t
from ui.session import per_model

GRID_IMAGES = 12
GALLERY_IMAGES = 24
PREDICTIONS_KEY = "train_predictions"
PAIR_KEYS = ("train_pair_true", "train_pair_predicted")  # the gallery's (true digit, predicted digit) boxes
DEFAULT_PAIR = (4, 9)  # a classic confusion
PERCENTAGES_KEY = "train_confusion_percent"


def test_predictions(model, data):
    """The model's predicted digit for every test image, computed once per published model."""
    def predicted_digits(model):
        images = data.test_images.to(model.device)
        return predict(model.model, images, model.config.batch_size_test).argmax(dim=1).cpu()

    return per_model(PREDICTIONS_KEY, model, predicted_digits)


def pick_confusion_cell() -> None:
    """A click on the matrix sets the gallery's two boxes (a callback, so before they are drawn)."""
    points = st.session_state["train_confusion"].selection.points
    if points:
        true_digit, predicted_digit = points[0]["customdata"][:2]
        st.session_state[PAIR_KEYS[0]], st.session_state[PAIR_KEYS[1]] = int(true_digit), int(predicted_digit)


def confusion_section(matrix) -> None:
    """The matrix in counts, or in percentages of each true digit (each row sums to 100)."""
    st.markdown(f"**{t('train.confusion_heading')}**")
    st.caption(t("train.confusion_note"))
    as_percentages = st.toggle(t("train.confusion_normalised"), key=PERCENTAGES_KEY,
                               help=t("train.confusion_normalised_help"))
    figure = train_charts.confusion_figure(matrix, row_percentages(matrix) if as_percentages else None)
    st.plotly_chart(figure, key="train_confusion", on_select=pick_confusion_cell, selection_mode="points")


def gallery_section(matrix, labels, predicted, data) -> None:
    """The test images of one (true, predicted) cell, chosen in two boxes or by a click on the matrix."""
    st.markdown(f"**{t('train.gallery_heading')}**")
    digits = list(range(matrix.shape[0]))
    for key, digit in zip(PAIR_KEYS, DEFAULT_PAIR):
        st.session_state.setdefault(key, digit)  # not index=: the matrix's click writes these keys
    pick = st.columns(2)
    true_digit = pick[0].selectbox(t("train.gallery_true"), digits, key=PAIR_KEYS[0])
    predicted_digit = pick[1].selectbox(t("train.gallery_predicted"), digits, key=PAIR_KEYS[1])
    chosen = pair_indices(labels, predicted, true_digit, predicted_digit, limit=GALLERY_IMAGES)
    count = int(matrix[true_digit, predicted_digit])
    st.caption(t("train.gallery_count", count=count, true=true_digit, predicted=predicted_digit, shown=len(chosen)))
    if len(chosen):
        pixels = to_pixels(data.test_images[chosen]).squeeze(1)
        st.plotly_chart(train_charts.digit_grid_figure(pixels, labels[chosen], predicted[chosen], titled=False),
                        key="train_gallery")


def results(model, data) -> None:
    st.subheader(t("train.results_heading", epochs=model.epochs_done))
    predicted = test_predictions(model, data)
    labels = data.test_labels.cpu()
    mistakes_only = st.toggle(t("train.grid_mistakes_only"), key="train_mistakes_only")
    shown = sample_indices(labels, predicted, GRID_IMAGES, mistakes_only)
    if len(shown):
        pixels = to_pixels(data.test_images[shown]).squeeze(1)
        st.plotly_chart(train_charts.digit_grid_figure(pixels, labels[shown], predicted[shown]), key="train_grid")
    else:
        st.caption(t("train.grid_no_mistakes"))

    matrix = confusion_matrix(labels, predicted)
    left, right = st.columns([3, 2])
    with left:
        confusion_section(matrix)
    with right:
        gallery_section(matrix, labels, predicted, data)
    st.plotly_chart(train_charts.per_class_figure(per_class_accuracy(matrix)), key="train_per_class")

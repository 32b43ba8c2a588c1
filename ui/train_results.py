"""The Train page's results of a trained model: a grid of test digits with their predictions, the confusion
matrix (a click picks a cell), a gallery of one (true, predicted) pair, and the accuracy per digit."""

from __future__ import annotations

import streamlit as st

from mnist_core import predict, to_pixels
from mnist_core.training.metrics import confusion_matrix, pair_indices, per_class_accuracy, sample_indices
from ui import train_charts
from ui.i18n import t
from ui.session import per_model

GRID_IMAGES = 12
GALLERY_IMAGES = 24
PREDICTIONS_KEY = "train_predictions"
PAIR_KEY = "train_pair"  # (true digit, predicted digit) shown in the gallery
DEFAULT_PAIR = (4, 9)  # a classic confusion


def test_predictions(model, data):
    """The model's predicted digit for every test image, computed once per published model."""
    def predicted_digits(model):
        images = data.test_images.to(model.device)
        return predict(model.model, images, model.config.batch_size_test).argmax(dim=1).cpu()

    return per_model(PREDICTIONS_KEY, model, predicted_digits)


def pick_confusion_cell() -> None:
    points = st.session_state["train_confusion"].selection.points
    if points:
        true_digit, predicted_digit, _ = points[0]["customdata"]
        st.session_state[PAIR_KEY] = (int(true_digit), int(predicted_digit))


def pick_pair(true_key: str, predicted_key: str) -> None:
    st.session_state[PAIR_KEY] = (st.session_state[true_key], st.session_state[predicted_key])


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
        st.markdown(f"**{t('train.confusion_heading')}**")
        st.caption(t("train.confusion_note"))
        st.plotly_chart(train_charts.confusion_figure(matrix), key="train_confusion", on_select=pick_confusion_cell,
                        selection_mode="points")
    with right:
        st.markdown(f"**{t('train.gallery_heading')}**")
        digits = list(range(matrix.shape[0]))
        pair = st.session_state.setdefault(PAIR_KEY, DEFAULT_PAIR)
        # Keys named after the pair: a click on the matrix makes new boxes showing the clicked cell.
        keys = (f"train_pair_true_{pair[0]}_{pair[1]}", f"train_pair_predicted_{pair[0]}_{pair[1]}")
        pick = st.columns(2)
        true_digit = pick[0].selectbox(t("train.gallery_true"), digits, index=pair[0], key=keys[0],
                                       on_change=pick_pair, args=keys)
        predicted_digit = pick[1].selectbox(t("train.gallery_predicted"), digits, index=pair[1], key=keys[1],
                                            on_change=pick_pair, args=keys)
        chosen = pair_indices(labels, predicted, true_digit, predicted_digit, limit=GALLERY_IMAGES)
        count = int(matrix[true_digit, predicted_digit])
        st.caption(t("train.gallery_count", count=count, true=true_digit, predicted=predicted_digit,
                     shown=len(chosen)))
        if len(chosen):
            pixels = to_pixels(data.test_images[chosen]).squeeze(1)
            st.plotly_chart(train_charts.digit_grid_figure(pixels, labels[chosen], predicted[chosen], titled=False),
                            key="train_gallery")
    st.plotly_chart(train_charts.per_class_figure(per_class_accuracy(matrix)), key="train_per_class")

"""The Train page's results of a trained model (ui/train_results.py): the confusion matrix in counts or in
percentages of each true digit, and the gallery's two boxes."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import checkpoint_bytes
from tests.apptest.app import open_page
from ui.i18n import strings
from ui.session import SESSION_KEY

EN = strings("en")


@pytest.fixture(scope="module")
def trained_app(trained_state) -> AppTest:
    app = open_page("pages/train.py")
    app.session_state[SESSION_KEY].load_checkpoint(checkpoint_bytes(trained_state), name="three.pt")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def confusion_heatmap(app: AppTest) -> dict:
    chart = next(chart for chart in app.get("plotly_chart") if chart.proto.id.endswith("-train_confusion"))
    return json.loads(chart.proto.spec)["data"][0]


def test_confusion_matrix_shows_counts_then_each_rows_percentages(trained_app):
    app = trained_app
    toggle = app.toggle(key="train_confusion_percent")
    assert toggle.label == EN["train.confusion_normalised"] and toggle.value is False
    counts = confusion_heatmap(app)
    assert all(isinstance(value, int) for row in counts["z"] for value in row)

    toggle.set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    shares = confusion_heatmap(app)
    assert shares["zmax"] == 100
    for count_row, share_row, text_row in zip(counts["z"], shares["z"], shares["text"]):
        assert sum(share_row) == pytest.approx(100)
        assert [round(100 * count / sum(count_row), 6) for count in count_row] == pytest.approx(share_row)
        assert all(text.endswith("%") for text in text_row)
    assert shares["colorbar"]["title"]["text"] == EN["train.confusion_percent"]


def test_gallery_boxes_start_at_4_read_as_9(trained_app):
    true_box, predicted_box = trained_app.selectbox(key="train_pair_true"), trained_app.selectbox(
        key="train_pair_predicted")
    assert (true_box.value, predicted_box.value) == (4, 9)

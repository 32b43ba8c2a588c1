"""The drawing page without a browser: model choice, uploads, the quick-model offer, errors.

AppTest renders no custom component, so the canvas is only checked to be there
(as a bidi_component); drawing on it is tests/e2e/test_draw_browser.py's job. An uploaded
image takes the same path as a drawing from the canvas: prepare_mnist_style, then the net.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import checkpoint_bytes, save_checkpoint
from mnist_core.inference import inference_model, read_image
from mnist_core.preprocess import load_image
from tests.apptest.app import open_page, train_until_done
from tests.drawn_digits import drawn_digits, evaluation_digits, png_bytes
from ui.i18n import strings

EN = strings("en")


def open_draw_page() -> AppTest:
    return open_page("pages/draw.py", language=None)


@pytest.fixture(scope="module")
def digit_png() -> bytes:
    """A real test digit (a 7) as the canvas would export it: 280 x 280, ink in the alpha channel."""
    originals, labels = evaluation_digits(10)
    canvas = list(drawn_digits(originals[7:8]))[0]
    assert labels[7] == 7
    return png_bytes(canvas)


def big_digit(app: AppTest) -> str | None:
    shown = [m.value for m in app.markdown if "predicted-digit" in m.value]
    assert len(shown) <= 1
    return shown[0].split(">")[1].split("<")[0] if shown else None


def chart_titles(app: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in app.get("plotly_chart")]


def upload_image(app: AppTest, name: str, content: bytes) -> None:
    app.radio(key="draw_input").set_value("upload").run()
    app.file_uploader(key="draw_image_file").set_value((name, content, "image/png")).run()
    assert not app.exception, [e.value for e in app.exception]


def upload_checkpoint(app: AppTest, content: bytes) -> None:
    app.selectbox(key="draw_model_source").set_value("upload").run()
    app.file_uploader(key="draw_checkpoint_file").set_value(("model.pt", content, "application/octet-stream")).run()
    assert not app.exception, [e.value for e in app.exception]


def test_opens_with_the_canvas_and_offers_a_quick_model():
    app = open_draw_page()
    assert len(app.get("bidi_component")) == 1  # the drawing canvas
    assert app.button(key="draw_quick_train").label == EN["draw.quick_train"]
    assert app.button(key="draw_clear").label == EN["draw.clear"]
    assert app.selectbox(key="draw_model_source").options == [EN["draw.source_upload"]]
    assert app.info[0].value == EN["draw.waiting_draw"]
    assert big_digit(app) is None


def test_quick_model_trains_then_reads_an_upload(digit_png):
    app = open_draw_page()
    app.button(key="draw_quick_train").click().run()
    session = app.session_state["training_session"]
    train_until_done(app)
    model_source = app.selectbox(key="draw_model_source")
    assert model_source.value == "session"
    assert model_source.options[0].startswith(EN["draw.source_session"].split("(")[0])
    assert not any(b.key == "draw_quick_train" for b in app.button)  # no offer once a model exists

    upload_image(app, "seven.png", digit_png)
    expected = read_image(inference_model(session.model()), load_image(digit_png))[0]
    assert big_digit(app) == str(expected.digit)


def test_uploaded_checkpoint_reads_an_uploaded_image(trained_state, digit_png):
    app = open_draw_page()
    upload_checkpoint(app, checkpoint_bytes(trained_state))
    assert not app.error
    upload_image(app, "seven.png", digit_png)

    expected = read_image(inference_model(trained_state), load_image(digit_png))[0]
    assert big_digit(app) == str(expected.digit) == "7"
    probabilities = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert [trace["name"] for trace in probabilities["data"]] == [EN["draw.series_prepared"]]
    assert len(probabilities["data"][0]["y"]) == 10
    assert sum(probabilities["data"][0]["y"]) == pytest.approx(1.0, abs=1e-4)
    # What the net sees (crop, fit, centred) and inside the net (conv1, conv2, kernels).
    assert len(app.get("image")) >= 4  # the uploaded image and the three steps
    assert len(app.get("plotly_chart")) == 5  # and why this answer (the saliency maps)
    assert chart_titles(app)[1:4] == [EN["draw.conv1_title"], EN["draw.conv2_title"], EN["draw.kernels_title"]]

    app.toggle(key="draw_compare_naive").set_value(True).run()
    assert not app.exception
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert [trace["name"] for trace in spec["data"]] == [EN["draw.series_prepared"], EN["draw.series_naive"]]
    assert any(m.value.startswith(EN["draw.naive_answer"].split("**")[0]) for m in app.markdown)


def test_bad_checkpoint_is_refused_with_the_reason():
    app = open_draw_page()
    upload_checkpoint(app, b"definitely not a checkpoint")
    assert len(app.error) == 1
    assert EN["draw.checkpoint_failed"] in app.error[0].value
    assert "model.pt" in app.error[0].value  # the core's reason names the file
    assert app.info[-1].value == EN["draw.waiting_draw"]


def test_each_uploaded_checkpoint_is_read_once_and_a_new_file_replaces_it(trained_state, digit_png, monkeypatch):
    """ui.uploads.read_once: reruns reuse the net read from a file; a new file is read and replaces it."""
    from ui import draw_models

    reads = []
    real_load = draw_models.load_inference_model
    def counted_load(source):
        reads.append(source.name)
        return real_load(source)

    monkeypatch.setattr(draw_models, "load_inference_model", counted_load)
    app = open_draw_page()
    upload_checkpoint(app, b"definitely not a checkpoint")
    assert EN["draw.checkpoint_failed"] in app.error[0].value
    upload_image(app, "seven.png", digit_png)
    app.run()
    assert reads == ["model.pt"] and EN["draw.checkpoint_failed"] in app.error[0].value  # not read again

    app.file_uploader(key="draw_checkpoint_file").set_value(
        ("good.pt", checkpoint_bytes(trained_state), "application/octet-stream")).run()
    app.run()
    assert reads == ["model.pt", "good.pt"]
    assert not app.error and big_digit(app) == "7"


def test_unreadable_and_blank_images_get_a_message_not_a_prediction(trained_state):
    app = open_draw_page()
    upload_checkpoint(app, checkpoint_bytes(trained_state))
    upload_image(app, "notes.png", b"this is text, not a picture")
    assert app.error[0].value == f"**{EN['draw.image_failed']}** {EN['draw.image_error_format']}"
    assert big_digit(app) is None

    app.file_uploader(key="draw_image_file").set_value(
        ("white.png", png_bytes(np.full((200, 200), 255, np.uint8)), "image/png")
    ).run()
    assert not app.exception and not app.error
    assert app.info[-1].value == EN["draw.blank"]
    assert big_digit(app) is None
    assert not app.get("plotly_chart")


def test_offers_checkpoints_the_cli_wrote(trained_state, digit_png, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the page lists ./checkpoints, relative to where the app runs
    save_checkpoint(trained_state, tmp_path / "checkpoints" / "cli.pt")
    app = open_draw_page()
    model_source = app.selectbox(key="draw_model_source")
    assert model_source.value == "file:cli.pt"
    assert not any(b.key == "draw_quick_train" for b in app.button)  # a model exists: no offer needed
    upload_image(app, "seven.png", digit_png)
    assert big_digit(app) == "7"


def test_page_speaks_chinese():
    app = open_page("pages/draw.py", "zh")
    zh = strings("zh")
    assert app.button(key="draw_quick_train").label == zh["draw.quick_train"]
    assert app.radio(key="draw_input").label == zh["draw.input_source"]

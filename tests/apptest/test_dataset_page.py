"""The dataset page in AppTest: the controls change the grid, the filter holds, both languages, bad data folders."""

import pytest
import torch
from streamlit.testing.v1 import AppTest

from mnist_core import MEAN, STD
from mnist_core.samples import MAX_SAMPLES, MIN_SAMPLES, pick_samples
from tests.apptest.app import new_app, open_page
from ui.data import forget_data, load_data
from ui.i18n import strings
from ui.navigation import PAGES

DATASET_PAGE = next(entry.file for entry in PAGES if entry.section == "dataset")


def open_dataset_page(language: str = "en") -> AppTest:
    return open_page(DATASET_PAGE, language)


def grid_captions(app: AppTest) -> list[str]:
    """The sample grid's captions in order; each digit is an image of its own, its caption under it."""
    images = [image.proto.imgs for image in app.get("image")]
    assert all(len(imgs) == 1 for imgs in images), "one st.image of several digits runs their captions together"
    return [imgs[0].caption for imgs in images]


def grid_labels(app: AppTest) -> list[int]:
    return [int(caption.rsplit(" ", 1)[-1]) for caption in grid_captions(app)]


def heatmap_spec(app: AppTest) -> dict:
    import json

    specs = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    return next(spec for spec in specs if spec["data"][0]["type"] == "heatmap")


@pytest.fixture(scope="module")
def data():
    return load_data()


@pytest.fixture
def app():
    return open_dataset_page()


def test_default_grid_is_the_tutorials_six_test_digits(app, data):
    expected = data.test_labels[pick_samples(data.test_labels, MIN_SAMPLES, seed=0)].tolist()
    assert grid_captions(app) == [f"Ground truth: {label}" for label in expected]


def test_count_slider_sets_the_grid_size(app):
    app.slider(key="dataset_count").set_value(MAX_SAMPLES).run()
    assert len(grid_captions(app)) == MAX_SAMPLES


def test_digit_filter_shows_only_that_digit(app):
    app.slider(key="dataset_count").set_value(40).run()
    app.selectbox(key="dataset_digit").set_value(7).run()
    assert grid_labels(app) == [7] * 40


def test_split_and_seed_change_the_samples(app, data):
    first = grid_captions(app)
    app.radio(key="dataset_split").set_value("train").run()
    expected = data.train_labels[pick_samples(data.train_labels, MIN_SAMPLES, seed=0)].tolist()
    assert grid_labels(app) == expected

    app.number_input(key="dataset_seed").set_value(12345).run()
    expected = data.train_labels[pick_samples(data.train_labels, MIN_SAMPLES, seed=12345)].tolist()
    assert grid_labels(app) == expected
    assert grid_captions(app) != first


def test_reshuffle_picks_a_new_seed(app):
    before = app.number_input(key="dataset_seed").value
    app.button(key="dataset_reshuffle").click().run()
    assert not app.exception
    assert app.number_input(key="dataset_seed").value != before


def test_heatmap_hover_carries_raw_and_normalized_values(app, data):
    app.selectbox(key="dataset_enlarged").set_value(2).run()
    trace = heatmap_spec(app)["data"][0]
    raw = torch.tensor(trace["z"], dtype=torch.float64)
    normalized = torch.tensor(trace["customdata"], dtype=torch.float64)
    assert raw.shape == normalized.shape == (28, 28)
    assert raw.min() >= 0 and raw.max() <= 255 and raw.max() > 100  # a real digit has ink
    assert torch.allclose(normalized, (raw / 255 - MEAN) / STD, atol=0.01)
    assert "%{z}" in trace["hovertemplate"] and "%{customdata" in trace["hovertemplate"]
    index = pick_samples(data.test_labels, MIN_SAMPLES, seed=0)[2]
    assert heatmap_spec(app)["layout"]["title"]["text"] == f"Ground truth: {int(data.test_labels[index])}"


def test_class_distribution_has_both_splits(app, data):
    import json

    bars = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    traces = next(spec for spec in bars if spec["data"][0]["type"] == "bar")["data"]
    assert sorted(trace["name"] for trace in traces) == ["Test set", "Training set"]
    assert sum(sum(trace["y"]) for trace in traces) == data.n_train + data.n_test


def test_normalization_table_shows_constants_and_measured_values(app):
    table = app.table[0].value
    assert table.iloc[0, 0] == f"{MEAN:.4f}" and table.iloc[1, 0] == f"{STD:.4f}"
    measured_mean, measured_std = float(table.iloc[0, 1]), float(table.iloc[1, 1])
    assert abs(measured_mean - MEAN) < 0.02 and abs(measured_std - STD) < 0.02


def test_chinese_page(data):
    app = open_dataset_page("zh")
    assert app.title[0].value == strings("zh")["dataset.title"]
    assert all(caption.startswith("真实标签：") for caption in grid_captions(app))
    assert app.radio(key="dataset_split").options == ["测试集", "训练集"]


def test_bad_data_folder_warns_and_falls_back(monkeypatch, tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"not an idx file")
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path))
    forget_data()
    try:
        load_data()  # the sidebar draws what it says about the data once the background load is done
        app = new_app(language=None)
        app.run()  # AppTest drops the router's sidebar after switch_page, so read it on the home page
        assert not app.exception
        warnings = " ".join(warning.value for warning in app.sidebar.warning)
        assert f"MNIST_DATA_DIR={tmp_path} could not be used" in warnings
        notes = " ".join(caption.value for caption in app.sidebar.expander[0].caption)
        assert strings("en")["app.skipped_folder"] in notes and "missing" in notes  # headline, then the core's reason

        app.switch_page(DATASET_PAGE).run()
        assert not app.exception
        assert len(grid_captions(app)) == MIN_SAMPLES  # the page still works on the fallback data
    finally:
        monkeypatch.delenv("MNIST_DATA_DIR")
        forget_data()


def test_embedded_notice_says_what_to_expect(app, data):
    """The embedded digits give the tutorial's 3 epochs 189 SGD steps, not 2,814: about 77%, not 97%."""
    notice = app.info[0].value
    assert "**189 SGD steps**" in notice and "2,814" in notice
    assert "**77%**" in notice and "97%" in notice and "`modern`" in notice
    assert "a little lower" not in notice


def verdict_lines(app: AppTest) -> list[str]:
    """The lines under the grid's digits that give a model's reading (green ✓ or red ✗)."""
    return [text.value for text in app.markdown if "read as" in text.value or "识别为" in text.value]


def test_without_a_model_the_grid_says_how_to_get_predictions(app):
    assert not verdict_lines(app)
    assert any(caption.value == strings("en")["dataset.predictions_hint"] for caption in app.caption)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_session_model_reads_every_sample_and_the_wrong_ones_are_marked(trained_state, data, language):
    from mnist_core import checkpoint_bytes, predict
    from mnist_core.inference import inference_model
    from ui.session import SESSION_KEY

    app = open_dataset_page(language)
    app.session_state[SESSION_KEY].load_checkpoint(checkpoint_bytes(trained_state), name="three.pt")
    app.slider(key="dataset_count").set_value(MAX_SAMPLES).run()
    assert not app.exception, [e.value for e in app.exception]

    picked = pick_samples(data.test_labels, MAX_SAMPLES, seed=0)
    predicted = predict(inference_model(trained_state), data.test_images[picked]).argmax(dim=1).tolist()
    labels = data.test_labels[picked].tolist()
    assert any(guess != label for guess, label in zip(predicted, labels)), "the test needs a mistake to mark"
    words = strings(language)
    expected = [f":green[{words['dataset.predicted_right'].format(digit=guess)}]" if guess == label
                else f":red[**{words['dataset.predicted_wrong'].format(digit=guess)}**]"
                for guess, label in zip(predicted, labels)]
    assert verdict_lines(app) == expected  # one under each digit, in the grid's order: a mark and a colour
    assert all(line.count("✓") + line.count("✗") == 1 for line in expected)
    right = sum(guess == label for guess, label in zip(predicted, labels))
    note = next(caption.value for caption in app.caption if f"{MAX_SAMPLES}" in caption.value and "✗" in caption.value)
    assert f"{right}" in note and "3" in note  # right of shown, and the model's epochs


def test_controls_and_a_page_switch_make_streamlit_log_no_warning():
    from tests.apptest.streamlit_log import messages, streamlit_warnings

    with streamlit_warnings() as logged:
        app = open_dataset_page()
        app.slider(key="dataset_count").set_value(12).run()
        app.selectbox(key="dataset_digit").set_value(3).run()
        app.button(key="dataset_reshuffle").click().run()
        app.switch_page("pages/home.py").run()
        app.switch_page(DATASET_PAGE).run()
    assert not app.exception, [e.value for e in app.exception]
    assert not logged, messages(logged)
    assert grid_labels(app) == [3] * 12  # kept across the page switch

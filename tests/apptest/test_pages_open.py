"""Every page listed in the router opens without an exception, in every language; the home page and the
sidebar are drawn while the data still loads."""

import threading

import pytest
from streamlit.testing.v1 import AppTest

import mnist_core
from tests.apptest.app import RUN_TIMEOUT_S, new_app, open_page
from ui.data import forget_data, load_data
from ui.i18n import LANGUAGE_KEY, languages, strings
from ui.navigation import PAGES


@pytest.fixture
def data_loaded():
    """The sidebar draws its sections once the background load is done; the tests that read them wait."""
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


def test_home_page_and_sidebar_are_drawn_while_the_data_loads(monkeypatch):
    """The first run of a fresh server must not wait for torch, the data or a network check."""
    release = threading.Event()
    real_load = mnist_core.load_mnist

    def held_load(*args, **kwargs):
        release.wait(RUN_TIMEOUT_S)  # a bound, so a failing test ends: the app must not wait for it
        return real_load(*args, **kwargs)

    monkeypatch.setattr(mnist_core, "load_mnist", held_load)
    forget_data()
    try:
        app = new_app(language="en")
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        english = strings("en")
        assert app.title[0].value == english["app.title"]
        assert english["home.network_heading"] in [heading.value for heading in app.subheader]
        assert sidebar_captions(app) == english["app.data_loading"]

        # The note's own refresh then asks for a full run; AppTest does not run fragments on a timer, and
        # its next run shows the page alone, so the browser tests check that part.
    finally:
        release.set()
        forget_data()  # the next test loads the real data again


def test_language_box_says_chinese_needs_a_cjk_font(data_loaded):
    """Without a CJK font the Chinese pages are empty boxes; the place where the language is chosen says so."""
    app = new_app(language="en")
    app.run()
    assert app.selectbox(key=LANGUAGE_KEY).help == strings("en")["app.language_help"]
    assert "fonts-noto-cjk" in strings("zh")["app.language_help"]

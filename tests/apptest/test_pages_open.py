"""Every page listed in the router opens without an exception, in every language."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest.app import new_app, open_page
from ui.i18n import languages, strings
from ui.navigation import PAGES


@pytest.mark.parametrize("language", list(languages()))
@pytest.mark.parametrize("entry", PAGES, ids=[entry.section for entry in PAGES])
def test_page_opens(entry, language):
    app = open_page(entry.file, language)
    heading_key = "app.title" if entry.section == "home" else entry.title_key  # home greets with the app's name
    assert app.title[0].value == strings(language)[heading_key]


def sidebar_captions(app: AppTest) -> str:
    return " ".join(caption.value for caption in app.sidebar.caption)


def test_sidebar_shows_data_device_and_no_model_yet():
    app = new_app(language=None)
    app.run()
    english = strings("en")
    captions = sidebar_captions(app)
    assert english["app.model_none"] in captions
    assert english["app.device_cpu"] in captions or "CUDA" in captions or "MPS" in captions
    assert " training + " in captions and " test images" in captions


def test_sidebar_shows_a_trained_model(trained_state, trained_token):
    app = new_app(language=None, token=trained_token)  # the trained model is found on the first run
    app.run()

    accuracy = f"{trained_state.history.test_accuracy[-1]:.1%}"
    expected = strings("en")["app.model_trained"].format(epochs=trained_state.epochs_done, accuracy=accuracy)
    assert expected in sidebar_captions(app)

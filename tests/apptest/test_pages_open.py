"""Every page listed in the router opens without an exception, in every language."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from ui.i18n import LANGUAGE_KEY, languages, strings
from ui.navigation import PAGES

RUN_TIMEOUT_S = 120  # the first run loads the data and imports torch


@pytest.mark.parametrize("language", list(languages()))
@pytest.mark.parametrize("entry", PAGES, ids=[entry.section for entry in PAGES])
def test_page_opens(entry, language):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=RUN_TIMEOUT_S)
    app.session_state[LANGUAGE_KEY] = language
    app.run()
    app.switch_page(entry.file).run()

    assert not app.exception, [e.value for e in app.exception]
    heading_key = "app.title" if entry.section == "home" else entry.title_key  # home greets with the app's name
    assert app.title[0].value == strings(language)[heading_key]

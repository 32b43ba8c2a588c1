"""Opening the real app.py in Streamlit's AppTest, the way every AppTest here starts."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from ui.i18n import LANGUAGE_KEY
from ui.session import SESSION_KEY, TOKEN_PARAM

RUN_TIMEOUT_S = 120  # the first run imports torch and loads the data on 2 busy cores
TRAIN_WAIT_S = 600  # a safety net against a hung job (an epoch of the embedded digits), not a speed requirement


def new_app(language: str | None = "en", token: str | None = None) -> AppTest:
    """app.py, not yet run. language None leaves the choice to the app (the browser's, else English)."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=RUN_TIMEOUT_S)
    if language is not None:
        app.session_state[LANGUAGE_KEY] = language
    if token is not None:  # the ?session= token a reloaded tab brings back
        app.query_params[TOKEN_PARAM] = token
    return app


def open_page(page_file: str, language: str | None = "en", token: str | None = None) -> AppTest:
    """Run app.py (the router), switch to page_file, and check that nothing raised."""
    app = new_app(language, token)
    app.run()
    app.switch_page(page_file).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def train_until_done(app: AppTest) -> None:
    """Rerun the app, as the live view's polling would, until this session's job has ended."""
    deadline = time.monotonic() + TRAIN_WAIT_S
    while app.session_state[SESSION_KEY].job.active:
        assert time.monotonic() < deadline, "training did not finish"
        time.sleep(0.5)
        app.run()
    app.run()  # the fragment notices the end and asks for a full run
    assert not app.exception, [e.value for e in app.exception]

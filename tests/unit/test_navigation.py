"""ui.navigation.ensure_router leans on a private Streamlit flag: these tests fail loudly the day Streamlit changes it.

Streamlit 1.67 has no public way to keep a folder named pages/ out of its legacy multipage mode: the flag
`PagesManager.uses_pages_directory` is set from `Path("pages").exists()` for the first session of a server, and
only st.navigation clears it. Until a first session has run app.py, a deep link (/dataset on a freshly started
server) runs pages/dataset.py alone. Streamlit's own documented way out is to rename the folder (app_pages/);
this project keeps the name, and ensure_router clears the flag as st.navigation does. The browser test
tests/e2e/test_pages_browser.py::test_deep_link_on_a_fresh_server checks the whole path in a real server.
"""

from __future__ import annotations

import inspect

import pytest
import streamlit
from streamlit.commands import navigation as streamlit_navigation
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner

from ui import navigation

WHAT_TO_DO = (
    "Streamlit changed how it decides on its legacy pages/ mode, which ui.navigation.ensure_router switches off "
    "by clearing PagesManager.uses_pages_directory. Look for the public way in this Streamlit version (a config "
    "option or an st.navigation argument) and use it in ensure_router; failing that, rename pages/ to app_pages/ "
    "(Streamlit's documented fix) and drop ensure_router. Check with "
    "tests/e2e/test_pages_browser.py::test_deep_link_on_a_fresh_server."
)


@pytest.fixture
def pages_flag():
    """The class flag, put back after the test: it is process-wide, like in a server."""
    saved = PagesManager.uses_pages_directory
    yield
    PagesManager.uses_pages_directory = saved


@pytest.fixture
def app_beside_pages(tmp_path):
    (tmp_path / "pages").mkdir()
    app = tmp_path / "app.py"
    app.write_text("")
    return str(app)


def test_a_pages_folder_turns_the_flag_on_for_a_first_session(pages_flag, app_beside_pages):
    assert hasattr(PagesManager, "uses_pages_directory"), WHAT_TO_DO
    PagesManager.uses_pages_directory = None  # a freshly started server
    PagesManager(app_beside_pages)
    assert PagesManager.uses_pages_directory is True, WHAT_TO_DO


def test_a_cleared_flag_stays_cleared_for_later_sessions(pages_flag, app_beside_pages):
    """Clearing it once per process is enough: later sessions' PagesManagers leave it alone."""
    PagesManager.uses_pages_directory = False
    PagesManager(app_beside_pages)
    assert PagesManager.uses_pages_directory is False, WHAT_TO_DO


def test_the_script_runner_runs_pages_alone_only_while_the_flag_is_on():
    source = inspect.getsource(script_runner.ScriptRunner)
    assert "if PagesManager.uses_pages_directory:" in source, WHAT_TO_DO
    assert callable(getattr(script_runner, "_mpa_v1", None)), WHAT_TO_DO  # the legacy runner the flag selects


def test_st_navigation_clears_the_same_flag():
    """ensure_router does what st.navigation does on its first call, no more."""
    assert "PagesManager.uses_pages_directory = False" in inspect.getsource(streamlit_navigation.navigation), WHAT_TO_DO


class Rerun(Exception):
    """Stands for st.rerun(), which ends a script run by raising."""


@pytest.fixture
def fake_session(monkeypatch, pages_flag):
    state: dict = {}
    monkeypatch.setattr(streamlit, "session_state", state)

    def rerun():
        raise Rerun

    monkeypatch.setattr(streamlit, "rerun", rerun)
    return state


def test_ensure_router_leaves_legacy_mode_and_reruns_a_first_unrouted_run(fake_session):
    PagesManager.uses_pages_directory = True
    with pytest.raises(Rerun):
        navigation.ensure_router()
    assert PagesManager.uses_pages_directory is False


@pytest.mark.parametrize("legacy, routed", [(False, False), (True, True), (False, True)])
def test_ensure_router_does_nothing_once_routed_or_out_of_legacy_mode(fake_session, legacy, routed):
    PagesManager.uses_pages_directory = legacy
    if routed:
        navigation.mark_routed()
    navigation.ensure_router()  # no rerun
    assert PagesManager.uses_pages_directory is legacy

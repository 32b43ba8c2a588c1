"""The app's pages, in one table read by the router (app.py) and by the tests that open every page."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEntry:
    file: str  # relative to app.py
    section: str  # its [section] in locales/*.toml; the title is "<section>.title"
    icon: str  # Material Symbols: drawn by Streamlit's own font, no emoji font needed
    url_path: str  # "" is the home page

    @property
    def title_key(self) -> str:
        return f"{self.section}.title"


PAGES = (
    PageEntry("pages/home.py", "home", ":material/home:", ""),
    PageEntry("pages/dataset.py", "dataset", ":material/grid_view:", "dataset"),
    PageEntry("pages/shapes.py", "shapes", ":material/straighten:", "shapes"),
    PageEntry("pages/train.py", "train", ":material/model_training:", "train"),
    PageEntry("pages/step.py", "step", ":material/footprint:", "step"),
    PageEntry("pages/draw.py", "draw", ":material/draw:", "draw"),
)


# Input widgets keep their values across a visit to another page with Streamlit's own persist_state="session"
# on each widget (Streamlit 1.67), so nothing here lists their keys.
ROUTED_KEY = "routed_by_app"  # st.session_state: app.py has run for this browser session
# Set by a page's job watcher (ui/job_watch.py) for the sidebar of the same run; cleared here at the start of
# every run, so a page that stopped before the sidebar was drawn leaves no flag for the next run.
PAGE_WATCHES_KEY = "job_watch_page_watches"


def mark_routed() -> None:
    """Called by app.py on every run, before the page: this browser session is routed through app.py."""
    import streamlit as st

    st.session_state[ROUTED_KEY] = True
    st.session_state.pop(PAGE_WATCHES_KEY, None)


def ensure_router() -> None:
    """Make sure a browser session's first page runs inside app.py's router; every page calls this first.

    With a folder named pages/ beside app.py, Streamlit treats the app as a legacy multipage app
    until st.navigation has run once in the server process. Until then, a deep link such as
    /dataset on a freshly started server runs pages/dataset.py alone: no sidebar, no language
    choice. Leaving that mode and rerunning lets app.py route the same URL as usual. Only a
    session's first run is rerun, which has no widget events that a rerun could lose. (AppTest
    re-enters legacy mode on every run; its later runs then show the page alone, as before.)
    """
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not st.session_state.get(ROUTED_KEY):
        PagesManager.uses_pages_directory = False  # what st.navigation itself does on its first call
        st.rerun()

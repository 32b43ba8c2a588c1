"""The app's pages, in one table read by the router (app.py) and by the tests that open every page."""

from __future__ import annotations

import re
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


# Input widgets whose values survive a visit to another page. Streamlit forgets a widget's value when a
# run does not draw it, fragment runs included (the sidebar's status refresh while a job trains), so each
# value is also copied to a plain dict that Streamlit never clears. Only widgets with fixed bounds and
# options are kept: a kept value outside a range that other inputs have since narrowed (the shape page's
# output position, the dataset page's enlarged sample) would make Streamlit raise. Buttons and uploaders
# cannot be written at all.
KEPT_WIDGETS = re.compile(
    r"shapes_(kind|n|in_channels|out_channels|ceil_mode|(conv|pool)_(f|s|d|p|preset))"
    r"|dataset_(split|count|digit|seed)"
    r"|train_(n_epochs|batch_size_train|batch_size_test|learning_rate|momentum|log_interval|random_seed|device)"
)
ROUTED_KEY = "routed_by_app"  # st.session_state: app.py has run for this browser session
KEPT_VALUES_KEY = "kept_widget_values"  # st.session_state: {widget key: its last value}


def mark_routed() -> None:
    """Called by app.py on every run, before the page: note the session is routed, keep page inputs.

    A widget's current value is recorded; one Streamlit has dropped since is put back from the record.
    """
    import streamlit as st

    st.session_state[ROUTED_KEY] = True
    kept = st.session_state.setdefault(KEPT_VALUES_KEY, {})
    for key in [key for key in st.session_state.keys() if KEPT_WIDGETS.fullmatch(key)]:
        # None is never kept: written to a selectbox's key it means "nothing chosen", so a None option
        # would show as an empty box. A widget left at None comes back with its default instead.
        if st.session_state[key] is None:
            kept.pop(key, None)
        else:
            kept[key] = st.session_state[key]
    for key, value in kept.items():
        st.session_state[key] = value  # written back even when present, so Streamlit keeps it this run too


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

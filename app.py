"""Router: the page list and the sidebar shared by every page. Run: streamlit run app.py

Nothing imported here imports torch: the page is drawn first, then the sidebar's data, device and model,
which wait for torch and the data (ui/data.py) on a server's first run. A page that calls st.stop() ends the
run before them.
"""

import streamlit as st

from ui.i18n import current_language, language_box, t
from ui.navigation import PAGES, mark_routed
from ui.sidebar import render_sidebar

mark_routed()
current_language()  # settle the default before the widget reads session_state
st.set_page_config(page_title=t("app.title"), page_icon="🔢", layout="wide")

with st.sidebar:
    language_box()

navigation = st.navigation(
    [
        st.Page(
            entry.file,
            title=t(entry.title_key),
            icon=entry.icon,
            url_path=entry.url_path or None,  # the default page lives at the root, ""
            default=not entry.url_path,
        )
        for entry in PAGES
    ]
)
sidebar_status = st.sidebar.container()  # its place, under the language box; filled after the page
navigation.run()
render_sidebar(sidebar_status)  # waits for the data on a server's first run: the page is on screen by then

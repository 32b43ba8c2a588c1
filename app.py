"""Router: the page list and the sidebar shared by every page. Run: streamlit run app.py

Nothing imported here imports torch: the data and the core load in the background (ui/data.py), started
once the first page is drawn.
"""

import streamlit as st

from ui.data import start_loading_data
from ui.i18n import LANGUAGE_KEY, current_language, languages, t
from ui.navigation import PAGES, mark_routed
from ui.sidebar import render_sidebar

mark_routed()
current_language()  # settle the default before the widget reads session_state
st.set_page_config(page_title=t("app.title"), page_icon="🔢", layout="wide")

with st.sidebar:
    names = languages()
    st.selectbox(t("app.language"), list(names), format_func=names.get, key=LANGUAGE_KEY, help=t("app.language_help"))

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
render_sidebar()
try:
    navigation.run()
finally:  # once the page is drawn (the load's imports would slow its run), and also when the page stopped
    start_loading_data()

"""For someone who has never seen the app: what it is, what each page teaches, and links to them."""

import streamlit as st

from ui.i18n import t
from ui.navigation import PAGES, ensure_router

ensure_router()

st.title(t("app.title"))
st.write(t("home.intro"))

steps = [entry for entry in PAGES if entry.url_path]  # every page but this one, in the order of the menu
for row_start in range(0, len(steps), 2):
    for column, entry in zip(st.columns(2), steps[row_start : row_start + 2]):
        with column.container(border=True):
            st.page_link(entry.file, label=t(entry.title_key), icon=entry.icon)
            st.write(t(f"home.teaches_{entry.section}"))

st.subheader(t("home.network_heading"))
network = st.container()  # filled last: its sizes come from the core, whose torch import takes seconds

st.subheader(t("home.sidebar_heading"))
st.write(t("home.sidebar_text"))

from mnist_core import FLAT_FEATURES  # noqa: E402  (the rest of the page is on screen meanwhile)

network.code(t("home.network_layers", flat_features=FLAT_FEATURES), language=None)
network.caption(t("home.network_note", flat_features=FLAT_FEATURES))

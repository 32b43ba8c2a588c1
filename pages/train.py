"""Training page: the tutorial's hyperparameters, a background job, live curves, checkpoints, results."""

from __future__ import annotations

import streamlit as st

from mnist_core import CheckpointError, checkpoint_bytes, config_errors
from mnist_core.checkpoint import MAX_CHECKPOINT_BYTES
from mnist_core.runtime import JobBusyError
from ui.data import data_or_stop
from ui.i18n import t
from ui.job_watch import watch_job
from ui.navigation import ensure_router
from ui.network_section import export_button, network_section
from ui.recipe_section import recipe_section
from ui.run_comparison import compare_runs
from ui.session import LIVE_REFRESH_SECONDS, get_session, per_model
from ui.train_live import live_views
from ui.train_results import results
from ui.train_settings import settings_form, show_config_errors

ensure_router()

UPLOAD_DONE_KEY = "train_upload_done"  # (file_id, the model loaded from it or None, error text or None)
DOWNLOAD_KEY = "train_download"  # the checkpoint file's bytes, made once per published model


def train_buttons(session, snapshot, config, recipe, network, data):
    """Train and Stop, and beside them the place of the progress line (in view after pressing Train)."""
    train_column, stop_column, progress_place = st.columns([1, 1, 4], vertical_alignment="center")
    ready = config is not None and recipe is not None and network.ok  # each section has said what is wrong
    if train_column.button(t("train.start"), type="primary", disabled=not ready or snapshot.active,
                           key="train_start"):
        try:
            if session.start_new(config, data, spec=network.spec, recipe=recipe):
                st.rerun()
        except ValueError as exc:  # e.g. a device that disappeared
            st.error(f"**{t('train.start_failed')}** {exc}")
    if stop_column.button(t("train.stop"), disabled=not snapshot.active, key="train_stop"):
        session.stop()
    return progress_place.container()


def checkpoint_section(model, snapshot, data) -> None:
    st.subheader(t("train.checkpoint_heading"))
    left, right = st.columns(2)
    with left:
        if model is not None:
            # No min_value/max_value, as in the form: Streamlit would refuse a typed 0 silently.
            more = st.number_input(t("train.more_epochs"), value=1, step=1, key="train_more_epochs")
            errors = config_errors({"n_epochs": more})  # the same limits as a new run's epochs
            if errors:
                show_config_errors(errors, "train.more_epochs")
            if st.button(t("train.continue"), disabled=snapshot.active or bool(errors),
                         key="train_continue"):
                if session.continue_training(int(more), data):
                    st.rerun()
            own = model.config
            st.caption(t("train.continue_settings", lr=f"{own.learning_rate:g}", momentum=f"{own.momentum:g}",
                         batch=own.batch_size_train))
            st.download_button(t("train.download"), data=per_model(DOWNLOAD_KEY, model, checkpoint_bytes),
                               file_name=f"mnist_cnn_epoch{model.epochs_done}.pt", mime="application/octet-stream",
                               help=t("train.download_help"))
        else:
            st.caption(t("train.no_model_yet"))
    with right:
        upload = st.file_uploader(t("train.upload"), type=["pt", "pth"], key="train_upload",
                                  max_upload_size=MAX_CHECKPOINT_BYTES // 2**20, help=t("train.upload_help"))
        if upload is not None and st.session_state.get(UPLOAD_DONE_KEY, (None,))[0] != upload.file_id:
            try:
                session.load_checkpoint(upload.getvalue(), name=upload.name)
            except (CheckpointError, JobBusyError) as exc:
                st.session_state[UPLOAD_DONE_KEY] = (upload.file_id, None, str(exc))
            else:
                st.session_state[UPLOAD_DONE_KEY] = (upload.file_id, session.model(), None)
                st.rerun()
        if upload is not None:  # worded when drawn, so a language switch translates it
            _, loaded, error = st.session_state[UPLOAD_DONE_KEY]
            if error is not None:
                st.error(f"**{t('train.upload_failed')}** {error}")
            elif loaded is model:  # only until that model is trained on or replaced
                st.success(t("train.upload_ok", name=upload.name))


st.title(t("train.title"))
st.markdown(t("train.intro"))
data = data_or_stop()
session = get_session()

network = network_section()
config = settings_form(data)
recipe = recipe_section(config, data)
export_button(network, config, recipe)
snapshot = session.snapshot()  # the buttons' state; the views read the watcher's own, taken after them
progress_place = train_buttons(session, snapshot, config, recipe, network, data)
views = live_views(session, data.n_train, progress_place)

model = session.model()
checkpoint_section(model, snapshot, data)
if model is not None and not snapshot.active:
    results(model, data)
compare_runs(session)
watch_job(views, LIVE_REFRESH_SECONDS)  # last: it draws the live views above from one snapshot

"""Training page: the tutorial's hyperparameters, a background job, live curves, checkpoints, results."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core import (CheckpointError, ConfigError, TrainConfig, available_devices, checkpoint_bytes,
                        config_errors)
from mnist_core.checkpoint import MAX_CHECKPOINT_BYTES
from mnist_core.runtime import JobBusyError, JobStatus, default_limiter
from ui import train_charts
from ui.data import data_or_stop
from ui.i18n import t
from ui.navigation import ensure_router
from ui.network_section import export_button, network_section
from ui.recipe_section import recipe_section
from ui.run_comparison import compare_runs
from ui.train_results import results
from ui.session import LIVE_REFRESH_SECONDS, get_session, per_model, server_busy_message

ensure_router()

WAS_ACTIVE_KEY = "train_was_active"
UPLOAD_DONE_KEY = "train_upload_done"  # (file_id, the model loaded from it or None, error text or None)
DOWNLOAD_KEY = "train_download"  # the checkpoint file's bytes, made once per published model
GUESSING_ACCURACY = 0.1  # ten digits, about equally common in the test split (892 to 1,135 each)
FIELDS = ("n_epochs", "batch_size_train", "batch_size_test", "learning_rate", "momentum", "log_interval",
          "random_seed", "device")


def widget_key(field: str) -> str:
    return f"train_{field}"


def reset_settings() -> None:
    for field, value in TrainConfig().to_dict().items():
        st.session_state[widget_key(field)] = value


def settings_form() -> TrainConfig | None:
    """Every TrainConfig field as a widget; the config, or None after showing why it is invalid.

    The number inputs have no min_value or max_value: Streamlit would refuse an out-of-range number
    silently and keep the last one, so TrainConfig checks them and the page names every bad field.
    """
    for field, value in TrainConfig().to_dict().items():  # kept across pages by ui.navigation.KEPT_WIDGETS
        st.session_state.setdefault(widget_key(field), value)
    st.subheader(t("train.settings_heading"))
    left, middle, right = st.columns(3)
    left.number_input(t("train.epochs"), step=1, key=widget_key("n_epochs"),
                      persist_state="session", help=t("train.epochs_help"))
    # The learning rate and momentum are drawn in the Recipe section, beside the optimizer that uses them.
    middle.number_input(t("train.batch_size_train"), step=16, key=widget_key("batch_size_train"),
                        persist_state="session", help=t("train.batch_size_train_help"))
    middle.number_input(t("train.batch_size_test"), step=100, key=widget_key("batch_size_test"),
                        persist_state="session", help=t("train.batch_size_test_help"))
    right.number_input(t("train.log_interval"), step=1, key=widget_key("log_interval"), persist_state="session",
                       help=t("train.log_interval_help"))
    right.number_input(t("train.random_seed"), step=1, key=widget_key("random_seed"), persist_state="session",
                       help=t("train.random_seed_help"))
    devices = available_devices()
    if len(devices) > 1:
        right.selectbox(t("train.device"), ["auto", *devices], key=widget_key("device"),
                        persist_state="session", help=t("train.device_help"))
    else:
        st.session_state[widget_key("device")] = "auto"
    st.button(t("train.reset"), on_click=reset_settings, help=t("train.reset_help"), key="train_reset")

    values = {field: st.session_state[widget_key(field)] for field in FIELDS}
    errors = config_errors(values)
    if errors:
        show_config_errors(errors)
        return None
    return TrainConfig(**values)


def show_config_errors(errors: list[ConfigError], label_key: str | None = None) -> None:
    """One message naming every refused field, in the form's words (label_key: the label, where it differs)."""
    reasons = [
        t(f"train.config_error_{exc.rule}", value=exc.value, low=exc.low, high=exc.high,
          field=t(label_key or ("train.epochs" if exc.field == "n_epochs" else f"train.{exc.field}")))
        for exc in errors
    ]
    heading = f"**{t('train.invalid_settings')}**"
    st.error(f"{heading} {reasons[0]}" if len(reasons) == 1 else "\n".join([heading, *(f"- {r}" for r in reasons)]))


def barely_learning_warning(model) -> None:
    """A finite loss can still mean a net that learned nothing: too large a step (every image gets the same
    answer) or too small a one. Say which is likely, rather than leave a green "finished" to explain it."""
    if model is None or not model.epochs_done or model.history.test_accuracy[-1] >= 2 * GUESSING_ACCURACY:
        return
    lr, tutorial_lr = model.config.learning_rate, TrainConfig().learning_rate
    cause = "train.barely_learning_large" if lr > tutorial_lr else "train.barely_learning_small"
    st.warning(t("train.barely_learning", epochs=model.epochs_done, accuracy=f"{model.history.test_accuracy[-1]:.1%}",
                 guessing=f"{GUESSING_ACCURACY:.0%}") + " " + t(cause, lr=f"{lr:g}", tutorial_lr=f"{tutorial_lr:g}"))


def status_message(snapshot) -> None:
    if snapshot.status == JobStatus.WAITING:
        limiter = default_limiter()
        if snapshot.queue_position:
            st.info(t("train.waiting_position", position=snapshot.queue_position, busy=limiter.in_use,
                      slots=limiter.slots))
        else:  # a slot was free: it starts in a moment
            st.info(t("train.waiting_slot", busy=limiter.in_use, slots=limiter.slots))
    elif snapshot.status == JobStatus.BUSY:  # refused at once, nothing changed: the learner may press again later
        st.warning(server_busy_message())
    elif snapshot.status == JobStatus.STOPPED and snapshot.run_examples_done == 0:
        st.info(t("train.stopped_before_start"))  # stopped while testing first or waiting for a slot
    elif snapshot.status == JobStatus.STOPPED:
        st.info(t("train.stopped", epochs=snapshot.epochs_done, examples=snapshot.run_examples_done))
    elif snapshot.status == JobStatus.DIVERGED:
        st.error(f"**{t('train.diverged')}** {snapshot.error}")
    elif snapshot.status == JobStatus.FAILED:
        st.error(f"**{t('train.failed')}** {snapshot.error}")
        with st.expander(t("train.failed_details")):
            st.code(snapshot.error_details or "")
    elif snapshot.status == JobStatus.FINISHED and snapshot.epochs_done:
        st.success(t("train.finished", epochs=snapshot.epochs_done))
    if not snapshot.active and snapshot.status not in (JobStatus.DIVERGED, JobStatus.FAILED):  # those explain themselves above
        barely_learning_warning(session.model())
    if snapshot.checkpoint_error:
        st.warning(f"**{t('train.checkpoint_failed')}** {snapshot.checkpoint_error}")


def epoch_table(history) -> pd.DataFrame:
    return pd.DataFrame({
        t("train.table_epoch"): range(len(history.test_losses)),
        t("train.table_examples"): history.test_counter,
        t("train.table_test_loss"): [round(loss, 4) for loss in history.test_losses],
        t("train.table_accuracy"): [f"{100 * a:.2f}%" for a in history.test_accuracy],
    })


def live_view() -> None:
    """Polled by a fragment while a job runs: one chart per run, so no duplicate element ids."""
    snapshot = session.snapshot()
    if not snapshot.active and st.session_state.get(WAS_ACTIVE_KEY):
        st.session_state[WAS_ACTIVE_KEY] = False
        st.rerun()  # the results and the buttons below need a full run
    status_message(snapshot)
    if snapshot.active:
        eta = snapshot.eta_seconds
        st.progress(snapshot.progress, text=t(
            "train.progress", epoch=snapshot.epoch, epochs=snapshot.target_epochs,
            percent=f"{100 * snapshot.progress:.0f}", eta="—" if eta is None else f"{eta:.0f}"))
    history = snapshot.history
    if not history.test_losses:
        st.caption(t("train.no_curve_yet"))
        return
    rate = snapshot.examples_per_second
    columns = st.columns(3)
    columns[0].metric(t("train.metric_accuracy"), f"{100 * history.test_accuracy[-1]:.2f}%")
    columns[1].metric(t("train.metric_speed"), "—" if rate is None else f"{rate:,.0f}")
    columns[2].metric(t("train.metric_examples"), f"{history.test_counter[-1]:,}" if not snapshot.active
                      else f"{history.train_counter[-1] if history.train_counter else 0:,}")
    st.plotly_chart(train_charts.training_figure(history), key="train_live_chart")
    st.dataframe(epoch_table(history), hide_index=True)


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
                    st.session_state[WAS_ACTIVE_KEY] = True
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
config = settings_form()
recipe = recipe_section(config, data)
export_button(network, config, recipe)
snapshot = session.snapshot()
train_column, stop_column, _ = st.columns([1, 1, 4])
ready = config is not None and recipe is not None and network.ok  # each section has said what is wrong
if train_column.button(t("train.start"), type="primary", disabled=not ready or snapshot.active, key="train_start"):
    try:
        if session.start_new(config, data, spec=network.spec, recipe=recipe):
            st.rerun()
    except ValueError as exc:  # e.g. a device that disappeared
        st.error(f"**{t('train.start_failed')}** {exc}")
if stop_column.button(t("train.stop"), disabled=not snapshot.active, key="train_stop"):
    session.stop()
st.session_state[WAS_ACTIVE_KEY] = snapshot.active

st.subheader(t("train.live_heading"))
st.fragment(run_every=LIVE_REFRESH_SECONDS if snapshot.active else None)(live_view)()

model = session.model()
checkpoint_section(model, snapshot, data)
if model is not None and not snapshot.active:
    results(model, data)
compare_runs(session)

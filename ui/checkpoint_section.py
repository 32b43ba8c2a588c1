"""The Train page's checkpoint section: the current run's saved epochs (each downloadable and loadable), continued
training, and uploads. Replacing a trained model asks first, naming both models; nothing changes until Replace.

The list and its line of text are a view of the job (ui.job_watch): drawn from the same snapshot as the sidebar
and the live panel, so they never say "nothing trained" while the sidebar counts epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from mnist_core import CheckpointError, TrainingState, checkpoint_bytes, config_errors
from mnist_core.checkpoint import MAX_CHECKPOINT_BYTES
from mnist_core.runtime import EpochCheckpoint, JobBusyError, JobSnapshot, MissingEpochError, TrainingSession
from ui.i18n import percent, t
from ui.job_watch import JobView
from ui.net_editor import preset_name
from ui.session import per_model
from ui.train_settings import show_config_errors
from ui.uploads import read_once

UPLOAD_DONE_KEY = "train_upload_done"  # read_once's: (file_id, the checked checkpoint or the reason it was refused)
DOWNLOAD_KEY = "train_download"  # the current model's file bytes, made once per published model
LOADED_KEY = "train_checkpoint_loaded"  # (the model a load made, its success message key, the message's values)
REFUSED_KEY = "train_checkpoint_refused"  # why a Replace changed nothing, shown once
PENDING_KEY = "train_checkpoint_pending"  # a replacement waiting for Replace or Keep
PICK_KEY = "train_checkpoint_epoch"  # the saved-epoch picker
PICKED_FROM_KEY = "train_checkpoint_epoch_list"  # the list the picker last offered: a new one starts at its newest


@dataclass(frozen=True)
class Pending:
    """A model that would replace the trained one: an uploaded file (state, name) or a saved epoch of this run."""

    epoch: int
    accuracy: float | None
    name: str = ""  # the uploaded file's name; "" for an epoch of this run
    state: TrainingState | None = None  # the upload, read and checked; None for an epoch (read on Replace)
    examples_into_epoch: int = 0  # trained past ``epoch`` epochs: the model was stopped inside the next one


def checkpoint_file_name(epochs: int, examples_into_epoch: int) -> str:
    """mnist_cnn_epoch3.pt; mnist_cnn_epoch3_plus640.pt for a model stopped 640 examples into epoch 4."""
    partial = f"_plus{examples_into_epoch}" if examples_into_epoch else ""
    return f"mnist_cnn_epoch{epochs}{partial}.pt"


def partial_values(epochs: int, examples_into_epoch: int) -> dict:
    """The values every partial text takes, worded as the sidebar words a model stopped inside an epoch."""
    return {"epochs": epochs, "epoch": epochs + 1, "examples": f"{examples_into_epoch:,}"}


def epoch_ranges(epochs: list[int]) -> str:
    """[1, 2, 3, 5] -> "1–3, 5": a run of 50 saved epochs stays one short line."""
    parts, start = [], None
    for index, epoch in enumerate(epochs):
        start = epoch if start is None else start
        if index + 1 == len(epochs) or epochs[index + 1] != epoch + 1:
            parts.append(str(epoch) if start == epoch else f"{start}–{epoch}")
            start = None
    return ", ".join(parts)


def saved_epochs_view(session: TrainingSession, snapshot: JobSnapshot) -> None:
    """What this run has saved, from the one snapshot every view of the job draws from."""
    saved = snapshot.epoch_checkpoints
    if saved and snapshot.active:
        st.caption(t("train.checkpoint_saved_so_far", epochs=epoch_ranges([entry.epoch for entry in saved])))
    elif saved:
        st.caption(t("train.checkpoint_saved", count=len(saved)))
    elif snapshot.active:
        st.caption(t("train.checkpoint_training_none_yet"))
    elif session.model() is not None:
        st.caption(t("train.checkpoint_none_in_run"))
    else:
        st.caption(t("train.no_model_yet"))
    if saved:
        epochs = [entry.epoch for entry in saved]
        if any(entry.examples_into_epoch for entry in saved):  # one type per column, or Arrow refuses the table
            epochs = [t("train.checkpoint_partial_entry", **partial_values(entry.epoch, entry.examples_into_epoch))
                      if entry.examples_into_epoch else str(entry.epoch) for entry in saved]
        st.dataframe(pd.DataFrame({
            t("train.checkpoint_col_epoch"): epochs,
            t("train.checkpoint_col_accuracy"): [percent(entry.test_accuracy) for entry in saved],
            t("train.checkpoint_col_examples"): [f"{entry.examples_seen:,}" for entry in saved],
            t("train.checkpoint_col_from"): [entry.source or t("train.checkpoint_trained_here") for entry in saved],
        }), hide_index=True)


def option_label(entry: EpochCheckpoint) -> str:
    """"3 · 81.2%", "3 + 640 · 81.2%" for a file stopped 640 examples into epoch 4: no words, so the picker's
    choice survives a language switch (its state is this text)."""
    partial = f" + {entry.examples_into_epoch:,}" if entry.examples_into_epoch else ""
    return f"{entry.epoch}{partial} · {percent(entry.test_accuracy)}"


def is_current(entry: EpochCheckpoint, model: TrainingState | None) -> bool:
    return model is not None and (model.epochs_done, model.examples_seen) == (entry.epoch, entry.examples_seen)


def epoch_actions(model: TrainingState | None, snapshot: JobSnapshot) -> None:
    """Pick a saved epoch, then download it or go back to it (idle only: the list changes while training)."""
    saved = {entry.epoch: entry for entry in snapshot.epoch_checkpoints}
    if snapshot.active or not saved:
        return
    offered = tuple((entry.epoch, entry.examples_seen) for entry in saved.values())
    if st.session_state.get(PICKED_FROM_KEY) != offered:
        st.session_state[PICKED_FROM_KEY] = offered
        st.session_state.pop(PICK_KEY, None)
    pick, download, load = st.columns([2, 2, 2], vertical_alignment="bottom")
    epoch = pick.selectbox(t("train.checkpoint_pick"), list(saved), index=len(saved) - 1, key=PICK_KEY,
                           format_func=lambda n: option_label(saved[n]))
    entry = saved[epoch]
    partial = partial_values(epoch, entry.examples_into_epoch) if entry.examples_into_epoch else None
    try:
        data = entry.path.read_bytes()
    except OSError as exc:  # deleted under us (another tab started a new run): say so, offer nothing
        st.error(f"**{t('train.checkpoint_file_gone')}** {exc.strerror or exc}")
        return
    download_label = (t("train.checkpoint_download_partial", **partial) if partial
                      else t("train.checkpoint_download_epoch", epoch=epoch))
    download.download_button(download_label, data=data, file_name=checkpoint_file_name(epoch, entry.examples_into_epoch),
                             mime="application/octet-stream", key="train_checkpoint_download_epoch")
    load_label = t("train.checkpoint_load_partial", **partial) if partial else t("train.checkpoint_load_epoch", epoch=epoch)
    if load.button(load_label, disabled=is_current(entry, model), key="train_checkpoint_load_epoch"):
        st.session_state[PENDING_KEY] = Pending(epoch, entry.test_accuracy,
                                                examples_into_epoch=entry.examples_into_epoch)
        st.rerun()


def describe_current(model: TrainingState) -> str:
    network = t(f"lab.preset_{preset_name(model.spec)}")
    accuracy = percent(model.history.last_test_accuracy)
    if model.examples_into_epoch:  # stopped inside an epoch: named as the sidebar names it
        return t("train.checkpoint_model_partial", **partial_values(model.epochs_done, model.examples_into_epoch),
                 accuracy=accuracy, network=network)
    return t("train.checkpoint_model", epoch=model.epochs_done, accuracy=accuracy, network=network)


def describe_pending(pending: Pending) -> str:
    """The model that would come in, partial if it was stopped inside an epoch (as describe_current says)."""
    accuracy = percent(pending.accuracy)
    if pending.examples_into_epoch:
        partial = partial_values(pending.epoch, pending.examples_into_epoch)
        if pending.state is None:
            return t("train.checkpoint_model_of_run_partial", **partial, accuracy=accuracy)
        return t("train.checkpoint_model_from_file_partial", **partial, accuracy=accuracy, name=pending.name)
    if pending.state is None:
        return t("train.checkpoint_model_of_run", epoch=pending.epoch, accuracy=accuracy)
    return t("train.checkpoint_model_from_file", epoch=pending.epoch, accuracy=accuracy, name=pending.name)


def replace_with(session: TrainingSession, pending: Pending) -> None:
    """Use the pending model; a refusal (busy, damaged file) is kept to show and changes nothing."""
    try:
        if pending.state is None:
            session.load_epoch(pending.epoch)
            message = (("train.checkpoint_loaded_partial", partial_values(pending.epoch, pending.examples_into_epoch))
                       if pending.examples_into_epoch else ("train.checkpoint_loaded_epoch", {"epoch": pending.epoch}))
        else:
            session.adopt_checkpoint(pending.state, name=pending.name)
            message = ("train.upload_ok", {"name": pending.name})
    except JobBusyError:
        st.session_state[REFUSED_KEY] = t("train.checkpoint_busy")
    except (CheckpointError, MissingEpochError) as exc:
        st.session_state[REFUSED_KEY] = str(exc)
    else:
        st.session_state[LOADED_KEY] = (session.model(), *message)


def confirm_replacement(session: TrainingSession, model: TrainingState | None, snapshot: JobSnapshot) -> None:
    """Ask before a trained model is replaced; Replace uses the new one, Keep leaves everything as it was."""
    pending = st.session_state.get(PENDING_KEY)
    if pending is None:
        return
    if model is None and not snapshot.active:  # nothing to lose (e.g. the session was forgotten): no question needed
        del st.session_state[PENDING_KEY]
        replace_with(session, pending)
        st.rerun()
    if model is None:  # a first run trains its first epoch: nothing to replace yet, Replace comes when it ends
        st.warning(t("train.checkpoint_upload_waits", new=describe_pending(pending)))
    else:
        note = ("train.checkpoint_replace_note_upload" if pending.state is not None
                else "train.checkpoint_replace_note_epoch")
        st.warning(t("train.checkpoint_replace_question", current=describe_current(model),
                     new=describe_pending(pending)) + " " + t(note))
    replace, keep, _ = st.columns([1, 1, 3])
    if replace.button(t("train.checkpoint_replace"), type="primary", disabled=snapshot.active,
                      key="train_checkpoint_replace"):
        del st.session_state[PENDING_KEY]
        replace_with(session, pending)
        st.rerun()
    if keep.button(t("train.checkpoint_keep"), key="train_checkpoint_keep"):
        del st.session_state[PENDING_KEY]
        st.rerun()


def continue_and_download(session: TrainingSession, model: TrainingState, snapshot: JobSnapshot, data) -> None:
    # No min_value/max_value, as in the form: Streamlit would refuse a typed 0 silently.
    more = st.number_input(t("train.more_epochs"), value=1, step=1, key="train_more_epochs")
    errors = config_errors({"n_epochs": more})  # the same limits as a new run's epochs
    if errors:
        show_config_errors(errors, "train.more_epochs")
    if st.button(t("train.continue"), disabled=snapshot.active or bool(errors), key="train_continue"):
        if session.continue_training(int(more), data):
            st.rerun()
    own = model.config
    st.caption(t("train.continue_settings", lr=f"{own.learning_rate:g}", momentum=f"{own.momentum:g}",
                 batch=own.batch_size_train))
    st.download_button(t("train.download"), data=per_model(DOWNLOAD_KEY, model, checkpoint_bytes),
                       file_name=checkpoint_file_name(model.epochs_done, model.examples_into_epoch),
                       mime="application/octet-stream",
                       help=t("train.download_help"))


def read_upload(session: TrainingSession):
    """The checked checkpoint, or why it cannot be used; nothing changes here. Reading needs no idle job (only
    Replace does, and waits for one), so a file dropped in while training is not refused for good: read_once
    keeps this result for as long as the file stays in the uploader."""
    def read(upload) -> TrainingState | CheckpointError:
        try:
            return session.read_checkpoint(upload.getvalue())
        except CheckpointError as exc:
            return exc
    return read


def upload_checkpoint(session: TrainingSession, model: TrainingState | None) -> None:
    upload = st.file_uploader(t("train.upload"), type=["pt", "pth"], key="train_upload",
                              max_upload_size=MAX_CHECKPOINT_BYTES // 2**20, help=t("train.upload_help"))
    read = read_once(upload, UPLOAD_DONE_KEY, read_upload(session))
    if read is None:
        return
    result = read.result
    if isinstance(result, CheckpointError):
        st.error(f"**{t('train.upload_failed')}** {result}")
    elif read.fresh:
        pending = Pending(result.epochs_done, result.history.last_test_accuracy, upload.name, result, result.examples_into_epoch)
        if model is None and not session.job.active:  # nothing trained to lose
            replace_with(session, pending)
        else:
            st.session_state[PENDING_KEY] = pending
        st.rerun()


def loaded_message(model: TrainingState | None) -> None:
    """The last load's outcome: a refusal once; a success only while its model is the current one."""
    refused = st.session_state.pop(REFUSED_KEY, None)
    if refused is not None:
        st.error(f"**{t('train.checkpoint_refused')}** {refused}")
    loaded, key, values = st.session_state.get(LOADED_KEY, (None, None, {}))
    if loaded is not None and loaded is model:  # worded when drawn, so a language switch translates it
        st.success(t(key, **values))


def checkpoint_section(session: TrainingSession, model: TrainingState | None, snapshot: JobSnapshot, data) -> JobView:
    """Draw the section; returns its live view (the saved epochs) for the page's ui.job_watch watcher."""
    st.subheader(t("train.checkpoint_heading"))
    view = JobView(st.container(), lambda now: saved_epochs_view(session, now))
    epoch_actions(model, snapshot)
    confirm_replacement(session, model, snapshot)
    loaded_message(model)
    left, right = st.columns(2)
    with left:
        if model is not None:
            continue_and_download(session, model, snapshot, data)
    with right:
        upload_checkpoint(session, model)
    return view

"""The Draw page's model sources: this session's model, checkpoints in the project's folder, an uploaded one."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mnist_core import CheckpointError
from mnist_core.checkpoint import CHECKPOINT_SUFFIX, DEFAULT_CHECKPOINT_DIR, MAX_CHECKPOINT_BYTES
from mnist_core.inference import inference_model, load_inference_model
from ui.i18n import percent, t
from ui.session import per_model
from ui.uploads import read_once

SOURCE_SESSION, SOURCE_UPLOAD, FILE_PREFIX = "session", "upload", "file:"
UPLOADED_MODEL_KEY = "draw_uploaded_model"  # (net or None, error or None), kept by read_once
SESSION_MODEL_KEY = "draw_session_model"


def checkpoint_files() -> list[Path]:
    """Checkpoints the CLI (or anyone) wrote in the project's folder, newest first."""
    if not DEFAULT_CHECKPOINT_DIR.is_dir():
        return []
    files = [p for p in DEFAULT_CHECKPOINT_DIR.glob(f"*{CHECKPOINT_SUFFIX}") if p.is_file()]
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)


@st.cache_resource(show_spinner=False, max_entries=8)
def _file_model(path: str, modified_ns: int):
    """Read-only nets shared by every session; a rewritten file has a new mtime, so it is read again."""
    return load_inference_model(path)


def _read_checkpoint(upload) -> tuple:
    """(net, None) or (None, the refusal): load_checkpoint refuses a file over MAX_CHECKPOINT_BYTES unread."""
    try:
        return load_inference_model(upload), None  # the upload's name is named in errors
    except CheckpointError as exc:
        return None, str(exc)


def uploaded_checkpoint_model():
    uploaded = st.file_uploader(t("draw.checkpoint_upload"), type=["pt", "pth"], key="draw_checkpoint_file",
                                max_upload_size=MAX_CHECKPOINT_BYTES // 2**20,
                                help=t("draw.checkpoint_upload_help", limit=MAX_CHECKPOINT_BYTES // 2**20))
    loaded = read_once(uploaded, UPLOADED_MODEL_KEY, _read_checkpoint)
    if loaded is None:
        return None
    model, error = loaded.result
    if error is not None:
        st.error(f"**{t('draw.checkpoint_failed')}** {error}")
    return model


def model_options(trained, files: list[Path]) -> list[str]:
    """The model box's choices, best first: this session's model, the folder's checkpoints, an upload."""
    return ([SOURCE_SESSION] if trained is not None else []) + [FILE_PREFIX + p.name for p in files] + [SOURCE_UPLOAD]


def option_labels(options: list[str], trained) -> dict[str, str]:
    """Each choice worded now: the box's format_func is also called outside the script run, where t() cannot."""
    def label(option: str) -> str:
        if option == SOURCE_SESSION:
            return t("draw.source_session", epochs=trained.epochs_done,
                     accuracy=percent(trained.history.last_test_accuracy))
        if option == SOURCE_UPLOAD:
            return t("draw.source_upload")
        return t("draw.source_file", name=option.removeprefix(FILE_PREFIX), folder=DEFAULT_CHECKPOINT_DIR)

    return {option: label(option) for option in options}


def model_of(choice: str, trained):
    """The net behind a choice, in eval mode on the CPU; None after saying why it cannot be read."""
    if choice == SOURCE_SESSION:
        return per_model(SESSION_MODEL_KEY, trained, inference_model)  # a CPU copy, not one per stroke
    if choice == SOURCE_UPLOAD:
        return uploaded_checkpoint_model()
    path = DEFAULT_CHECKPOINT_DIR / choice.removeprefix(FILE_PREFIX)
    try:
        return _file_model(str(path), path.stat().st_mtime_ns)
    except (CheckpointError, OSError) as exc:
        st.error(f"**{t('draw.checkpoint_failed')}** {exc}")
        return None

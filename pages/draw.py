"""Drawing page: draw or upload a digit, see what the net sees, read its answer and look inside the net."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit_drawable_canvas import st_canvas  # only importable inside a running app

from mnist_core import CheckpointError
from mnist_core.checkpoint import CHECKPOINT_SUFFIX, DEFAULT_CHECKPOINT_DIR, MAX_CHECKPOINT_BYTES
from mnist_core.inference import load_inference_model, inference_model
from mnist_core.runtime import JobStatus
from mnist_core.preprocess import (
    MAX_IMAGE_BYTES,
    BlankImageError,
    ImageReadError,
    load_image,
    prepare_mnist_style,
    prepare_naive,
)
from ui.draw_sections import show_answer, show_inside, show_preparation, show_saliency
from ui.i18n import t
from ui.job_watch import JobView, watch_job
from ui.navigation import ensure_router
from ui.session import (
    LIVE_REFRESH_SECONDS,
    QUICK_MODEL_CONFIG,
    get_session,
    per_model,
    session_model,
    start_training,
)
from ui.uploads import read_once

ensure_router()

CANVAS_SIDE = 280  # px; the canvas is 10x the 28 px MNIST field
DEFAULT_STROKE = 20  # px on the canvas: about MNIST's 2 px stroke once the digit is fitted to 20 px
SOURCE_SESSION, SOURCE_UPLOAD, FILE_PREFIX = "session", "upload", "file:"
INPUT_DRAW, INPUT_UPLOAD = "draw", "upload"
CANVAS_GENERATION_KEY = "draw_canvas_generation"  # bumped by Clear: a new key gives an empty canvas
MODEL_SOURCE_KEY = "draw_model_source"
OFFERED_SOURCES_KEY = "draw_offered_sources"  # the model choices of the previous run
UPLOADED_MODEL_KEY = "draw_uploaded_model"  # (net or None, error or None), kept by read_once
SESSION_MODEL_KEY = "draw_session_model"


def clear_canvas() -> None:
    st.session_state[CANVAS_GENERATION_KEY] = st.session_state.get(CANVAS_GENERATION_KEY, 0) + 1


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


def quick_training_progress() -> None:
    """The quick model's progress while it trains; the job watcher asks for a full run, to pick it up, at the end."""
    def progress(snapshot) -> None:
        if snapshot.active:
            st.progress(snapshot.progress, text=t("draw.training_progress", epoch=snapshot.epoch,
                                                  epochs=snapshot.target_epochs,
                                                  percent=f"{100 * snapshot.progress:.0f}"))

    watch_job([JobView(st.container(), progress)], LIVE_REFRESH_SECONDS)


def choose_model():
    """The model picker; the chosen net in eval mode, or None (with the quick-train offer shown)."""
    session = get_session()
    snapshot = session.snapshot()
    if snapshot.status in (JobStatus.DIVERGED, JobStatus.FAILED) and snapshot.error:
        st.error(f"**{t('draw.training_failed')}** {snapshot.error}")
    trained = session_model()
    files = checkpoint_files()
    options = ([SOURCE_SESSION] if trained is not None else []) + [FILE_PREFIX + p.name for p in files]
    options.append(SOURCE_UPLOAD)

    def label(option: str) -> str:
        if option == SOURCE_SESSION:
            accuracy = trained.history.test_accuracy[-1] if trained.history.test_accuracy else None
            return t("draw.source_session", epochs=trained.epochs_done,
                     accuracy="—" if accuracy is None else f"{accuracy:.1%}")
        if option == SOURCE_UPLOAD:
            return t("draw.source_upload")
        return t("draw.source_file", name=option.removeprefix(FILE_PREFIX), folder=DEFAULT_CHECKPOINT_DIR)

    if trained is None and not files:
        with st.container(border=True):
            st.markdown(t("draw.no_model"))
            if snapshot.active:
                quick_training_progress()
            elif st.button(t("draw.quick_train"), type="primary", icon=":material/bolt:", key="draw_quick_train"):
                try:
                    start_training()
                except ValueError as exc:  # e.g. the server's training slots are all busy
                    st.error(f"**{t('draw.training_failed')}** {exc}")
                else:
                    st.rerun()
            st.caption(t("draw.quick_train_note", learning_rate=QUICK_MODEL_CONFIG.learning_rate,
                         momentum=QUICK_MODEL_CONFIG.momentum))
    elif snapshot.active:
        st.caption(t("draw.training_elsewhere"))

    offered_before = st.session_state.get(OFFERED_SOURCES_KEY)
    if st.session_state.get(MODEL_SOURCE_KEY) not in options or (
        offered_before is not None and options[0] not in offered_before
    ):
        st.session_state[MODEL_SOURCE_KEY] = options[0]  # a model just appeared (or vanished): take the best one
    st.session_state[OFFERED_SOURCES_KEY] = options
    choice = st.selectbox(t("draw.model_source"), options, format_func=label, key=MODEL_SOURCE_KEY,
                          help=t("draw.model_source_help", folder=DEFAULT_CHECKPOINT_DIR))
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


def drawn_image():
    """The canvas (with its stroke width and Clear) -> its RGBA array, or None before the first stroke."""
    stroke_width = st.slider(t("draw.stroke_width"), 5, 45, DEFAULT_STROKE, key="draw_stroke_width",
                             help=t("draw.stroke_width_help"))
    generation = st.session_state.get(CANVAS_GENERATION_KEY, 0)
    with st.container(border=True, width="content"):
        canvas = st_canvas(stroke_width=stroke_width, stroke_color="#000000", height=CANVAS_SIDE,
                           width=CANVAS_SIDE, drawing_mode="freedraw", return_image_data=True,
                           key=f"draw_canvas_{generation}")
    st.button(t("draw.clear"), on_click=clear_canvas, icon=":material/delete:", key="draw_clear")
    st.caption(t("draw.canvas_note"))
    return canvas.image_data


def uploaded_image():
    """An uploaded photo or scan -> its pixels, or None (after saying why when it cannot be read)."""
    uploaded = st.file_uploader(t("draw.image_upload"), type=["png", "jpg", "jpeg"], key="draw_image_file",
                                help=t("draw.image_upload_help", limit=MAX_IMAGE_BYTES // 2**20))
    if uploaded is None:
        return None
    try:
        image = load_image(uploaded.getvalue(), name=uploaded.name)
    except ImageReadError as exc:
        st.error(f"**{t('draw.image_failed')}** {t(f'draw.image_error_{exc.reason}', **exc.values)}")
        return None
    with st.container(border=True, width="content"):  # framed like the canvas: a white page would melt into ours
        st.image(uploaded.getvalue(), caption=uploaded.name, width=CANVAS_SIDE)
    return image


st.title(t("draw.title"))
st.markdown(t("draw.intro"))
model = choose_model()

input_column, answer_column = st.columns(2, gap="large")
with input_column:
    source = st.radio(t("draw.input_source"), [INPUT_DRAW, INPUT_UPLOAD], horizontal=True, key="draw_input",
                      format_func=lambda option: t(f"draw.input_{option}"))
    image = drawn_image() if source == INPUT_DRAW else uploaded_image()
    compare = st.toggle(t("draw.compare_naive"), key="draw_compare_naive", help=t("draw.compare_naive_help"))

prepared = naive = None
with answer_column:
    if image is None:
        st.info(t("draw.waiting_draw" if source == INPUT_DRAW else "draw.waiting_upload"))
    else:
        try:
            prepared = prepare_mnist_style(image)
            naive = prepare_naive(image) if compare else None
        except BlankImageError:
            st.info(t("draw.blank"))
        else:
            if model is None:
                st.info(t("draw.need_model"))
            else:
                show_answer(model, prepared, naive)

if prepared is not None:
    show_preparation(prepared, naive)
    if model is not None:
        show_inside(model, prepared)
        show_saliency(model, prepared)

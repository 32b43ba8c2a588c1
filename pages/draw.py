"""Drawing page: draw or upload a digit, see what the net sees, read its answer and look inside the net."""

from __future__ import annotations

import streamlit as st
from streamlit_drawable_canvas import st_canvas  # only importable inside a running app

from mnist_core.checkpoint import DEFAULT_CHECKPOINT_DIR
from mnist_core.runtime import JobStatus
from mnist_core.preprocess import (
    MAX_IMAGE_BYTES,
    BlankImageError,
    ImageReadError,
    load_image,
    prepare_mnist_style,
    prepare_naive,
)
from ui.draw_models import checkpoint_files, model_of, model_options, option_labels
from ui.draw_sections import show_answer, show_inside, show_preparation, show_saliency
from ui.i18n import t
from ui.job_watch import JobView, watch_job
from ui.navigation import ensure_router
from ui.session import (
    LIVE_REFRESH_SECONDS,
    QUICK_MODEL_CONFIG,
    get_session,
    session_model,
    start_training,
)

CANVAS_SIDE = 280  # px; the canvas is 10x the 28 px MNIST field
DEFAULT_STROKE = 20  # px on the canvas: about MNIST's 2 px stroke once the digit is fitted to 20 px
INPUT_DRAW, INPUT_UPLOAD = "draw", "upload"
# Bumped by Clear: a new key mounts an empty canvas that reports nothing until a stroke. The one key renamed to
# reset a widget on these pages, on purpose: the drawing lives in the browser, and Python cannot write it back.
# (A changed initial_drawing also empties it, but then reports an empty image, which reads as the toolbar's bin.)
CANVAS_GENERATION_KEY = "draw_canvas_generation"
MODEL_SOURCE_KEY = "draw_model_source"
OFFERED_SOURCES_KEY = "draw_offered_sources"  # the model choices of the previous run


def clear_canvas() -> None:
    st.session_state[CANVAS_GENERATION_KEY] = st.session_state.get(CANVAS_GENERATION_KEY, 0) + 1


def quick_training_progress() -> None:
    """The quick model's progress while it trains; the job watcher asks for a full run, to pick it up, at the end."""
    def progress(snapshot) -> None:
        if snapshot.active:
            st.progress(snapshot.progress, text=t("draw.training_progress", epoch=snapshot.epoch,
                                                  epochs=snapshot.target_epochs,
                                                  percent=f"{100 * snapshot.progress:.0f}"))

    watch_job([JobView(st.container(), progress)], LIVE_REFRESH_SECONDS)


def quick_model_offer(snapshot) -> None:
    """No model anywhere yet: train the quick one here, and show its progress while it trains."""
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


def model_box(options: list[str], labels: dict[str, str]) -> str:
    """The chosen source; a model that just appeared (or vanished) becomes the choice, the best one first."""
    offered_before = st.session_state.get(OFFERED_SOURCES_KEY)
    if st.session_state.get(MODEL_SOURCE_KEY) not in options or (
        offered_before is not None and options[0] not in offered_before
    ):
        st.session_state[MODEL_SOURCE_KEY] = options[0]
    st.session_state[OFFERED_SOURCES_KEY] = options
    return st.selectbox(t("draw.model_source"), options, format_func=labels.get, key=MODEL_SOURCE_KEY,
                        help=t("draw.model_source_help", folder=DEFAULT_CHECKPOINT_DIR))


def choose_model():
    """The model picker; the chosen net in eval mode, or None (with the quick-train offer shown)."""
    snapshot = get_session().snapshot()
    if snapshot.status in (JobStatus.DIVERGED, JobStatus.FAILED) and snapshot.error:
        st.error(f"**{t('draw.training_failed')}** {snapshot.error}")
    trained = session_model()
    files = checkpoint_files()
    if trained is None and not files:
        quick_model_offer(snapshot)
    elif snapshot.active:
        st.caption(t("draw.training_elsewhere"))
    options = model_options(trained, files)
    return model_of(model_box(options, option_labels(options, trained)), trained)


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


def input_section():
    """Draw or upload: (which, the image or None, whether to compare with plain resizing)."""
    names = {option: t(f"draw.input_{option}") for option in (INPUT_DRAW, INPUT_UPLOAD)}
    source = st.radio(t("draw.input_source"), list(names), horizontal=True, key="draw_input", format_func=names.get)
    image = drawn_image() if source == INPUT_DRAW else uploaded_image()
    compare = st.toggle(t("draw.compare_naive"), key="draw_compare_naive", help=t("draw.compare_naive_help"))
    return source, image, compare


def answer_section(model, source: str, image, compare: bool):
    """The net's answer, or what is missing for one; (the MNIST-style input, the plain one) or (None, None)."""
    if image is None:
        st.info(t("draw.waiting_draw" if source == INPUT_DRAW else "draw.waiting_upload"))
        return None, None
    try:
        prepared = prepare_mnist_style(image)
        naive = prepare_naive(image) if compare else None
    except BlankImageError:
        st.info(t("draw.blank"))
        return None, None
    if model is None:
        st.info(t("draw.need_model"))
    else:
        show_answer(model, prepared, naive)
    return prepared, naive


def inside_sections(model, prepared, naive) -> None:
    if prepared is None:
        return
    show_preparation(prepared, naive)
    if model is not None:
        show_inside(model, prepared)
        show_saliency(model, prepared)


ensure_router()
st.title(t("draw.title"))
st.markdown(t("draw.intro"))
model = choose_model()
input_column, answer_column = st.columns(2, gap="large")
with input_column:
    source, image, compare = input_section()
with answer_column:
    prepared, naive = answer_section(model, source, image, compare)
inside_sections(model, prepared, naive)

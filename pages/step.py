"""Step by step: one training step of the tutorial's loop taken apart, on the learner's own copy of a network."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from mnist_core.data import to_pixels
from mnist_core.training.step import (
    MAX_BATCH,
    MIN_BATCH,
    StepLab,
    backward_pass,
    class_scores,
    forward_shapes,
    loss_by_hand,
)
from ui import step_figures
from ui.data import data_or_stop
from ui.dataset_charts import thumbnails
from ui.draw_figures import maps_figure
from ui.i18n import t
from ui.navigation import ensure_router
from ui.session import session_model
from mnist_core.network.shapes import shape_text
from ui.step_sections import (modes_section, number, reproducibility_section, repeat_section, step_function_section,
                              step_section)
from ui.step_state import SOURCE_SESSION, current_lab, results, sources

ensure_router()

DEFAULT_SEED = 1  # the tutorial's random_seed
BATCH_THUMBNAIL_PX = 48  # each digit of the batch on screen
TABLE_ROW_PX = 35  # st.dataframe's row height: the layer table shows every row without scrolling
KERNEL_MAPS_HEIGHT = 230  # px, as the Draw page draws conv1's kernels


def choose_lab() -> StepLab:
    """The network picker, batch size and seed -> the lab, with the batch's digits shown."""
    data = data_or_stop()
    trained = session_model()
    options = sources(trained)
    if st.session_state.get("step_source") not in options:
        st.session_state["step_source"] = options[0]  # the session's model when there is one
    labels = {option: (t("step.source_session", epochs=trained.epochs_done) if option == SOURCE_SESSION
                       else t("step.source_preset", name=t(f"step.preset_{option}"))) for option in options}
    left, middle, right = st.columns([2, 1, 1])
    source = left.selectbox(t("step.source"), options, format_func=labels.get, key="step_source",
                            help=t("step.source_help"))
    batch_size = middle.slider(t("step.batch_size"), MIN_BATCH, MAX_BATCH, MAX_BATCH, key="step_batch_size",
                               help=t("step.batch_size_help"))
    seed = right.number_input(t("step.seed"), 0, 2**31 - 1, DEFAULT_SEED, key="step_seed", help=t("step.seed_help"))
    lab = current_lab(source, batch_size, int(seed), data, trained)
    recipe = lab.recipe
    st.caption(t("step.lab_note", optimizer=recipe.optimizer, learning_rate=f"{lab.config.learning_rate:g}",
                  parameters=f"{sum(p.numel() for p in lab.model.parameters()):,}"))
    with st.expander(t("step.batch_heading", count=lab.batch_size), expanded=lab.batch_size <= 16):
        st.image(thumbnails(to_pixels(lab.images)), caption=[str(label) for label in lab.labels.tolist()],
                 width=BATCH_THUMBNAIL_PX)
    return lab


def forward_section(lab: StepLab) -> None:
    st.header(t("step.forward_heading"))
    st.markdown(t("step.forward_intro"))
    if st.button(t("step.forward_button"), key="step_forward", icon=":material/arrow_forward:"):
        results()["forward"] = forward_shapes(lab.model, lab.images)
    rows = results().get("forward")
    if rows is None:
        return
    st.dataframe(pd.DataFrame({
        t("step.forward_layer"): [row.name for row in rows],
        t("step.forward_type"): [row.kind for row in rows],
        t("step.forward_shape"): [shape_text(row.shape) for row in rows],
        t("step.forward_numbers"): [math.prod(row.shape) for row in rows],
    }), hide_index=True, height=TABLE_ROW_PX * (len(rows) + 1) + 3, key="step_forward_table")
    flat_index = next((i for i, row in enumerate(rows) if row.kind == "Flatten"), None)
    if flat_index is not None:
        before, after = rows[flat_index - 1].shape, rows[flat_index].shape
        st.markdown(t("step.forward_view", before=shape_text(before), after=shape_text(after),
                      features=after[1], batch=after[0]))
    image = rows[0].shape[1:]
    st.markdown(t("step.forward_unsqueeze", image=shape_text(image), batched=shape_text((1, *image)),
                  output=shape_text((1, rows[-1].shape[1])), squeezed=rows[-1].shape[1]))


def scores_section(lab: StepLab) -> int:
    """Stage 2 for one chosen image; returns its position in the batch (0-based) for the later stages."""
    st.header(t("step.scores_heading"))
    st.markdown(t("step.scores_intro"))
    position = st.number_input(t("step.image"), 1, lab.batch_size, 1, key="step_image", help=t("step.image_help"))
    index = int(position) - 1
    if st.button(t("step.scores_button"), key="step_scores", icon=":material/percent:"):
        results()["scores"] = (index, class_scores(lab.model, lab.images[index]))
    kept = results().get("scores")
    if kept is None:
        return index
    shown, scores = kept
    true_digit = int(lab.labels[shown])
    st.markdown(t("step.scores_shapes", number=shown + 1, digit=true_digit, image=shape_text(scores.image_shape),
                  batched=shape_text(scores.batched_shape), output=shape_text(scores.output_shape),
                  squeezed=shape_text(scores.squeezed_shape)))
    st.plotly_chart(step_figures.scores_figure(scores.scores, scores.probabilities, scores.log_probabilities,
                                               true_digit), key="step_scores_chart")
    st.markdown(t("step.scores_sum", total=f"{scores.probability_sum:.3f}",
                  difference=f"{scores.exp_log_max_difference:.1e}"))
    return index


def loss_section(lab: StepLab) -> None:
    st.header(t("step.loss_heading"))
    st.markdown(t("step.loss_intro"))
    if st.button(t("step.loss_button"), key="step_loss", icon=":material/functions:"):
        results()["loss"] = loss_by_hand(lab)
    worked = results().get("loss")
    if worked is None:
        return
    first = worked.true_log_probabilities[0]
    st.markdown(t("step.loss_first", digit=worked.labels[0], log_p=number(first), loss=number(-first),
                  p=f"{math.exp(first):.4f}"))
    st.dataframe(pd.DataFrame({
        t("step.loss_image"): list(range(1, len(worked.labels) + 1)),
        t("step.loss_true"): worked.labels,
        t("step.loss_log_p"): worked.true_log_probabilities,
        t("step.loss_nll"): worked.per_image,
    }), hide_index=True, height=220, key="step_loss_table")
    hand, torch_loss = st.columns(2)
    hand.metric(t("step.loss_hand"), number(worked.hand_mean))
    torch_loss.metric(t("step.loss_torch"), number(worked.torch_loss))
    st.caption(t("step.loss_difference", difference=f"{worked.difference:.1e}"))


def backward_section(lab: StepLab) -> None:
    st.header(t("step.backward_heading"))
    st.markdown(t("step.backward_intro"))
    skip = st.toggle(t("step.skip_zero_grad"), key="step_skip_zero_grad", help=t("step.skip_zero_grad_help"))
    if st.button(t("step.backward_button"), key="step_backward", icon=":material/arrow_back:"):
        results()["backward"] = backward_pass(lab, zero_grad=not skip)
    gradients = results().get("backward")
    if gradients is None:
        return
    st.markdown(t("step.backward_loss", loss=number(gradients.loss), passes=gradients.passes))
    if gradients.passes > 1:
        st.info(t("step.backward_piled", passes=gradients.passes))
    st.plotly_chart(step_figures.gradient_norms_figure(gradients.norms, gradients.passes), key="step_norms_chart")
    if gradients.first_conv_name is not None:
        count = len(gradients.first_conv_weights)
        height = KERNEL_MAPS_HEIGHT if count <= 10 else 2 * KERNEL_MAPS_HEIGHT  # a second row past 10 kernels
        st.plotly_chart(maps_figure(gradients.first_conv_weights.numpy(),
                                    t("step.conv_weights_title", name=gradients.first_conv_name, count=count),
                                    "step.kernel_label", height=height), key="step_conv_weights")
        st.plotly_chart(maps_figure(gradients.first_conv_gradients.numpy(),
                                    t("step.conv_gradients_title", name=gradients.first_conv_name, count=count),
                                    "step.kernel_label", height=height), key="step_conv_gradients")
        st.caption(t("step.conv_note"))


st.title(t("step.title"))
st.markdown(t("step.intro"))
step_function_section()
step_lab = choose_lab()
forward_section(step_lab)
chosen_image = scores_section(step_lab)
loss_section(step_lab)
backward_section(step_lab)
step_section(step_lab)
repeat_section(step_lab)
modes_section(step_lab, chosen_image)
reproducibility_section(step_lab, st.session_state["step_source"])

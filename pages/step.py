"""Step by step: one training step of the tutorial's loop taken apart, on the learner's own copy of a network."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from mnist_core.data import to_pixels
from mnist_core.presets import PRESETS
from mnist_core.step import (
    COMPARED_MOMENTA,
    MAX_BATCH,
    MAX_REPEAT_STEPS,
    MIN_BATCH,
    MODE_PASSES,
    StepLab,
    backward_pass,
    class_scores,
    forward_shapes,
    grad_tracking,
    loss_by_hand,
    mode_passes,
    optimizer_step,
    repeat_steps,
    seeded_loss,
)
from ui import step_figures
from ui.data import data_or_stop
from ui.dataset_charts import thumbnails
from ui.draw_figures import maps_figure
from ui.i18n import t
from ui.navigation import ensure_router
from ui.session import session_model
from ui.step_state import SOURCE_SESSION, current_lab, model_factory, results, sources

ensure_router()

DEFAULT_SEED = 1  # the tutorial's random_seed
DEFAULT_REPEAT_STEPS = 50  # enough to see the curves part, a few seconds on 2 cores
BATCH_THUMBNAIL_PX = 48  # each digit of the batch on screen
MIN_LEARNING_RATE, MAX_LEARNING_RATE = 1e-5, 100.0  # 100 is there to watch a step overshoot
MAX_MOMENTUM = 0.99
TABLE_ROW_PX = 35  # st.dataframe's row height: the layer table shows every row without scrolling
KERNEL_MAPS_HEIGHT = 230  # px, as the Draw page draws conv1's kernels


def shape_text(shape) -> str:
    return " × ".join(map(str, shape))


def number(value: float) -> str:
    return f"{value:.6f}"


def parameter_label(name: str) -> str:
    """conv1.weight -> "conv1.weight" in English, "conv1 的权重" in Chinese (every parameter is a weight or a bias)."""
    layer, _, kind = name.rpartition(".")
    return t(f"step.parameter_{kind}", layer=layer) if kind in ("weight", "bias") else name


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


def step_section(lab: StepLab) -> None:
    st.header(t("step.step_heading"))
    sgd = lab.recipe.optimizer == "sgd"
    st.markdown(t("step.step_intro_sgd" if sgd else "step.step_intro_adam", optimizer=lab.recipe.optimizer))
    names = [name for name, _ in lab.model.named_parameters()]
    group = lab.optimizer.param_groups[0]
    left, middle, right = st.columns(3)
    shown_names = {name: parameter_label(name) for name in names}
    parameter = left.selectbox(t("step.parameter"), names, format_func=shown_names.get, key="step_parameter",
                               help=t("step.parameter_help"))
    learning_rate = middle.number_input(t("step.learning_rate"), MIN_LEARNING_RATE, MAX_LEARNING_RATE,
                                        float(group["lr"]), format="%g", key="step_learning_rate",
                                        help=t("step.learning_rate_help"))
    momentum = None
    if sgd:
        momentum = right.number_input(t("step.momentum"), 0.0, MAX_MOMENTUM, float(group["momentum"]), step=0.1,
                                      format="%g", key="step_momentum", help=t("step.momentum_help"))
    ready = lab.backward_passes > 0 and lab.model.get_parameter(parameter).grad is not None
    if st.button(t("step.step_button"), key="step_step", icon=":material/footprint:", disabled=not ready):
        results()["step"] = optimizer_step(lab, parameter, learning_rate, momentum)
    if not ready:
        st.caption(t("step.step_needs_backward"))
    result = results().get("step")
    if result is None:
        return
    sgd_result = result.optimizer == "sgd"
    rows = {
        t("step.update_weight"): [f"{result.parameter}[{', '.join(map(str, w.index))}]" for w in result.weights],
        t("step.update_before"): [w.before for w in result.weights],
        t("step.update_gradient"): [w.gradient for w in result.weights],
        t("step.update_velocity_before" if sgd_result else "step.update_m_before"): [w.velocity_before for w in result.weights],
        t("step.update_velocity" if sgd_result else "step.update_m"): [w.velocity for w in result.weights],
    }
    if not sgd_result:
        rows[t("step.update_v")] = [w.second_moment for w in result.weights]
    rows[t("step.update_formula")] = [w.by_formula for w in result.weights]
    rows[t("step.update_torch")] = [w.by_torch for w in result.weights]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="step_update_table")
    first = result.weights[0]
    if sgd_result:
        st.markdown(t("step.update_worked_sgd", mu=f"{result.momentum:g}", v_before=number(first.velocity_before),
                      g=number(first.gradient), v=number(first.velocity), p=number(first.before),
                      lr=f"{result.learning_rate:g}", after=number(first.by_formula)))
    else:
        st.markdown(t("step.update_worked_adam", t=result.step_number, b1=f"{result.momentum:g}",
                      b2=f"{result.beta2:g}", m=f"{first.velocity:.3g}", v=f"{first.second_moment:.3g}",
                      lr=f"{result.learning_rate:g}", p=number(first.before), after=number(first.by_formula)))
    st.caption(t("step.update_agree", difference=f"{result.max_formula_difference:.1e}"))
    before, after = st.columns(2)
    before.metric(t("step.loss_before"), number(result.loss_before))
    after.metric(t("step.loss_after"), number(result.loss_after), delta=f"{result.loss_after - result.loss_before:+.6f}",
                 delta_color="inverse")
    if result.loss_after < result.loss_before:
        st.success(t("step.step_helped"))
    else:
        st.warning(t("step.step_overshot", lr=f"{result.learning_rate:g}"))


def repeat_section(lab: StepLab) -> None:
    st.header(t("step.repeat_heading"))
    st.markdown(t("step.repeat_intro"))
    left, right = st.columns(2)
    n_steps = left.slider(t("step.repeat_steps"), 1, MAX_REPEAT_STEPS, DEFAULT_REPEAT_STEPS, key="step_repeat_n")
    momenta = right.multiselect(t("step.repeat_momenta"), COMPARED_MOMENTA, default=list(COMPARED_MOMENTA),
                                format_func=lambda mu: f"{mu:g}", key="step_momenta")
    nothing = not momenta and lab.recipe.optimizer == "sgd"
    if st.button(t("step.repeat_button", steps=n_steps), key="step_repeat", icon=":material/replay:", disabled=nothing):
        with st.spinner(t("step.repeat_running")):
            results()["repeat"] = repeat_steps(lab, data_or_stop(), n_steps, tuple(momenta))
    curves = results().get("repeat")
    if curves is not None:
        st.plotly_chart(step_figures.loss_curves_figure(curves), key="step_curves_chart")
        st.caption(t("step.repeat_note"))


def modes_section(lab: StepLab, index: int) -> None:
    st.header(t("step.modes_heading"))
    st.markdown(t("step.modes_intro", passes=MODE_PASSES))
    if st.button(t("step.modes_button", passes=MODE_PASSES), key="step_modes", icon=":material/shuffle:"):
        results()["modes"] = (index, mode_passes(lab.model, lab.images[index], lab.seed))
    kept = results().get("modes")
    if kept is not None:
        shown, passes = kept
        st.plotly_chart(step_figures.mode_figure(passes), key="step_modes_chart")
        if passes.has_dropout:
            st.markdown(t("step.modes_dropout", number=shown + 1, spread=f"{passes.train_spread:.3f}"))
        else:
            st.markdown(t("step.modes_no_dropout", number=shown + 1, spread=f"{passes.train_spread:.3f}"))
        st.markdown(t("step.modes_eval_same" if passes.eval_identical else "step.modes_eval_differs"))

    st.subheader(t("step.no_grad_heading"))
    st.markdown(t("step.no_grad_intro"))
    if st.button(t("step.no_grad_button"), key="step_no_grad", icon=":material/memory:"):
        results()["no_grad"] = grad_tracking(lab.model, lab.images[index])
    tracking = results().get("no_grad")
    if tracking is not None:
        recorded, bare = tracking
        for key, kept in (("step.no_grad_with", recorded), ("step.no_grad_without", bare)):
            st.markdown(t(key, requires_grad=kept.requires_grad, nodes=kept.graph_nodes,
                          grad_fn="None" if kept.grad_fn is None else f"<{kept.grad_fn}>"))
        st.markdown(t("step.no_grad_saves", nodes=recorded.graph_nodes))


def reproducibility_section(lab: StepLab, source: str) -> None:
    st.header(t("step.seed_heading"))
    st.markdown(t("step.seed_intro"))
    runs: list[tuple[int, float]] = results().setdefault("seeds", [])
    same, other = st.columns(2)
    next_seed = None
    if same.button(t("step.seed_same", seed=lab.seed), key="step_same_seed", icon=":material/replay:"):
        next_seed = lab.seed
    if other.button(t("step.seed_other"), key="step_other_seed", icon=":material/casino:"):
        next_seed = max([seed for seed, _ in runs] + [lab.seed]) + 1
    if next_seed is not None:
        runs.append((next_seed, seeded_loss(model_factory(source), data_or_stop(), lab.batch_size, next_seed)))
    if runs:
        st.dataframe(pd.DataFrame({
            t("step.seed_run"): list(range(1, len(runs) + 1)),
            t("step.seed_column"): [seed for seed, _ in runs],
            t("step.seed_loss"): [repr(loss) for _, loss in runs],
        }), hide_index=True, key="step_seed_table")
        same_seed = [loss for seed, loss in runs if seed == lab.seed]
        if len(same_seed) > 1:
            st.markdown(t("step.seed_identical" if len(set(same_seed)) == 1 else "step.seed_differs",
                          count=len(same_seed)))
    st.caption(t("step.seed_note_session" if source == SOURCE_SESSION else "step.seed_note_fresh"))


st.title(t("step.title"))
st.markdown(t("step.intro"))
st.code("optimizer.zero_grad()\noutput = network(data)\nloss = F.nll_loss(output, target)\n"
        "loss.backward()\noptimizer.step()", language="python")
step_lab = choose_lab()
forward_section(step_lab)
chosen_image = scores_section(step_lab)
loss_section(step_lab)
backward_section(step_lab)
step_section(step_lab)
repeat_section(step_lab)
modes_section(step_lab, chosen_image)
reproducibility_section(step_lab, st.session_state["step_source"])

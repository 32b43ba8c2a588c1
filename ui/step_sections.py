"""The Step by step page's sections: the real step function at the top, and the later stages (the optimizer's
update, more steps, train against eval mode, no_grad, the seed), one function each; pages/step.py calls them in order."""

from __future__ import annotations

import inspect

import pandas as pd
import streamlit as st

from mnist_core.training.step import (
    COMPARED_MOMENTA,
    MAX_REPEAT_STEPS,
    MODE_PASSES,
    StepLab,
    grad_tracking,
    mode_passes,
    optimizer_step,
    repeat_steps,
    seeded_loss,
)
from mnist_core.training.engine import sgd_step
from ui import step_figures
from ui.data import data_or_stop
from ui.i18n import t
from ui.step_state import SOURCE_SESSION, model_factory, results

DEFAULT_REPEAT_STEPS = 50  # enough to see the curves part, a few seconds on 2 cores
MIN_LEARNING_RATE, MAX_LEARNING_RATE = 1e-5, 100.0  # 100 is there to watch a step overshoot
MAX_MOMENTUM = 0.99


def number(value: float) -> str:
    return f"{value:.6f}"


def parameter_label(name: str) -> str:
    """conv1.weight -> "conv1.weight" in English, "conv1 的权重" in Chinese (every parameter is a weight or a bias)."""
    layer, _, kind = name.rpartition(".")
    return t(f"step.parameter_{kind}", layer=layer) if kind in ("weight", "bias") else name


def step_function_section() -> None:
    """The five lines as the Train page runs them for every batch: the source of mnist_core's sgd_step itself, read
    from the module, so what the page shows can never drift from what trains."""
    st.code(inspect.getsource(sgd_step), language="python")
    st.caption(t("step.step_function_caption", function=sgd_step.__name__, module=sgd_step.__module__))


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

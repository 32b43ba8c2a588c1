"""The Train page's views of a running job, each drawn from the one snapshot ui.job_watch hands it: the compact
progress line beside the buttons, the status message with its advice, and the live panel (metrics, chart, table).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core import TrainConfig, get_preset
from mnist_core.runtime import JobSnapshot, JobStatus, TrainingSession, default_limiter
from mnist_core.runtime.progress import (FULL_MNIST_TRAIN, TUTORIAL_FULL_MNIST_ACCURACY, epochs_for_steps,
                                         eta_seconds, sgd_steps)
from mnist_core.training.config import MAX_EPOCHS
from ui import train_charts
from ui.i18n import t
from ui.job_watch import JobView
from ui.session import server_busy_message

GUESSING_ACCURACY = 0.1  # ten digits, about equally common in the test split (892 to 1,135 each)
# Percentage points below the tutorial's full-MNIST accuracy that call for an explanation: the leaky preset's
# 88-90% on the embedded digits is close enough to say nothing, the tutorial's 77% is not.
FAR_BELOW_POINTS = 10.0


def progress_line(snapshot: JobSnapshot) -> None:
    """One bar beside the Train button while a job is active, so progress shows without scrolling."""
    if not snapshot.active:
        return
    eta = eta_seconds(snapshot.run_examples_total - snapshot.run_examples_done, snapshot.speed)
    st.progress(snapshot.progress, text=t(
        "train.progress", epoch=snapshot.epoch, epochs=snapshot.target_epochs, done=snapshot.run_examples_done,
        total=snapshot.run_examples_total, percent=f"{100 * snapshot.progress:.0f}",
        eta="—" if eta is None else f"{eta:.0f}"))


def barely_learning_warning(model) -> bool:
    """A finite loss can still mean a net that learned nothing: too large a step (every image gets the same
    answer) or too small a one. Say which is likely, rather than leave a green "finished" to explain it.
    True when it said so."""
    if model is None or not model.epochs_done or model.history.test_accuracy[-1] >= 2 * GUESSING_ACCURACY:
        return False
    lr, tutorial_lr = model.config.learning_rate, TrainConfig().learning_rate
    cause = "train.barely_learning_large" if lr > tutorial_lr else "train.barely_learning_small"
    st.warning(t("train.barely_learning", epochs=model.epochs_done, accuracy=f"{model.history.test_accuracy[-1]:.1%}",
                 guessing=f"{GUESSING_ACCURACY:.0%}") + " " + t(cause, lr=f"{lr:g}", tutorial_lr=f"{tutorial_lr:g}"))
    return True


def few_steps_advice(model, n_train: int) -> None:
    """Learning, but far below the tutorial's figure after fewer SGD steps than it took: say that the steps,
    not a bug, explain it, and what to try."""
    if model is None or not model.epochs_done or not model.history.test_accuracy:
        return
    accuracy = 100 * model.history.test_accuracy[-1]
    batch = model.config.batch_size_train
    steps = sgd_steps(n_train, batch, model.epochs_done)
    full_steps = sgd_steps(FULL_MNIST_TRAIN, TrainConfig().batch_size_train, TrainConfig().n_epochs)
    if accuracy >= TUTORIAL_FULL_MNIST_ACCURACY - FAR_BELOW_POINTS or steps >= full_steps:
        return
    modern = get_preset("modern")
    st.info(t("train.few_steps", accuracy=f"{accuracy:.1f}", steps=steps, epochs=model.epochs_done,
              full_accuracy=f"{TUTORIAL_FULL_MNIST_ACCURACY:.0f}", full_steps=full_steps,
              more_epochs=min(MAX_EPOCHS, epochs_for_steps(full_steps, n_train, batch)),
              modern_accuracy=f"{modern.expected_accuracy:.0f}",
              modern_steps=sgd_steps(n_train, modern.config.batch_size_train, modern.config.n_epochs)))


def status_message(snapshot: JobSnapshot, model, n_train: int) -> None:
    """What the job is doing or how it ended; after a run, why its accuracy is what it is, when that needs saying."""
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
    # DIVERGED and FAILED explain themselves above; a net near guessing has a cause of its own, not the steps.
    if not snapshot.active and snapshot.status not in (JobStatus.DIVERGED, JobStatus.FAILED):
        if not barely_learning_warning(model):
            few_steps_advice(model, n_train)
    if snapshot.checkpoint_error:
        st.warning(f"**{t('train.checkpoint_failed')}** {snapshot.checkpoint_error}")


def epoch_table(history) -> pd.DataFrame:
    """One row per test (epoch 0: before training). An epoch a Stop interrupted gets a last row of its own, labelled
    partial: its examples are trained, its test comes when Continue has finished it."""
    epochs = list(range(len(history.test_losses)))
    examples = list(history.test_counter)
    losses = [round(loss, 4) for loss in history.test_losses]
    accuracy = [f"{100 * a:.2f}%" for a in history.test_accuracy]
    partial = history.partial_epoch()
    if partial is not None:
        epoch, trained = partial
        epochs = [str(number) for number in epochs]  # one type per column, or Arrow refuses the table
        epochs.append(t("train.table_partial_epoch", epoch=epoch, examples=f"{trained:,}"))
        examples.append(history.stop_points[-1])
        losses.append(None)
        accuracy.append("—")
    return pd.DataFrame({
        t("train.table_epoch"): epochs,
        t("train.table_examples"): examples,
        t("train.table_test_loss"): losses,
        t("train.table_accuracy"): accuracy,
    })


def live_panel(snapshot: JobSnapshot, model) -> None:
    """Metrics, the live chart and the epoch table; one chart per run, so no duplicate element ids.

    model: the session's model, whose examples count once the job is idle (a run stopped mid-epoch has
    trained on more than its last test point says)."""
    history = snapshot.history
    if not history.test_losses:
        st.caption(t("train.no_curve_yet"))
        return
    columns = st.columns(3)
    columns[0].metric(t("train.metric_accuracy"), f"{100 * history.test_accuracy[-1]:.2f}%")
    if snapshot.active:  # this run's count, as in the progress line: the same snapshot, the same number
        rate = snapshot.speed  # the same smoothed speed as the time left in the progress line
        columns[1].metric(t("train.metric_speed"), "—" if rate is None else f"{rate:,.0f}")
        columns[2].metric(t("train.metric_run_examples"), f"{snapshot.run_examples_done:,}")
    else:
        rate = snapshot.examples_per_second  # the run's own average, once it is over
        columns[1].metric(t("train.metric_speed"), "—" if rate is None else f"{rate:,.0f}")
        seen = history.test_counter[-1] if model is None else model.examples_seen
        columns[2].metric(t("train.metric_examples"), f"{seen:,}")
    st.plotly_chart(train_charts.training_figure(history), key="train_live_chart")
    st.dataframe(epoch_table(history), hide_index=True)


def live_views(session: TrainingSession, n_train: int, progress_place) -> list[JobView]:
    """The "Training progress" section's places, and the views ui.job_watch draws into them and progress_place."""
    st.subheader(t("train.live_heading"))
    status_place, panel_place = st.container(), st.container()
    return [
        JobView(progress_place, progress_line),
        JobView(status_place, lambda snapshot: status_message(snapshot, session.model(), n_train)),
        JobView(panel_place, lambda snapshot: live_panel(snapshot, session.model())),
    ]

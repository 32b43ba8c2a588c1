"""The Train page's run comparison: runs of different networks and recipes, their loss and test accuracy on
one chart, and their settings side by side with the differences marked."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core import Recipe
from mnist_core.network.tutorial import tutorial_spec
from mnist_core.runtime import RunOrigin, RunRecord, TrainingSession
from mnist_core.network.spec import NetSpec, trace_spec
from ui import train_charts
from ui.i18n import t
from ui.net_editor import preset_name

DIFFERS = "≠"
COMPARE_KEYS = ("train_compare_first", "train_compare_second")  # the two boxes: indexes into the drawn runs
COMPARED_RUNS_KEY = "train_compare_runs"  # how many runs there were when the boxes were last set


def _network(record: RunRecord) -> NetSpec:
    return record.spec if record.spec is not None else tutorial_spec()  # records before specs: the tutorial


def _recipe(record: RunRecord) -> Recipe:
    return record.recipe if record.recipe is not None else Recipe()


def run_label(record: RunRecord) -> str:
    """Names a run by what sets it apart: its network (preset or custom) and size, its optimizer and rate. Not
    its epochs: Continue changes them, and a selectbox keeps showing the label its option had when picked."""
    spec, config = _network(record), record.config
    origin = t("train.run_uploaded", name=record.name) if record.origin == RunOrigin.UPLOADED else ""
    return t("lab.run_label", number=record.run_id, network=t(f"lab.preset_{preset_name(spec)}"),
             parameters=f"{trace_spec(spec).total_parameters:,}",
             optimizer=t(f"lab.optimizer_{_recipe(record).optimizer}"), lr=f"{config.learning_rate:g}") + origin


def settings_table(records: list[RunRecord]) -> pd.DataFrame:
    """One column per run, one row per setting; the last column marks the settings that differ."""
    def column(record: RunRecord) -> list[str]:
        spec, recipe, config = _network(record), _recipe(record), record.config
        augment = ", ".join(t(f"lab.augment_{kind}") for kind in recipe.augment) or t("lab.augment_none")
        return [t(f"lab.preset_{preset_name(spec)}"), f"{len(spec.layers)}",
                f"{trace_spec(spec).total_parameters:,}", t(f"lab.optimizer_{recipe.optimizer}"),
                f"{config.learning_rate:g}", f"{config.momentum:g}" if recipe.optimizer == "sgd" else "—",
                t("lab.yes") if recipe.nesterov else t("lab.no"), f"{recipe.weight_decay:g}",
                t(f"lab.schedule_{recipe.schedule}"), augment, f"{config.n_epochs}", f"{config.batch_size_train}",
                f"{config.random_seed}"]

    names = ("network", "layers", "parameters", "optimizer", "learning_rate", "momentum", "nesterov", "weight_decay",
             "schedule", "augment", "epochs", "batch", "seed")
    table = pd.DataFrame({t("lab.compare_setting"): [t(f"lab.compare_row_{name}") for name in names]})
    values = [column(record) for record in records]
    for record, cells in zip(records, values):
        table[t("train.run_short", number=record.run_id)] = cells
    table[t("lab.compare_differs")] = [DIFFERS if len(set(row)) > 1 else "" for row in zip(*values)]
    return table


def newest_two_after_a_new_run(count: int) -> None:
    """A new run (Train, Continue, an upload, the Draw page's quick model) sets the boxes to the newest two.

    Written into the boxes' own keys before they are drawn. Keys renamed after the number of runs did the
    same by making new widgets each time, which nothing that follows a widget by its key (tests,
    persist_state) can keep up with.
    """
    state = st.session_state
    if state.get(COMPARED_RUNS_KEY) != count or any(key not in state for key in COMPARE_KEYS):
        state[COMPARE_KEYS[0]], state[COMPARE_KEYS[1]] = count - 2, count - 1
        state[COMPARED_RUNS_KEY] = count


def compare_runs(session: TrainingSession) -> None:
    runs = [(record, history) for record, history in session.runs() if history.train_losses]  # drawn curves only
    if len(runs) < 2:
        return
    st.subheader(t("train.compare_heading"))
    st.markdown(t("lab.compare_intro"))
    labels = [run_label(record) for record, _ in runs]
    left, right = st.columns(2)
    newest_two_after_a_new_run(len(runs))
    first = left.selectbox(t("train.compare_first"), range(len(runs)), format_func=labels.__getitem__,
                           key=COMPARE_KEYS[0])
    second = right.selectbox(t("train.compare_second"), range(len(runs)), format_func=labels.__getitem__,
                             key=COMPARE_KEYS[1])
    chosen = [runs[i] for i in dict.fromkeys((first, second))]  # the same run twice is drawn once
    st.plotly_chart(train_charts.comparison_figure(
        [(t("train.run_short", number=record.run_id), history) for record, history in chosen]),
        key="train_compare_chart")
    st.dataframe(settings_table([record for record, _ in chosen]), hide_index=True, key="train_compare_table")
    st.caption(t("lab.compare_table_note", mark=DIFFERS))

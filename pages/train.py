"""Training page: the tutorial's hyperparameters, a background job, live curves, checkpoints, results."""

from __future__ import annotations

import streamlit as st

from ui.checkpoint_section import checkpoint_section
from ui.data import data_or_stop
from ui.i18n import t
from ui.job_watch import watch_job
from ui.navigation import ensure_router
from ui.network_section import export_button, network_section
from ui.recipe_section import recipe_section
from ui.run_comparison import compare_runs
from ui.session import LIVE_REFRESH_SECONDS, get_session
from ui.train_live import live_views
from ui.train_results import results
from ui.train_settings import settings_form

ensure_router()


def train_buttons(session, snapshot, config, recipe, network, data):
    """Train and Stop, and beside them the place of the progress line (in view after pressing Train)."""
    train_column, stop_column, progress_place = st.columns([1, 1, 4], vertical_alignment="center")
    ready = config is not None and recipe is not None and network.ok  # each section has said what is wrong
    if train_column.button(t("train.start"), type="primary", disabled=not ready or snapshot.active,
                           key="train_start"):
        try:
            if session.start_new(config, data, spec=network.spec, recipe=recipe):
                st.rerun()
        except ValueError as exc:  # e.g. a device that disappeared
            st.error(f"**{t('train.start_failed')}** {exc}")
    if stop_column.button(t("train.stop"), disabled=not snapshot.active, key="train_stop"):
        session.stop()
    return progress_place.container()


st.title(t("train.title"))
st.markdown(t("train.intro"))
data = data_or_stop()
session = get_session()

network = network_section()
config = settings_form(data)
recipe = recipe_section(config, data)
export_button(network, config, recipe)
snapshot = session.snapshot()  # the buttons' state; the views read the watcher's own, taken after them
progress_place = train_buttons(session, snapshot, config, recipe, network, data)
views = live_views(session, data.n_train, progress_place)

model = session.model()
checkpoint_view = checkpoint_section(session, model, snapshot, data)
if model is not None and not snapshot.active:
    results(model, data)
compare_runs(session)
watch_job([*views, checkpoint_view], LIVE_REFRESH_SECONDS)  # last: it draws the live views above from one snapshot

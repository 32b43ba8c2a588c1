"""One watcher of this session's training job per page run: every view of the job drawn from one snapshot.

A page that shows the job reserves its places, then hands them to watch_job with the function that draws each
from a snapshot. One fragment then draws them all, and the sidebar's model status, from the same snapshot;
it polls while the job runs, and asks for one full run when the job has ended (the page's results and buttons
need it). A page that shows no view of the job leaves the watching to the sidebar, which calls watch_job with
no views. So the progress line, the live panel and the sidebar can never show two moments of one run.

This relies on a fragment writing into containers made outside it, st.sidebar included (Streamlit 1.67's
st.fragment; each must get a write in the full run: the watcher's first drawing adds a container to each).

    progress_place = st.container()
    ...
    watch_job([JobView(progress_place, draw_progress)], every=LIVE_REFRESH_SECONDS)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from ui.i18n import percent, t
from ui.navigation import PAGE_WATCHES_KEY  # the sidebar then draws no second watcher
from ui.session import get_session, keep_alive_seconds, summary_of

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator

    from mnist_core.runtime import JobSnapshot, TrainingSession



@dataclass(frozen=True)
class JobView:
    place: DeltaGenerator  # a container the page made where this view belongs
    draw: Callable[[JobSnapshot], None]  # draws the view from one snapshot, into the current container


def model_status(session: TrainingSession, snapshot: JobSnapshot) -> None:
    """The sidebar's one line about this session's model, from the snapshot every other view uses."""
    summary = summary_of(session, snapshot)
    accuracy = percent(summary.accuracy)
    if summary.partial_examples:  # stopped inside an epoch: say so, and what was trained of it
        st.caption(t("app.model_trained_partial", epochs=summary.epochs_done, epoch=summary.epochs_done + 1,
                     examples=f"{summary.partial_examples:,}", accuracy=accuracy))
        return
    st.caption(t(f"app.model_{summary.status}", epochs=summary.epochs_done, accuracy=accuracy))


def watch_job(views: Sequence[JobView], every: float, in_sidebar: bool = False) -> None:
    """Draw views and the sidebar's model status from one snapshot now, and again every `every` seconds while
    the job is active; the first poll after it ended asks for a full run instead.

    in_sidebar: True for the sidebar's own watcher, which draws the model status where it runs; a page's
    watcher draws it into st.sidebar, and the sidebar then draws no watcher of its own (page_watches_job).
    Idle, the fragment still reruns now and then: that marks the session seen, so an open tab nobody touches
    is not taken for a closed one (its job stopped, its files deleted).
    """
    if not in_sidebar:
        st.session_state[PAGE_WATCHES_KEY] = True
    # Taken after the page's buttons acted (a Train refused as busy shows at once); the fragment's reruns
    # take their own.
    first = [get_session().snapshot()]
    active_at_start = first[0].active

    def redraw() -> None:
        session = get_session()
        now = first.pop() if first else session.snapshot()  # the only snapshot this drawing reads
        if active_at_start != now.active:
            # The job ended (results, buttons and checkpoints need a full run), or another tab of this session
            # started one (this page then polls at the live rate, its buttons turn to Stop).
            st.rerun()
        for view in views:
            # A fragment may only write into an outside container that the full run wrote into; a view
            # drawing nothing (no progress while idle) would leave it empty, so each gets its own container.
            with view.place, st.container():
                view.draw(now)
        with st.container() if in_sidebar else st.sidebar:
            model_status(session, now)

    st.fragment(run_every=every if active_at_start else keep_alive_seconds())(redraw)()


def page_watches_job() -> bool:
    """True once per run in which a page's watcher drew the sidebar's model status (read by the sidebar)."""
    return bool(st.session_state.pop(PAGE_WATCHES_KEY, False))

"""Per-browser-session model and training job (Streamlit glue over mnist_core.runtime).

Contract used by other pages (sidebar, drawing page):
- summary_of(session, snapshot) -> ModelSummary: a ModelStatus (none, training, trained), epochs_done,
  accuracy, partial_examples (of an epoch a Stop interrupted), read from a snapshot the caller took
  (ui.job_watch draws every view of the job from one).
- session_model() -> TrainingState | None: a copy of this session's latest weights (as of the last epoch
  end, stop or upload). Safe to use while a job trains: the job never changes a copy it has handed out.
- start_training(config=None) -> bool: train a fresh model in the background for this session, e.g. the
  drawing page's quick model (default: QUICK_MODEL_CONFIG). False, and nothing changes, if this session
  is already training; ServerBusyError (a ValueError, worded in the page's language) if the server's
  queue is full. ui.job_watch.watch_job polls the job and notices its end.
- get_session() -> mnist_core.runtime.TrainingSession: the job, the runs and the checkpoint (training page).
- keep_alive_seconds() -> float: an open tab must run something that calls get_session at least this
  often (ui.job_watch's fragment does, on every page), or its session is taken for a closed tab's.

A browser reload starts a new Streamlit session. So that the model and its curves survive it, each
session carries a random token in the URL (?session=...) and a server-wide registry maps the token back
to its TrainingSession; after a server restart the token still finds the session's checkpoint on disk.
A session not seen for MNIST_SESSION_IDLE_MINUTES (default 10) is forgotten: its job is stopped and
its checkpoint folder deleted (mnist_core.runtime.SessionRegistry).
"""

from __future__ import annotations

import re
import secrets
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Callable, TypeVar

import streamlit as st

from mnist_core import CheckpointError, TrainConfig, TrainingState
from mnist_core.runtime import (JobSnapshot, JobStatus, ServerBusyError, SessionRegistry, TrainingSession,
                                default_limiter, session_idle_seconds)
from ui.data import load_data
from ui.i18n import t

SESSION_KEY = "training_session"  # st.session_state key of this session's TrainingSession
TOKEN_PARAM = "session"  # URL query parameter that survives a reload
TOKEN_PATTERN = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16); also keeps paths inside CHECKPOINT_ROOT
CHECKPOINT_ROOT = Path(tempfile.gettempdir()) / "mnist-dashboard"
CHECKPOINT_NAME = "checkpoint.pt"
MAX_REMEMBERED_SESSIONS = 200  # idle sessions beyond this are forgotten, oldest first (their files stay)
SWEEP_INTERVAL_SECONDS = 30.0  # a closed tab's job trains at most about this long past the idle time
KEEP_ALIVES_PER_IDLE_TIME = 3  # an open tab marks its session seen this often within each idle period
# Bolder steps than the tutorial's 0.01 / 0.5: one epoch of the 4,000 embedded digits then reaches about
# 85% test accuracy instead of 44% (measured, seed 1), so a quick model reads most drawings.
QUICK_MODEL_CONFIG = TrainConfig(n_epochs=1, learning_rate=0.05, momentum=0.9)
T = TypeVar("T")
LIVE_REFRESH_SECONDS = 1.0  # how often a page polls a running job: at least once a second, as asked; each poll redraws a Plotly chart in the learner's browser


class ModelStatus(StrEnum):
    """What the sidebar says of this session's model; each names its text, app.model_<status> in the locales."""

    NONE = "none"  # nothing trained or uploaded yet
    TRAINING = "training"  # a job waits for a slot or trains (JobStatus.active())
    TRAINED = "trained"  # a model is ready to use


@dataclass(frozen=True)
class ModelSummary:
    status: ModelStatus
    epochs_done: int = 0
    accuracy: float | None = None  # last test accuracy, 0-1
    partial_examples: int = 0  # examples trained in the epoch after epochs_done, when a Stop interrupted it


@st.cache_resource(show_spinner=False)
def _registry() -> SessionRegistry:
    """Every session of this server; a daemon thread forgets those of closed tabs."""
    registry = SessionRegistry(CHECKPOINT_ROOT, TOKEN_PATTERN, session_idle_seconds(), MAX_REMEMBERED_SESSIONS)
    registry.start_sweeping(SWEEP_INTERVAL_SECONDS)
    return registry


def keep_alive_seconds() -> float:
    return _registry().idle_seconds / KEEP_ALIVES_PER_IDLE_TIME


def checkpoint_path(token: str) -> Path:
    # The folder names are the tokens, and a token opens its session: only this server's user may list them.
    CHECKPOINT_ROOT.mkdir(mode=0o700, exist_ok=True)
    CHECKPOINT_ROOT.chmod(0o700)
    return CHECKPOINT_ROOT / token / CHECKPOINT_NAME


def _restore_or_create(token: str) -> TrainingSession:
    path = checkpoint_path(token)
    session = TrainingSession(path)
    if path.is_file():  # the server restarted since this tab last trained
        try:
            session.load_checkpoint(path, name=CHECKPOINT_NAME)
        except (CheckpointError, OSError):
            pass  # a damaged leftover file: start empty rather than fail the page
    return session


def get_session() -> TrainingSession:
    """This browser session's TrainingSession, created on first use and found again after a reload.

    Every call marks the session seen: a tab that runs no script for the idle time counts as closed.
    """
    session = st.session_state.get(SESSION_KEY)
    if session is None:
        token = st.query_params.get(TOKEN_PARAM, "")
        if not TOKEN_PATTERN.fullmatch(token):
            token = secrets.token_hex(16)
        session = _registry().get_or_add(token, lambda: _restore_or_create(token))
    else:
        token = session.checkpoint_path.parent.name
        session = _registry().seen(token, session)  # another tab with this link may have made a new one
    if st.session_state.get(SESSION_KEY) is not session:
        st.session_state[SESSION_KEY] = session
    if st.query_params.get(TOKEN_PARAM) != token:  # page switches drop query parameters
        st.query_params[TOKEN_PARAM] = token
    return session


def summary_of(session: TrainingSession, snapshot: JobSnapshot) -> ModelSummary:
    """What the sidebar says about the model, read from snapshot while it trains (the page's views read the same)."""
    if snapshot.active:
        return ModelSummary(ModelStatus.TRAINING, snapshot.epochs_done, snapshot.history.last_test_accuracy)
    model = session.model()
    if model is None:
        return ModelSummary(ModelStatus.NONE)
    return ModelSummary(ModelStatus.TRAINED, model.epochs_done, model.history.last_test_accuracy,
                        model.examples_into_epoch)


def session_model() -> TrainingState | None:
    return get_session().model()


def per_model(key: str, model: TrainingState, compute: Callable[[TrainingState], T]) -> T:
    """compute(model), kept in st.session_state[key] until the model changes, not redone every rerun.

    Each model the job publishes (epoch end, stop, upload) is a new object that never changes, so
    identity tells whether the kept value is still that model's.
    """
    kept = st.session_state.get(key)
    if kept is None or kept[0] is not model:
        kept = (model, compute(model))
        st.session_state[key] = kept
    return kept[1]


def start_training(config: TrainConfig | None = None) -> bool:
    """Train a fresh model for this session in the background; False if one is already training.

    Raises ServerBusyError, worded in the page's language, when every slot and place in the queue is taken.
    """
    session = get_session()
    if session.start_new(config or QUICK_MODEL_CONFIG, load_data()):
        return True
    if session.snapshot().status == JobStatus.BUSY:
        limiter = default_limiter()
        raise ServerBusyError(limiter.slots, limiter.max_waiting, message=server_busy_message())
    return False


def server_busy_message() -> str:
    """The learner's "server busy, try again" in the page's language."""
    limiter = default_limiter()
    return t("common.server_busy", slots=limiter.slots, waiting=limiter.max_waiting)

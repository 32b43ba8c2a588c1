"""One user's runs (``TrainingSession``) and a server's sessions (``SessionRegistry``).

    session = TrainingSession(checkpoint_path="run/checkpoint.pt")
    session.start_new(TrainConfig(n_epochs=1), data)   # False if a job is already running
    session.snapshot()                                  # status, progress, a copy of the history
    session.continue_training(2, data)                  # resumes with the optimizer state
    session.stop()                                      # between batches; the weights so far are kept
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ..checkpoint import load_checkpoint
from ..data import MnistData
from ..network.spec import NetSpec
from ..training.config import TrainConfig
from ..training.device import resolve_device
from ..training.engine import History, TrainingState, new_training_state
from ..training.recipe import Recipe
from .epoch_checkpoints import EpochCheckpoint, MissingEpochError, delete_run_files
from .job import JobBusyError, JobSnapshot, TrainingJob, copy_state
from .limiter import SlotLimiter

SESSION_IDLE_ENV = "MNIST_SESSION_IDLE_MINUTES"
DEFAULT_SESSION_IDLE_MINUTES = 10.0  # a session unseen this long is taken for a closed tab


def session_idle_seconds() -> float:
    """MNIST_SESSION_IDLE_MINUTES (a positive number, fractions allowed) in seconds, else the default's."""
    try:
        minutes = float(os.environ.get(SESSION_IDLE_ENV, ""))
    except ValueError:
        minutes = DEFAULT_SESSION_IDLE_MINUTES
    if not minutes > 0 or minutes == float("inf"):  # also refuses nan
        minutes = DEFAULT_SESSION_IDLE_MINUTES
    return minutes * 60


class RunOrigin(StrEnum):
    """Where a run's weights came from: the run list labels uploads by their file name."""

    TRAINED = "trained"  # trained from scratch in this session
    UPLOADED = "uploaded"  # read from a checkpoint file


@dataclass(frozen=True)
class RunRecord:
    """One line of the session's run list: a training from scratch or an uploaded checkpoint."""

    run_id: int
    config: TrainConfig
    origin: RunOrigin
    name: str = ""  # the uploaded file's name
    spec: NetSpec | None = None  # the run's network and recipe, for the run list and comparison
    recipe: Recipe | None = None


class TrainingSession:
    """One user's job, current state and earlier runs; no state is shared between sessions.

    Two tabs with the same session link press buttons on one session: each action checks the job and
    acts under one lock, so concurrent presses give one job and one run record per run. The lock is
    never held while a file is read or the net is built, so a slow upload blocks no other press.
    """

    def __init__(self, checkpoint_path: str | os.PathLike | None = None, limiter: SlotLimiter | None = None) -> None:
        self.checkpoint_path = None if checkpoint_path is None else Path(checkpoint_path)
        self.job = TrainingJob(limiter)
        self._lock = threading.Lock()  # held from checking the job to the end of acting on it
        self._state: TrainingState | None = None  # owned by the job thread while it is active
        self._runs: list[RunRecord] = []
        self._histories: dict[int, History] = {}  # finished histories of runs other than the current one
        self._run_ids = itertools.count(1)

    # --- actions ------------------------------------------------------------------------------

    def start_new(self, config: TrainConfig, data: MnistData, spec: NetSpec | None = None,
                  recipe: Recipe | None = None) -> bool:
        """A fresh net (the tutorial's unless spec says otherwise) trained for config.n_epochs as a new run.

        False, and nothing changes, if a job is active or the server's queue is full (then the
        snapshot's status is BUSY).
        """
        if self.job.active:  # spares building a net; the check that counts is the one under the lock
            return False
        state = new_training_state(config, spec=spec, recipe=recipe)
        with self._lock:
            if self.job.active:
                return False
            archived = self.job.snapshot().history
            if not self.job.start(state, data, checkpoint_path=self.checkpoint_path, new_run=True):
                return False
            self._begin_run(state, RunRecord(next(self._run_ids), config, RunOrigin.TRAINED, spec=state.spec,
                                                  recipe=state.recipe), archived)
            return True

    def continue_training(self, n_epochs: int, data: MnistData) -> bool:
        """Resume the current state (optimizer included) for n_epochs more.

        False if a job is active or the server's queue is full (status BUSY); JobBusyError if there is
        no model yet.
        """
        with self._lock:
            if self.job.active:
                return False
            if self._state is None:
                raise JobBusyError("There is no model to continue yet: train one or load a checkpoint first.")
            return self.job.start(self._state, data, n_epochs, checkpoint_path=self.checkpoint_path)

    def stop(self) -> None:
        with self._lock:  # a Stop pressed during a start stops the job that start made
            self.job.stop()

    def load_checkpoint(self, source, name: str = "checkpoint") -> TrainingState:
        """Make a validated checkpoint the current state, as a new run.

        Raises CheckpointError (bad file) or JobBusyError (a job is training); either way nothing changes.
        """
        if self.job.active:  # refuse before reading the file; the check that counts is under the lock
            raise JobBusyError("Stop the training before loading a checkpoint.")
        return self.adopt_checkpoint(self.read_checkpoint(source), name)

    def read_checkpoint(self, source) -> TrainingState:
        """A validated checkpoint on the device new runs train on; nothing changes (e.g. to ask before using
        it). Raises CheckpointError for a bad file."""
        return load_checkpoint(source, device=resolve_device("auto"))

    def adopt_checkpoint(self, state: TrainingState, name: str = "checkpoint") -> TrainingState:
        """Make ``state`` (from read_checkpoint) the current state, as a new run whose first saved epoch it is.
        A file stopped inside an epoch is listed under its finished epochs with ``examples_into_epoch`` set, so
        every view labels it partial.

        The previous run's epoch files go. JobBusyError (and nothing changes) while a job is training.
        """
        state = copy_state(state)  # the caller may keep its own; the session's is trained in place
        with self._lock:
            if self.job.active:
                raise JobBusyError("Stop the training before loading a checkpoint.")
            archived = self.job.snapshot().history
            delete_run_files(self.checkpoint_path)
            saved = self.job.save_epoch_quietly(state, self.checkpoint_path, source=name)
            self.job.adopt(state, () if saved is None else (saved,))
            self._begin_run(state, RunRecord(next(self._run_ids), state.config, RunOrigin.UPLOADED, name,
                                                  state.spec, state.recipe), archived)
            # Under the lock: a job started right after must not have its checkpoint overwritten by this one.
            self.job.save_quietly(state, self.checkpoint_path)
        return state

    def load_epoch(self, epoch: int) -> TrainingState:
        """Go back to a saved epoch of the current run: its weights, optimizer and curves become the current
        state. The run and its list of saved epochs stay; continuing from here drops the later ones.

        Raises MissingEpochError, CheckpointError (the file was damaged) or JobBusyError; nothing changes then.
        """
        if self.job.active:
            raise JobBusyError("Stop the training before loading a checkpoint.")
        saved = self.epoch_checkpoints()
        entry = next((entry for entry in saved if entry.epoch == epoch), None)
        if entry is None:
            raise MissingEpochError(epoch, [entry.epoch for entry in saved])
        state = self.read_checkpoint(entry.path)
        with self._lock:
            if self.job.active:
                raise JobBusyError("Stop the training before loading a checkpoint.")
            self.job.adopt(state, self.epoch_checkpoints())
            self._state = state
            self.job.save_quietly(state, self.checkpoint_path)  # a reload after a server restart finds this one
        return state

    def _begin_run(self, state: TrainingState, record: RunRecord, archived: History) -> None:
        """Make ``state`` the current run; ``archived`` is the history the run before it ended with.
        Callers hold self._lock."""
        if self._runs:
            self._histories[self._runs[-1].run_id] = archived
        self._state = state
        self._runs.append(record)

    # --- reading ------------------------------------------------------------------------------

    def snapshot(self) -> JobSnapshot:
        return self.job.snapshot()

    def epoch_checkpoints(self) -> tuple[EpochCheckpoint, ...]:
        """The current run's saved epochs, oldest first (the same list as snapshot().epoch_checkpoints)."""
        return self.snapshot().epoch_checkpoints

    def model(self) -> TrainingState | None:
        """A consistent copy of the latest weights, safe to use while a job trains."""
        return self.job.latest_state()

    def runs(self) -> list[tuple[RunRecord, History]]:
        """Every run of this session, oldest first, with its history (the current one's is live)."""
        with self._lock:
            current = self.snapshot().history if self._runs else None
            return [
                (record, current if index == len(self._runs) - 1 else self._histories[record.run_id])
                for index, record in enumerate(self._runs)
            ]


# --- a server's sessions ------------------------------------------------------------------------------------


@dataclass
class _Remembered:
    session: TrainingSession
    last_seen: float  # the registry's clock at this session's last script run


class SessionRegistry:
    """Key -> TrainingSession for a whole server; the sessions of closed tabs are stopped and forgotten.

    A browser tab that is open reruns at least every keep-alive interval (a UI's job to arrange) and
    marks its session seen. One not seen for ``idle_seconds`` is taken for a closed tab: sweep() stops
    its job and, once the job's thread has ended, deletes its checkpoint folder and forgets it. Folders
    under ``root`` that no remembered session owns (left by an earlier server, or by a session forgotten
    to keep ``max_sessions``) go too once untouched for ``idle_seconds``. Only real folders directly
    inside ``root`` whose names ``key_pattern`` matches are ever deleted.
    """

    def __init__(self, root: str | os.PathLike, key_pattern: re.Pattern, idle_seconds: float,
                 max_sessions: int, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.key_pattern = key_pattern
        self.idle_seconds = idle_seconds
        self.max_sessions = max_sessions  # idle ones beyond this are forgotten, oldest first (files stay)
        self._clock = clock  # wall-clock seconds: folder ages compare with file modification times
        self._lock = threading.Lock()
        self._remembered: OrderedDict[str, _Remembered] = OrderedDict()  # least recently seen first
        self._closed = threading.Event()
        self.last_sweep_error: str | None = None  # the sweeping thread's last failure, if any

    def get_or_add(self, key: str, create: Callable[[], TrainingSession]) -> TrainingSession:
        """The session remembered for ``key`` (marked seen), else ``create()``'s, remembered.

        create() runs outside the lock (it may read a checkpoint); when two tabs with one link race
        here, both get the session that was remembered first.
        """
        with self._lock:
            remembered = self._remembered.get(key)
            if remembered is not None:
                return self._mark_seen(key, remembered.session)
        session = create()
        with self._lock:
            remembered = self._remembered.get(key)
            return self._mark_seen(key, session if remembered is None else remembered.session)

    def seen(self, key: str, session: TrainingSession) -> TrainingSession:
        """Mark a script run of ``session``; the session to use from now on.

        A tab that slept past the idle time finds its session forgotten (job stopped, files deleted):
        it is remembered again as it is. If another tab has made a new one for the key since, that one.
        """
        with self._lock:
            remembered = self._remembered.get(key)
            return self._mark_seen(key, session if remembered is None else remembered.session)

    def get(self, key: str) -> TrainingSession | None:
        """The session remembered for ``key``, without marking it seen."""
        with self._lock:
            remembered = self._remembered.get(key)
            return None if remembered is None else remembered.session

    def _mark_seen(self, key: str, session: TrainingSession) -> TrainingSession:
        """Callers hold self._lock."""
        self._remembered[key] = _Remembered(session, self._clock())
        self._remembered.move_to_end(key)
        if len(self._remembered) > self.max_sessions:  # get_session calls this several times a run: scan rarely
            idle = [k for k, r in self._remembered.items() if k != key and not r.session.job.active]
            for old in idle[: len(self._remembered) - self.max_sessions]:
                del self._remembered[old]
        return session

    def sweep(self) -> list[str]:
        """Stop the jobs of sessions unseen for idle_seconds; delete and forget those whose job has ended.

        Returns the keys forgotten. A job stops before its next batch, so its files go at a later sweep.
        """
        now = self._clock()
        forgotten = []
        with self._lock:
            for key, remembered in list(self._remembered.items()):
                if now - remembered.last_seen < self.idle_seconds:
                    continue
                remembered.session.stop()
                if remembered.session.job.active:
                    continue
                folder = remembered.session.checkpoint_path.parent if remembered.session.checkpoint_path else None
                if folder is not None and self._deletable(folder):
                    shutil.rmtree(folder, ignore_errors=True)
                del self._remembered[key]
                forgotten.append(key)
            owned = {r.session.checkpoint_path.parent.name for r in self._remembered.values()
                     if r.session.checkpoint_path is not None}
            for folder in self._orphans(now, owned):
                shutil.rmtree(folder, ignore_errors=True)
        return forgotten

    def _deletable(self, folder: Path) -> bool:
        """A real folder directly inside root, named like a key: never a link, root itself or anything outside."""
        try:
            return (self.key_pattern.fullmatch(folder.name) is not None and not folder.is_symlink()
                    and folder.is_dir() and folder.parent.resolve() == self.root.resolve())
        except OSError:
            return False

    def _orphans(self, now: float, owned: set[str]) -> list[Path]:
        """Session folders in root that no remembered session owns (by name) and nothing touched for idle_seconds."""
        try:
            candidates = [folder for folder in self.root.iterdir()
                          if folder.name not in owned and self._deletable(folder)]
        except OSError:  # no root yet: nothing to delete
            return []
        orphans = []
        for folder in candidates:
            try:
                touched = max(path.lstat().st_mtime for path in [folder, *folder.iterdir()])
            except OSError:
                continue
            if now - touched >= self.idle_seconds:
                orphans.append(folder)
        return orphans

    def start_sweeping(self, interval_seconds: float) -> None:
        """Sweep every interval_seconds in a daemon thread, so the last learners to leave are swept too."""
        def sweep_until_closed() -> None:
            while not self._closed.wait(interval_seconds):
                try:
                    self.sweep()
                except Exception as exc:  # noqa: BLE001 - keep sweeping; the last failure stays readable
                    self.last_sweep_error = f"{type(exc).__name__}: {exc}"

        threading.Thread(target=sweep_until_closed, name="mnist-session-sweeper", daemon=True).start()

    def close(self) -> None:
        """End the sweeping thread, if any."""
        self._closed.set()

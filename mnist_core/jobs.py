"""Training in a background thread, one job per user, and a server-wide limit on concurrent jobs.

A UI keeps one ``TrainingSession`` per user. Its job thread consumes ``engine.train`` and
writes into a plain object behind a lock; the UI polls ``snapshot()`` and never touches the
state being trained. Readers get copies: ``snapshot().history`` and ``latest_state()`` (the
weights as of the last epoch end or stop), so they can use them while the thread goes on.

    session = TrainingSession(checkpoint_path="run/checkpoint.pt")
    session.start_new(TrainConfig(n_epochs=1), data)   # False if a job is already running
    session.snapshot()                                  # status, progress, a copy of the history
    session.continue_training(2, data)                  # resumes with the optimizer state
    session.stop()                                      # between batches; the weights so far are kept
"""

from __future__ import annotations

import copy
import itertools
import os
import re
import shutil
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import MnistData
from .device import resolve_device, usable_cores
from .engine import (
    BatchEvent,
    History,
    StoppedEvent,
    TestEvent,
    TrainingDiverged,
    TrainingState,
    make_optimizer,
    new_training_state,
    train,
)
from .netspec import NetSpec
from .recipe import Recipe

IDLE = "idle"  # nothing started yet
WAITING = "waiting"  # queued for a free slot
RUNNING = "running"
FINISHED = "finished"  # all requested epochs done
STOPPED = "stopped"  # Stop pressed; the weights so far are kept
DIVERGED = "diverged"  # NaN/inf loss; the last good weights are kept
FAILED = "failed"  # an unexpected error in the thread
BUSY = "busy"  # refused at once: every slot and every place in the queue was taken; nothing changed
ACTIVE_STATUSES = (WAITING, RUNNING)

MAX_JOBS_ENV = "MNIST_MAX_TRAINING_JOBS"
MAX_WAITING_ENV = "MNIST_MAX_WAITING_JOBS"
WAITING_PER_SLOT = 2  # default queue: two waiting jobs per slot, so a learner waits at most about two runs
SESSION_IDLE_ENV = "MNIST_SESSION_IDLE_MINUTES"
DEFAULT_SESSION_IDLE_MINUTES = 10.0  # a session unseen this long is taken for a closed tab


class JobBusyError(ValueError):
    """An action that needs the job idle (load, continue) was asked for while it trains."""


class ServerBusyError(ValueError):
    """Every training slot and every place in the queue is taken: the job was refused, not queued."""

    def __init__(self, slots: int, max_waiting: int, message: str | None = None) -> None:
        """message: the text to show instead of the English one, e.g. worded in a UI's language."""
        super().__init__(message or f"The server is busy: all {slots} training slots are in use and "
                                    f"{max_waiting} more jobs are already waiting. Try again in a few minutes.")
        self.slots, self.max_waiting = slots, max_waiting


@dataclass(eq=False)  # compared by identity: each is one job's place
class SlotTicket:
    """One job's place in a SlotLimiter's queue; the limiter keeps ``position`` up to date."""

    position: int = 0  # 1-based place among the jobs waiting; 0 once it holds a slot or has left
    cancelled: bool = False


class SlotLimiter:
    """At most ``slots`` jobs train at once; at most ``max_waiting`` more wait, in arrival order.

    A job takes a ticket (``enqueue``, refused with ServerBusyError when the queue is full), then waits
    for its turn (``wait``) on a condition that release() and cancel() notify: waiting costs no CPU.
    """

    def __init__(self, slots: int, max_waiting: int | None = None) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}.")
        max_waiting = WAITING_PER_SLOT * slots if max_waiting is None else max_waiting
        if max_waiting < 0:
            raise ValueError(f"max_waiting must be at least 0, got {max_waiting}.")
        self.slots = slots
        self.max_waiting = max_waiting
        self._cores = usable_cores()
        self._condition = threading.Condition()
        self._in_use = 0
        self._queue: list[SlotTicket] = []  # waiting, first in line first

    def enqueue(self) -> SlotTicket:
        """A place in the queue; ServerBusyError when all slots and all places are taken."""
        with self._condition:
            if self._in_use + len(self._queue) >= self.slots + self.max_waiting:
                raise ServerBusyError(self.slots, self.max_waiting)
            ticket = SlotTicket()
            self._queue.append(ticket)
            self._number_queue()
            return ticket

    def wait(self, ticket: SlotTicket) -> bool:
        """Block until the ticket holds a slot (True) or is cancelled (False)."""
        with self._condition:
            while not ticket.cancelled and (self._in_use >= self.slots or self._queue[0] is not ticket):
                self._condition.wait()
            if ticket.cancelled:
                return False
            self._queue.pop(0)
            ticket.position = 0
            self._in_use += 1
            self._number_queue()
            self._condition.notify_all()  # a second free slot may be the next ticket's
            return True

    def cancel(self, ticket: SlotTicket) -> None:
        """Give up a place in the queue (Stop while waiting); no effect once the ticket holds a slot."""
        with self._condition:
            if ticket in self._queue:
                self._queue.remove(ticket)
                ticket.cancelled, ticket.position = True, 0
                self._number_queue()
                self._condition.notify_all()

    def acquire(self) -> bool:
        """Queue and block until a slot is free; ServerBusyError when the queue is full."""
        return self.wait(self.enqueue())

    def _number_queue(self) -> None:
        """Callers hold the condition."""
        for place, ticket in enumerate(self._queue, start=1):
            ticket.position = place

    def release(self) -> None:
        with self._condition:
            if self._in_use == 0:
                raise RuntimeError("release() without a matching acquire().")
            self._in_use -= 1
            self._condition.notify_all()

    @property
    def in_use(self) -> int:
        with self._condition:
            return self._in_use

    @property
    def threads_per_job(self) -> int:
        """PyTorch threads for each job: the cores shared out over the slots, at least one each.

        Fixed for the server's lifetime, not sized to how many jobs run right now: CPU results depend on
        the thread count (reductions split differently), so a job's numbers would otherwise depend on who
        else is training. Sharing matters as much as fixing: jobs that together start more threads than
        there are cores run far slower than one thread each (bench/two_sessions.py, 2 cores: 16.5 s for
        two 2-thread epochs at once, against 6.7 s), because libgomp then cuts its workers' spin-wait
        short and they sleep and wake on every parallel region. Jobs on a GPU hold slots too.
        """
        return max(1, self._cores // self.slots)

    @property
    def waiting(self) -> int:
        with self._condition:
            return len(self._queue)


_default_limiter: SlotLimiter | None = None
_default_limiter_lock = threading.Lock()


def default_limiter() -> SlotLimiter:
    """The process-wide limiter: MNIST_MAX_TRAINING_JOBS slots if set, else one per CPU core we may use;
    MNIST_MAX_WAITING_JOBS places in the queue if set (0: no queue), else WAITING_PER_SLOT per slot.

    The cores are counted once for the server's lifetime, so a momentary load when the first job
    starts does not shrink it.
    """
    global _default_limiter
    with _default_limiter_lock:
        if _default_limiter is None:
            slots = _count_from_env(MAX_JOBS_ENV, minimum=1) or usable_cores()
            _default_limiter = SlotLimiter(slots, _count_from_env(MAX_WAITING_ENV, minimum=0))
        return _default_limiter


def _count_from_env(name: str, minimum: int) -> int | None:
    """The whole number in environment variable ``name``; None when unset, not a number or below minimum."""
    configured = os.environ.get(name, "").strip()
    return int(configured) if configured.isdigit() and int(configured) >= minimum else None


def session_idle_seconds() -> float:
    """MNIST_SESSION_IDLE_MINUTES (a positive number, fractions allowed) in seconds, else the default's."""
    try:
        minutes = float(os.environ.get(SESSION_IDLE_ENV, ""))
    except ValueError:
        minutes = DEFAULT_SESSION_IDLE_MINUTES
    if not minutes > 0 or minutes == float("inf"):  # also refuses nan
        minutes = DEFAULT_SESSION_IDLE_MINUTES
    return minutes * 60


def copy_state(state: TrainingState) -> TrainingState:
    """An independent copy (weights, optimizer, history, RNG) that another thread can read or train."""
    model = copy.deepcopy(state.model)
    model.use_generator(None)  # the copy must not share or replay the run's random stream
    optimizer = make_optimizer(model, state.config, state.recipe)
    optimizer.load_state_dict(copy.deepcopy(state.optimizer.state_dict()))
    shuffle_generator = torch.Generator()
    shuffle_generator.set_state(state.shuffle_generator.get_state())
    return TrainingState(
        config=state.config,
        model=model,
        optimizer=optimizer,
        history=state.history.copy(),
        epochs_done=state.epochs_done,
        examples_seen=state.examples_seen,
        shuffle_generator=shuffle_generator,
        torch_rng_state=None if state.torch_rng_state is None else state.torch_rng_state.clone(),
        recipe=state.recipe,
    )


@dataclass(frozen=True)
class JobSnapshot:
    """What a UI needs to draw one frame; every field is a copy."""

    status: str = IDLE
    history: History = field(default_factory=History)
    epochs_done: int = 0  # in the whole state, across continued runs
    target_epochs: int = 0  # epochs_done when this run ends
    epoch: int = 0  # epoch being trained (1-based, whole state)
    batch_index: int = 0
    batches_per_epoch: int = 0
    run_examples_done: int = 0  # examples trained in this run
    run_examples_total: int = 0  # examples this run will train
    elapsed_seconds: float = 0.0  # training time of this run, slot wait excluded
    stop_requested: bool = False
    queue_position: int = 0  # 1-based place among the jobs waiting for a slot; 0 when not waiting
    error: str | None = None  # learner-facing message for DIVERGED / FAILED / BUSY
    error_details: str | None = None  # traceback of a FAILED job, for bug reports
    checkpoint_error: str | None = None  # the last checkpoint write that failed, if any

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def progress(self) -> float:
        """Fraction of this run's training examples done, 0-1."""
        return min(1.0, self.run_examples_done / self.run_examples_total) if self.run_examples_total else 0.0

    @property
    def examples_per_second(self) -> float | None:
        if self.run_examples_done == 0 or self.elapsed_seconds <= 0:
            return None
        return self.run_examples_done / self.elapsed_seconds

    @property
    def eta_seconds(self) -> float | None:
        """Seconds of training left at this run's average speed (testing time not included)."""
        rate = self.examples_per_second
        if rate is None:
            return None
        return max(0.0, (self.run_examples_total - self.run_examples_done) / rate)


class TrainingJob:
    """One background training thread at a time; the thread never calls any UI."""

    def __init__(self, limiter: SlotLimiter | None = None) -> None:
        self._limiter = limiter or default_limiter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._snapshot = JobSnapshot()
        self._published: TrainingState | None = None
        self._ticket: SlotTicket | None = None  # the current run's place in the limiter's queue

    def start(
        self,
        state: TrainingState,
        data: MnistData,
        n_epochs: int | None = None,
        checkpoint_path: str | os.PathLike | None = None,
    ) -> bool:
        """Train ``state`` in a new thread; False (and nothing changes) if a job is already active.

        Also False when the server's queue is full: the snapshot's status turns BUSY, the rest of it
        and the published model stay as they were.
        From here on the thread owns ``state``: read it through snapshot() and latest_state().
        Each epoch's weights, and those at a stop or divergence, are written to checkpoint_path.
        """
        n_epochs = state.config.n_epochs if n_epochs is None else n_epochs
        if n_epochs < 1:
            raise ValueError(f"n_epochs must be at least 1, got {n_epochs}.")
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            try:
                self._ticket = self._limiter.enqueue()
            except ServerBusyError as exc:
                self._update(status=BUSY, error=str(exc), error_details=None, stop_requested=False, queue_position=0)
                return False
            self._stop.clear()
            self._snapshot = JobSnapshot(
                status=WAITING,
                history=state.history.copy(),
                epochs_done=state.epochs_done,
                target_epochs=state.epochs_done + n_epochs,
                epoch=state.epochs_done + 1,
                run_examples_total=n_epochs * data.n_train,
            )
            if state.examples_seen > 0:  # an untrained net is no model; keep the previous one until then
                self._published = copy_state(state)
            self._thread = threading.Thread(
                target=self._run,
                args=(state, data, n_epochs, checkpoint_path),
                name="mnist-training-job",
                daemon=True,  # a server shutdown should not wait for a learner's 100 epochs
            )
            try:
                self._thread.start()
            except BaseException as exc:  # e.g. the process may start no more threads
                self._limiter.cancel(self._ticket)
                self._update(status=FAILED, error=f"{type(exc).__name__}: {exc}")
                raise
        return True

    def stop(self) -> None:
        """Ask the thread to end before its next batch (or to give up waiting for a slot)."""
        self._stop.set()
        with self._lock:
            ticket = self._ticket
            if self._snapshot.active:
                self._update(stop_requested=True)
        if ticket is not None:
            self._limiter.cancel(ticket)  # wakes the thread if it waits for a slot

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended (or never started)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @property
    def active(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            waiting = self._snapshot.status == WAITING and self._ticket is not None
            position = self._ticket.position if waiting else 0  # the limiter moves tickets up the queue
            if position != self._snapshot.queue_position:
                self._update(queue_position=position)
            return self._snapshot

    def latest_state(self) -> TrainingState | None:
        """A copy of the trained weights as of the last epoch end, stop or divergence.

        None until some training happened; a fresh run keeps showing the previous model until then.
        """
        with self._lock:
            return self._published

    def adopt(self, state: TrainingState) -> None:
        """Show ``state`` (e.g. loaded from a file) as this job's idle result."""
        if self.active:
            raise JobBusyError("Stop the training before loading a checkpoint.")
        published = copy_state(state)
        with self._lock:
            self._published = published
            self._snapshot = JobSnapshot(status=IDLE, history=state.history.copy(),
                                         epochs_done=state.epochs_done, target_epochs=state.epochs_done)

    # --- the thread ---------------------------------------------------------------------------

    def _update(self, **changes) -> None:
        """Replace the snapshot (callers hold self._lock); readers keep the old one intact."""
        self._snapshot = replace(self._snapshot, **changes)

    def _publish(self, state: TrainingState, examples_at_start: int, checkpoint_path, **changes) -> None:
        """Hand out a copy of the weights (once any training happened), update the snapshot, and
        checkpoint the copy if this run trained (not at the test before training)."""
        published = copy_state(state) if state.examples_seen > 0 else None
        with self._lock:
            if published is not None:
                self._published = published
            self._update(**changes)
        if published is not None and state.examples_seen > examples_at_start:
            self._checkpoint(published, checkpoint_path)

    def _run(self, state: TrainingState, data: MnistData, n_epochs: int, checkpoint_path) -> None:
        examples_at_start = state.examples_seen
        try:
            if not self._limiter.wait(self._ticket):  # False: Stop pressed while waiting
                with self._lock:
                    self._update(status=STOPPED)
                return
            try:
                with self._lock:
                    self._update(status=RUNNING)
                started = time.perf_counter()
                threads = self._limiter.threads_per_job if state.device.type == "cpu" else None
                for event in train(state, data, n_epochs, should_stop=self._stop.is_set, cpu_threads=threads):
                    elapsed = time.perf_counter() - started
                    progress = dict(
                        history=state.history.snapshot(),  # O(1): a frozen view, not a copy per logged batch
                        epochs_done=state.epochs_done,
                        run_examples_done=state.examples_seen - examples_at_start,
                        elapsed_seconds=elapsed,
                    )
                    if isinstance(event, BatchEvent):
                        with self._lock:
                            self._update(epoch=event.epoch, batch_index=event.batch_index,
                                         batches_per_epoch=event.batches_per_epoch, **progress)
                    elif isinstance(event, TestEvent):
                        next_epoch = min(state.epochs_done + 1, self._snapshot.target_epochs)
                        self._publish(state, examples_at_start, checkpoint_path, epoch=next_epoch, **progress)
                    elif isinstance(event, StoppedEvent):
                        self._publish(state, examples_at_start, checkpoint_path, status=STOPPED, **progress)
                        return
                with self._lock:
                    self._update(status=FINISHED)
            finally:
                self._limiter.release()
        except TrainingDiverged as exc:  # the engine has already restored the last good weights
            self._publish(state, examples_at_start, checkpoint_path, status=DIVERGED, error=str(exc),
                          history=state.history.snapshot(), epochs_done=state.epochs_done)
        except Exception as exc:  # never silent: the UI shows it
            with self._lock:
                self._update(status=FAILED, error=f"{type(exc).__name__}: {exc}",
                             error_details=traceback.format_exc())

    def _checkpoint(self, state: TrainingState, path) -> None:
        if path is None:
            return
        try:
            save_checkpoint(state, path)
        except OSError as exc:  # a full disk must not end the training, but the learner should know
            with self._lock:
                self._update(checkpoint_error=f"{path}: {exc.strerror or exc}")


@dataclass(frozen=True)
class RunRecord:
    """One line of the session's run list: a training from scratch or an uploaded checkpoint."""

    run_id: int
    config: TrainConfig
    origin: str  # "trained" or "uploaded"
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
            if not self.job.start(state, data, checkpoint_path=self.checkpoint_path):
                return False
            self._begin_run(state, RunRecord(next(self._run_ids), config, "trained", spec=state.spec,
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
        state = load_checkpoint(source, device=resolve_device("auto"))  # continue where new runs train
        with self._lock:
            if self.job.active:
                raise JobBusyError("Stop the training before loading a checkpoint.")
            archived = self.job.snapshot().history
            self.job.adopt(state)
            self._begin_run(state, RunRecord(next(self._run_ids), state.config, "uploaded", name,
                                                  state.spec, state.recipe), archived)
            # Under the lock: a job started right after must not have its checkpoint overwritten by this one.
            self.job._checkpoint(state, self.checkpoint_path)  # a failed write shows on the page, never raises
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
                except Exception as exc:  # keep sweeping; the last failure stays readable
                    self.last_sweep_error = f"{type(exc).__name__}: {exc}"

        threading.Thread(target=sweep_until_closed, name="mnist-session-sweeper", daemon=True).start()

    def close(self) -> None:
        """End the sweeping thread, if any."""
        self._closed.set()

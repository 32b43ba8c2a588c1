"""One training run in a background thread: the job writes a snapshot behind a lock; readers get copies.

The job thread consumes ``engine.train`` and writes into a plain object behind a lock; the UI polls
``snapshot()`` and never touches the state being trained. Readers get copies: ``snapshot().history``
and ``latest_state()`` (the weights as of the last epoch end or stop), so they can use them while the
thread goes on.
"""

from __future__ import annotations

import copy
import os
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from enum import StrEnum

import torch

from ..checkpoint import save_checkpoint
from ..data import MnistData
from ..training.engine import (
    BatchEvent,
    History,
    StoppedEvent,
    TestEvent,
    TrainingDiverged,
    TrainingState,
    examples_to_train,
    make_optimizer,
    train,
)
from .epoch_checkpoints import (
    EpochCheckpoint,
    add_within_bounds,
    delete_files,
    delete_run_files,
    save_epoch_checkpoint,
)
from .limiter import ServerBusyError, SlotLimiter, SlotTicket, default_limiter
from .progress import RateEstimate, smoothed_rate


class JobStatus(StrEnum):
    """A job's state; the one vocabulary of the job, the session's snapshot and every page that shows it."""

    IDLE = "idle"  # nothing started yet
    WAITING = "waiting"  # queued for a free slot
    RUNNING = "running"
    FINISHED = "finished"  # all requested epochs done
    STOPPED = "stopped"  # Stop pressed; the weights so far are kept
    DIVERGED = "diverged"  # NaN/inf loss; the last good weights are kept
    FAILED = "failed"  # an unexpected error in the thread
    BUSY = "busy"  # refused at once: every slot and every place in the queue was taken; nothing changed

    @classmethod
    def active(cls) -> tuple[JobStatus, ...]:
        """The statuses of a job that holds or waits for a slot."""
        return cls.WAITING, cls.RUNNING


class JobBusyError(ValueError):
    """An action that needs the job idle (load, continue) was asked for while it trains."""



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

    status: JobStatus = JobStatus.IDLE
    history: History = field(default_factory=History)
    epochs_done: int = 0  # in the whole state, across continued runs
    target_epochs: int = 0  # epochs_done when this run ends
    epoch: int = 0  # epoch being trained (1-based, whole state)
    batch_index: int = 0
    batches_per_epoch: int = 0
    run_examples_done: int = 0  # examples trained in this run
    run_examples_total: int = 0  # examples this run will train
    elapsed_seconds: float = 0.0  # training time of this run, slot wait excluded
    speed: float | None = None  # examples per second, smoothed over this run's events (runtime.progress); None at first
    stop_requested: bool = False
    queue_position: int = 0  # 1-based place among the jobs waiting for a slot; 0 when not waiting
    error: str | None = None  # learner-facing message when DIVERGED, FAILED or BUSY
    error_details: str | None = None  # traceback of a FAILED job, for bug reports
    checkpoint_error: str | None = None  # the last checkpoint write that failed, if any
    epoch_checkpoints: tuple[EpochCheckpoint, ...] = ()  # the current run's saved epochs, oldest first

    @property
    def active(self) -> bool:
        return self.status in JobStatus.active()

    @property
    def progress(self) -> float:
        """Fraction of this run's training examples done, 0-1."""
        return min(1.0, self.run_examples_done / self.run_examples_total) if self.run_examples_total else 0.0

    @property
    def examples_per_second(self) -> float | None:
        if self.run_examples_done == 0 or self.elapsed_seconds <= 0:
            return None
        return self.run_examples_done / self.elapsed_seconds


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
        new_run: bool = False,
    ) -> bool:
        """Train ``state`` in a new thread; False (and nothing changes) if a job is already active.

        Also False when the server's queue is full: the snapshot's status turns BUSY, the rest of it
        and the published model stay as they were.
        From here on the thread owns ``state``: read it through snapshot() and latest_state().
        Each epoch's weights, and those at a stop or divergence, are written to checkpoint_path; each finished
        epoch's also to its own file beside it (see epoch_checkpoints). new_run: the files of the run before go;
        otherwise (continuing) the run's saved epochs after ``state``'s are dropped: training goes on from here.
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
                self._update(status=JobStatus.BUSY, error=str(exc), error_details=None, stop_requested=False, queue_position=0)
                return False
            self._stop.clear()
            earlier = () if new_run else self._snapshot.epoch_checkpoints
            if new_run:
                delete_run_files(checkpoint_path)
            delete_files(entry.path for entry in earlier if entry.epoch > state.epochs_done)
            self._snapshot = JobSnapshot(
                status=JobStatus.WAITING,
                history=state.history.copy(),
                epochs_done=state.epochs_done,
                target_epochs=state.epochs_done + n_epochs,
                epoch=state.epochs_done + 1,
                run_examples_total=examples_to_train(state, data.n_train, n_epochs),  # less what a Stop left trained
                epoch_checkpoints=tuple(entry for entry in earlier if entry.epoch <= state.epochs_done),
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
                self._update(status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
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
            waiting = self._snapshot.status == JobStatus.WAITING and self._ticket is not None
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

    def adopt(self, state: TrainingState, epoch_checkpoints: tuple[EpochCheckpoint, ...] = ()) -> None:
        """Show ``state`` (e.g. loaded from a file) as this job's idle result, with the run's saved epochs."""
        if self.active:
            raise JobBusyError("Stop the training before loading a checkpoint.")
        published = copy_state(state)
        with self._lock:
            self._published = published
            self._snapshot = JobSnapshot(status=JobStatus.IDLE, history=state.history.copy(),
                                         epochs_done=state.epochs_done, target_epochs=state.epochs_done,
                                         epoch_checkpoints=epoch_checkpoints)

    # --- the thread ---------------------------------------------------------------------------

    def _update(self, **changes) -> None:
        """Replace the snapshot (callers hold self._lock); readers keep the old one intact."""
        self._snapshot = replace(self._snapshot, **changes)

    def _publish(self, state: TrainingState, examples_at_start: int, checkpoint_path, epoch_end: bool = False,
                 **changes) -> None:
        """Hand out a copy of the weights (once any training happened), update the snapshot, and
        checkpoint the copy if this run trained (not at the test before training). At an epoch's end the
        epoch's own file is written first, so the snapshot that shows the epoch done also lists its file."""
        published = copy_state(state) if state.examples_seen > 0 else None
        trained = published is not None and state.examples_seen > examples_at_start
        saved = self.save_epoch_quietly(published, checkpoint_path) if trained and epoch_end else None
        with self._lock:
            if published is not None:
                self._published = published
            if saved is not None:
                changes["epoch_checkpoints"] = add_within_bounds(self._snapshot.epoch_checkpoints, saved)
            self._update(**changes)
        if trained:
            self.save_quietly(published, checkpoint_path)

    def _run(self, state: TrainingState, data: MnistData, n_epochs: int, checkpoint_path) -> None:
        examples_at_start = state.examples_seen
        try:
            if not self._limiter.wait(self._ticket):  # False: Stop pressed while waiting
                with self._lock:
                    self._update(status=JobStatus.STOPPED)
                return
            try:
                with self._lock:
                    self._update(status=JobStatus.RUNNING)
                started = time.perf_counter()
                rate: RateEstimate | None = None  # measured at every event, on the job's own clock
                threads = self._limiter.threads_per_job if state.device.type == "cpu" else None
                for event in train(state, data, n_epochs, should_stop=self._stop.is_set, cpu_threads=threads):
                    elapsed = time.perf_counter() - started
                    done = state.examples_seen - examples_at_start
                    rate = smoothed_rate(rate, done, elapsed)
                    progress = {
                        "history": state.history.snapshot(),  # O(1): a frozen view, not a copy per logged batch
                        "epochs_done": state.epochs_done,
                        "run_examples_done": done,
                        "elapsed_seconds": elapsed,
                        "speed": rate.rate,
                    }
                    if isinstance(event, BatchEvent):
                        with self._lock:
                            self._update(epoch=event.epoch, batch_index=event.batch_index,
                                         batches_per_epoch=event.batches_per_epoch, **progress)
                    elif isinstance(event, TestEvent):
                        next_epoch = min(state.epochs_done + 1, self._snapshot.target_epochs)
                        self._publish(state, examples_at_start, checkpoint_path, epoch_end=True, epoch=next_epoch,
                                      **progress)
                    elif isinstance(event, StoppedEvent):
                        self._publish(state, examples_at_start, checkpoint_path, status=JobStatus.STOPPED, **progress)
                        return
                with self._lock:
                    self._update(status=JobStatus.FINISHED)
            finally:
                self._limiter.release()
        except TrainingDiverged as exc:  # the engine has already restored the last good weights
            self._publish(state, examples_at_start, checkpoint_path, status=JobStatus.DIVERGED, error=str(exc),
                          history=state.history.snapshot(), epochs_done=state.epochs_done)
        except Exception as exc:  # noqa: BLE001 - never silent: the UI shows it
            with self._lock:
                self._update(status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}",
                             error_details=traceback.format_exc())

    def save_quietly(self, state: TrainingState, path) -> None:
        """Save a checkpoint to path (None: nowhere); a failed write shows in the snapshot, never raises."""
        if path is None:
            return
        try:
            save_checkpoint(state, path)
        except OSError as exc:  # a full disk must not end the training, but the learner should know
            with self._lock:
                self._update(checkpoint_error=f"{path}: {exc.strerror or exc}")

    def save_epoch_quietly(self, state: TrainingState, checkpoint_path, source: str = "") -> EpochCheckpoint | None:
        """Save ``state`` to its epoch's file beside checkpoint_path (None: nowhere); a failed write shows in
        the snapshot and gives None, never raises."""
        if checkpoint_path is None:
            return None
        try:
            return save_epoch_checkpoint(state, checkpoint_path, source)
        except OSError as exc:
            with self._lock:
                self._update(checkpoint_error=f"{exc.filename or checkpoint_path}: {exc.strerror or exc}")
            return None


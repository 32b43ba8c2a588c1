"""The background training job, the slot limiter and per-user sessions (mnist_core.runtime)."""

from __future__ import annotations

import threading
from dataclasses import replace
import time

import pytest
import torch

from mnist_core import CheckpointError, MnistData, TrainConfig, load_checkpoint
from mnist_core.runtime import JobBusyError, JobStatus, ServerBusyError, SlotLimiter, TrainingSession

WAIT_SECONDS = 120  # generous bound for a busy 2-core machine; a hang fails instead of blocking forever


@pytest.fixture(scope="module")
def small_data(embedded_data) -> MnistData:
    """512 real training digits and 200 test digits: an epoch takes well under a second."""
    return MnistData(
        train_images=embedded_data.train_images[:512],
        train_labels=embedded_data.train_labels[:512],
        test_images=embedded_data.test_images[::5],
        test_labels=embedded_data.test_labels[::5],
        source=embedded_data.source,
        location=embedded_data.location,
    )


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def finish(session: TrainingSession):
    assert session.job.join(WAIT_SECONDS), "the training thread did not end"
    return session.snapshot()


def config(**changes) -> TrainConfig:
    values = dict(n_epochs=1, batch_size_train=64, log_interval=2, device="cpu")
    values.update(changes)
    return TrainConfig(**values)


def test_start_trains_in_the_background_and_checkpoints_each_epoch(small_data, tmp_path):
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    assert session.model() is None
    assert session.start_new(config(n_epochs=2), small_data)
    snapshot = finish(session)

    assert snapshot.status == JobStatus.FINISHED and snapshot.error is None
    assert snapshot.epochs_done == 2 and snapshot.progress == 1.0
    assert snapshot.history.test_counter == [0, 512, 1024]  # the test before training included
    assert snapshot.examples_per_second > 0 and snapshot.run_examples_done == snapshot.run_examples_total
    model = session.model()
    assert model.epochs_done == 2 and model.history.test_losses == snapshot.history.test_losses
    on_disk = load_checkpoint(tmp_path / "checkpoint.pt")
    assert on_disk.epochs_done == 2
    assert torch.equal(on_disk.model.fc2.weight, model.model.fc2.weight)


def test_pressing_train_twice_starts_one_job(small_data, tmp_path):
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    assert session.start_new(config(n_epochs=3), small_data)
    assert not session.start_new(config(n_epochs=3), small_data)
    assert not session.continue_training(1, small_data)
    assert [record.run_id for record, _ in session.runs()] == [1]
    assert finish(session).epochs_done == 3


def test_stop_ends_between_batches_and_keeps_the_weights(small_data, tmp_path):
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(n_epochs=50, batch_size_train=16), small_data)
    wait_until(lambda: session.snapshot().run_examples_done >= 3 * 16, "a few batches")
    session.stop()
    snapshot = finish(session)

    assert snapshot.status == JobStatus.STOPPED and snapshot.stop_requested
    assert snapshot.run_examples_done < 50 * 512
    model = session.model()
    assert model is not None and model.examples_seen == snapshot.run_examples_done
    assert load_checkpoint(tmp_path / "checkpoint.pt").examples_seen == model.examples_seen
    assert all(torch.isfinite(p).all() for p in model.model.parameters())


def test_continue_resumes_the_curve_and_marks_the_resume_point(small_data, tmp_path):
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(), small_data)
    first = finish(session)
    assert session.continue_training(2, small_data)
    resumed = finish(session)

    assert resumed.status == JobStatus.FINISHED and resumed.epochs_done == 3
    assert resumed.history.resume_points == [512]
    assert resumed.history.test_counter == [0, 512, 1024, 1536]
    assert resumed.history.train_losses[: len(first.history.train_losses)] == first.history.train_losses
    assert resumed.history.train_counter == sorted(resumed.history.train_counter)
    assert len(session.runs()) == 1  # continuing extends the run, it does not start another
    assert session.model().optimizer.state  # momentum buffers carried over


def test_a_copy_handed_out_does_not_change_while_training_goes_on(small_data, tmp_path):
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(n_epochs=4), small_data)
    wait_until(lambda: session.model() is not None, "the first epoch's model")
    copy = session.model()
    weights = copy.model.fc2.weight.clone()
    finish(session)
    assert copy.epochs_done >= 1
    assert torch.equal(copy.model.fc2.weight, weights)
    assert not torch.equal(session.model().model.fc2.weight, weights)


def test_an_error_in_the_thread_is_reported(small_data, tmp_path):
    broken = replace(small_data, train_labels=torch.full_like(small_data.train_labels, 12))  # no such class
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(), broken)
    snapshot = finish(session)
    assert snapshot.status == JobStatus.FAILED
    assert "out of bounds" in snapshot.error
    assert "Traceback" in snapshot.error_details


def test_divergence_stops_with_a_message_and_keeps_the_last_good_weights(small_data, tmp_path):
    # Whether a learning rate TrainConfig allows (up to 10) reaches NaN depends on the data, so the
    # loss is driven to NaN for certain the way corrupt input does it: pixels far beyond float32's range.
    exploding = replace(small_data, train_images=small_data.train_images * 1e38)
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(), small_data)
    finish(session)
    good = session.model()
    assert session.continue_training(2, exploding)
    snapshot = finish(session)

    assert snapshot.status == JobStatus.DIVERGED
    assert "diverged" in snapshot.error and "smaller learning rate" in snapshot.error
    model = session.model()
    assert torch.equal(model.model.fc1.weight, good.model.fc1.weight)
    saved = load_checkpoint(tmp_path / "checkpoint.pt")  # validation rejects non-finite weights
    assert torch.equal(saved.model.fc1.weight, good.model.fc1.weight)


def test_slot_limit_makes_an_extra_job_wait(small_data, tmp_path):
    limiter = SlotLimiter(1)
    first = TrainingSession(tmp_path / "a.pt", limiter)
    second = TrainingSession(tmp_path / "b.pt", limiter)
    first.start_new(config(n_epochs=50, batch_size_train=16), small_data)
    wait_until(lambda: first.snapshot().status == JobStatus.RUNNING, "the first job to run")
    second.start_new(config(), small_data)
    wait_until(lambda: limiter.waiting == 1, "the second job to queue")
    assert second.snapshot().status == JobStatus.WAITING and limiter.in_use == 1

    first.stop()
    assert finish(second).status == JobStatus.FINISHED  # the slot passed on
    assert finish(first).status == JobStatus.STOPPED
    assert limiter.in_use == 0 and limiter.waiting == 0


def test_stop_while_waiting_gives_up_the_place_in_the_queue(small_data, tmp_path):
    limiter = SlotLimiter(1)
    assert limiter.acquire()  # someone else holds the only slot
    session = TrainingSession(tmp_path / "checkpoint.pt", limiter)
    session.start_new(config(), small_data)
    wait_until(lambda: limiter.waiting == 1, "the job to queue")
    session.stop()
    snapshot = finish(session)
    assert snapshot.status == JobStatus.STOPPED and snapshot.run_examples_done == 0
    assert session.model() is None and not (tmp_path / "checkpoint.pt").exists()
    limiter.release()
    assert limiter.in_use == 0


def test_slot_limiter_never_admits_more_than_its_slots():
    limiter = SlotLimiter(2, max_waiting=6)  # room in the queue for every worker
    inside, peak, lock = [0], [0], threading.Lock()

    def worker():
        assert limiter.acquire()
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        time.sleep(0.02)
        with lock:
            inside[0] -= 1
        limiter.release()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert peak[0] == 2 and limiter.in_use == 0
    with pytest.raises(ValueError):
        SlotLimiter(0)
    with pytest.raises(ValueError):
        SlotLimiter(1, max_waiting=-1)


def test_each_job_gets_a_fixed_share_of_the_cores(monkeypatch):
    """cores // slots, whatever runs now: CPU results depend on the thread count, so a job's count must not
    depend on who else is training."""
    from mnist_core.runtime import limiter as limiter_module

    monkeypatch.setattr(limiter_module, "usable_cores", lambda: 8)
    limiter = SlotLimiter(4)
    assert limiter.threads_per_job == 2  # nothing running yet: still its share
    assert limiter.acquire()
    assert limiter.threads_per_job == 2  # alone: the same
    assert limiter.acquire() and limiter.acquire()
    assert limiter.threads_per_job == 2
    assert SlotLimiter(1).threads_per_job == 8  # one slot: every core
    monkeypatch.setattr(limiter_module, "usable_cores", lambda: 2)
    assert SlotLimiter(4).threads_per_job == 1  # more slots than cores: never below one


def test_a_job_keeps_its_thread_count_while_another_trains(small_data, tmp_path, monkeypatch):
    """Two slots on 2 cores: each job trains with 1 thread, alone or beside the other."""
    from mnist_core.training import engine as engine_module
    from mnist_core.runtime import limiter as limiter_module

    monkeypatch.setattr(limiter_module, "usable_cores", lambda: 2)
    asked: list[tuple[int, int]] = []  # (job thread, PyTorch's thread count just after the job set it)
    set_threads = engine_module.configure_cpu_threads

    def recording(n_threads=None):
        result = set_threads(n_threads)
        asked.append((threading.get_ident(), torch.get_num_threads()))
        return result

    monkeypatch.setattr(engine_module, "configure_cpu_threads", recording)
    limiter = SlotLimiter(2)
    first = TrainingSession(tmp_path / "a.pt", limiter)
    second = TrainingSession(tmp_path / "b.pt", limiter)
    threads_before = torch.get_num_threads()
    try:
        first.start_new(config(n_epochs=50, batch_size_train=16), small_data)
        wait_until(lambda: first.snapshot().status == JobStatus.RUNNING and len(asked) > 5, "the first job to run")
        second.start_new(config(n_epochs=50, batch_size_train=16), small_data)
        wait_until(lambda: second.snapshot().status == JobStatus.RUNNING, "the second job to run")
        wait_until(lambda: len({job for job, _ in list(asked)}) == 2, "both jobs to take some batches")
        second.stop()
        assert finish(second).status == JobStatus.STOPPED
        first.stop()
        assert finish(first).status == JobStatus.STOPPED
        assert {count for _, count in asked} == {1}  # alone, together and alone again: one thread
    finally:
        first.stop(), second.stop()
        first.job.join(WAIT_SECONDS), second.job.join(WAIT_SECONDS)
        torch.set_num_threads(threads_before)


def test_two_sessions_share_nothing(small_data, tmp_path):
    limiter = SlotLimiter(2)
    alone = TrainingSession(tmp_path / "alone.pt", limiter)
    alone.start_new(config(random_seed=7), small_data)
    reference = finish(alone).history

    first = TrainingSession(tmp_path / "first.pt", limiter)
    second = TrainingSession(tmp_path / "second.pt", limiter)
    first.start_new(config(random_seed=7), small_data)
    finish(first)
    second.start_new(config(random_seed=8, n_epochs=2, batch_size_train=32), small_data)
    finish(second)

    assert first.snapshot().history.to_dict() == reference.to_dict()  # another session's run changed nothing
    assert second.snapshot().history.test_counter == [0, 512, 1024]
    assert first.snapshot().history.test_counter == [0, 512]
    first_params = {p.data_ptr() for p in first.model().model.parameters()}
    assert not first_params & {p.data_ptr() for p in second.model().model.parameters()}
    assert load_checkpoint(tmp_path / "first.pt").config.random_seed == 7
    assert load_checkpoint(tmp_path / "second.pt").config.random_seed == 8


def test_earlier_runs_are_kept_with_their_histories(small_data, tmp_path):
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(learning_rate=0.01), small_data)
    finish(session)
    session.start_new(config(learning_rate=0.05, n_epochs=2), small_data)
    finish(session)
    (first, first_history), (second, second_history) = session.runs()
    assert (first.config.learning_rate, second.config.learning_rate) == (0.01, 0.05)
    assert len(first_history.test_losses) == 2 and len(second_history.test_losses) == 3


def test_a_bad_upload_changes_nothing(small_data, tmp_path):
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(), small_data)
    finish(session)
    before = session.model()
    saved = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(CheckpointError):
        session.load_checkpoint(b"not a checkpoint", name="junk.pt")
    assert session.model() is before and len(session.runs()) == 1
    assert (tmp_path / "checkpoint.pt").read_bytes() == saved


def test_an_upload_becomes_a_new_run_that_can_continue(small_data, tmp_path, trained_state):
    from mnist_core import checkpoint_bytes

    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.load_checkpoint(checkpoint_bytes(trained_state), name="three_epochs.pt")
    assert session.model().epochs_done == 3
    assert session.runs()[0][0].origin == "uploaded" and session.runs()[0][0].name == "three_epochs.pt"
    assert session.continue_training(1, small_data)
    snapshot = finish(session)
    assert snapshot.epochs_done == 4 and snapshot.history.resume_points == [trained_state.examples_seen]


def test_loading_while_training_is_refused(small_data, tmp_path, trained_state):
    from mnist_core import checkpoint_bytes

    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(n_epochs=50, batch_size_train=16), small_data)
    with pytest.raises(JobBusyError):
        session.load_checkpoint(checkpoint_bytes(trained_state))
    session.stop()
    finish(session)


@pytest.mark.parametrize(("configured", "expected"), [("3", 3), ("", None), ("0", None), ("many", None)])
def test_default_limiter_reads_the_environment_or_counts_cores(monkeypatch, configured, expected):
    from mnist_core.runtime import limiter as limiter_module
    from mnist_core.training.device import usable_cores

    monkeypatch.setattr(limiter_module, "_default_limiter", None)  # a fresh server process
    monkeypatch.setenv(limiter_module.MAX_JOBS_ENV, configured)
    assert limiter_module.default_limiter().slots == (expected or usable_cores())  # unusable values fall back
    assert limiter_module.default_limiter() is limiter_module.default_limiter()


# --- concurrent presses (two tabs with the same session link) -------------------------------------------------

PRESSING_THREADS = 4
PRESSES_PER_THREAD = 25  # 100 presses in all
ACTIONS = ("start", "continue", "load", "stop")


class CountingLimiter(SlotLimiter):
    """A limiter that records how many jobs it ever held or queued at once."""

    def __init__(self, slots: int) -> None:
        super().__init__(slots)
        self.most_at_once = 0

    def enqueue(self):
        ticket = super().enqueue()
        with self._condition:
            self.most_at_once = max(self.most_at_once, self._in_use + len(self._queue))
        return ticket


def test_concurrent_presses_give_one_job_and_one_run_record_per_started_run(small_data, tmp_path, trained_state):
    from mnist_core import checkpoint_bytes

    tiny = replace(small_data, train_images=small_data.train_images[:64], train_labels=small_data.train_labels[:64],
                   test_images=small_data.test_images[:50], test_labels=small_data.test_labels[:50])
    upload = checkpoint_bytes(trained_state)
    limiter = CountingLimiter(PRESSING_THREADS)  # room for every presser: only the session may refuse
    session = TrainingSession(tmp_path / "checkpoint.pt", limiter)
    barrier = threading.Barrier(PRESSING_THREADS)
    started, loaded, seeds, errors = [], [], iter(range(10_000)), []
    seed_lock = threading.Lock()

    def press(thread_index: int) -> None:
        for press_index in range(PRESSES_PER_THREAD):
            action = ACTIONS[(thread_index + press_index) % len(ACTIONS)]
            barrier.wait(WAIT_SECONDS)  # every round, all four press at the same moment
            try:
                if action == "start":
                    with seed_lock:
                        seed = next(seeds)
                    if session.start_new(config(random_seed=seed, batch_size_train=64), tiny):
                        started.append(seed)
                elif action == "continue":
                    session.continue_training(1, tiny)
                elif action == "load":
                    session.load_checkpoint(upload, name=f"press{thread_index}-{press_index}.pt")
                    loaded.append(press_index)
                else:
                    session.stop()
            except JobBusyError:
                pass  # refused: a job is training, or nothing to continue yet
            except Exception as exc:  # anything else is a broken session
                errors.append(exc)

    threads = [threading.Thread(target=press, args=(i,)) for i in range(PRESSING_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    session.stop()
    finish(session)

    assert not errors, errors
    assert limiter.most_at_once == 1, "two jobs of one session were queued or trained at once"
    runs = session.runs()
    assert len(runs) == len(started) + len(loaded), "a run record without its run, or a run without its record"
    assert [record.run_id for record, _ in runs] == list(range(1, len(runs) + 1))
    trained_seeds = [record.config.random_seed for record, _ in runs if record.origin == "trained"]
    assert sorted(trained_seeds) == sorted(started)
    assert session._state.config == runs[-1][0].config  # the current state belongs to the newest run
    assert limiter.in_use == 0 and limiter.waiting == 0


# --- the bounded queue ----------------------------------------------------------------------------------------


def test_a_full_queue_refuses_with_its_numbers_and_places_are_numbered():
    limiter = SlotLimiter(1, max_waiting=2)
    assert limiter.acquire()  # the only slot
    first, second = limiter.enqueue(), limiter.enqueue()
    assert (first.position, second.position) == (1, 2)
    with pytest.raises(ServerBusyError) as refused:
        limiter.enqueue()
    assert (refused.value.slots, refused.value.max_waiting) == (1, 2) and "busy" in str(refused.value)
    limiter.cancel(first)
    assert (first.position, first.cancelled, second.position) == (0, True, 1)
    assert not limiter.wait(first)  # a cancelled ticket never gets a slot
    third = limiter.enqueue()  # the place first gave up
    assert third.position == 2
    limiter.release()
    assert limiter.wait(second) and second.position == 0 and third.position == 1
    limiter.release()
    assert limiter.wait(third)
    limiter.release()
    assert limiter.in_use == 0 and limiter.waiting == 0

    no_queue = SlotLimiter(1, max_waiting=0)
    assert no_queue.acquire()
    with pytest.raises(ServerBusyError):
        no_queue.enqueue()


def test_a_job_refused_by_a_full_queue_ends_at_once_and_changes_nothing(small_data, tmp_path):
    limiter = SlotLimiter(1, max_waiting=1)
    session = TrainingSession(tmp_path / "checkpoint.pt", limiter)
    session.start_new(config(), small_data)
    before = finish(session)
    model, runs = session.model(), session.runs()

    assert limiter.acquire()  # another learner trains
    other = TrainingSession(tmp_path / "other.pt", limiter)
    assert other.start_new(config(), small_data)  # and one waits: the queue is full
    wait_until(lambda: limiter.waiting == 1, "the other job to queue")
    assert not session.start_new(config(learning_rate=0.05), small_data)
    refused = session.snapshot()
    assert refused.status == JobStatus.BUSY and not refused.active and not session.job.active
    assert "busy" in refused.error
    assert refused.history.to_dict() == before.history.to_dict() and refused.epochs_done == before.epochs_done
    assert session.model() is model and session.runs() == runs  # no new run, the same model
    assert not session.continue_training(1, small_data) and session.snapshot().status == JobStatus.BUSY

    other.stop()
    assert finish(other).status == JobStatus.STOPPED
    limiter.release()
    assert session.start_new(config(), small_data)  # tried again with room: it trains
    assert finish(session).status == JobStatus.FINISHED and len(session.runs()) == 2
    assert limiter.in_use == 0 and limiter.waiting == 0


class RecordingCondition(threading.Condition):
    """Records the timeout of every wait, to tell waiting on a notification from polling."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def wait(self, timeout=None):
        self.timeouts.append(timeout)
        return super().wait(timeout)


def test_a_waiting_job_sleeps_until_stop_or_a_free_slot_wakes_it(small_data, tmp_path):
    limiter = SlotLimiter(1)
    limiter._condition = RecordingCondition()
    assert limiter.acquire()
    stopped = TrainingSession(tmp_path / "a.pt", limiter)
    stopped.start_new(config(), small_data)
    wait_until(lambda: limiter._condition.timeouts, "the job to wait")
    stopped.stop()  # Stop wakes it
    assert finish(stopped).status == JobStatus.STOPPED
    trained = TrainingSession(tmp_path / "b.pt", limiter)
    trained.start_new(config(), small_data)
    wait_until(lambda: len(limiter._condition.timeouts) >= 2, "the next job to wait")
    limiter.release()  # a free slot wakes it
    assert finish(trained).status == JobStatus.FINISHED
    assert limiter._condition.timeouts and set(limiter._condition.timeouts) == {None}  # never a polling timeout


def test_the_snapshot_shows_the_place_in_line(small_data, tmp_path):
    limiter = SlotLimiter(1, max_waiting=3)
    assert limiter.acquire()
    sessions = [TrainingSession(tmp_path / f"{name}.pt", limiter) for name in "abc"]
    for session in sessions:
        assert session.start_new(config(), small_data)
    assert [s.snapshot().queue_position for s in sessions] == [1, 2, 3]
    assert all(s.snapshot().status == JobStatus.WAITING for s in sessions)
    sessions[0].stop()
    assert finish(sessions[0]).queue_position == 0
    assert [s.snapshot().queue_position for s in sessions[1:]] == [1, 2]
    limiter.release()
    wait_until(lambda: sessions[1].snapshot().status != JobStatus.WAITING, "the first in line to start")
    assert sessions[1].snapshot().queue_position == 0 and sessions[2].snapshot().queue_position == 1
    for session in sessions:
        session.stop()
        finish(session)
    assert limiter.in_use == 0 and limiter.waiting == 0


@pytest.mark.parametrize(("configured", "expected"), [("5", 5), ("0", 0), ("", None), ("-1", None), ("some", None)])
def test_default_limiter_reads_its_queue_length_from_the_environment(monkeypatch, configured, expected):
    from mnist_core.runtime import limiter as limiter_module

    monkeypatch.setattr(limiter_module, "_default_limiter", None)
    monkeypatch.setenv(limiter_module.MAX_JOBS_ENV, "3")
    monkeypatch.setenv(limiter_module.MAX_WAITING_ENV, configured)
    limiter = limiter_module.default_limiter()
    assert limiter.max_waiting == (limiter_module.WAITING_PER_SLOT * 3 if expected is None else expected)


def test_jobs_training_at_once_reproduce_their_solo_runs_tensor_for_tensor(small_data, tmp_path):
    """A run depends on its seed, data and settings only: dropout, shuffling and initialisation draw from the
    run's own generators, and the thread count is the slot's share, not what happens to be free."""
    limiter = SlotLimiter(2)
    settings = [config(random_seed=3, n_epochs=2), config(random_seed=4, n_epochs=2)]

    def weights(session):
        return session.model().model.state_dict()

    solo = []
    for index, settings_of_run in enumerate(settings):
        session = TrainingSession(tmp_path / f"solo{index}.pt", limiter)
        session.start_new(settings_of_run, small_data)
        assert finish(session).status == JobStatus.FINISHED
        solo.append(session)
    together = [TrainingSession(tmp_path / f"together{index}.pt", limiter) for index in range(2)]
    for session, settings_of_run in zip(together, settings):
        assert session.start_new(settings_of_run, small_data)
    for alone, beside in zip(solo, together):
        assert finish(beside).status == JobStatus.FINISHED
        expected, got = weights(alone), weights(beside)
        assert all(torch.equal(expected[key], got[key]) for key in expected)
        assert list(alone.snapshot().history.train_losses) == list(beside.snapshot().history.train_losses)


def test_continue_after_a_stop_mid_epoch_finishes_that_epoch(small_data, tmp_path):
    """Issue 15: Continue after a Stop in epoch 2 trains the rest of epoch 2, and its progress counts only that."""
    from mnist_core import checkpoint_bytes, new_training_state, train

    stopped = new_training_state(config(n_epochs=2))
    polls = []
    list(train(stopped, small_data, should_stop=lambda: polls.append(1) or len(polls) > 8 + 3, cpu_threads=1))
    assert (stopped.epochs_done, stopped.examples_into_epoch) == (1, 3 * 64)  # 3 of epoch 2's 8 batches
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.load_checkpoint(checkpoint_bytes(stopped))
    assert session.continue_training(1, small_data)
    snapshot = finish(session)

    assert snapshot.status == JobStatus.FINISHED and snapshot.epochs_done == snapshot.target_epochs == 2
    assert snapshot.run_examples_done == snapshot.run_examples_total == 512 - 3 * 64 and snapshot.progress == 1.0
    assert snapshot.history.test_counter == [0, 512, 1024] and snapshot.history.partial_epoch() is None
    assert (session.model().epochs_done, session.model().examples_seen) == (2, 1024)


def test_the_snapshot_carries_the_runs_smoothed_speed(small_data, tmp_path):
    """Measured by the job at every event of the run, so every tab that looks sees the same speed."""
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    assert session.snapshot().speed is None  # nothing trained yet
    assert session.start_new(config(n_epochs=1, log_interval=1), small_data)
    snapshot = finish(session)
    assert snapshot.speed is not None and snapshot.speed > 0

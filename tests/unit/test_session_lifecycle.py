"""Closed tabs: a server's SessionRegistry stops, deletes and forgets sessions nobody has seen for a while."""

from __future__ import annotations

import os
import re
import secrets
import threading
from dataclasses import replace

import pytest

from mnist_core import MnistData, TrainConfig, save_checkpoint
from mnist_core.runtime import JobStatus, SessionRegistry, SlotLimiter, TrainingSession

IDLE_SECONDS = 600.0
KEY = re.compile(r"[0-9a-f]{32}")
WAIT_SECONDS = 120  # generous bound for a busy 2-core machine; a hang fails instead of blocking forever


class FakeClock:
    """Wall-clock seconds that move only when a test says so (starts at the real time: files' ages compare)."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "sessions"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def tiny_data(embedded_data) -> MnistData:
    return replace(embedded_data, train_images=embedded_data.train_images[:256],
                   train_labels=embedded_data.train_labels[:256], test_images=embedded_data.test_images[:100],
                   test_labels=embedded_data.test_labels[:100])


def registry(root, clock, max_sessions: int = 200) -> SessionRegistry:
    return SessionRegistry(root, KEY, IDLE_SECONDS, max_sessions, clock=clock)


def new_session(root, key: str | None = None) -> tuple[str, TrainingSession]:
    key = key or secrets.token_hex(16)
    return key, TrainingSession(root / key / "checkpoint.pt", SlotLimiter(1))


def test_a_session_unseen_for_the_idle_time_is_stopped_then_deleted_and_forgotten(root, clock, tiny_data,
                                                                                   trained_state):
    sessions = registry(root, clock)
    key, session = new_session(root)
    save_checkpoint(trained_state, session.checkpoint_path)  # what an earlier epoch left
    assert sessions.get_or_add(key, lambda: session) is session
    session.start_new(TrainConfig(n_epochs=100, batch_size_train=8, device="cpu"), tiny_data)  # minutes of work

    clock.advance(IDLE_SECONDS - 1)
    assert sessions.sweep() == [] and session.job.active  # not idle long enough
    clock.advance(2)
    forgotten = sessions.sweep()  # stops the job; its files go once its thread has ended
    assert session.snapshot().stop_requested
    assert session.job.join(WAIT_SECONDS)
    forgotten += sessions.sweep()
    assert forgotten == [key]
    assert session.snapshot().status == JobStatus.STOPPED
    assert not (root / key).exists() and root.exists()
    assert sessions.get(key) is None


def test_a_session_seen_again_stays(root, clock):
    sessions = registry(root, clock)
    key, session = new_session(root)
    sessions.get_or_add(key, lambda: session)
    for _ in range(3):
        clock.advance(IDLE_SECONDS - 1)
        assert sessions.seen(key, session) is session  # a script run of its tab
        assert sessions.sweep() == []
    assert sessions.get(key) is session


def test_a_tab_that_slept_past_the_idle_time_gets_its_session_back(root, clock, trained_state):
    sessions = registry(root, clock)
    key, session = new_session(root)
    session.load_checkpoint(save_checkpoint(trained_state, root / "upload.pt"))
    sessions.get_or_add(key, lambda: session)
    clock.advance(IDLE_SECONDS)
    assert sessions.sweep() == [key] and not (root / key).exists()
    assert sessions.seen(key, session) is session  # the model in memory is kept; new checkpoints recreate the folder
    assert sessions.get(key) is session and session.model().epochs_done == trained_state.epochs_done


def test_a_folder_outside_the_root_is_never_deleted(root, clock, tmp_path, trained_state):
    sessions = registry(root, clock)
    elsewhere = tmp_path / "elsewhere"
    key, session = new_session(elsewhere)
    save_checkpoint(trained_state, session.checkpoint_path)
    sessions.get_or_add(key, lambda: session)
    outside = tmp_path / "precious"
    (outside / "keep.txt").parent.mkdir()
    (outside / "keep.txt").write_text("not ours")
    link = root / secrets.token_hex(16)
    link.symlink_to(outside, target_is_directory=True)  # named like a session folder, but a link
    old = clock.now - 2 * IDLE_SECONDS
    os.utime(link, (old, old), follow_symlinks=False)

    clock.advance(IDLE_SECONDS)
    assert sessions.sweep() == [key]  # forgotten ...
    assert session.checkpoint_path.is_file()  # ... but its folder is outside the root
    assert (outside / "keep.txt").read_text() == "not ours" and link.is_symlink()


def test_leftover_folders_go_once_untouched_for_the_idle_time(root, clock, trained_state):
    sessions = registry(root, clock)
    stale, fresh, live = (secrets.token_hex(16) for _ in range(3))
    for key in (stale, fresh, live):
        save_checkpoint(trained_state, root / key / "checkpoint.pt")  # left by an earlier server process
    old = clock.now - IDLE_SECONDS - 1
    for path in (root / stale / "checkpoint.pt", root / stale):
        os.utime(path, (old, old))
    for path in (root / live / "checkpoint.pt", root / live):
        os.utime(path, (old, old))  # old files, but a remembered session owns them
    _, session = new_session(root, live)
    sessions.get_or_add(live, lambda: session)
    (root / "notes").mkdir()  # not named like a session folder
    os.utime(root / "notes", (old, old))
    (root / secrets.token_hex(16)).write_text("a file, not a folder")

    sessions.sweep()
    assert not (root / stale).exists()
    assert (root / fresh / "checkpoint.pt").is_file() and (root / live / "checkpoint.pt").is_file()
    assert (root / "notes").is_dir() and len(list(root.iterdir())) == 4


def test_two_tabs_with_one_link_get_one_session(root, clock):
    sessions = registry(root, clock)
    key = secrets.token_hex(16)
    made, got = [], []
    barrier = threading.Barrier(8)

    def open_tab() -> None:
        def create() -> TrainingSession:
            made.append(TrainingSession(root / key / "checkpoint.pt", SlotLimiter(1)))
            return made[-1]

        barrier.wait(WAIT_SECONDS)
        got.append(sessions.get_or_add(key, create))

    threads = [threading.Thread(target=open_tab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert len(got) == 8 and len({id(session) for session in got}) == 1
    assert sessions.get(key) is got[0] and got[0] in made


def test_beyond_max_sessions_the_least_recently_seen_idle_ones_are_forgotten(root, clock):
    sessions = registry(root, clock, max_sessions=2)
    (a, first), (b, second), (c, third) = (new_session(root) for _ in range(3))
    sessions.get_or_add(a, lambda: first)
    sessions.get_or_add(b, lambda: second)
    sessions.seen(a, first)  # b is now the least recently seen
    sessions.get_or_add(c, lambda: third)
    assert sessions.get(b) is None and sessions.get(a) is first and sessions.get(c) is third


@pytest.mark.parametrize(("configured", "minutes"), [
    ("5", 5), ("0.5", 0.5), (" 20 ", 20), ("", 10), ("0", 10), ("-3", 10), ("soon", 10), ("nan", 10), ("inf", 10)])
def test_the_idle_time_comes_from_the_environment(monkeypatch, configured, minutes):
    from mnist_core.runtime import session as session_module

    monkeypatch.setenv(session_module.SESSION_IDLE_ENV, configured)
    assert session_module.session_idle_seconds() == minutes * 60  # unusable values fall back to the default, 10

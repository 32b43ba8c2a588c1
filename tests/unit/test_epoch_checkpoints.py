"""One checkpoint per finished epoch of a session's current run (mnist_core.runtime.epoch_checkpoints)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mnist_core import checkpoint_bytes, load_checkpoint
from mnist_core.runtime import (
    EpochCheckpoint,
    MissingEpochError,
    SlotLimiter,
    TrainingSession,
)
from mnist_core.runtime import epoch_checkpoints as epoch_files
from tests.unit import test_jobs
from tests.unit.test_jobs import config, finish

small_data = test_jobs.small_data  # the fixture: 512 training digits, an epoch well under a second



def epoch_files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("checkpoint-epoch-*.pt"))


def test_a_three_epoch_run_leaves_one_file_per_epoch_with_its_numbers(small_data, tmp_path):
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    assert session.start_new(config(n_epochs=3), small_data)
    snapshot = finish(session)

    saved = session.epoch_checkpoints()
    assert saved == snapshot.epoch_checkpoints
    assert [entry.epoch for entry in saved] == [1, 2, 3]
    assert [entry.examples_seen for entry in saved] == [512, 1024, 1536]
    assert [entry.test_accuracy for entry in saved] == list(snapshot.history.test_accuracy)[1:]  # [0]: before training
    assert epoch_files_in(tmp_path) == ["checkpoint-epoch-1.pt", "checkpoint-epoch-2.pt", "checkpoint-epoch-3.pt"]
    for entry in saved:
        on_disk = load_checkpoint(entry.path)
        assert (on_disk.epochs_done, on_disk.examples_seen) == (entry.epoch, entry.examples_seen)
        assert on_disk.history.test_accuracy[-1] == entry.test_accuracy
        assert entry.size_bytes == entry.path.stat().st_size and entry.source == ""
    assert torch.equal(load_checkpoint(saved[-1].path).model.fc2.weight, session.model().model.fc2.weight)


def test_a_new_run_deletes_the_previous_runs_files(small_data, tmp_path):
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(n_epochs=3), small_data)
    finish(session)
    (tmp_path / "checkpoint-epoch-9.pt").write_bytes(b"left by a server that restarted")
    assert session.start_new(config(n_epochs=1), small_data)
    finish(session)
    assert [entry.epoch for entry in session.epoch_checkpoints()] == [1]
    assert epoch_files_in(tmp_path) == ["checkpoint-epoch-1.pt"]
    assert (tmp_path / "checkpoint.pt").is_file()  # the session's own checkpoint stays


def test_an_upload_starts_a_run_whose_first_entry_it_is(small_data, tmp_path, trained_state):
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(n_epochs=2), small_data)
    finish(session)
    session.load_checkpoint(checkpoint_bytes(trained_state), name="three.pt")
    (entry,) = session.epoch_checkpoints()
    assert (entry.epoch, entry.source) == (3, "three.pt")
    assert entry.test_accuracy == trained_state.history.test_accuracy[-1]
    assert epoch_files_in(tmp_path) == ["checkpoint-epoch-3.pt"]
    assert session.continue_training(1, small_data)
    finish(session)
    assert [(entry.epoch, entry.source) for entry in session.epoch_checkpoints()] == [(3, "three.pt"), (4, "")]


def test_an_upload_stopped_inside_an_epoch_is_listed_as_partial_not_as_a_finished_epoch(small_data, tmp_path,
                                                                                        trained_state):
    stopped = load_checkpoint(checkpoint_bytes(trained_state))
    stopped.examples_seen += 64  # stopped one batch into epoch 4 (small_data's epochs are 512 examples)
    stopped.history.stop_points.append(stopped.examples_seen)
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.load_checkpoint(checkpoint_bytes(stopped), name="stopped.pt")
    (entry,) = session.epoch_checkpoints()
    assert (entry.epoch, entry.examples_into_epoch, entry.source) == (3, 64, "stopped.pt")
    assert session.continue_training(1, small_data)  # finishes epoch 4: a whole epoch, listed as one
    finish(session)
    assert [(entry.epoch, entry.examples_into_epoch) for entry in session.epoch_checkpoints()] == [(3, 64), (4, 0)]


def test_loading_epoch_one_gives_epoch_ones_weights_and_keeps_the_list(small_data, tmp_path):
    one_epoch = TrainingSession(tmp_path / "one" / "checkpoint.pt", SlotLimiter(1))
    one_epoch.start_new(config(n_epochs=1), small_data)
    finish(one_epoch)
    session = TrainingSession(tmp_path / "three" / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(n_epochs=3), small_data)
    finish(session)
    three_epochs = session.model()

    loaded = session.load_epoch(1)
    model = session.model()
    assert loaded.epochs_done == model.epochs_done == 1 and model.examples_seen == 512
    for name, weight in one_epoch.model().model.state_dict().items():  # the same seed: epoch 1 of either run
        assert torch.equal(model.model.state_dict()[name], weight), name
    assert not torch.equal(model.model.fc2.weight, three_epochs.model.fc2.weight)
    assert list(model.history.test_accuracy) == list(three_epochs.history.test_accuracy)[:2]
    assert [entry.epoch for entry in session.epoch_checkpoints()] == [1, 2, 3]  # nothing lost by looking back
    assert load_checkpoint(tmp_path / "three" / "checkpoint.pt").epochs_done == 1  # what a reload restores
    assert len(session.runs()) == 1  # the same run, gone back to its epoch 1

    assert session.continue_training(1, small_data)  # a new epoch 2 from here: the old 2 and 3 were another path
    finish(session)
    assert [entry.epoch for entry in session.epoch_checkpoints()] == [1, 2]
    assert epoch_files_in(tmp_path / "three") == ["checkpoint-epoch-1.pt", "checkpoint-epoch-2.pt"]


def test_an_epoch_not_saved_is_refused_and_nothing_changes(small_data, tmp_path):
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(n_epochs=1), small_data)
    finish(session)
    before = session.model()
    with pytest.raises(MissingEpochError, match="no checkpoint of epoch 4; saved epochs: 1"):
        session.load_epoch(4)
    assert session.model() is before


def test_a_run_keeps_at_most_the_bound_newest_first(small_data, tmp_path, monkeypatch):
    monkeypatch.setattr(epoch_files, "MAX_EPOCH_CHECKPOINTS", 2)
    session = TrainingSession(tmp_path / "checkpoint.pt", SlotLimiter(1))
    session.start_new(config(n_epochs=3), small_data)
    finish(session)
    assert [entry.epoch for entry in session.epoch_checkpoints()] == [2, 3]
    assert epoch_files_in(tmp_path) == ["checkpoint-epoch-2.pt", "checkpoint-epoch-3.pt"]


def test_the_byte_bound_drops_the_oldest_files_but_never_the_newest(tmp_path, monkeypatch):
    monkeypatch.setattr(epoch_files, "MAX_EPOCH_CHECKPOINT_BYTES", 250)
    paths = [tmp_path / f"checkpoint-epoch-{epoch}.pt" for epoch in (1, 2, 3)]
    for path in paths:
        path.write_bytes(b"x")
    entries: tuple[EpochCheckpoint, ...] = ()
    for epoch, path in enumerate(paths, 1):
        entries = epoch_files.add_within_bounds(entries, EpochCheckpoint(epoch, 0, None, path, size_bytes=100))
    assert [entry.epoch for entry in entries] == [2, 3] and not paths[0].exists()
    huge = EpochCheckpoint(4, 0, None, tmp_path / "checkpoint-epoch-4.pt", size_bytes=1_000)
    assert epoch_files.add_within_bounds(entries, huge) == (huge,)


def test_without_a_checkpoint_path_nothing_is_written_or_listed(small_data, tmp_path):
    session = TrainingSession(None, SlotLimiter(1))
    session.start_new(config(n_epochs=1), small_data)
    snapshot = finish(session)
    assert session.epoch_checkpoints() == () and snapshot.checkpoint_error is None

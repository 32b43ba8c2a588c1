"""One checkpoint file per finished epoch of a session's current run, beside the session's own checkpoint.

    checkpoint.pt            the latest weights (epoch end, stop, divergence or upload): a reload restores it
    checkpoint-epoch-1.pt    the weights as epoch 1 of the current run ended
    checkpoint-epoch-2.pt    ...

A run that began from a file stopped inside an epoch lists that file as its first entry, under its finished epochs
and labelled partial (``examples_into_epoch``): it is the only way back to the state the run began from.

The files live in the session's folder, so the session registry deletes them with it. A new run (Train, or an
uploaded checkpoint) deletes the previous run's files first. A run keeps at most MAX_EPOCH_CHECKPOINTS files and
MAX_EPOCH_CHECKPOINT_BYTES of them; beyond either, its oldest epochs go first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..checkpoint import save_checkpoint
from ..training.engine import TrainingState

# A tutorial checkpoint is about 190 KB (87 KB of weights, as much momentum, the curves), so 50 of them are about
# 10 MB a learner; a classroom server holds 30 learners' runs at once. 50 also covers a whole run at the largest
# epoch count a form accepts (MAX_EPOCHS, 100) at every second epoch.
MAX_EPOCH_CHECKPOINTS = 50
# Long curves make a file larger (a checkpoint keeps up to 200,000 logged losses, about 3 MB more), so the bytes
# are capped too: a run's files stay under 48 MiB whatever their curves and network.
MAX_EPOCH_CHECKPOINT_BYTES = 48 * 2**20
EPOCH_INFIX = "-epoch-"  # checkpoint.pt -> checkpoint-epoch-3.pt


class MissingEpochError(ValueError):
    """An epoch that the current run has no checkpoint of (never reached, or dropped to stay within the bounds)."""

    def __init__(self, epoch: int, saved: list[int]) -> None:
        listed = ", ".join(map(str, saved)) or "none"
        super().__init__(f"The current run has no checkpoint of epoch {epoch}; saved epochs: {listed}.")
        self.epoch = epoch
        self.saved = saved


@dataclass(frozen=True)
class EpochCheckpoint:
    """One line of the run's epoch list; the file at ``path`` holds exactly this state."""

    epoch: int  # epochs done in the whole state (continued runs count on)
    examples_seen: int  # training examples in the whole state
    test_accuracy: float | None  # fraction correct, 0-1, at this epoch's test; None if never tested
    path: Path
    size_bytes: int
    source: str = ""  # the uploaded file's name when this entry is the checkpoint a run began from
    # Examples trained past ``epoch`` epochs: non-zero only for a checkpoint a run began from that was stopped
    # inside an epoch (a run saves its own entries at epoch ends). Such an entry is partial, never a finished epoch.
    examples_into_epoch: int = 0


def epoch_checkpoint_path(checkpoint_path: str | os.PathLike, epoch: int) -> Path:
    """checkpoint.pt -> checkpoint-epoch-3.pt, in the same folder."""
    path = Path(checkpoint_path)
    return path.with_name(f"{path.stem}{EPOCH_INFIX}{epoch}{path.suffix}")


def save_epoch_checkpoint(state: TrainingState, checkpoint_path: str | os.PathLike, source: str = "") -> EpochCheckpoint:
    """Write ``state`` to its epoch's file (atomically) and describe it; OSError if the write fails."""
    path = save_checkpoint(state, epoch_checkpoint_path(checkpoint_path, state.epochs_done))
    return EpochCheckpoint(epoch=state.epochs_done, examples_seen=state.examples_seen,
                           test_accuracy=state.history.last_test_accuracy,
                           path=path, size_bytes=path.stat().st_size, source=source,
                           examples_into_epoch=state.examples_into_epoch)


def add_within_bounds(entries: tuple[EpochCheckpoint, ...], new: EpochCheckpoint) -> tuple[EpochCheckpoint, ...]:
    """``entries`` with ``new`` in its epoch's place, the oldest epochs' files deleted while over a bound.
    The newest entry always stays."""
    kept = sorted((entry for entry in entries if entry.epoch != new.epoch), key=lambda entry: entry.epoch)
    kept.append(new)
    kept.sort(key=lambda entry: entry.epoch)
    while len(kept) > 1 and (len(kept) > MAX_EPOCH_CHECKPOINTS
                             or sum(entry.size_bytes for entry in kept) > MAX_EPOCH_CHECKPOINT_BYTES):
        oldest = kept.pop(0 if kept[0] is not new else 1)
        delete_files([oldest.path])
    return tuple(kept)


def delete_files(paths) -> None:
    """Delete the files; one already gone is fine."""
    for path in paths:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError:  # read-only or vanished folder: the registry's sweep deletes the folder later
            pass


def delete_run_files(checkpoint_path: str | os.PathLike | None) -> None:
    """Delete every epoch file beside ``checkpoint_path``, listed or not (e.g. left by a server that restarted)."""
    if checkpoint_path is None:
        return
    path = Path(checkpoint_path)
    try:
        leftovers = list(path.parent.glob(f"{path.stem}{EPOCH_INFIX}*{path.suffix}"))
    except OSError:
        return
    delete_files(leftover for leftover in leftovers
                 if leftover.name.removeprefix(f"{path.stem}{EPOCH_INFIX}").removesuffix(path.suffix).isdigit())

"""Training while a UI runs: a server-wide slot limiter, a job thread per run, and each user's session.

    from mnist_core.runtime import TrainingSession
    session = TrainingSession(checkpoint_path="run/checkpoint.pt")
    session.start_new(TrainConfig(n_epochs=1), data)   # False if a job is already running
"""

from .epoch_checkpoints import MAX_EPOCH_CHECKPOINTS, EpochCheckpoint, MissingEpochError
from .job import JobBusyError, JobSnapshot, JobStatus, TrainingJob, copy_state
from .limiter import ServerBusyError, SlotLimiter, SlotTicket, default_limiter
from .session import RunOrigin, RunRecord, SessionRegistry, TrainingSession, session_idle_seconds

__all__ = [
    "MAX_EPOCH_CHECKPOINTS",
    "EpochCheckpoint",
    "JobBusyError",
    "JobSnapshot",
    "JobStatus",
    "MissingEpochError",
    "RunOrigin", "RunRecord",
    "ServerBusyError",
    "SessionRegistry",
    "SlotLimiter",
    "SlotTicket",
    "TrainingJob",
    "TrainingSession",
    "copy_state",
    "default_limiter",
    "session_idle_seconds",
]

"""Per-browser-session model and training job (owned by the training page's work).

Contract used by other pages (sidebar, drawing page):
- model_summary() -> ModelSummary: status "none" | "training" | "trained", epochs_done, accuracy.
- session_model() -> TrainingState | None: the latest trained state of this session.
"""

from __future__ import annotations

from dataclasses import dataclass

from mnist_core import TrainingState


@dataclass(frozen=True)
class ModelSummary:
    status: str  # "none", "training" or "trained"
    epochs_done: int = 0
    accuracy: float | None = None  # last test accuracy, 0-1


def model_summary() -> ModelSummary:
    return ModelSummary("none")


def session_model() -> TrainingState | None:
    return None

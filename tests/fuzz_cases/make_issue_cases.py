"""Rebuild the crafted files of issue 12 in this folder: ``python tests/fuzz_cases/make_issue_cases.py``.

The other files here were found by fuzzing (tests/unit/test_fuzz_files.py) and are kept as they were found.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from mnist_core import TrainConfig, new_training_state  # noqa: E402
from mnist_core.checkpoint import checkpoint_dict  # noqa: E402

CLAIMED_MOMENTUM_ELEMENTS = 250_000_000  # float64: 2 GB claimed over 8 stored bytes
CLAIMED_HISTORY_POINTS = 1_000_000


def one_number_claiming(count: int) -> torch.Tensor:
    """A stride-0 view: ``count`` elements claimed, one float64 stored (torch.save keeps it that way)."""
    return torch.zeros(1, dtype=torch.float64).expand(count)


def write(name: str, payload: dict) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    (HERE / name).write_bytes(buffer.getvalue())


def main() -> None:
    state = new_training_state(TrainConfig(device="cpu", random_seed=1))
    payload = checkpoint_dict(state)
    payload["optimizer_state"]["state"][0] = {"momentum_buffer": one_number_claiming(CLAIMED_MOMENTUM_ELEMENTS)}
    write("expanded_momentum_250M.pt", payload)

    payload = checkpoint_dict(state)
    payload["history"]["train_losses"] = one_number_claiming(CLAIMED_HISTORY_POINTS)
    write("history_tensor_claims_a_million_points.pt", payload)


if __name__ == "__main__":
    main()

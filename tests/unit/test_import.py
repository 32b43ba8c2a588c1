"""The core package stands alone: importing it (and its CLI) never pulls in Streamlit."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_importing_mnist_core_does_not_import_streamlit():
    code = (
        "import sys, mnist_core, mnist_core.cli, mnist_core.checkpoint, mnist_core.training.engine, mnist_core.data\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'streamlit_drawable_canvas'))\n"
        "print(loaded)\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_public_api_is_re_exported():
    import mnist_core

    for name in mnist_core.__all__:
        assert hasattr(mnist_core, name), name
    for name in ("TrainConfig", "load_mnist", "MnistData", "new_training_state", "train", "evaluate",
                 "predict", "save_checkpoint", "load_checkpoint", "checkpoint_bytes", "CheckpointError",
                 "TestEvent", "BatchEvent", "StoppedEvent", "TrainingDiverged", "normalize", "to_pixels"):
        assert name in mnist_core.__all__

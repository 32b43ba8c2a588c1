"""AppTest runs the app in this process: keep its per-session checkpoints out of the real temp folder."""

import secrets

import pytest


@pytest.fixture(scope="session", autouse=True)
def private_session_checkpoints(tmp_path_factory):
    from ui import session

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session, "CHECKPOINT_ROOT", tmp_path_factory.mktemp("sessions") / "mnist-dashboard")
        yield


@pytest.fixture(scope="module")
def trained_token(trained_state) -> str:
    """A session token whose checkpoint holds a trained model, as after a reload of a trained tab."""
    from mnist_core import save_checkpoint
    from ui.session import checkpoint_path

    token = secrets.token_hex(16)
    save_checkpoint(trained_state, checkpoint_path(token))
    return token

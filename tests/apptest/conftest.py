"""AppTest runs the app in this process: keep its per-session checkpoints out of the real temp folder."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def private_session_checkpoints(tmp_path_factory):
    from ui import session

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session, "CHECKPOINT_ROOT", tmp_path_factory.mktemp("sessions") / "mnist-dashboard")
        yield

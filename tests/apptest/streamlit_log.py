"""What Streamlit logs while an AppTest runs a page: no page may make it log a warning or a traceback.

Streamlit's loggers do not propagate to the root logger, so pytest's caplog alone never sees them; the
handler is added to each of them instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

# Logged by AppTest's own thread, which runs outside a script ("bare mode"): not something a page did.
BARE_MODE_LOGGER = "streamlit.runtime.scriptrunner_utils.script_run_context"


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name != BARE_MODE_LOGGER:
            self.records.append(record)


@contextlib.contextmanager
def streamlit_warnings() -> Iterator[list[logging.LogRecord]]:
    """The warnings (and worse) Streamlit logs inside the block, as a list filled while it runs."""
    from streamlit.elements.lib import policies

    # Streamlit logs the "default value but also set via the Session State API" warning once per process;
    # a test earlier in the same process must not hide it from this one.
    shown_before = policies._shown_default_value_warning
    policies._shown_default_value_warning = False
    recorder = _Recorder()
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name == "streamlit" or name.startswith("streamlit.")]
    for logger in loggers:
        logger.addHandler(recorder)
    try:
        yield recorder.records
    finally:
        for logger in loggers:
            logger.removeHandler(recorder)
        policies._shown_default_value_warning = shown_before


def messages(records: list[logging.LogRecord]) -> list[str]:
    return [f"{record.name}: {record.getMessage()}" for record in records]

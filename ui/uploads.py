"""Read an uploaded file once per upload.

Streamlit hands the same upload to every rerun of the page; loading a checkpoint or a network on each one would
redo the work and, worse, undo what the learner did since (train on, edit the network). An upload's `file_id` is
new for every file the learner drops in, so the result is kept under the caller's key together with that id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

Result = TypeVar("Result")


class UploadRead(NamedTuple, Generic[Result]):
    result: Result  # what `read` returned for this file
    fresh: bool  # read in this run (the caller may rerun so the widgets above see it), not remembered


def read_once(upload: UploadedFile | None, key: str, read: Callable[[UploadedFile], Result]) -> UploadRead | None:
    """`read(upload)` the first time this file is seen under `key`, its kept result on later runs.

    None while nothing is uploaded; removing the file forgets the result. `read` turns its own failures into a
    result (an error text, say): an exception would be raised again on every run.
    """
    if upload is None:
        st.session_state.pop(key, None)
        return None
    kept = st.session_state.get(key)
    if kept is not None and kept[0] == upload.file_id:
        return UploadRead(kept[1], fresh=False)
    result = read(upload)
    st.session_state[key] = (upload.file_id, result)
    return UploadRead(result, fresh=True)

"""The browser tests' server-log check (tests/e2e/conftest.py new_log_trouble), on log text written here."""

from __future__ import annotations

from tests.e2e.conftest import new_log_trouble

QUIET = """\
2026-11-29 21:00:00.001 INFO streamlit.web.server: Serving on port 8501
2026-11-29 21:00:01.002 DEBUG streamlit.runtime: a session started
"""
WIDGET_WARNING = """\
2026-11-29 21:00:02.003 WARNING streamlit.elements.lib.policies: The widget with key "shapes_n" was created with \
a default value but also had its value set via the Session State API.
Stack (most recent call last):
  File "pages/shapes.py", line 58, in <module>
    n = st.number_input(...)
"""
THREAD_TRACEBACK = """\
Exception in thread mnist-data-loader:
Traceback (most recent call last):
  File "ui/data.py", line 40, in _load
ValueError: boom
"""
PILLOW_EXIF = """\
/venv/lib/python3.11/site-packages/PIL/TiffImagePlugin.py:950: UserWarning: Corrupt EXIF data.  Expecting to read 12 \
bytes but only got 2.
  warnings.warn(
"""
PANDAS_WARNING = """\
/work/main/ui/train_results.py:40: FutureWarning: Series.__getitem__ treating keys as positions is deprecated.
  value = table[0]
"""


def check(tmp_path, *parts: str) -> list[str]:
    log = tmp_path / "stderr.log"
    log.write_text("".join(parts))
    return new_log_trouble(log)


def test_info_lines_and_pillows_exif_warning_pass(tmp_path):
    assert check(tmp_path, QUIET, PILLOW_EXIF, QUIET) == []


def test_a_streamlit_warning_is_named_with_its_stack(tmp_path):
    (trouble,) = check(tmp_path, QUIET, WIDGET_WARNING, QUIET)
    assert trouble == WIDGET_WARNING.rstrip("\n")


def test_a_traceback_and_a_library_warning_are_each_named(tmp_path):
    troubles = check(tmp_path, THREAD_TRACEBACK, PILLOW_EXIF, PANDAS_WARNING)
    assert troubles == [THREAD_TRACEBACK.rstrip("\n"), PANDAS_WARNING.rstrip("\n")]  # the thread named too


def test_each_line_is_reported_once(tmp_path):
    log = tmp_path / "stderr.log"
    log.write_text(QUIET + WIDGET_WARNING)
    assert len(new_log_trouble(log)) == 1
    assert new_log_trouble(log) == []  # already reported
    with log.open("a") as more:
        more.write(PANDAS_WARNING)
    assert new_log_trouble(log) == [PANDAS_WARNING.rstrip("\n")]


def test_a_long_stack_keeps_the_projects_frames_and_the_exception(tmp_path):
    library_frames = "".join(f'  File "/venv/lib/python3.11/site-packages/lib.py", line {n}, in f\n    f()\n'
                             for n in range(20))
    own_frame = '  File "/work/main/pages/home.py", line 31, in <module>\n    st.number_input("demo")\n'
    traceback = f"Traceback (most recent call last):\n{own_frame}{library_frames}ValueError: boom\n"
    (trouble,) = check(tmp_path, QUIET, traceback)
    assert trouble.splitlines() == ["Traceback (most recent call last):", *own_frame.splitlines(), "    ...",
                                    "ValueError: boom"]

"""Browser-test harness: the real app under `streamlit run`, driven by Debian's Chromium through Playwright.

Fixtures (available to every test under tests/e2e/):
    app_url   session-scoped: base URL of one `streamlit run app.py` on a free loopback port
    browser   session-scoped: headless Chromium
    page      function-scoped: a page in a fresh browser context (English locale, 1280x900)
    new_page  function-scoped factory: new_page(locale="zh-CN") for another browser language

Helpers (import with `from tests.e2e.conftest import open_app_page, ...`):
    open_app_page(page, app_url, path), wait_idle(page), assert_no_exception(page), save_screenshot(page, name)
    running_app(env_overrides) for a server of a test's own, stop_server(process) to end one

Every browser test fails on a warning or a traceback in the log of any server it ran against: after the test,
and after its teardown (a server of its own, or the last test of a module-scoped one), the lines that server
wrote since the last check are read (new_log_trouble).

Chromium missing makes these tests fail, not skip: CI must run them. Without Chromium, run the
rest with `pytest -m "not e2e"`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS_DIR = ROOT / "docs" / "screenshots"
SERVER_START_TIMEOUT_S = 90  # a cold start imports torch and loads the data on 2 busy cores
PAGE_TIMEOUT_MS = 60_000  # longest wait for the app to settle after a navigation or click
VIEWPORT = {"width": 1280, "height": 900}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APP_IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
QUIET_MS = 500  # once a rerun has been seen, idle this long means it is done
# When no rerun has been seen since the call, wait this long before deciding none is coming: the frontend
# shows "running" only when the server reports the run, which a busy 2-core machine can delay.
NO_RERUN_MS = 3000
# Records when the app's script state last changed, so wait_idle can tell "done" from "not started yet".
TRACK_SCRIPT_STATE = """
window.__scriptStateChangedAt = performance.now();
new MutationObserver(() => { window.__scriptStateChangedAt = performance.now(); })
    .observe(document, {attributes: true, subtree: true, attributeFilter: ["data-test-script-state"]});
"""
IS_QUIET = """([selector, since, quietMs, noRerunMs]) => {
    const app = document.querySelector(selector);
    const changedAt = window.__scriptStateChangedAt;
    const needed = changedAt > since ? quietMs : noRerunMs;
    return app !== null && performance.now() - Math.max(since, changedAt) >= needed;
}"""
EXCEPTION_BOX = "[data-testid='stException']"
# Streamlit's default log line is the time and the message alone; with the level and the logger in it, a check can
# tell a warning from an info line.
SERVER_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")  # a line that SERVER_LOG_FORMAT begins
# A traceback that is no log record's: printed by a dying thread, after whatever line came before it.
OWN_TRACEBACK = re.compile(r"^(Exception in thread |Traceback \(most recent call last\))")
PYTHON_WARNING = re.compile(r"^\S.*:\d+: \w*Warning: ")  # Python's warnings module: "path.py:12: FutureWarning: ..."
LOG_TROUBLE = re.compile(
    r"^\S+ \S+ (WARNING|ERROR|CRITICAL) "  # a log record at warning level or above, Streamlit's or any library's
    r"|Traceback \(most recent call last\)"  # an exception, logged or printed by a dying thread
    r"|Stack \(most recent call last\)"  # the stack Streamlit logs under some warnings (stack_info=True)
    rf"|{PYTHON_WARNING.pattern}"
)
# Not a Streamlit warning, and not a defect: Pillow (Python's warnings module) says so when an uploaded photo's EXIF
# block is damaged (tests/fuzz_cases/corrupt_exif_*.jpg); the Draw page then reads it as stored (mnist_core.preprocess),
# and warnings.catch_warnings cannot silence one thread on Python 3.11. A browser test may upload such a photo.
EXPECTED_LOG_LINES = re.compile(r"PIL/\w+\.py:\d+: UserWarning: (Corrupt EXIF data|Possibly corrupt EXIF)")
LOG_LINES_SHOWN = 15  # a longer warning or traceback is cut to its first line, the project's frames and its last


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health_status(port: int) -> str:
    """What /_stcore/health answers ("ok" once the server is ready), or "" while nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
            return response.read().decode()
    except (urllib.error.URLError, OSError):
        return ""


def _tail(path: Path, n_chars: int = 4000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-n_chars:] or "(empty)"


_server_logs: list[Path] = []  # stderr files of the servers running now, shown when a browser test fails
_log_checked: dict[Path, int] = {}  # each running server's log: characters already checked for trouble
_trouble_of_ended_servers: list[str] = []  # from servers that ended since the last check


def new_log_trouble(path: Path) -> list[str]:
    """The warnings and tracebacks a server's log gained since the last call, each with the lines that go with it
    (a logged warning's stack, a traceback down to its exception)."""
    text = path.read_text(errors="replace") if path.exists() else ""
    start, _log_checked[path] = _log_checked.get(path, 0), len(text)
    lines = text[start:].splitlines()
    troubles: list[str] = []
    number = 0
    while number < len(lines):
        end = number + 1  # the report runs to the next log record, Python warning or traceback of its own
        in_trouble = bool(LOG_TROUBLE.search(lines[number]) or OWN_TRACEBACK.match(lines[number]))
        while end < len(lines) and not (LOG_RECORD_START.match(lines[end]) or PYTHON_WARNING.search(lines[end])
                                        or (not in_trouble and OWN_TRACEBACK.match(lines[end]))):
            end += 1
        block = lines[number:end]
        trouble = [line for line in block if LOG_TROUBLE.search(line)]
        if trouble and not all(EXPECTED_LOG_LINES.search(line) for line in trouble):
            troubles.append("\n".join(_shortened(block)))
        number = end
    return troubles


def _shortened(block: list[str]) -> list[str]:
    """A long report cut to its first line, the project's own frames (file and code line) and its last line,
    where a traceback names the exception."""
    if len(block) <= LOG_LINES_SHOWN:
        return block
    own_frames = [number for number, line in enumerate(block)
                  if line.lstrip().startswith('File "') and "site-packages" not in line]
    kept = sorted({0, *own_frames, *(number + 1 for number in own_frames), len(block) - 1} & set(range(len(block))))
    shown = []
    for previous, number in zip([-1, *kept], kept):
        if number > previous + 1:
            shown.append("    ...")
        shown.append(block[number])
    return shown


def _take_log_trouble() -> list[str]:
    """Every running or just-ended server's new warnings and tracebacks; each is reported once."""
    troubles = [*_trouble_of_ended_servers, *(t for path in _server_logs for t in new_log_trouble(path))]
    _trouble_of_ended_servers.clear()
    return troubles


def _fail_on_log_trouble(when: str) -> None:
    troubles = _take_log_trouble()
    if troubles:
        pytest.fail(f"the server log shows {len(troubles)} warning(s) or traceback(s) {when}:\n\n"
                    + "\n\n".join(troubles), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if "e2e" not in item.keywords:
        return (yield)
    try:
        result = yield
    except BaseException:
        _take_log_trouble()  # this test fails anyway, its report shows the log's tail; the next test starts clean
        raise
    _fail_on_log_trouble("during this test")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    if "e2e" in item.keywords:
        _fail_on_log_trouble("after this test, while its fixtures ended")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and "e2e" in item.keywords:
        for path in _server_logs:
            report.sections.append((f"streamlit stderr ({path.parent.name})", _tail(path)))
    return report


@contextlib.contextmanager
def running_app(env_overrides: dict[str, str] | None = None):
    """`streamlit run app.py` on a free loopback port; yields its base URL once /_stcore/health says ok.

    MNIST_DATA_DIR is cleared unless env_overrides sets it, so every run sees the embedded digits.
    """
    port = free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="streamlit-e2e-"))
    stderr_path = log_dir / "stderr.log"
    env = {k: v for k, v in os.environ.items() if k != "MNIST_DATA_DIR"}
    env["TMPDIR"] = str(log_dir)  # the server's per-session checkpoints go away with it
    env.update(env_overrides or {})
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--logger.messageFormat", SERVER_LOG_FORMAT,
    ]  # fmt: skip
    with open(log_dir / "stdout.log", "wb") as stdout, open(stderr_path, "wb") as stderr:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
    _server_logs.append(stderr_path)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while health_status(port) != "ok":
            if server.poll() is not None:
                pytest.fail(f"streamlit exited with code {server.returncode} before it was healthy.\n"
                            f"stderr:\n{_tail(stderr_path)}")  # fmt: skip
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit was not healthy after {SERVER_START_TIMEOUT_S} s.\nstderr:\n{_tail(stderr_path)}")
            time.sleep(0.25)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(server)
        _trouble_of_ended_servers.extend(new_log_trouble(stderr_path))  # reported by the test hooks, before it goes
        _server_logs.remove(stderr_path)
        _log_checked.pop(stderr_path, None)
        shutil.rmtree(log_dir, ignore_errors=True)


def stop_server(server: subprocess.Popen, grace_seconds: float = 10) -> None:
    """Ask a server process to end; kill it if it has not after grace_seconds."""
    server.terminate()
    try:
        server.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope="session")
def app_url():
    with running_app() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "Debian's chromium is not installed: `apt-get install -y chromium` (make test does it), "
            "or leave the browser tests out with `pytest -m 'not e2e'`."
        )
    from playwright.sync_api import expect, sync_playwright

    # expect() retries until its timeout (5 s by default). Plotly and images paint after a run ends, and on
    # 2 busy cores the first chart also waits for Plotly's code to load, so allow the page timeout.
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_context(browser, locale: str = "en-US"):
    """A fresh browser context (own cookies, own Streamlit session) that wait_idle can watch."""
    context = browser.new_context(locale=locale, viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.add_init_script(TRACK_SCRIPT_STATE)
    return context


@pytest.fixture
def new_page(browser):
    """Factory: a page in a fresh context with the given browser language; all closed after the test."""
    contexts = []

    def make(locale: str = "en-US"):
        context = new_context(browser, locale)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def wait_idle(page) -> None:
    """Wait until the app's script has finished the run the last action started (every element drawn).

    Done means: not running, and quiet for QUIET_MS after a run that started since this call, or for
    NO_RERUN_MS when none has started, so a rerun the server is slow to report is waited for, not missed.
    """
    since = page.evaluate("performance.now()")
    page.wait_for_function(IS_QUIET, arg=[APP_IDLE, since, QUIET_MS, NO_RERUN_MS], timeout=PAGE_TIMEOUT_MS,
                           polling=100)


def enter_value(page, field, value) -> None:
    """Type value into an input field (a locator), press Enter, and wait for the rerun it starts."""
    field.fill(str(value))
    field.press("Enter")
    wait_idle(page)


def open_app_page(page, app_url: str, path: str) -> None:
    """Open one page of the app ("" is home) and wait until its script has run and drawn it."""
    page.goto(f"{app_url}/{path}")
    page.wait_for_selector("[data-testid='stMain'] [data-testid='stElementContainer']", timeout=PAGE_TIMEOUT_MS)
    wait_idle(page)


def assert_no_exception(page) -> None:
    boxes = page.locator(EXCEPTION_BOX)
    if boxes.count():
        pytest.fail(f"the page shows an exception:\n{boxes.first.inner_text()}")


def save_screenshot(page, name: str) -> Path:
    """Write docs/screenshots/<name>.png (the README shows these)."""
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS_DIR / f"{name}.png"
    # Streamlit scrolls inside its main block, so full_page alone stops at the window: grow the window instead.
    content_height = page.evaluate(
        "Math.max(...[...document.querySelectorAll(\"[data-testid='stMain'], [data-testid='stSidebarContent']\")]"
        ".map(element => element.scrollHeight))"
    )
    viewport = page.viewport_size
    page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], content_height)})
    try:
        wait_idle(page)
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(viewport)
    return path

"""Browser-test harness: the real app under `streamlit run`, driven by Debian's Chromium through Playwright.

Fixtures (available to every test under tests/e2e/):
    app_url   session-scoped: base URL of one `streamlit run app.py` on a free loopback port
    browser   session-scoped: headless Chromium
    page      function-scoped: a page in a fresh browser context (English locale, 1280x900)
    new_page  function-scoped factory: new_page(locale="zh-CN") for another browser language

Helpers (import with `from tests.e2e.conftest import open_app_page, ...`):
    open_app_page(page, app_url, path), wait_idle(page), assert_no_exception(page), save_screenshot(page, name)

Chromium missing makes these tests fail, not skip: CI must run them. Without Chromium, run the
rest with `pytest -m "not e2e"`.
"""

from __future__ import annotations

import os
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
EXCEPTION_BOX = "[data-testid='stException']"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _health(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
            return response.read().decode()
    except (urllib.error.URLError, OSError):
        return ""


def _tail(path: Path, n_chars: int = 4000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-n_chars:] or "(empty)"


@pytest.fixture(scope="session")
def app_url():
    port = _free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="streamlit-e2e-"))
    stderr_path = log_dir / "stderr.log"
    env = {k: v for k, v in os.environ.items() if k != "MNIST_DATA_DIR"}  # the embedded digits: same data everywhere
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with open(log_dir / "stdout.log", "wb") as stdout, open(stderr_path, "wb") as stderr:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while _health(port) != "ok":
            if server.poll() is not None:
                pytest.fail(f"streamlit exited with code {server.returncode} before it was healthy.\n"
                            f"stderr:\n{_tail(stderr_path)}")
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit was not healthy after {SERVER_START_TIMEOUT_S} s.\nstderr:\n{_tail(stderr_path)}")
            time.sleep(0.25)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server_errors = _tail(stderr_path)
        if "Traceback" in server_errors:
            print(f"\nstreamlit stderr had a traceback:\n{server_errors}", file=sys.stderr)
        shutil.rmtree(log_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "Debian's chromium is not installed: `apt-get install -y chromium` (make test does it), "
            "or leave the browser tests out with `pytest -m 'not e2e'`."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Factory: a page in a fresh context with the given browser language; all closed after the test."""
    contexts = []

    def make(locale: str = "en-US"):
        context = browser.new_context(locale=locale, viewport=VIEWPORT)
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def wait_idle(page) -> None:
    """Wait until the app's script has finished its run (every element drawn)."""
    page.wait_for_selector(APP_IDLE, timeout=PAGE_TIMEOUT_MS)


def open_app_page(page, app_url: str, path: str) -> None:
    """Open one page of the app ("" is home) and wait until it is drawn."""
    page.goto(f"{app_url}/{path}")
    wait_idle(page)


def assert_no_exception(page) -> None:
    boxes = page.locator(EXCEPTION_BOX)
    if boxes.count():
        pytest.fail(f"the page shows an exception:\n{boxes.first.inner_text()}")


def save_screenshot(page, name: str) -> Path:
    """Write docs/screenshots/<name>.png (the README shows these)."""
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

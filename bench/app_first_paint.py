"""Seconds from the server's health check to each page drawn in Chromium, through `make run`.

    .venv/bin/python bench/app_first_paint.py                 # this checkout, 3 fresh servers
    .venv/bin/python bench/app_first_paint.py /tmp/fresh      # a fresh clone: the first round creates .venv

Each round starts `make run` and prints, in seconds after /_stcore/health first answers "ok":
  home drawn      the home page's title in the browser (the target: within 3 s, warm)
  home settled    its run finished and the sidebar shows the data and the model
and then, in the same browser session, for each other page clicked in the menu: seconds from the
click to its run finished (the target: within 3 s each, once the data is cached).
The first round also pays for cold disk caches (and .venv, in a fresh clone); later rounds are warm.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import (  # noqa: E402  (the browser tests' harness)
    CHROMIUM_ARGS,
    TRACK_SCRIPT_STATE,
    VIEWPORT,
    free_port,
    health_status,
    wait_idle,
)
from ui.navigation import PAGES  # noqa: E402

TIMEOUT_S = 1800  # creating .venv from scratch installs torch
PAGE_TIMEOUT_S = 120  # longest wait for one page on 2 busy cores; beyond it the round fails
DEFAULT_ROUNDS = 3
ENGLISH = tomllib.loads((ROOT / "locales" / "en.toml").read_text(encoding="utf-8"))
SIDEBAR_MODEL_HEADING = f"[data-testid='stSidebar'] h3:has-text('{ENGLISH['app']['model_heading']}')"


def one_round(checkout: str, browser) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "STREAMLIT_SERVER_HEADLESS": "true", "STREAMLIT_SERVER_ADDRESS": "127.0.0.1"}
    env.pop("MNIST_DATA_DIR", None)
    started = time.monotonic()
    server = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=checkout, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    figures: dict[str, float] = {}
    try:
        while health_status(port) != "ok":
            if server.poll() is not None or time.monotonic() - started > TIMEOUT_S:
                raise SystemExit(f"make run exited or timed out (code {server.returncode})")
            time.sleep(0.05)
        healthy = time.monotonic()
        figures["health"] = healthy - started
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(PAGE_TIMEOUT_S * 1000)
        context.add_init_script(TRACK_SCRIPT_STATE)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("[data-testid='stMain'] h1")
        figures["home drawn"] = time.monotonic() - healthy
        page.wait_for_selector(SIDEBAR_MODEL_HEADING)
        wait_idle(page)
        page_clock_zero = time.monotonic() - page.evaluate("performance.now()") / 1000  # on the monotonic clock
        figures["home settled"] = page_clock_zero + page.evaluate("window.__scriptStateChangedAt") / 1000 - healthy
        for entry in PAGES:
            if not entry.url_path:
                continue
            clicked = page.evaluate("performance.now()")
            page.click(f"[data-testid='stSidebarNav'] a[href$='/{entry.url_path}']")
            page.wait_for_url(lambda url, path=entry.url_path: urlsplit(url).path.endswith(f"/{path}"),
                              wait_until="commit")
            page.wait_for_selector("[data-testid='stMain'] h1")
            wait_idle(page)
            figures[entry.url_path] = (page.evaluate("window.__scriptStateChangedAt") - clicked) / 1000
            print(f"  {entry.url_path} {figures[entry.url_path]:.1f} s", file=sys.stderr, flush=True)
        context.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the streamlit it started
        server.wait()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", nargs="?", default=str(ROOT), help="folder holding the Makefile")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="fresh servers, one after another")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        for round_number in range(1, args.rounds + 1):
            figures = one_round(args.checkout, browser)
            shown = ", ".join(f"{name} {seconds:.1f}" for name, seconds in figures.items())
            print(f"round {round_number} (load {os.getloadavg()[0]:.1f}), seconds after health: {shown}", flush=True)
        browser.close()


if __name__ == "__main__":
    main()

"""Wall time from `make run` to the home page drawn in Chromium, in a given checkout.

    .venv/bin/python bench/app_first_paint.py /tmp/fresh      # a fresh clone: includes creating .venv

Prints seconds to the health endpoint answering "ok" and to the home page's title in the browser.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import CHROMIUM_ARGS, free_port, health_status  # noqa: E402  (the browser tests' harness)

TIMEOUT_S = 1800  # creating .venv from scratch installs torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", help="folder holding the Makefile")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "STREAMLIT_SERVER_HEADLESS": "true", "STREAMLIT_SERVER_ADDRESS": "127.0.0.1"}
    started = time.monotonic()
    server = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=args.checkout, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        while health_status(port) != "ok":
            if server.poll() is not None or time.monotonic() - started > TIMEOUT_S:
                raise SystemExit(f"make run exited or timed out (code {server.returncode})")
            time.sleep(0.2)
        health_s = time.monotonic() - started
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("[data-testid='stMain'] h1", timeout=TIMEOUT_S * 1000)
            paint_s = time.monotonic() - started
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the streamlit it started
        server.wait()
    print(f"health endpoint ok after {health_s:.1f} s; home page title drawn after {paint_s:.1f} s")


if __name__ == "__main__":
    main()

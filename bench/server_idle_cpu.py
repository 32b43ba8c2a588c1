"""CPU the app's server burns while a learner just looks at a page, per file-watcher setting.

    .venv/bin/python bench/server_idle_cpu.py                    # the project's setting, then Streamlit's "auto"
    .venv/bin/python bench/server_idle_cpu.py --watchers poll    # one setting only

For each setting, starts `streamlit run app.py` as `make run` does (with .streamlit/config.toml), opens
every page in Chromium, then prints the server's CPU seconds over an idle window and the lines it logged.
Streamlit's "auto" watcher uses inotify through watchdog; with .venv inside the project, importing torch
floods the inotify queue, and the watcher keeps re-walking the tree. Target: well under 5% of a core.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import (  # noqa: E402  (the browser tests' harness)
    CHROMIUM_ARGS, PAGE_TIMEOUT_MS, free_port, health_status, new_context, open_app_page, stop_server,
)
from ui.navigation import PAGES  # noqa: E402

PROJECT_SETTING = "project"  # whatever .streamlit/config.toml says
START_TIMEOUT_S = 120


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process, from /proc (fields 14 and 15 of stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(watcher: str, idle_seconds: float, browser) -> tuple[float, int]:
    """(CPU seconds over the idle window, "Inotify queue overflowed" lines logged) with this file watcher."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.headless", "true", "--server.address", "127.0.0.1"]  # fmt: skip
    if watcher != PROJECT_SETTING:
        command += ["--server.fileWatcherType", watcher]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while health_status(port) != "ok":
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start with the {watcher!r} watcher")
                time.sleep(0.5)
            context = new_context(browser)
            page = context.new_page()
            for entry in PAGES:  # every page imports its modules, as a learner's first visits do
                open_app_page(page, f"http://127.0.0.1:{port}", entry.url_path)
            before = cpu_seconds(server.pid)
            time.sleep(idle_seconds)
            used = cpu_seconds(server.pid) - before
            context.close()
        finally:
            stop_server(server)
        log.seek(0)
        return used, log.read().count(b"Inotify queue overflowed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", nargs="+", default=[PROJECT_SETTING, "auto"],
                        help=f"{PROJECT_SETTING!r} (the config file's), auto, watchdog, poll or none")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                             args=CHROMIUM_ARGS, timeout=PAGE_TIMEOUT_MS)
        for watcher in args.watchers:
            used, lines = measure(watcher, args.idle_seconds, browser)
            print(f"{watcher:>8}: server CPU {used:.2f} s over {args.idle_seconds:.0f} s idle "
                  f"({100 * used / args.idle_seconds:.1f}% of a core); {lines} 'Inotify queue overflowed' lines")
        browser.close()


if __name__ == "__main__":
    main()

"""Peak memory of the app's server process while the training page trains on 60,000 images.

Starts the real `streamlit run app.py` (the browser tests' harness) with MNIST_DATA_DIR set, drives the
training page in Debian's Chromium (1 epoch, the tutorial's other values), and reads the server's peak
resident memory (VmHWM) from /proc once training has finished. Target: under 1.5 GB.

    .venv/bin/python bench/app_memory.py --data-dir data/fashion-mnist

With --reruns N it checks instead that memory stays bounded over many script runs (the project turns off
Streamlit's gc.collect(2) after every run): one learner trains a long run on the embedded digits, so its
live view reruns twice a second, while another clicks through the pages N times; the server's resident
memory is printed every N/10 page views. Bounded means the last figures level off rather than climb.

    .venv/bin/python bench/app_memory.py --reruns 300 [--post-script-gc true]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.server_idle_cpu import cpu_seconds  # noqa: E402
from tests.e2e.conftest import (  # noqa: E402
    CHROMIUM_ARGS, enter_value, new_context, open_app_page, running_app, wait_idle,
)
from ui.i18n import strings  # noqa: E402

EN = strings("en")
TRAIN_TIMEOUT_S = 900
LONG_RUN_EPOCHS = 100  # the most the form allows ...
LONG_RUN_BATCH = 8  # ... in small steps: about 50,000 of them, so the live view reruns for the whole check
BROWSED = ("dataset", "shapes", "home", "train")  # [section] names clicked through in turn


def server_pid(port: str) -> int:
    """The streamlit process listening on this port, found by its command line."""
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(args) and port.encode() in args:
            return int(proc.name)
    raise RuntimeError(f"no streamlit process on port {port}")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def reset_peak_rss(pid: int) -> None:
    """Start VmHWM again from the current resident size (writing 5 to clear_refs; own processes or root)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc status")


def reruns(page_views: int, post_script_gc: str) -> None:
    """Resident memory of the server over page_views full runs and the live view's fragment runs beside them."""
    env = {} if post_script_gc == "project" else {"STREAMLIT_RUNNER_POST_SCRIPT_GC": post_script_gc}
    with running_app(env) as url, sync_playwright() as pw:
        pid = server_pid(url.rsplit(":", 1)[1])
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        trainer, visitor = new_context(browser).new_page(), new_context(browser).new_page()
        open_app_page(trainer, url, "train")
        enter_value(trainer, trainer.get_by_label(EN["train.epochs"], exact=True), LONG_RUN_EPOCHS)
        enter_value(trainer, trainer.get_by_label(EN["train.batch_size_train"], exact=True), LONG_RUN_BATCH)
        trainer.locator(".st-key-train_start button").click()
        open_app_page(visitor, url, "")
        nav = visitor.locator("[data-testid='stSidebarNav']")
        print(f"postScriptGC {post_script_gc}; load {Path('/proc/loadavg').read_text().split()[0]}")
        print(f"{'page views':>10} {'RSS MB':>8} {'CPU s':>7}")
        started = time.perf_counter()
        for view in range(page_views + 1):
            if view % max(1, page_views // 10) == 0:
                print(f"{view:10d} {rss_mb(pid):8.0f} {cpu_seconds(pid):7.1f}", flush=True)
            section = BROWSED[view % len(BROWSED)]
            nav.get_by_role("link", name=EN[f"{section}.title"]).click()
            wait_idle(visitor)
        print(f"{page_views} page views in {time.perf_counter() - started:.0f} s; peak RSS {peak_rss_mb(pid):.0f} MB")
        trainer.locator(".st-key-train_stop button").click()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="a folder of the four IDX files (60,000 + 10,000)")
    parser.add_argument("--reruns", type=int, help="page views for the bounded-memory check instead")
    parser.add_argument("--post-script-gc", choices=["project", "true", "false"], default="project",
                        help="with --reruns: Streamlit's runner.postScriptGC, the project's or forced")
    args = parser.parse_args()
    if args.reruns:
        reruns(args.reruns, args.post_script_gc)
        return
    if not args.data_dir:
        parser.error("--data-dir is needed (or --reruns N)")
    with running_app({"MNIST_DATA_DIR": str(Path(args.data_dir).resolve())}) as url, sync_playwright() as pw:
        pid = server_pid(url.rsplit(":", 1)[1])
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = new_context(browser).new_page()
        open_app_page(page, url, "train")
        print(f"server up, data loaded on first page: peak {peak_rss_mb(pid):.0f} MB")
        enter_value(page, page.get_by_label(EN["train.epochs"], exact=True), 1)
        started = time.perf_counter()
        page.get_by_role("button", name=EN["train.start"], exact=True).click()
        page.get_by_text(EN["train.finished"].format(epochs=1), exact=True).wait_for(timeout=TRAIN_TIMEOUT_S * 1000)
        print(f"trained 1 epoch in {time.perf_counter() - started:.1f} s (page included)")
        print(f"peak resident memory of the server: {peak_rss_mb(pid):.0f} MB (target < 1536 MB)")
        browser.close()


if __name__ == "__main__":
    main()

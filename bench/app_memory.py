"""Peak memory of the app's server process while the training page trains on 60,000 images.

Starts the real `streamlit run app.py` (the browser tests' harness) with MNIST_DATA_DIR set, drives the
training page in Debian's Chromium (1 epoch, the tutorial's other values), and reads the server's peak
resident memory (VmHWM) from /proc once training has finished. Target: under 1.5 GB.

    .venv/bin/python bench/app_memory.py --data-dir data/fashion-mnist
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

from tests.e2e.conftest import CHROMIUM_ARGS, enter_value, new_context, open_app_page, running_app  # noqa: E402
from ui.i18n import strings  # noqa: E402

EN = strings("en")
TRAIN_TIMEOUT_S = 900


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="a folder of the four IDX files (60,000 + 10,000)")
    args = parser.parse_args()
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

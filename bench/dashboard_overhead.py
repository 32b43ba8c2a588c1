"""Training through the dashboard's job machinery vs the headless core loop, same config, one process.

The dashboard path is what the training page does: a TrainingSession starts the background thread
(history copies, published model copies, a checkpoint each epoch), while this thread polls it at the
page's refresh rate and builds the page's Plotly figure from each snapshot. Runs alternate so that
drift in machine load hits both sides. Target: ratio at most 1.10.

    .venv/bin/python bench/dashboard_overhead.py [--epochs 1] [--repeats 3] [--data-dir FOLDER]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
logging.getLogger("streamlit").setLevel(logging.ERROR)  # bare mode warns about the missing script context

from mnist_core import TrainConfig, load_mnist, new_training_state, train  # noqa: E402
from mnist_core.jobs import SlotLimiter, TrainingSession  # noqa: E402


def headless_seconds(config: TrainConfig, data) -> float:
    state = new_training_state(config)
    started = time.perf_counter()
    for _ in train(state, data):
        pass
    return time.perf_counter() - started


def plain_thread_seconds(config: TrainConfig, data) -> float:
    """The headless loop run in a bare threading.Thread: what a background thread alone costs."""
    result: list[float] = []
    worker = threading.Thread(target=lambda: result.append(headless_seconds(config, data)))
    worker.start()
    worker.join()
    return result[0]


def page_drawing():
    """The figure the page builds from each snapshot, or None where Streamlit/Plotly are not installed."""
    try:
        from ui.train_charts import training_figure
    except ImportError:
        return None
    return lambda history: training_figure(history).to_json()


def dashboard_seconds(config: TrainConfig, data, refresh_seconds: float, checkpoint_dir: Path) -> tuple[float, int]:
    draw = page_drawing()
    session = TrainingSession(checkpoint_dir / "checkpoint.pt", SlotLimiter(1))
    polls = 0
    started = time.perf_counter()
    session.start_new(config, data)
    while session.job.active:
        snapshot = session.snapshot()
        if draw is not None:
            draw(snapshot.history)  # what each fragment run draws
        polls += 1
        session.job.join(refresh_seconds)  # the page's poll interval, but the clock stops when the job does
    elapsed = time.perf_counter() - started
    assert session.snapshot().status == "finished", session.snapshot().error
    return elapsed, polls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None, help="a folder of MNIST IDX files (default: best available)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    try:
        from ui.session import LIVE_REFRESH_SECONDS
    except ImportError:  # a machine without Streamlit (e.g. the GPU box): the page's value
        LIVE_REFRESH_SECONDS = 0.5
    if page_drawing() is None:
        print("Streamlit/Plotly not installed: polling snapshots without building the figure")

    data = load_mnist(args.data_dir, download=False)
    config = TrainConfig(n_epochs=args.epochs, device=args.device)
    print(f"data: {data.describe()}; config: {config}")
    headless_seconds(config, data)  # warm-up: first-call allocations, thread pool start
    headless, threaded, dashboard = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            headless.append(headless_seconds(config, data))
            threaded.append(plain_thread_seconds(config, data))
            seconds, polls = dashboard_seconds(config, data, LIVE_REFRESH_SECONDS, Path(tmp))
            dashboard.append(seconds)
            print(f"repeat {repeat + 1}: headless {headless[-1]:.2f} s, same loop in a plain thread "
                  f"{threaded[-1]:.2f} s, dashboard {seconds:.2f} s ({polls} polls)")
    headless_s, threaded_s, dashboard_s = (statistics.median(x) for x in (headless, threaded, dashboard))
    print(f"median headless {headless_s:.2f} s, plain thread {threaded_s:.2f} s, dashboard {dashboard_s:.2f} s")
    print(f"ratio dashboard / headless {dashboard_s / headless_s:.3f} (target <= 1.10); of which a bare thread "
          f"{threaded_s / headless_s:.3f} and the job machinery and polling {dashboard_s / threaded_s:.3f}")


if __name__ == "__main__":
    main()

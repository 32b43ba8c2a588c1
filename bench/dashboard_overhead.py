"""Training through the dashboard's job machinery vs the headless core loop, same config, one process.

The dashboard path is what the training page does: a TrainingSession starts the background thread
(history copies, published model copies, a checkpoint each epoch), while this thread polls it at the
page's refresh rate and builds the page's Plotly figure from each snapshot. Runs alternate so that
drift in machine load hits both sides. Target: ratio at most 1.10.

One artefact of measuring both in one process is removed before each threaded run: the headless
loop leaves the main thread's idle OpenMP team behind, which makes libgomp cut the training
thread's spin-waits short (about 43,000 voluntary context switches an epoch on 2 cores, against a
handful; see bench/openmp_team.py). In the app nothing but training threads runs PyTorch for long,
so the bench frees that team first, and prints every run's context switches.
Pass --keep-idle-team to measure with the idle team left in place.

    .venv/bin/python bench/dashboard_overhead.py [--epochs 1] [--repeats 3] [--data-dir FOLDER] [--keep-idle-team]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.openmp_team import free_idle_openmp_team, openmp_runtime  # noqa: E402
from mnist_core import TrainConfig, load_mnist, new_training_state, train  # noqa: E402
from mnist_core.runtime import SlotLimiter, TrainingSession  # noqa: E402


def context_switches() -> int:
    """Voluntary context switches of this process so far (all threads, ended ones included)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw


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
        from streamlit.logger import set_log_level
        from ui.train_charts import training_figure
    except ImportError:
        return None
    set_log_level("error")  # bare mode (no `streamlit run`) warns about the missing script context on every call
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
    parser.add_argument("--keep-idle-team", action="store_true",
                        help="leave the main thread's idle OpenMP team in place (the one-process artefact)")
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
    runtime = None if args.keep_idle_team else openmp_runtime()
    if not args.keep_idle_team:
        print(f"freeing the main thread's idle OpenMP team before each threaded run: "
              f"{'libgomp' if runtime is not None else 'no libgomp loaded, nothing to free'}")
    headless_seconds(config, data)  # warm-up: first-call allocations, thread pool start
    seconds: dict[str, list[float]] = {"headless": [], "plain thread": [], "dashboard": []}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            switches = {}
            for name in seconds:
                if name != "headless":
                    free_idle_openmp_team(runtime)
                before = context_switches()
                if name == "headless":
                    seconds[name].append(headless_seconds(config, data))
                elif name == "plain thread":
                    seconds[name].append(plain_thread_seconds(config, data))
                else:
                    elapsed, polls = dashboard_seconds(config, data, LIVE_REFRESH_SECONDS, Path(tmp))
                    seconds[name].append(elapsed)
                switches[name] = context_switches() - before
            print(f"repeat {repeat + 1}: " + ", ".join(
                f"{name} {seconds[name][-1]:.2f} s ({switches[name]:,} context switches)" for name in seconds
            ) + f"; the dashboard polled {polls} times")
    headless_s, threaded_s, dashboard_s = (statistics.median(x) for x in seconds.values())
    print(f"median headless {headless_s:.2f} s, plain thread {threaded_s:.2f} s, dashboard {dashboard_s:.2f} s")
    print(f"ratio dashboard / headless {dashboard_s / headless_s:.3f} (target <= 1.10); of which a bare thread "
          f"{threaded_s / headless_s:.3f} and the job machinery and polling {dashboard_s / threaded_s:.3f}")


if __name__ == "__main__":
    main()

"""Server time of one live-chart update when the history holds 6 million train-loss points.

A training job publishes ``history.snapshot()`` on every logged batch; the training page's fragment then
builds the chart figure and hands it to ``st.plotly_chart`` (Plotly's validation, JSON serialisation and
Streamlit's element id) twice a second. This runs exactly that, in a Streamlit script under AppTest, on a
history of 100 epochs of 60,000 points (batch size 1, logged every batch), and prints the CPU time of the
script thread for each part. Target: under 200 ms for the whole update.

    .venv/bin/python bench/history_update.py                 # 6,000,000 points, 10 updates
    .venv/bin/python bench/history_update.py --before        # also the old way: a full copy, every point sent

--before times what the code did before: a copy of every list per logged batch, and the whole curve in
the figure (at the same size this takes many seconds and several GB, so try --points 600000 first).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import streamlit.logger  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from mnist_core.training.history import History  # noqa: E402

POINTS_PER_EPOCH = 60_000  # full MNIST at batch size 1, logged every batch
TARGET_MS = 200.0


def fragment_update() -> None:
    """One live-view update, timed part by part (CPU time of this thread, in ms) into session state."""
    import time

    import plotly.graph_objects as go
    import streamlit as st

    from ui import train_charts

    history = st.session_state["bench_history"]
    before = st.session_state["bench_before"]
    started = time.thread_time()
    if before:  # the old job: a full copy of every list per logged batch
        snapshot = {name: list(values) for name, values in history.items()}
        copied = time.thread_time()
        figure = go.Figure(data=[go.Scatter(x=snapshot["train_counter"], y=snapshot["train_losses"])])
    else:
        snapshot = history.snapshot()
        copied = time.thread_time()
        figure = train_charts.training_figure(snapshot)
    built = time.thread_time()
    st.plotly_chart(figure, key="train_live_chart")
    sent = time.thread_time()
    st.session_state.setdefault("bench_timings", []).append(
        (1000 * (copied - started), 1000 * (built - copied), 1000 * (sent - built), len(figure.data[0].x)))


def synthetic_history(n_points: int) -> History:
    """A loss curve falling from 2.3 with noise and a few spikes; one test point per epoch."""
    rng = np.random.default_rng(0)
    counter = np.arange(n_points, dtype=np.int64)
    losses = 2.3 * np.exp(-counter / (n_points / 8)) + 0.05 * rng.random(n_points)
    losses[rng.integers(0, n_points, 20)] += 3.0
    epochs = n_points // POINTS_PER_EPOCH + 1
    return History(train_losses=losses, train_counter=counter,
                   test_losses=np.linspace(2.3, 0.05, epochs), test_counter=np.arange(epochs) * POINTS_PER_EPOCH,
                   test_accuracy=np.linspace(0.1, 0.99, epochs))


def measure(history, before: bool, updates: int) -> None:
    app = AppTest.from_function(fragment_update, default_timeout=600)
    streamlit.logger.set_log_level(logging.ERROR)  # "missing ScriptRunContext" for session state set from here
    app.session_state["bench_history"] = history
    app.session_state["bench_before"] = before
    walls = []
    for _ in range(updates):
        started = time.perf_counter()
        app.run()
        walls.append(1000 * (time.perf_counter() - started))
        if app.exception:
            raise SystemExit(app.exception[0].value)
    timings = app.session_state["bench_timings"][1:] or app.session_state["bench_timings"]  # the first imports
    copy_ms, figure_ms, send_ms, sent_points = (statistics.median(column) for column in zip(*timings))
    total = copy_ms + figure_ms + send_ms
    label = "before (full copy, every point)" if before else "now (snapshot, downsampled)"
    print(f"{label}: median of {len(timings)} updates, CPU ms of the script thread")
    print(f"  snapshot/copy {copy_ms:8.2f}   figure {figure_ms:8.2f}   st.plotly_chart {send_ms:8.2f}   "
          f"total {total:8.2f} ms  ({int(sent_points):,} points sent; target < {TARGET_MS:.0f} ms: "
          f"{'met' if total < TARGET_MS else 'MISSED'})")
    print(f"  whole AppTest run, wall: median {statistics.median(walls[1:] or walls):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=6_000_000, help="train-loss points in the history")
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--before", action="store_true", help="also time the old full-copy, every-point way")
    args = parser.parse_args()
    print(f"load: {Path('/proc/loadavg').read_text().strip()}")
    started = time.perf_counter()
    history = synthetic_history(args.points)
    print(f"history of {args.points:,} train points built in {time.perf_counter() - started:.1f} s")
    measure(history, before=False, updates=args.updates)
    if args.before:
        lists = {name: getattr(history, name).tolist() for name in History.column_names()}
        measure(lists, before=True, updates=min(args.updates, 3))


if __name__ == "__main__":
    main()

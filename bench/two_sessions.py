"""Two browser sessions training at once: the jobs' shared-out CPU threads vs every job taking all free cores.

Both sessions start a 1-epoch run together through the training page's job machinery, first with
SlotLimiter's rule (each job trains with its slot's share of the cores, cores // slots), then with
each job taking every core, as it did before that rule. Runs alternate, in one process;
the figure is how long the slower of the two sessions waited for its epoch.

    .venv/bin/python bench/two_sessions.py [--data-dir FOLDER] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.openmp_team import free_idle_openmp_team, openmp_runtime  # noqa: E402
from mnist_core import TrainConfig, load_mnist  # noqa: E402
from mnist_core.training.device import usable_cores  # noqa: E402
from mnist_core.runtime import JobStatus, SlotLimiter, TrainingSession  # noqa: E402


class EveryJobTakesAllFreeCores(SlotLimiter):
    """The old behaviour: each job took every core, whoever else was training."""

    @property
    def threads_per_job(self) -> int:
        return usable_cores()


def both_sessions_seconds(limiter: SlotLimiter, config: TrainConfig, data, folder: Path) -> float:
    sessions = [TrainingSession(folder / f"session-{n}.pt", limiter) for n in range(2)]
    started = time.perf_counter()
    for session in sessions:
        session.start_new(config, data)
    for session in sessions:
        session.job.join()
        assert session.snapshot().status == JobStatus.FINISHED, session.snapshot().error
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="a folder of MNIST IDX files (default: best available)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    data = load_mnist(args.data_dir, download=False)
    free_idle_openmp_team(openmp_runtime())  # loading ran PyTorch in this thread; the app's server never does
    config = TrainConfig(n_epochs=1, device="cpu")
    print(f"data: {data.describe()}; {usable_cores()} usable cores; 2 sessions x 1 epoch each")
    shared, greedy = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            shared.append(both_sessions_seconds(SlotLimiter(2), config, data, Path(tmp)))
            greedy.append(both_sessions_seconds(EveryJobTakesAllFreeCores(2), config, data, Path(tmp)))
            print(f"repeat {repeat + 1}: cores shared out {shared[-1]:.2f} s, every job takes all free cores "
                  f"{greedy[-1]:.2f} s")
    shared_s, greedy_s = statistics.median(shared), statistics.median(greedy)
    print(f"median: shared {shared_s:.2f} s, all free cores each {greedy_s:.2f} s; speedup {greedy_s / shared_s:.2f}x")


if __name__ == "__main__":
    main()

"""Latency of the Draw page's "why this answer?" map: mnist_core.training.explain.saliency_map on one input, CPU.

For every preset (fresh weights: the time does not depend on training) and both Captum methods, the median and
the 90th percentile of REPEATS calls on a real test digit, after WARMUP calls, beside the plain forward pass
(read_tensor) as the baseline measured in the same loop. The Draw page computes two maps per drawing (the answer
and the "why not" digit). Target: under 200 ms a map on CPU. Report the load average printed at the top.

    .venv/bin/python bench/saliency.py
    .venv/bin/python bench/saliency.py --threads 1 --repeats 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from mnist_core.data import load_embedded_data  # noqa: E402
from mnist_core.training.explain import METHODS, saliency_map  # noqa: E402
from mnist_core.inference import inference_model, read_tensor  # noqa: E402
from mnist_core.network.spec import NetSpec  # noqa: E402
from mnist_core.training.presets import PRESETS  # noqa: E402
from mnist_core.training.step import fresh_model  # noqa: E402

WARMUP = 3  # first calls pay for thread pools and allocator growth
TARGET_MS = 200.0


def milliseconds(call, repeats: int) -> tuple[float, float, float]:
    """Median and 90th-percentile wall ms, and median CPU ms of this process (on a shared machine the CPU time
    is what the call itself costs; with --threads 1 it is the latency the call would have on an idle core)."""
    for _ in range(WARMUP):
        call()
    walls, cpus = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((time.process_time() - start_cpu) * 1000)
    walls.sort()
    return statistics.median(walls), walls[int(0.9 * (len(walls) - 1))], statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; torch threads {torch.get_num_threads()}")
    image = load_embedded_data().test_images[:1]
    print(f"{'preset':10} {'method':22} {'wall ms':>8} {'p90 ms':>8} {'CPU ms':>7} {'forward CPU ms':>15} {'ratio':>6}")
    for name, preset in PRESETS.items():
        model = inference_model(fresh_model(NetSpec.from_dict(preset.spec), preset.config, preset.recipe, 1).model)
        _, _, forward = milliseconds(lambda model=model: read_tensor(model, image), args.repeats)
        for method in METHODS:
            median, p90, cpu = milliseconds(lambda model=model, method=method: saliency_map(model, image, 4, method),
                                            args.repeats)
            print(f"{name:10} {method:22} {median:8.1f} {p90:8.1f} {cpu:7.1f} {forward:15.2f} {cpu / forward:6.1f}")
    print(f"target: under {TARGET_MS:.0f} ms a map on CPU (the wall figures assume an idle machine: compare the load)")


if __name__ == "__main__":
    main()

"""Does MNIST-style preparation make drawn digits readable, and is it fast enough to run as one draws?

Accuracy on the drawn evaluation set (tests/drawn_digits.py: the embedded test digits
redrawn on a 280 x 280 canvas, off centre, resized, strokes changed) three ways:
  1. through the drawing page's preparation (crop, fit 20 px, centre of mass);
  2. through a naive resize of the whole canvas to 28 x 28;
  3. the same model on the original 28 x 28 digits.
Then the server-side latency from a canvas array to ten probabilities, on CPU.

    .venv/bin/python bench/canvas_accuracy.py                 # trains 10 seeded epochs on the embedded digits
    .venv/bin/python bench/canvas_accuracy.py --checkpoint checkpoints/model.pt
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mnist_core import TrainConfig, new_training_state, normalize, train  # noqa: E402
from mnist_core.data import load_embedded_data  # noqa: E402
from mnist_core.inference import inference_model, load_inference_model, read_image, read_tensor  # noqa: E402
from mnist_core.preprocess import prepare_naive  # noqa: E402
from tests.drawn_digits import drawn_digits, evaluation_digits  # noqa: E402

TARGET_GAP_POINTS = 2.0  # preparation must stay within 2 accuracy points of the original digits
TARGET_LATENCY_MS = 20.0


def trained_model(epochs: int, seed: int):
    state = new_training_state(TrainConfig(n_epochs=epochs, random_seed=seed, device="cpu"))
    for _ in train(state, load_embedded_data()):
        pass
    return inference_model(state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="read with this checkpoint instead of training one")
    parser.add_argument("--epochs", type=int, default=10, help="epochs to train on the embedded digits (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="training seed (default 1)")
    parser.add_argument("--count", type=int, default=1000, help="evaluation digits, up to 1000 (default all)")
    parser.add_argument("--latency-runs", type=int, default=300, help="timed canvas reads (default 300)")
    args = parser.parse_args()

    started = time.perf_counter()
    if args.checkpoint:
        model, origin = load_inference_model(args.checkpoint), args.checkpoint
    else:
        model, origin = trained_model(args.epochs, args.seed), f"{args.epochs} epochs on the embedded digits, seed {args.seed}"
    print(f"model: {origin} ({time.perf_counter() - started:.1f} s)")

    originals, labels = evaluation_digits(args.count)
    canvases = list(drawn_digits(originals))
    correct = {"mnist_style": 0, "naive": 0, "original": 0}
    for original, canvas, label in zip(originals, canvases, labels):
        correct["mnist_style"] += read_image(model, canvas)[0].digit == label
        correct["naive"] += read_tensor(model, prepare_naive(canvas).tensor).digit == label
        original_input = normalize(torch.from_numpy(original).reshape(1, 1, 28, 28))
        correct["original"] += read_tensor(model, original_input).digit == label
    accuracy = {way: 100.0 * n / len(labels) for way, n in correct.items()}
    gap = accuracy["original"] - accuracy["mnist_style"]
    print(f"evaluation set: {len(labels)} embedded test digits drawn on a 280 x 280 canvas (tests/drawn_digits.py)")
    print(f"  accuracy on the original 28 x 28 digits:   {accuracy['original']:6.2f} %")
    print(f"  accuracy through the page's preparation:   {accuracy['mnist_style']:6.2f} %  "
          f"({gap:+.2f} points below the originals; target within {TARGET_GAP_POINTS}: "
          f"{'met' if gap <= TARGET_GAP_POINTS else 'MISSED'})")
    print(f"  accuracy through a naive resize to 28 x 28: {accuracy['naive']:6.2f} %  "
          f"({accuracy['original'] - accuracy['naive']:+.2f} points below the originals)")

    default_threads = torch.get_num_threads()
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        median, p95 = latency_ms(model, canvases, args.latency_runs)
        print(f"latency, 280 x 280 x 4 canvas array -> 10 probabilities, CPU, {threads} thread(s), "
              f"{args.latency_runs} reads: median {median:.2f} ms, p95 {p95:.2f} ms "
              f"(target median < {TARGET_LATENCY_MS:.0f} ms: {'met' if median < TARGET_LATENCY_MS else 'MISSED'})")
    torch.set_num_threads(default_threads)
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def latency_ms(model, canvases: list[np.ndarray], runs: int, warm_up: int = 20) -> tuple[float, float]:
    """Median and 95th percentile of read_image, the page's whole server-side path."""
    timings = []
    for i in range(warm_up + runs):
        canvas = canvases[i % len(canvases)]
        tick = time.perf_counter()
        read_image(model, canvas)
        if i >= warm_up:  # the first reads warm up PyTorch's kernels
            timings.append((time.perf_counter() - tick) * 1000)
    return statistics.median(timings), float(np.percentile(timings, 95))

if __name__ == "__main__":
    main()

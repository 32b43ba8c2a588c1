"""Seconds per epoch: the tutorial's loop against mnist_core's, in one process, on the same data.

The reference is the tutorial's code path: torchvision.datasets.MNIST read from IDX files,
a DataLoader (batch 64, shuffled, no workers) applying ToTensor and Normalize to each
image, the tutorial's own Net class, SGD(lr 0.01, momentum 0.5) and seed, a test pass after each epoch.
mnist_core's loop is engine.train with its defaults. An epoch's seconds include its test pass.

    python bench/train_speed.py --data-dir data/fashion-mnist --device cpu --epochs 1
    python bench/train_speed.py --device cuda --cuda-graph --epochs 3

Without --data-dir it uses the 5,000 embedded digits (4,000 train): fine for a smoke run,
too small for figures. Debian's dataset-fashion-mnist has 60,000-image IDX files in
/usr/share/datasets/fashion-mnist.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision import datasets, transforms

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mnist_core import MEAN, STD, TestEvent, TrainConfig, load_mnist, new_training_state, train  # noqa: E402
from mnist_core.data import load_embedded, read_idx_folder, write_idx_folder  # noqa: E402
from mnist_core.training.device import free_cores, resolve_device  # noqa: E402
from tests.tutorial_reference import TutorialNet  # noqa: E402  (the tutorial's own class)


def reference_run(root: Path, config: TrainConfig, device: torch.device, n_epochs: int) -> tuple[list, list, float]:
    """The tutorial's loop; returns wall and CPU seconds per epoch (train + test) and the final test accuracy."""
    to_input = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    train_loader = torch.utils.data.DataLoader(
        datasets.MNIST(str(root), train=True, download=False, transform=to_input),
        batch_size=config.batch_size_train, shuffle=True,
    )
    test_loader = torch.utils.data.DataLoader(
        datasets.MNIST(str(root), train=False, download=False, transform=to_input),
        batch_size=config.batch_size_test, shuffle=True,
    )
    torch.manual_seed(config.random_seed)
    network = TutorialNet().to(device)
    optimizer = torch.optim.SGD(network.parameters(), lr=config.learning_rate, momentum=config.momentum)
    train_losses = []

    def train_epoch() -> None:
        network.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            loss = F.nll_loss(network(data), target)
            loss.backward()
            optimizer.step()
            if batch_idx % config.log_interval == 0:
                train_losses.append(loss.item())

    def test() -> float:
        network.eval()
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                data, target = data.to(device), target.to(device)
                output = network(data)
                correct += int((output.argmax(dim=1) == target).sum().item())
        return correct / len(test_loader.dataset)

    test()
    seconds, cpu_seconds = [], []
    for _ in range(n_epochs):
        started, cpu_started = time.perf_counter(), time.process_time()
        train_epoch()
        accuracy = test()
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
    return seconds, cpu_seconds, accuracy


def core_run(folder: Path, config: TrainConfig, device: torch.device, cuda_graph: bool) -> tuple[list, list, float]:
    """mnist_core.train with its defaults; returns wall and CPU seconds per epoch (train + test) and the final accuracy."""
    data = load_mnist(folder, device=device, download=False, strict=True)
    state = new_training_state(config, device=device)
    seconds, cpu_seconds, accuracy, last = [], [], 0.0, None
    for event in train(state, data, cuda_graph=cuda_graph):
        if isinstance(event, TestEvent):
            now = (time.perf_counter(), time.process_time())
            if last is not None:
                seconds.append(now[0] - last[0])
                cpu_seconds.append(now[1] - last[1])
            last, accuracy = now, event.accuracy
    return seconds, cpu_seconds, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder with the four IDX files (default: the embedded digits)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps (default: cpu)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per loop (default: 1)")
    parser.add_argument("--limit", type=int, help="use only the first LIMIT training images")
    parser.add_argument("--repeats", type=int, default=1, help="run both loops this many times, alternating")
    parser.add_argument("--cuda-graph", action="store_true", help="mnist_core: replay each step from a CUDA graph")
    parser.add_argument(
        "--reference-threads", type=int,
        help="CPU threads for the reference loop (default: PyTorch's default, as the tutorial runs)",
    )
    args = parser.parse_args()

    device = resolve_device(args.device)
    arrays = read_idx_folder(args.data_dir) if args.data_dir else load_embedded()
    if args.limit:
        arrays = (arrays[0][: args.limit], arrays[1][: args.limit], arrays[2], arrays[3])
    config = TrainConfig(n_epochs=args.epochs, device=device.type)
    default_threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        # Both loops read the same uncompressed IDX files; torchvision's MNIST wants them in MNIST/raw.
        folder = write_idx_folder(Path(tmp) / "MNIST" / "raw", arrays)
        print(f"data: {args.data_dir or 'embedded digits'}: {len(arrays[1]):,} train, {len(arrays[3]):,} test; "
              f"device {device}; {args.epochs} epoch(s) per loop; free cores now {free_cores()}")
        for repeat in range(1, args.repeats + 1):
            torch.set_num_threads(args.reference_threads or default_threads)
            reference_threads = torch.get_num_threads()
            ref_seconds, ref_cpu, ref_accuracy = reference_run(Path(tmp), config, device, args.epochs)
            core_seconds, core_cpu, core_accuracy = core_run(folder, config, device, args.cuda_graph)
            core_threads = torch.get_num_threads()
            ref_mean = sum(ref_seconds) / len(ref_seconds)
            core_mean = sum(core_seconds) / len(core_seconds)
            threads = f" (threads {reference_threads})" if device.type == "cpu" else ""
            core_threads_text = f" (threads {core_threads})" if device.type == "cpu" else ""
            print(f"run {repeat}: reference {ref_mean:.3f} s/epoch{threads}, accuracy {ref_accuracy:.4f}; "
                  f"mnist_core {core_mean:.3f} s/epoch{core_threads_text}, accuracy {core_accuracy:.4f}; "
                  f"speed-up {ref_mean / core_mean:.2f}x")
            print(f"       per epoch: reference {[round(s, 3) for s in ref_seconds]}, "
                  f"mnist_core {[round(s, 3) for s in core_seconds]}")
            # CPU seconds of this process: less sensitive than wall time to other programs sharing the cores.
            ref_cpu_mean, core_cpu_mean = sum(ref_cpu) / len(ref_cpu), sum(core_cpu) / len(core_cpu)
            print(f"       CPU seconds per epoch: reference {ref_cpu_mean:.3f}, mnist_core {core_cpu_mean:.3f}, "
                  f"ratio {ref_cpu_mean / core_cpu_mean:.2f}x")


if __name__ == "__main__":
    main()

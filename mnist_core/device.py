"""Picking the compute device and sizing CPU threads."""

from __future__ import annotations

import os

import torch


def available_devices() -> list[str]:
    """Devices this machine can train on, best first."""
    devices = []
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' gives CUDA, then MPS, then CPU; a named device must be available."""
    if name == "auto":
        return torch.device(available_devices()[0])
    if name not in available_devices():
        raise ValueError(f"device {name!r} is not available here; choose one of {', '.join(available_devices())}.")
    return torch.device(name)


def usable_cores() -> int:
    """Cores this process may run on (respects taskset and container CPU affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1


def free_cores() -> int:
    """Usable cores minus those other processes keep busy (1-minute load average), at least 1."""
    cores = usable_cores()
    try:
        busy = round(os.getloadavg()[0])
    except (AttributeError, OSError):
        busy = 0
    return max(1, min(cores, cores - busy))


def configure_cpu_threads(n_threads: int | None = None) -> int:
    """Set PyTorch's intra-op thread count (process-wide) and return it.

    More threads than free cores makes small convolutions slower, not faster.
    """
    n_threads = n_threads or usable_cores()
    if torch.get_num_threads() != n_threads:
        torch.set_num_threads(n_threads)
    return n_threads

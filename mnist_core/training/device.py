"""Picking the compute device and sizing CPU threads."""

from __future__ import annotations

import os
import time

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


CPU_SAMPLE_SECONDS = 0.1  # how long free_cores watches the CPUs


def _cpu_ticks(cpus: set[int]) -> tuple[int, int]:
    """(busy, total) clock ticks since boot, summed over the given CPUs, from /proc/stat (Linux)."""
    busy = total = 0
    with open("/proc/stat") as stat:
        for line in stat:
            name, *values = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                ticks = [int(v) for v in values[:8]]  # user nice system idle iowait irq softirq steal
                total += sum(ticks)
                busy += sum(ticks) - ticks[3] - ticks[4]
    return busy, total


def _own_ticks() -> int:
    """CPU clock ticks this process (all its threads) has used, from /proc/self/stat."""
    with open("/proc/self/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return int(fields[11]) + int(fields[12])  # utime + stime


def busy_cores_elsewhere(sample_seconds: float = CPU_SAMPLE_SECONDS) -> float:
    """How many of our cores other processes keep busy, measured over sample_seconds.

    This process's own use is left out, so the threads of the previous training run do not
    count against the next. Off Linux, the 1-minute load average stands in.
    """
    try:
        cpus = os.sched_getaffinity(0)
        busy_before, total_before = _cpu_ticks(cpus)
        own_before = _own_ticks()
        time.sleep(sample_seconds)
        busy_after, total_after = _cpu_ticks(cpus)
        own_after = _own_ticks()
    except (AttributeError, OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    ticks_per_core = (total_after - total_before) / len(cpus)
    if ticks_per_core <= 0:
        return 0.0
    return max(0.0, (busy_after - busy_before) - (own_after - own_before)) / ticks_per_core


def free_cores() -> int:
    """Usable cores minus those other processes keep busy right now, at least 1."""
    cores = usable_cores()
    return max(1, min(cores, cores - round(busy_cores_elsewhere())))


def configure_cpu_threads(n_threads: int | None = None) -> int:
    """Set PyTorch's intra-op thread count for the calling thread (and threads started later), return it.

    More threads than free cores makes small convolutions slower, not faster.
    """
    n_threads = n_threads or usable_cores()
    if torch.get_num_threads() != n_threads:
        torch.set_num_threads(n_threads)
    return n_threads

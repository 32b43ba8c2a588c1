"""Freeing an idle OpenMP team, for benchmarks that train in the main thread and in other threads.

libgomp keeps a thread's team of worker threads after its last parallel region. While more OpenMP
threads exist than cores, it cuts every team's spin-wait short, so a training thread's workers
sleep and wake on a futex dozens of times a batch. The app never leaves such a team behind (only
training threads run PyTorch for long), so a benchmark that trained in its main thread frees that
thread's team before measuring a training thread.
"""

from __future__ import annotations

import ctypes


def openmp_runtime() -> ctypes.CDLL | None:
    """The libgomp that PyTorch loaded into this process (Linux wheels bundle it).

    None where another runtime (LLVM's libomp, Intel's libiomp5) or none is loaded, or off Linux
    (no /proc/self/maps to find it in): the throttling described above is libgomp's.
    """
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps}
    except OSError:
        return None
    for path in sorted(paths):
        if path.rsplit("/", 1)[-1].startswith("libgomp"):
            return ctypes.CDLL(path)  # already loaded: this only hands back its handle
    return None


def free_idle_openmp_team(runtime: ctypes.CDLL | None) -> None:
    """End the calling thread's idle libgomp worker threads; its next parallel region starts new ones."""
    OMP_PAUSE_SOFT = 1  # omp_pause_resource_t (OpenMP 5.0); libgomp frees the thread pool for either kind
    if runtime is not None and runtime.omp_pause_resource_all(OMP_PAUSE_SOFT) != 0:
        raise RuntimeError("the OpenMP runtime refused to release the main thread's team")

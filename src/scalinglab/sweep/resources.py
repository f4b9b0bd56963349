"""How many runs side by side, and how many CPU threads (or which GPU) each gets.

Defaults (``--workers`` overrides the count): on CPU, one run per core with one thread each for
small models (below ``BIG_MODEL`` parameters: PyTorch's threading gains little on them and
running side by side keeps every core busy), and one run per ``BIG_THREADS`` cores for larger
ones; never more runs than there are to do. Threads are ``cores // workers`` (at least one),
so the runs never over-subscribe the machine (PyTorch's default of one thread per core in
every process costs up to 40x). On CUDA, one run per visible GPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: models at least this large (parameters) get BIG_THREADS threads per run by default
BIG_MODEL = 10_000_000
BIG_THREADS = 4


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def visible_gpus() -> list[str]:
    """Identifiers of the CUDA devices this process may use (``CUDA_VISIBLE_DEVICES`` order);
    imports torch only to count them."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    try:
        import torch
    except ImportError:
        return []
    return [str(i) for i in range(torch.cuda.device_count())]


@dataclass(frozen=True)
class Slots:
    """Concurrent runs, threads per run and the GPU of each worker slot (empty on CPU)."""

    workers: int
    threads: int
    gpus: tuple[str, ...] = ()


def plan_slots(n_runs: int, *, cores: int, workers: int | None = None,
               largest_model: int = 0, gpus: list[str] | None = None) -> Slots:
    """The default (or requested) number of concurrent runs and their threads."""
    n_runs = max(1, n_runs)
    if gpus:
        k = workers or min(len(gpus), n_runs)
        return Slots(k, max(1, cores // k), tuple(gpus[i % len(gpus)] for i in range(k)))
    if workers is None:
        per_run = BIG_THREADS if largest_model >= BIG_MODEL else 1
        workers = max(1, min(n_runs, cores // per_run))
    return Slots(workers, max(1, cores // workers))

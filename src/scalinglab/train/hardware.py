"""Devices, threads, precision and peak FLOP/s (for MFU).

Threads: ``threads=None`` uses the cores this process may run on
(``os.sched_getaffinity``) divided by ``$SCALINGLAB_CONCURRENT_RUNS`` (default 1); a sweep that
runs k trainings at once passes ``threads`` explicitly so they do not over-subscribe the cores
(over-subscription costs up to 40x on a 2-core machine).

Peak FLOP/s, in this order: the ``peak_flops`` option, ``$SCALINGLAB_PEAK_FLOPS``, then

* CUDA: a table of dense (no 2:4 sparsity) vendor peaks by device name and precision (bf16 or
  tf32): H100 SXM 989.4 / 494.7 TFLOP/s, H100 PCIe 756 / 378, H200 989.4 / 494.7, A100 312 / 156;
  an unknown GPU gives no MFU.
* CPU: a theoretical fp32 estimate ``threads x clock x FLOPs/cycle``, FLOPs/cycle 64 with
  AVX-512, 32 with AVX2+FMA (two 8-lane FMA units), 16 on ARM64 (two 128-bit FMA units), 8
  otherwise; clock from cpufreq's maximum or ``/proc/cpuinfo`` (3 GHz if neither). It is an
  upper bound (turbo and SMT siblings sharing FMA units make the real peak lower), so CPU MFU
  is a lower bound and is for comparing runs on one machine, not machines.

Heap: a training step allocates and frees the same activation buffers every step. glibc's
malloc serves large blocks with ``mmap`` and returns freed memory at the heap's top to the
system, so every step touches fresh pages and pays a page fault per 4 KiB (measured here: 2,000
to 7,000 faults and 5-16 ms of system time per step of a 1.6e6-parameter model, batch 16 x 128).
:func:`retained_heap` (used by ``train`` on CPU) raises glibc's mmap and trim thresholds for the
run so the buffers are reused. On the way out it sets the thresholds that glibc's own dynamic
adjustment reaches once a process has freed large blocks (mmap 32 MiB, trim 64 MiB; mallopt cannot
switch the adjustment back on, and glibc's initial 128 KiB would fault on every block above it)
and gives the free memory back with ``malloc_trim``. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from scalinglab.errors import OptionError, ParameterError

CONCURRENT_ENV = "SCALINGLAB_CONCURRENT_RUNS"
PEAK_ENV = "SCALINGLAB_PEAK_FLOPS"

#: (name substring, excluded substring or None, bf16 dense peak, tf32 dense peak) in FLOP/s;
#: the first match wins.
GPU_PEAKS: tuple[tuple[str, str | None, float, float], ...] = (
    ("H100", "PCIE", 989.4e12, 494.7e12),
    ("H100", None, 756.0e12, 378.0e12),
    ("H200", None, 989.4e12, 494.7e12),
    ("A100", None, 312.0e12, 156.0e12),
)


#: glibc ``mallopt`` parameter numbers (``malloc.h``).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_RETAINED_THRESHOLD = 1 << 30
#: where glibc's dynamic thresholds end up (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit, trim twice it)
_AFTER_MMAP_THRESHOLD, _AFTER_TRIM_THRESHOLD = 32 * 2 ** 20, 64 * 2 ** 20


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # pragma: no cover - glibc without a loadable libc
        return None


_heap_lock = threading.Lock()
_heap_users = 0


@contextmanager
def retained_heap() -> Iterator[None]:
    """While inside, freed blocks up to 1 GiB stay in the process heap for reuse (glibc only;
    see the module docstring). The settings are process-wide: runs training in several threads
    of one process share them, and the last one out puts them back."""
    global _heap_users
    libc = _glibc()
    if libc is None:
        yield
        return
    with _heap_lock:
        if _heap_users == 0:
            libc.mallopt(_M_MMAP_THRESHOLD, _RETAINED_THRESHOLD)
            libc.mallopt(_M_TRIM_THRESHOLD, _RETAINED_THRESHOLD)
        _heap_users += 1
    try:
        yield
    finally:
        with _heap_lock:
            _heap_users -= 1
            if _heap_users == 0:
                libc.mallopt(_M_MMAP_THRESHOLD, _AFTER_MMAP_THRESHOLD)
                libc.mallopt(_M_TRIM_THRESHOLD, _AFTER_TRIM_THRESHOLD)
                libc.malloc_trim(0)


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_threads(threads: int | None) -> int:
    """Intra-op threads for one run (see the module docstring)."""
    if threads is not None:
        return max(1, int(threads))
    try:
        concurrent = max(1, int(os.environ.get(CONCURRENT_ENV, "1")))
    except ValueError:
        concurrent = 1
    return max(1, available_cores() // concurrent)


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (CUDA if present, else CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ParameterError("device", f"{name} requested but this torch sees no CUDA GPU "
                                 f"(torch {torch.__version__}); use the cpu device")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ParameterError("device", f"{name}: only {torch.cuda.device_count()} GPU(s)")
        return dev
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise ParameterError("device", "mps requested but not available")
        return torch.device("mps")
    return torch.device("cpu")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto``: bf16 autocast on CUDA, fp32 elsewhere."""
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return str(torch.cuda.get_device_name(device))
    if device.type == "cpu":
        return _cpu_model() or platform.processor() or platform.machine()
    return device.type


def gpu_peak_flops(name: str, precision: str) -> float | None:
    """Dense peak FLOP/s of a GPU by name for ``bf16`` or ``fp32`` (TF32), or None if unknown."""
    upper = name.upper()
    for key, exclude, bf16, tf32 in GPU_PEAKS:
        if key in upper and (exclude is None or exclude not in upper):
            return bf16 if precision == "bf16" else tf32
    return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_clock_hz() -> float:
    try:
        khz = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text()
        return float(khz) * 1e3
    except (OSError, ValueError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1]) * 1e6
    except (OSError, ValueError):
        pass
    return 3.0e9


def _cpu_flops_per_cycle() -> int:
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    if "avx512f" in flags:
        return 64
    if "avx2" in flags and "fma" in flags:
        return 32
    if platform.machine().lower() in ("arm64", "aarch64"):
        return 16
    return 8


def cpu_peak_flops(threads: int) -> float:
    """Theoretical fp32 peak of ``threads`` cores (see the module docstring)."""
    return min(threads, available_cores()) * _cpu_clock_hz() * _cpu_flops_per_cycle()


def peak_flops(device: torch.device, precision: str, threads: int,
               override: float | None = None) -> tuple[float | None, str]:
    """(peak FLOP/s or None, where it came from)."""
    if override is not None:
        return float(override), "option peak_flops"
    env = os.environ.get(PEAK_ENV)
    if env:
        try:
            return float(env), f"${PEAK_ENV}"
        except ValueError:
            raise OptionError(PEAK_ENV, f"not a number: {env!r}") from None
    if device.type == "cuda":
        name = device_name(device)
        peak = gpu_peak_flops(name, precision)
        return peak, (f"vendor dense {precision} peak of {name}" if peak
                      else f"unknown GPU {name!r}: set peak_flops for MFU")
    if device.type == "cpu":
        return cpu_peak_flops(threads), (f"CPU estimate {threads} threads x clock x "
                                         f"{_cpu_flops_per_cycle()} FLOP/cycle")
    return None, f"no peak known for {device.type}"

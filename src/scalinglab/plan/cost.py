"""GPU-hours and money for a plan: ``hours = C / (peak * MFU) / 3600``, ``cost = hours * price``.

Peak dense (no 2:4 sparsity) BF16 throughput per device (reference sheet Sec. 12.3: the
glennklockwood.com H100 table, a vendor table, and the A100 value hard-coded in nanoGPT's
``estimate_mfu``). NVIDIA's headline H100 figure of 1,979 TFLOP/s includes sparsity; the dense
number is half of it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scalinglab.errors import ParameterError, unknown

#: name -> (description, dense BF16 peak FLOP/s)
GPUS: dict[str, tuple[str, float]] = {
    "h100": ("NVIDIA H100 SXM5, BF16 dense", 989.4e12),
    "h100-sxm": ("NVIDIA H100 SXM5, BF16 dense", 989.4e12),
    "h100-pcie": ("NVIDIA H100 PCIe, BF16 dense", 756e12),
    "h200": ("NVIDIA H200 (H100 SXM compute), BF16 dense", 989.4e12),
    "a100": ("NVIDIA A100, BF16 dense", 312e12),
}

#: default model FLOPs utilisation assumed for a plan (PaLM App. B reports 46% for PaLM 540B).
DEFAULT_MFU = 0.4


@dataclass
class Cost:
    """Wall-clock and money for ``compute`` FLOPs on one kind of accelerator."""

    #: the accelerator's key (``h100``) or ``custom``
    gpu: str
    #: what it is, with the source of its peak
    description: str
    #: dense BF16 peak, FLOP/s
    peak_flops: float
    #: the assumed model FLOPs utilisation
    mfu: float
    #: the model FLOPs to spend
    compute: float
    #: compute / (peak x MFU) / 3600
    gpu_hours: float
    #: price per GPU-hour, if given
    price_per_hour: float | None
    #: gpu_hours x price_per_hour, if a price was given
    cost: float | None
    #: GPUs for the wall-clock estimate, if given
    n_gpus: int | None
    #: gpu_hours / n_gpus / 24, if n_gpus was given
    days: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict without the fields that were not given."""
        return {k: v for k, v in asdict(self).items() if v is not None}


#: the most GPUs a cost estimate accepts (an integer past it overflows a float).
MAX_GPUS = 10**9


def gpu_cost(compute: float, gpu: str = "h100", *, mfu: float = DEFAULT_MFU,
             price_per_hour: float | None = None, peak_flops: float | None = None,
             n_gpus: int | None = None) -> Cost:
    """GPU-hours (and cost, days on ``n_gpus``) to spend ``compute`` model FLOPs."""
    if peak_flops is None:
        key = gpu.strip().lower()
        if key not in GPUS:
            raise ParameterError("gpu", unknown("accelerator", gpu, GPUS)
                                 + " or a custom peak")
        desc, peak = GPUS[key]
    else:
        if not (math.isfinite(peak_flops) and peak_flops > 0):
            raise ParameterError("peak_flops", f"peak must be positive, got {peak_flops}")
        key, desc, peak = gpu or "custom", "custom peak", float(peak_flops)
    if not (math.isfinite(compute) and compute > 0):
        raise ParameterError("compute", f"compute must be positive, got {compute}")
    if not (0 < mfu <= 1):  # also rejects NaN
        raise ParameterError("mfu", f"MFU must be in (0, 1], got {mfu}")
    if price_per_hour is not None and not (math.isfinite(price_per_hour) and price_per_hour >= 0):
        raise ParameterError("price_per_hour", f"price per GPU-hour must be >= 0, got "
                             f"{price_per_hour}")
    if n_gpus is not None and not 1 <= n_gpus <= MAX_GPUS:
        raise ParameterError("n_gpus", f"must be between 1 and {MAX_GPUS:,}, got {n_gpus}")
    hours = compute / (peak * mfu) / 3600.0
    if not math.isfinite(hours):
        if peak_flops is not None:
            raise ParameterError("peak_flops", f"peak {peak_flops / 1e12:g} TFLOP/s is too "
                                 "small: the GPU-hours overflow")
        raise ParameterError("mfu", f"MFU {mfu:g} is too small: the GPU-hours overflow")
    if price_per_hour is not None and not math.isfinite(hours * price_per_hour):
        raise ParameterError("price_per_hour", f"price {price_per_hour:g} per GPU-hour is too "
                             "large: the cost overflows")
    return Cost(gpu=key, description=desc, peak_flops=peak, mfu=mfu, compute=compute,
                gpu_hours=hours, price_per_hour=price_per_hour,
                cost=None if price_per_hour is None else hours * price_per_hour,
                n_gpus=n_gpus, days=None if n_gpus is None else hours / n_gpus / 24.0)

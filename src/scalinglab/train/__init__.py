"""The GPT trainer (``scalinglab[train]``: PyTorch): the runs that scaling laws are fitted to.

>>> from scalinglab.train import TrainConfig, train
>>> cfg = TrainConfig(n_layer=2, d_model=64, n_head=4, context=64, batch_size=16,
...                   tokens=300_000)                                     # doctest: +SKIP
>>> res = train(cfg, out_dir="runs/tiny")                                 # doctest: +SKIP
>>> res.final_val_loss, res.params_nonembedding, res.flops               # doctest: +SKIP

* :class:`TrainConfig` -- shape, budget, optimiser, schedule, data, evaluation and hardware.
* :func:`train` -- run or resume one configuration in a run folder, returning a
  :class:`RunResult` (losses in nats per token of the run's tokenizer, parameter counts and
  FLOPs from :mod:`scalinglab.accounting`, throughput and MFU, the learning curve).
* :class:`GPT` -- the model; :func:`lr_at` -- the schedules; :func:`evaluate`,
  :func:`noise_scale` -- the measurements.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scalinglab.train.config import CurvePoint, RunResult, TrainConfig, kaplan_lr
    from scalinglab.train.evaluate import evaluate, noise_scale, train_batch
    from scalinglab.train.hardware import (
        GPU_PEAKS,
        cpu_peak_flops,
        gpu_peak_flops,
        resolve_threads,
    )
    from scalinglab.train.loop import TrainingInterrupted, train
    from scalinglab.train.model import GPT
    from scalinglab.train.optim import lr_at

#: where each public name lives; imported on first use, so that ``scalinglab.train.config``
#: (pydantic only) can be imported without torch
_HOME = {
    "CurvePoint": "config", "RunResult": "config", "TrainConfig": "config",
    "kaplan_lr": "config", "evaluate": "evaluate", "noise_scale": "evaluate",
    "train_batch": "evaluate", "GPU_PEAKS": "hardware", "cpu_peak_flops": "hardware",
    "gpu_peak_flops": "hardware", "resolve_threads": "hardware",
    "TrainingInterrupted": "loop", "train": "loop", "GPT": "model", "lr_at": "optim",
}

__all__ = [
    "GPT",
    "GPU_PEAKS",
    "CurvePoint",
    "RunResult",
    "TrainConfig",
    "TrainingInterrupted",
    "cpu_peak_flops",
    "evaluate",
    "gpu_peak_flops",
    "kaplan_lr",
    "lr_at",
    "noise_scale",
    "resolve_threads",
    "train",
    "train_batch",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))

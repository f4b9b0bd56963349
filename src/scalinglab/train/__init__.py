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

from scalinglab.train.config import CurvePoint, RunResult, TrainConfig, kaplan_lr
from scalinglab.train.evaluate import evaluate, noise_scale, train_batch
from scalinglab.train.hardware import GPU_PEAKS, cpu_peak_flops, gpu_peak_flops, resolve_threads
from scalinglab.train.loop import TrainingInterrupted, train
from scalinglab.train.model import GPT
from scalinglab.train.optim import lr_at

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

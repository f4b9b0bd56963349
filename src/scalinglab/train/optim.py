"""AdamW with decoupled weight decay on matrices only, and the learning-rate schedules.

Schedules are pure functions of the step (nothing to checkpoint but the step):

* ``cosine``: linear warmup, then cosine decay to ``min_lr_ratio * lr`` at the last step
  (Kaplan et al. 2020: 3000 warmup steps, cosine to zero).
* ``wsd``: warmup-stable-decay (Hu et al. 2024 MiniCPM; Hägele et al. 2024): linear warmup,
  constant, then linear decay over the last ``decay_fraction`` of the steps.
* ``constant``: linear warmup, then constant.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from scalinglab.train.config import TrainConfig


def default_warmup(steps: int) -> int:
    """5% of the steps, at least 1 and at most 3000 (Kaplan's warmup)."""
    return max(1, min(3000, round(0.05 * steps)))


def lr_at(step: int, *, peak: float, steps: int, warmup: int, schedule: str,
          min_lr_ratio: float = 0.0, decay_fraction: float = 0.2) -> float:
    """Learning rate for optimiser step ``step`` (0-based) of ``steps``."""
    floor = peak * min_lr_ratio
    if warmup > 0 and step < warmup:
        return peak * (step + 1) / warmup
    if schedule == "constant":
        return peak
    if schedule == "cosine":
        span = max(1, steps - 1 - warmup)
        progress = min(1.0, (step - warmup) / span)
        return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "wsd":
        decay_steps = max(1, round(decay_fraction * steps))
        start = max(warmup, steps - decay_steps)
        if step < start:
            return peak
        progress = min(1.0, (step - start + 1) / max(1, steps - start))
        return peak - (peak - floor) * progress
    raise ValueError(f"unknown schedule {schedule!r}")


def make_optimizer(model: nn.Module, cfg: TrainConfig, lr: float,
                   device: torch.device) -> torch.optim.AdamW:
    """AdamW; weight decay on parameters with >= 2 dims (matrices, embeddings), not on biases
    and norm gains. Uses the fused kernel (CPU and CUDA) where this torch has it."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    kwargs = {"lr": lr, "betas": (cfg.beta1, cfg.beta2), "eps": cfg.eps}
    try:
        return torch.optim.AdamW(groups, fused=device.type in ("cpu", "cuda"), **kwargs)
    except (RuntimeError, TypeError):  # older torch or unsupported device: foreach
        return torch.optim.AdamW(groups, **kwargs)

"""Batches, held-out evaluation (mean and per-position loss) and the gradient noise scale.

* :func:`train_batch`: the batch of optimiser step ``s`` is ``batch_size`` random windows drawn
  by ``numpy.random.default_rng([seed, s])``: a pure function of (seed, step), so a resumed run
  sees exactly the batches the uninterrupted run would have seen.
* :func:`evaluate`: mean loss over fixed, evenly spaced, non-overlapping windows of a token
  array, the loss at each position of the context averaged over windows (Kaplan et al. 2020
  App. D.5: ``L(T) ~ L_inf + b T^-c``) and the standard error of the mean (from the spread of
  the per-window means; adjacent windows of a real text are correlated, so it is a lower bound
  there, and exact for a synthetic source, whose rows are independent).

The data of a split is either a token array (a corpus) or a synthetic split
(:class:`scalinglab.data.synthetic.SyntheticSplit`, an unbounded stream): :func:`train_batch`
and :func:`eval_windows` read both.
* :func:`noise_scale`: the simple gradient noise scale ``B_simple = tr(Sigma) / |G|^2``
  (McCandlish et al. 2018, App. A.1), from squared gradient norms at two batch sizes: ``k``
  micro-batches of ``b`` sequences each (B_small = b T tokens) and their mean (B_big = k b T):
  ``|G|^2 ~ (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)`` and
  ``tr(Sigma) ~ (|G_small|^2 - |G_big|^2) / (1/B_small - 1/B_big)``, in tokens. Both are unbiased
  but noisy; the ratio is None when the |G|^2 estimate is not positive.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

from scalinglab.train.model import GPT


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on CUDA when asked, else nothing."""
    if precision == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(arr: np.ndarray, device: torch.device) -> torch.Tensor:
    t = torch.from_numpy(arr.astype(np.int64, copy=False))
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def train_batch(data: Any, *, seed: int, step: int, batch_size: int, context: int,
                stream: int = 0) -> np.ndarray:
    """``(batch_size, context + 1)`` windows of ``data`` for step ``step`` (inputs + targets)."""
    if not isinstance(data, np.ndarray):  # a synthetic split: fresh rows for every step
        return data.batch(seed=seed, step=step, batch_size=batch_size, context=context,
                          stream=stream)
    rng = np.random.default_rng([seed, step, stream])
    starts = rng.integers(0, len(data) - context, size=batch_size)
    return np.asarray(data[starts[:, None] + np.arange(context + 1)])


def eval_starts(n_tokens: int, context: int, max_windows: int) -> np.ndarray:
    """Start offsets of up to ``max_windows`` evenly spaced non-overlapping windows."""
    available = (n_tokens - 1) // context
    n = max(1, min(max_windows, available))
    last = n_tokens - context - 1
    return np.linspace(0, last, n).round().astype(np.int64)


def eval_windows(data: Any, context: int, max_windows: int) -> np.ndarray:
    """The fixed ``(n, context + 1)`` evaluation windows of ``data`` (array or synthetic)."""
    if not isinstance(data, np.ndarray):
        return data.windows(context, max_windows)
    starts = eval_starts(len(data), context, max_windows)
    return np.asarray(data[starts[:, None] + np.arange(context + 1)])


class Evaluation(NamedTuple):
    """Mean loss (nats/token), loss per context position, standard error of the mean."""

    loss: float
    per_position: list[float]
    se: float


@torch.no_grad()
def evaluate(model: GPT | Callable[..., torch.Tensor], data: Any, *, context: int,
             max_windows: int, batch_size: int, device: torch.device,
             precision: str, loss_fn: Callable[..., torch.Tensor] | None = None
             ) -> Evaluation:
    """Loss over fixed windows of ``data`` (see the module docstring)."""
    rows = eval_windows(data, context, max_windows)
    parts: list[torch.Tensor] = []
    fn = loss_fn or getattr(model, "loss", None)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    soft = getattr(data, "soft_targets", None)
    try:
        for i in range(0, len(rows), batch_size):
            xy = to_device(rows[i:i + batch_size], device)
            dist = soft(i, i + len(xy), len(rows), context) if soft is not None else None
            with autocast(device, precision):
                if dist is None:
                    assert fn is not None, "a model without .loss needs a synthetic split"
                    parts.append(fn(xy[:, :-1], xy[:, 1:], reduction="none").double().cpu())
                    continue
                logits = model(xy[:, :-1])  # type: ignore[operator]
            # expected loss under the source's own next-token distribution (synthetic data)
            lp = torch.log_softmax(logits.float(), dim=-1)
            target = torch.from_numpy(dist).to(lp.device)
            parts.append(-(target * lp).sum(dim=-1).double().cpu())
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    losses = torch.cat(parts).numpy()
    per_pos = losses.mean(axis=0).tolist()
    estimate = getattr(data, "estimate", None)
    better = estimate(losses) if estimate is not None else None
    if better is not None:  # a synthetic validation split knows a lower-variance estimator
        return Evaluation(better[0], per_pos, better[1])
    means = losses.mean(axis=1)
    se = float(means.std(ddof=1) / np.sqrt(len(means))) if len(means) > 1 else math.nan
    return Evaluation(float(losses.mean()), per_pos, se)


def noise_scale(model: GPT, data: Any, *, seed: int, step: int, batch_size: int,
                context: int, n_batches: int, device: torch.device, precision: str,
                loss_fn: Callable[..., torch.Tensor] | None = None) -> float | None:
    """B_simple in tokens at the current parameters (see the module docstring).

    Leaves the parameters' ``.grad`` cleared and the global RNG state unchanged.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    fn = loss_fn or model.loss
    mean_grad = [torch.zeros_like(p, dtype=torch.float32) for p in params]
    small_sq = 0.0
    cuda_ids = ([device.index if device.index is not None else torch.cuda.current_device()]
                if device.type == "cuda" else [])
    with torch.random.fork_rng(devices=cuda_ids):
        for i in range(n_batches):
            xy = to_device(train_batch(data, seed=seed, step=step, batch_size=batch_size,
                                       context=context, stream=1000 + i), device)
            model.zero_grad(set_to_none=True)
            with autocast(device, precision):
                loss = fn(xy[:, :-1], xy[:, 1:])
            loss.backward()
            sq = torch.zeros((), dtype=torch.float64, device=device)
            for acc, p in zip(mean_grad, params, strict=True):
                g = p.grad.float() if p.grad is not None else torch.zeros_like(acc)
                sq += g.double().pow(2).sum()
                acc.add_(g, alpha=1.0 / n_batches)
            small_sq += float(sq) / n_batches
    model.zero_grad(set_to_none=True)
    big_sq = float(sum(g.double().pow(2).sum() for g in mean_grad))
    b_small = batch_size * context
    b_big = n_batches * b_small
    g2 = (b_big * big_sq - b_small * small_sq) / (b_big - b_small)
    trace = (small_sq - big_sq) / (1.0 / b_small - 1.0 / b_big)
    if not g2 > 0 or not trace > 0:
        return None
    return trace / g2

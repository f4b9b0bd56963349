"""A simulated trainer whose runs obey Kaplan et al. 2020's laws with known constants.

:func:`simulate_run` stands in for :func:`scalinglab.sweep.worker.train_run` (same call, same
result shape). Its learning curves follow

* L(N, S_min) = (N_c/N)^ALPHA_N + (S_c/S_min)^ALPHA_S (Eq. 1.6), with the steps at batch B
  given by S = S_min (1 + B_crit(L)/B) (Eq. 5.1) and B_crit(L) = B_STAR L^(-1/ALPHA_B) (Eq. 5.3);
* with ``data_tokens`` U, the loss cannot fall below Kaplan's L(N, U) (Eq. 1.5; ALPHA_N_ND,
  ALPHA_D), which the early-stopped loss then reaches;
* per-position loss L_inf + b T^-c with c = C0 + C1 ln N; out-of-distribution loss
  OOD_FACTOR L^OOD_SLOPE; gradient noise scale equal to B_crit(L);
* the depth and width do not matter at fixed N (shape insensitivity), and every run carries a
  seeded multiplicative noise of NOISE (relative), the same along its curve.

The exponents are the paper's (Table 3, Table 2, Table 5); the scales are chosen so that a
miniature study sees every term.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import brentq

from scalinglab.sweep.shapes import n_params

ALPHA_N, ALPHA_S, N_C, S_C = 0.076, 0.76, 1e13, 40.0
ALPHA_N_ND, ALPHA_D, N_C_ND, D_C = 0.076, 0.103, 1e13, 1e10
ALPHA_B, B_STAR = 0.21, 6e5
C0, C1 = 0.1, 0.05
OOD_FACTOR, OOD_SLOPE = 1.3, 1.0
NOISE = 0.002


def l_ns(n: float, s_min: float) -> float:
    return (N_C / n) ** ALPHA_N + (S_C / s_min) ** ALPHA_S


def l_nd(n: float, d: float) -> float:
    return ((N_C_ND / n) ** (ALPHA_N_ND / ALPHA_D) + D_C / d) ** ALPHA_D


def b_crit(loss: float) -> float:
    return B_STAR * loss ** (-1.0 / ALPHA_B)


def loss_at(n: float, steps: float, batch_tokens: float) -> float:
    """The loss reached after ``steps`` steps at batch ``batch_tokens``: the L solving
    S_min(L) (1 + B_crit(L)/B) = steps."""
    floor = (N_C / n) ** ALPHA_N

    def gap(loss: float) -> float:
        s_min = S_C / (loss - floor) ** (1.0 / ALPHA_S)
        return s_min * (1.0 + b_crit(loss) / batch_tokens) - steps

    hi = floor + 50.0
    return float(brentq(gap, floor + 1e-9, hi, xtol=1e-12))


def _noise(config: dict[str, Any]) -> float:
    key = [int(config.get("seed", 0)), int(config["d_model"]), int(config["n_layer"]),
           int(config["tokens"]) % 100_003, int(config["batch_size"]),
           int(config.get("data_tokens") or 0) % 100_003]
    return float(np.random.default_rng(key).standard_normal()) * NOISE


def simulate_run(config: dict[str, Any], out_dir: Path, threads: int) -> dict[str, Any]:
    n = float(n_params(config, "nonembedding"))
    n_total = float(n_params(config))
    b = int(config["batch_size"]) * int(config["context"])
    steps = max(1, -(-int(config["tokens"]) // b))
    every = int(config.get("eval_every") or max(1, steps // 10))
    unique = config.get("data_tokens")
    eps = 1.0 + _noise(config)
    points = sorted({*range(every, steps, every), steps})
    curve = [{"step": 0, "tokens": 0, "flops": 0.0, "train_loss": None, "val_loss": 5.5,
              "lr": 0.0, "noise_scale": None, "elapsed_s": 0.0}]
    for s in points:
        loss = loss_at(n, s, b)
        if unique:
            loss = max(loss, l_nd(n, float(unique)))
        loss *= eps
        curve.append({"step": s, "tokens": s * b, "flops": 6.0 * n_total * s * b,
                      "train_loss": loss, "val_loss": loss, "lr": 1e-3,
                      "noise_scale": b_crit(loss) if config.get("noise_scale") else None,
                      "elapsed_s": 0.01 * s})
    final = curve[-1]["val_loss"]
    c = C0 + C1 * math.log(n)
    T = np.arange(1, int(config["context"]) + 1, dtype=float)
    per_pos = (final - 0.2 + 0.6 * T ** (-c)).tolist()
    ood = None
    if config.get("ood_data") not in (None, "none"):
        ood = OOD_FACTOR * final ** OOD_SLOPE
    return {"final_val_loss": final, "final_train_loss": final, "initial_val_loss": 5.5,
            "final_val_loss_se": 0.001 * final, "tokens": steps * b, "steps": steps,
            "params_total": int(n_total), "params_nonembedding": int(n),
            "flops": 6.0 * n_total * steps * b, "flops_convention": "6N",
            "flops_by_convention": {"6N": 6.0 * n_total * steps * b},
            "per_position_loss": per_pos, "ood_val_loss": ood, "lr": 1e-3,
            "epochs": steps * b / unique if unique else 0.1, "tokens_per_second": 1e5,
            "threads": threads, "config": dict(config), "curve": curve}

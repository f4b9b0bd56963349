"""Inference-aware planning (Sardana, Portes, Doubov, Frankle 2024, arXiv 2401.00448).

Minimise the lifetime cost ``6 N D_train + w * 2 N D_inference`` subject to ``L(N, D_train) =
target`` (2N FLOPs per inference token; ``w`` = ``inference_cost_ratio``, 1 for pure FLOPs, else
the relative price of an inference FLOP, e.g. a lower inference MFU). For ``chinchilla``
``D_train(N) = (B / (target - E - A N^-alpha))^(1/beta)`` in closed form; for other laws of N and
D it is found by ``brentq`` in ``log D``. The one-dimensional minimisation over ``log N`` is a
grid search refined by bounded Brent. The reference is the Chinchilla-optimal model of the same
loss (the least *training* compute reaching it), charged for the same inference tokens; the
saving is the difference of lifetime costs.

Sardana et al.'s Fig. 1 example: the loss of a Chinchilla-optimal 13B model with 2T inference
tokens is best reached by a ~7B model trained longer, saving ~1.6e22 FLOPs (their caption:
1.7e22, 17%) with Hoffmann et al.'s unrounded constants.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from scalinglab.errors import OptionError, ParameterError
from scalinglab.plan.optimal import (
    MAX_NUMERIC_DRAWS,
    Objective,
    _check_level,
    _closed_ok,
    _quantiles,
    check_positive,
    conventions_for,
)
from scalinglab.plan.record import PlanRecord
from scalinglab.plan.source import PlanLaw, as_plan_law

if TYPE_CHECKING:
    from scalinglab.fit.result import FitResult

_GRID = 401


@dataclass
class InferencePlan(PlanRecord):
    """An inference-aware plan (Sardana et al. 2024) and its Chinchilla-optimal reference of
    equal loss. FLOPs: training 6 N D, inference 2 N per token."""

    #: the law's name
    law: str
    #: the loss both plans reach, nats/token
    target_loss: float
    #: lifetime inference tokens
    inference_tokens: float
    #: cost of an inference FLOP relative to a training FLOP
    inference_cost_ratio: float
    #: the inference-aware parameter count (the law's N convention)
    N_opt: float
    #: its training tokens
    D_opt: float
    #: D_opt / N_opt
    tokens_per_param: float
    #: 6 N_opt D_opt
    training_compute: float
    #: 2 N_opt x inference tokens
    inference_compute: float
    #: training + inference_cost_ratio x inference FLOPs
    total_compute: float
    #: the Chinchilla-optimal plan of the same loss (N_opt, D_opt and its FLOPs)
    chinchilla: dict[str, float]
    #: lifetime FLOPs saved against the Chinchilla-optimal plan
    saving: float
    #: saving / the Chinchilla-optimal plan's lifetime FLOPs
    saving_fraction: float
    #: quantity -> [low, high] at :attr:`level`, from the fit's bootstrap draws
    intervals: dict[str, list[float]] = field(default_factory=dict)
    #: the interval level
    level: float | None = None
    #: how many draws the intervals come from
    n_draws: int | None = None
    #: what N, D, C and the loss mean here
    conventions: dict[str, str] = field(default_factory=dict)
    #: what the plan should not be trusted for
    warnings: list[str] = field(default_factory=list)

    @property
    def loss(self) -> float:
        return self.target_loss

    @property
    def compute(self) -> float:
        return self.training_compute



def _d_for_loss(obj: Objective, params: Mapping[str, float], N: np.ndarray,
                target: float) -> np.ndarray:
    """Training tokens for which L(N, D) = target (inf where N alone cannot reach it)."""
    N = np.asarray(N, float)
    if obj.closed_form and _closed_ok(params):
        gap = target - params["E"] - params["A"] * N ** -params["alpha"]
        with np.errstate(all="ignore"):
            return np.where(gap > 0, (params["B"] / np.where(gap > 0, gap, 1.0))
                            ** (1.0 / params["beta"]), np.inf)
    out = np.full(N.shape, np.inf)
    for i, n in np.ndenumerate(N):
        def f(x: float, n: float = float(n)) -> float:
            v = float(obj.loss(params, n, math.exp(x)))
            return (v if math.isfinite(v) else 1e300) - target
        if f(200.0) >= 0:
            continue
        if f(0.0) <= 0:
            out[i] = 1.0
            continue
        out[i] = math.exp(brentq(f, 0.0, 200.0, xtol=1e-12))
    return out


def _best(obj: Objective, params: Mapping[str, float], target: float, d_inf: float,
          w: float) -> tuple[float, float]:
    x = np.linspace(0.0, 70.0, _GRID)  # N from 1 to e^70
    N = np.exp(x)
    D = _d_for_loss(obj, params, N, target)
    with np.errstate(over="ignore", invalid="ignore"):
        cost = 6.0 * N * D + w * 2.0 * N * d_inf
    i = int(np.argmin(cost))
    if not np.isfinite(cost[i]):
        if np.any(np.isfinite(6.0 * N * D)):
            # reachable, but the lifetime inference FLOPs overflow a float: blame the ratio
            # when the tokens alone (at ratio 1) would not overflow
            with np.errstate(over="ignore", invalid="ignore"):
                alone = np.any(np.isfinite(6.0 * N * D + 2.0 * N * d_inf))
            raise ParameterError("inference_cost_ratio" if alone and w > 1 else
                              "inference_tokens", f"{d_inf:g} inference tokens at cost ratio "
                              f"{w:g} make the lifetime compute overflow (more than 1.8e308 "
                              "FLOPs)")
        raise ParameterError("target_loss", f"target loss {target:g} is not reachable by any "
                          "model under this law")

    def f(t: float) -> float:
        n = math.exp(t)
        d = float(_d_for_loss(obj, params, np.array([n]), target)[0])
        return 6.0 * n * d + w * 2.0 * n * d_inf if math.isfinite(d) else math.inf

    a, b = x[max(i - 1, 0)], x[min(i + 1, _GRID - 1)]
    # the feasible region starts where D(N) becomes finite; keep the bracket inside it
    while not math.isfinite(f(a)) and a < x[i]:
        a = 0.5 * (a + x[i]) if x[i] - a > 1e-9 else x[i]
    res = minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": 1e-11})
    xo = float(res.x) if res.fun <= cost[i] else float(x[i])
    n = math.exp(xo)
    return n, float(_d_for_loss(obj, params, np.array([n]), target)[0])


def plan_inference(pl: PlanLaw | FitResult, inference_tokens: float, *,
                   target_loss: float | None = None, compute: float | None = None,
                   inference_cost_ratio: float = 1.0,
                   level: float | None = None) -> InferencePlan:
    """The inference-aware plan for ``target_loss`` (or, with ``compute``, for the loss of the
    Chinchilla-optimal model at that budget) and ``inference_tokens`` lifetime inference
    tokens. ``pl``: a :class:`~scalinglab.plan.PlanLaw` or a
    :class:`~scalinglab.fit.FitResult`."""
    pl = as_plan_law(pl)
    d_inf = float(inference_tokens)
    if not math.isfinite(d_inf) or d_inf < 0:
        raise ParameterError("inference_tokens", f"must be a non-negative number, got "
                          f"{inference_tokens!r}")
    w = check_positive(inference_cost_ratio, "inference_cost_ratio", "inference cost ratio")
    level = _check_level(level, pl)
    if (target_loss is None) == (compute is None):
        raise ParameterError("target_loss", "give exactly one of target_loss and compute "
                          "with inference_tokens")
    obj = Objective(pl)
    if compute is not None:
        C = check_positive(compute, "compute", "compute budget")
        target = obj.optimum(obj.params, C)[2]
    else:
        target = check_positive(target_loss, "target_loss", "target loss")
        C = obj.compute_for_loss(obj.params, target)

    def solve(params: Mapping[str, float], c_ref: float | None) -> tuple[float, ...]:
        n, d = _best(obj, params, target, d_inf, w)
        if c_ref is None:
            c_ref = obj.compute_for_loss(params, target)
        nc, dc = obj.optimum(params, c_ref)[:2]
        cost = 6 * n * d + w * 2 * n * d_inf
        cost_c = 6 * nc * dc + w * 2 * nc * d_inf
        return n, d, nc, dc, cost, cost_c

    try:
        n, d, nc, dc, cost, cost_c = solve(obj.params, C)
    except OptionError as exc:
        if compute is None or exc.option != "target_loss":
            raise
        # the target came from --compute: a law that cannot reach its own optimum is degenerate
        raise ParameterError("pl", f"no model reaches the optimal loss {target:.6g} of "
                          f"{C:g} FLOPs along the inference-aware search (a degenerate law: "
                          "the loss does not fall with N and D)") from None
    if not all(math.isfinite(v) for v in (n, d, nc, dc, cost, cost_c)) or cost_c <= 0:
        raise ParameterError("inference_tokens", f"{d_inf:g} inference tokens (cost ratio "
                          f"{w:g}) make the lifetime compute overflow (more than 1.8e308 "
                          "FLOPs)")
    plan = InferencePlan(
        law=pl.law.name, target_loss=target, inference_tokens=d_inf,
        inference_cost_ratio=w, N_opt=n, D_opt=d, tokens_per_param=d / n,
        training_compute=6 * n * d, inference_compute=2 * n * d_inf, total_compute=cost,
        chinchilla={"N_opt": nc, "D_opt": dc, "training_compute": 6 * nc * dc,
                    "inference_compute": 2 * nc * d_inf, "total_compute": cost_c},
        saving=cost_c - cost, saving_fraction=(cost_c - cost) / cost_c,
        conventions={**conventions_for(pl),
                     "inference_compute": "2 N FLOPs per inference token (Sardana et al.)",
                     "total_compute": "training (6ND) + inference_cost_ratio x inference"},
        warnings=list(pl.warnings),
    )
    draws = obj.draws
    if len(draws) > MAX_NUMERIC_DRAWS // 2:
        idx = np.linspace(0, len(draws) - 1, MAX_NUMERIC_DRAWS // 2).round().astype(int)
        plan.warnings.append(f"intervals from {len(idx)} of {len(draws)} bootstrap draws")
        draws = [draws[i] for i in idx]
    if draws:
        rows = []
        for p in draws:
            try:
                rows.append(solve(p, None))
            except OptionError:
                rows.append((math.nan,) * 6)
        arr = np.array(rows)
        iv = {}
        for k, col in (("N_opt", arr[:, 0]), ("D_opt", arr[:, 1]),
                       ("saving", arr[:, 5] - arr[:, 4])):
            q = _quantiles(col, level)
            if q is not None:
                iv[k] = q
        if iv:
            plan.intervals, plan.level, plan.n_draws = iv, level, len(rows)
    return plan

"""Convention conversions: non-embedding vs total parameters, and what they do to a fitted
allocation exponent (the Kaplan/Chinchilla discrepancy made visible).

Pearce & Song 2024 ("Reconciling Kaplan and Chinchilla Scaling Laws", arXiv 2406.12907) relate
total and non-embedding parameters of Chinchilla-like shapes (vocabulary V, fixed aspect ratio
``a = d_model / n_layer``, ``N_E = 12 n_layer d_model^2``, embedding ``V d_model``)::

    N_T = N_E + gamma N_E^(1/3),    gamma = V (a / 12)^(1/3)    (their fit: gamma = 47491)

and show that a Chinchilla law in *total* parameters, ``L = E + A/N_T^alpha + B/D^beta``, read
in Kaplan's conventions (non-embedding ``N_E`` and ``C_E = 6 N_E D``) over Kaplan's small range
of budgets, gives a compute-optimal ``N*_E ∝ C_E^0.78`` (Epoch's constants) or ``^0.74``
(Hoffmann's), close to Kaplan's 0.73, while the same law in total parameters gives exactly
``beta / (alpha + beta)`` (0.513 / 0.457). :func:`allocation_exponent` reproduces the
simulation, :func:`nonembedding_frontier` gives the frontier itself and
:func:`pearce_song_local_exponent` their analytic local slope ``g``.
:func:`convert_observations` re-expresses an observation table from one N convention to the
other (recomputing ``C = 6 N D`` under the new N) and records the conversion in the table's
``conventions``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from scalinglab.errors import InputError, ParameterError

NConvention = Literal["nonembedding", "total"]

#: Pearce & Song's fitted gamma for Chinchilla's models (vocab 32,000, aspect ratio ~39.2).
PEARCE_SONG_GAMMA = 47491.0
#: Kaplan et al.'s budget range as Pearce & Song simulate it: C_E from 10^12.95 to 10^20.7 FLOP.
KAPLAN_COMPUTE_RANGE = (10**12.95, 10**20.7)


def embedding_gamma(vocab: int = 32000, aspect_ratio: float = 39.2, *, tied: bool = True,
                    context: int = 0) -> float:
    """``gamma`` such that the embedding parameters are ``gamma N_E^(1/3)`` for shapes with
    ``N_E = 12 n_layer d^2`` at aspect ratio ``a = d / n_layer``: ``d = (a N_E / 12)^(1/3)``, so
    ``gamma = (V (1 if tied else 2) + context) (a / 12)^(1/3)`` (``context`` > 0 for a learned
    position table). Pearce & Song's Chinchilla case (V = 32k, tied, a = 39.2): ~47,481."""
    if vocab < 1:
        raise ParameterError("vocab", f"must be a positive vocabulary size, got {vocab}")
    if not aspect_ratio > 0:
        raise ParameterError("aspect_ratio", f"must be positive, got {aspect_ratio}")
    if context < 0:
        raise ParameterError("context", f"must be >= 0, got {context}")
    tables = float(vocab) * (1 if tied else 2) + float(context)
    return tables * (aspect_ratio / 12.0) ** (1.0 / 3.0)


def total_from_nonembedding(n_nonembedding: Any, gamma: float = PEARCE_SONG_GAMMA
                            ) -> np.ndarray:
    """``N_T = N_E + gamma N_E^(1/3)``."""
    n = np.asarray(n_nonembedding, float)
    return n + gamma * np.cbrt(n)


def nonembedding_from_total(n_total: Any, gamma: float = PEARCE_SONG_GAMMA) -> np.ndarray:
    """Inverse of :func:`total_from_nonembedding`: the real root ``u^3 + gamma u = N_T``,
    ``N_E = u^3`` (Cardano, polished by Newton steps)."""
    t = np.asarray(n_total, float)
    p, q = gamma, t
    s = np.sqrt(q * q / 4.0 + p**3 / 27.0)
    u = np.cbrt(q / 2.0 + s) + np.cbrt(q / 2.0 - s)
    for _ in range(4):  # Newton on f(u) = u^3 + p u - q
        u = u - (u**3 + p * u - q) / (3 * u * u + p)
    return u**3


def convert_params(n: Any, *, source: NConvention, target: NConvention,
                   gamma: float = PEARCE_SONG_GAMMA) -> np.ndarray:
    """N in convention ``source`` re-expressed in ``target`` (``nonembedding``/``total``)."""
    for name, v in (("source", source), ("target", target)):
        if v not in ("nonembedding", "total"):
            raise ParameterError(name, f"N convention must be 'nonembedding' or 'total', got {v!r}")
    if source == target:
        return np.asarray(n, float)
    if source == "nonembedding":
        return total_from_nonembedding(n, gamma)
    return nonembedding_from_total(n, gamma)


def convert_observations(df: pd.DataFrame, *, source: NConvention, target: NConvention,
                         gamma: float = PEARCE_SONG_GAMMA, recompute_compute: bool = True
                         ) -> pd.DataFrame:
    """A copy of an observation table with ``N`` converted (and ``C = 6 N D`` recomputed under
    the new N when ``recompute_compute`` and D is present); the conversion is recorded in
    ``df.attrs["conventions"]``."""
    if "N" not in df.columns:
        raise InputError("the observation table has no N column", column="N")
    out = df.copy()
    out["N"] = convert_params(df["N"].to_numpy(float), source=source, target=target,
                              gamma=gamma)
    conv = dict(df.attrs.get("conventions", {}))
    note = (f"{target} parameters, converted from {source} by N_T = N_E + gamma N_E^(1/3), "
            f"gamma = {gamma:.6g} (Pearce & Song 2024)")
    conv["N"] = note if source != target else conv.get("N", f"{target} parameters")
    if recompute_compute and "D" in df.columns and source != target:
        out["C"] = 6.0 * out["N"].to_numpy(float) * df["D"].to_numpy(float)
        conv["C"] = f"6 N D with N as {target} parameters"
    out.attrs = dict(df.attrs)
    out.attrs["conventions"] = conv
    return out


# ---------------------------------------------------------------------------- frontiers
def _check_chinchilla(params: Mapping[str, float]) -> tuple[float, float, float, float, float]:
    try:
        return (float(params["E"]), float(params["A"]), float(params["B"]),
                float(params["alpha"]), float(params["beta"]))
    except KeyError as exc:
        raise ParameterError("params", f"a Chinchilla law needs E, A, B, alpha, beta "
                             f"(missing {exc})") from None


def nonembedding_frontier(params: Mapping[str, float], compute_nonembedding: Any,
                          gamma: float = PEARCE_SONG_GAMMA) -> np.ndarray:
    """Compute-optimal non-embedding N*_E for budgets ``C_E = 6 N_E D`` when the loss is the
    Chinchilla law in total parameters ``N_T = N_E + gamma N_E^(1/3)`` (numeric, per budget)."""
    _, A, B, al, be = _check_chinchilla(params)
    Cs = np.atleast_1d(np.asarray(compute_nonembedding, float))
    out = np.empty_like(Cs)
    for i, C in enumerate(Cs):
        def f(x: float, C: float = C) -> float:
            n = math.exp(x)
            nt = n + gamma * n ** (1.0 / 3.0)
            return A * nt**-al + B * (C / (6.0 * n)) ** -be
        hi = math.log(C / 6.0)
        grid = np.linspace(0.0, hi, 257)
        ng = np.exp(grid)
        vals = A * (ng + gamma * np.cbrt(ng)) ** -al + B * (C / (6.0 * ng)) ** -be
        j = int(np.argmin(vals))
        a, b = grid[max(j - 1, 0)], grid[min(j + 1, len(grid) - 1)]
        res = minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": 1e-11})
        out[i] = math.exp(res.x)
    return out if np.ndim(compute_nonembedding) else out[0]


def frontier_compute_nonembedding(params: Mapping[str, float], n_nonembedding: Any,
                                  gamma: float = PEARCE_SONG_GAMMA) -> np.ndarray:
    """Pearce & Song's closed form of the same frontier, budget as a function of N*_E:
    ``C_E = 6 N (N + gamma/3 N^(1/3))^(-1/beta) (N + gamma N^(1/3))^((1+alpha)/beta)
    (beta B / (alpha A))^(1/beta)``."""
    _, A, B, al, be = _check_chinchilla(params)
    n = np.asarray(n_nonembedding, float)
    c3 = np.cbrt(n)
    return (6.0 * n * (n + gamma / 3.0 * c3) ** (-1.0 / be)
            * (n + gamma * c3) ** ((1.0 + al) / be) * (be * B / (al * A)) ** (1.0 / be))


def pearce_song_local_exponent(n_nonembedding: Any, params: Mapping[str, float],
                               gamma: float = PEARCE_SONG_GAMMA) -> np.ndarray:
    """Analytic local slope ``g = d log N*_E / d log C_E`` (Pearce & Song): ``beta/(alpha/3 +
    beta)`` for small N_E, ``beta/(alpha + beta)`` for large."""
    _, _, _, al, be = _check_chinchilla(params)
    x23 = np.asarray(n_nonembedding, float) ** (2.0 / 3.0)
    inv = (1.0 - (1.0 / be) * (x23 + gamma / 9.0) / (x23 + gamma / 3.0)
           + ((al + 1.0) / be) * (x23 + gamma / 3.0) / (x23 + gamma))
    return 1.0 / inv


def allocation_exponent(params: Mapping[str, float], *,
                        convention: NConvention = "nonembedding",
                        compute_range: tuple[float, float] = KAPLAN_COMPUTE_RANGE,
                        gamma: float = PEARCE_SONG_GAMMA, n_budgets: int = 100) -> float:
    """Slope of a least-squares line through ``log N*`` vs ``log C`` on ``n_budgets``
    log-spaced budgets in ``compute_range``, for a Chinchilla law in total parameters read in
    ``convention``: ``nonembedding`` (N_E and C_E = 6 N_E D, Kaplan's way) or ``total`` (N_T
    and C_T = 6 N_T D, which is exactly ``beta / (alpha + beta)``)."""
    _check_chinchilla(params)
    lo, hi = compute_range
    if not (0 < lo < hi):
        raise ParameterError("compute_range", f"need 0 < low < high, got {compute_range}")
    C = np.logspace(math.log10(lo), math.log10(hi), n_budgets)
    if convention == "total":
        from scalinglab.laws import chinchilla_allocation

        N, _ = chinchilla_allocation(params, C)
    elif convention == "nonembedding":
        N = nonembedding_frontier(params, C, gamma)
    else:
        raise ParameterError("convention", f"must be 'nonembedding' or 'total', got "
                             f"{convention!r}")
    slope = np.polyfit(np.log(C), np.log(N), 1)[0]
    return float(slope)


def convention_report(params: Mapping[str, float], *,
                      compute_range: tuple[float, float] = KAPLAN_COMPUTE_RANGE,
                      gamma: float = PEARCE_SONG_GAMMA) -> dict[str, Any]:
    """The allocation exponent of one law under both conventions, side by side."""
    _, _, _, al, be = _check_chinchilla(params)
    return {
        "compute_range": list(compute_range),
        "gamma": gamma,
        "exponent_total": allocation_exponent(params, convention="total",
                                              compute_range=compute_range, gamma=gamma),
        "exponent_nonembedding": allocation_exponent(params, convention="nonembedding",
                                                     compute_range=compute_range, gamma=gamma),
        "asymptotic_total": be / (al + be),
        "small_model_limit_nonembedding": be / (al / 3.0 + be),
        "conventions": {
            "exponent_total": "N_T (total) vs C_T = 6 N_T D",
            "exponent_nonembedding": "N_E (non-embedding) vs C_E = 6 N_E D (Kaplan's)",
        },
    }

"""Chinchilla's Approaches 1 and 2, Kaplan-style frontier fits, and model comparison.

* Approach 2 (IsoFLOP profiles, Hoffmann et al. Sec. 3.2): group runs by FLOP budget, fit a
  parabola of loss against log N in each budget, take its minimum as N_opt(C) (and
  D_opt = C/(6 N_opt)), then fit ``N_opt = k_N C^a`` and ``D_opt = k_D C^b`` by least squares
  in log-log. Bootstrap: resample runs within each budget, redo everything.
* Approach 1 (envelope, Sec. 3.1): over training curves (rows with run_id and C per step),
  at log-spaced FLOP values take the run with the lowest loss reached by then (curves are
  interpolated in log C), then the same power laws for N and D.
* Kaplan frontier L(C) (Kaplan et al. Sec. 6): the lower envelope of loss vs compute over all
  curves, fitted with ``L = (Cc/C)^alpha`` (least squares in log space).
* ``compare``: several laws on one data set, with AIC/BIC (Gaussian on log residuals) and the
  error when the largest scale is left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import FitError, OptionError
from scalinglab.laws import takes_x
from scalinglab.observations import load_observations, repetition_warning, validate


@dataclass
class PowerLawFit:
    """``y = k x^exponent`` fitted in log-log by least squares."""

    exponent: float
    coefficient: float
    exponent_interval: tuple[float, float] | None = None

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        return self.coefficient * np.asarray(x, float) ** self.exponent


def fit_power(x: np.ndarray, y: np.ndarray) -> PowerLawFit:
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    with np.errstate(over="ignore"):
        return PowerLawFit(float(slope), float(np.exp(intercept)))


@dataclass
class IsoFLOPResult:
    budgets: np.ndarray  # the budget of each profile (FLOPs)
    n_opt: np.ndarray
    d_opt: np.ndarray
    loss_opt: np.ndarray
    parabolas: list[np.ndarray]  # per budget: coefficients of loss = p0 (log N)^2 + p1 log N + p2
    N_fit: PowerLawFit
    D_fit: PowerLawFit
    confidence: float = 0.95
    warnings: list[str] = field(default_factory=list)
    draws: np.ndarray | None = None  # (R, 2) exponents a, b

    def to_json(self) -> dict[str, Any]:
        return {
            "approach": 2,
            "budgets": self.budgets.tolist(), "N_opt": self.n_opt.tolist(),
            "D_opt": self.d_opt.tolist(), "loss_opt": self.loss_opt.tolist(),
            "a": self.N_fit.exponent, "b": self.D_fit.exponent,
            "a_interval": self.N_fit.exponent_interval, "b_interval": self.D_fit.exponent_interval,
            "N_coefficient": self.N_fit.coefficient, "D_coefficient": self.D_fit.coefficient,
            "confidence": self.confidence, "warnings": self.warnings,
            "conventions": {"D_opt": "C / (6 N_opt)", "fit": "least squares in log-log"},
        }


def budget_groups(C: np.ndarray, rel: float) -> np.ndarray:
    """Label runs whose C agree within ``rel`` (relative) as one budget."""
    order = np.argsort(C)
    labels = np.empty(len(C), int)
    k, ref = -1, None
    for i in order:
        if ref is None or C[i] > ref * (1 + rel):
            k += 1
            ref = C[i]
        labels[i] = k
    return labels


def _profiles(N: np.ndarray, C: np.ndarray, L: np.ndarray, labels: np.ndarray,
              min_points: int) -> tuple[list, list[str]]:
    rows, warns = [], []
    for g in np.unique(labels):
        m = labels == g
        if m.sum() < min_points or len(np.unique(np.round(np.log(N[m]), 6))) < 3:
            warns.append(f"budget {np.median(C[m]):.3g}: {int(m.sum())} run(s), fewer than "
                         f"{min_points} distinct sizes; skipped")
            continue
        lx = np.log(N[m])
        p = np.polyfit(lx, L[m], 2)
        budget = float(np.exp(np.mean(np.log(C[m]))))
        if p[0] <= 0:
            warns.append(f"budget {budget:.3g}: the profile is not convex (no minimum); skipped")
            continue
        lmin = -p[1] / (2 * p[0])
        if lmin < lx.min() or lmin > lx.max():
            # an extrapolated minimum says only that the optimum is beyond the sizes tried
            warns.append(f"budget {budget:.3g}: the parabola's minimum lies outside the sizes "
                         f"tried ({np.exp(lx.min()):.3g} - {np.exp(lx.max()):.3g}); budget "
                         "left out, extend the sweep")
            continue
        n_opt = math.exp(lmin)
        rows.append((budget, n_opt, budget / (6 * n_opt), float(np.polyval(p, lmin)), p))
    return rows, warns


def isoflop(data: pd.DataFrame | str, *, budget_tolerance: float = 0.1, min_points: int = 3,
            bootstrap: int = 0, seed: int = 0, confidence: float = 0.95,
            columns: dict[str, str] | None = None) -> IsoFLOPResult:
    """Chinchilla Approach 2 on a table with N, C and loss (runs at a few FLOP budgets)."""
    df = load_observations(data, columns)
    df = validate(df, ["N", "C", "loss"])
    N, C, L = (df[c].to_numpy(float) for c in ("N", "C", "loss"))
    labels = budget_groups(C, budget_tolerance)
    rows, warns = _profiles(N, C, L, labels, min_points)
    repeated = repetition_warning(df)
    if repeated:
        warns.append(repeated)
    if len(rows) < 2:
        raise FitError(f"Approach 2 needs at least 2 FLOP budgets with >= {min_points} model "
                       f"sizes each; found {len(rows)} (budgets are runs whose C agree within "
                       f"{budget_tolerance:.0%})" + "".join(f"; {w}" for w in warns))
    budgets = np.array([r[0] for r in rows])
    n_opt = np.array([r[1] for r in rows])
    d_opt = np.array([r[2] for r in rows])
    nf, dfit = fit_power(budgets, n_opt), fit_power(budgets, d_opt)
    draws = None
    if bootstrap:
        # Residual bootstrap within each budget: the design (the sizes tried) stays fixed and
        # each profile's losses are its fitted parabola plus resampled residuals. Resampling
        # runs instead would drop sizes from small profiles and change which budgets survive.
        rng = np.random.default_rng(seed)
        lnN = np.log(N)
        kept = [labels == g for g in np.unique(labels)]
        fitted = np.full(len(L), np.nan)
        for m in kept:
            if m.sum() >= 3:
                fitted[m] = np.polyval(np.polyfit(lnN[m], L[m], 2), lnN[m])
        resid = L - fitted
        out = []
        for _ in range(bootstrap):
            Lb = L.copy()
            for m in kept:
                idx = np.flatnonzero(m)
                if np.isfinite(fitted[idx]).all():
                    Lb[idx] = fitted[idx] + resid[rng.choice(idx, idx.size)]
            rr, _ = _profiles(N, C, Lb, labels, min_points)
            if len(rr) >= 2:
                b = np.array([r[0] for r in rr])
                out.append((fit_power(b, np.array([r[1] for r in rr])).exponent,
                            fit_power(b, np.array([r[2] for r in rr])).exponent))
        if out:
            draws = np.array(out)
            a = (1 - confidence) / 2
            nf.exponent_interval = tuple(np.quantile(draws[:, 0], [a, 1 - a]).tolist())
            dfit.exponent_interval = tuple(np.quantile(draws[:, 1], [a, 1 - a]).tolist())
        else:
            warns.append("bootstrap: no resample kept 2 usable budgets; no intervals")
    return IsoFLOPResult(budgets, n_opt, d_opt, np.array([r[3] for r in rows]),
                         [r[4] for r in rows], nf, dfit, confidence, warns, draws)


@dataclass
class EnvelopeResult:
    compute: np.ndarray
    n_opt: np.ndarray
    d_opt: np.ndarray
    loss: np.ndarray
    run_ids: np.ndarray
    N_fit: PowerLawFit
    D_fit: PowerLawFit
    L_fit: PowerLawFit  # Kaplan-style L(C) = (Cc/C)^alpha -> coefficient Cc^alpha, exponent -alpha

    def to_json(self) -> dict[str, Any]:
        return {"approach": 1, "a": self.N_fit.exponent, "b": self.D_fit.exponent,
                "N_coefficient": self.N_fit.coefficient, "D_coefficient": self.D_fit.coefficient,
                "kaplan_alpha_C": -self.L_fit.exponent,
                "kaplan_Cc": self.L_fit.coefficient ** (-1.0 / self.L_fit.exponent),
                "n_frontier_points": len(self.compute)}


def envelope(curves: pd.DataFrame | str, *, n_points: int = 200,
             columns: dict[str, str] | None = None) -> EnvelopeResult:
    """Approach 1: the lower envelope of loss over training curves (rows: run_id, N, C, loss
    at successive steps; D per row = tokens seen so far, or C/(6N))."""
    df = load_observations(curves, columns)
    df = validate(df, ["N", "C", "loss", "D"], positive=["N", "C", "loss", "D"])
    if "run_id" not in df.columns:
        raise OptionError("curves", "Approach 1 needs a run_id column (one curve per run)")
    runs = []
    for rid, g in df.groupby("run_id", sort=True):
        g = g.sort_values("C")
        if len(g) >= 2:
            runs.append((rid, float(g["N"].iloc[0]), np.log(g["C"].to_numpy()),
                         g["loss"].to_numpy(), np.log(g["D"].to_numpy())))
    if len(runs) < 2:
        raise FitError("Approach 1 needs curves of at least 2 runs with >= 2 points each")
    lo = min(r[2][0] for r in runs)
    hi = max(r[2][-1] for r in runs)
    grid = np.linspace(lo, hi, n_points)
    best = np.full(n_points, np.inf)
    who = np.full(n_points, -1)
    for k, (_, _, lc, loss, _) in enumerate(runs):
        inside = (grid >= lc[0]) & (grid <= lc[-1])
        val = np.interp(grid[inside], lc, loss)
        upd = val < best[inside]
        idx = np.flatnonzero(inside)[upd]
        best[idx], who[idx] = val[upd], k
    ok = who >= 0
    comp = np.exp(grid[ok])
    n_opt = np.array([runs[k][1] for k in who[ok]])
    d_opt = np.array([math.exp(np.interp(g, runs[k][2], runs[k][4]))
                      for g, k in zip(grid[ok], who[ok], strict=True)])
    return EnvelopeResult(comp, n_opt, d_opt, best[ok],
                          np.array([runs[k][0] for k in who[ok]]),
                          fit_power(comp, n_opt), fit_power(comp, d_opt),
                          fit_power(comp, best[ok]))


def compare(data: pd.DataFrame | str, laws: Sequence[str], *, loss: str = "huber",
            delta: float = 1e-3, columns: dict[str, str] | None = None,
            x: str | None = None) -> pd.DataFrame:
    """Fit each law, report objective, AIC/BIC and the leave-the-largest-scale-out error.

    AIC/BIC use a Gaussian likelihood of the log residuals with the ML variance (so they
    compare laws on equal terms whatever objective fitted them); the holdout fits on all points
    but those at the largest value of C (or of the law's first variable) and reports the mean
    absolute relative error there.
    """
    from scalinglab.fit.core import fit  # local: core imports this module's neighbours

    df = load_observations(data, columns)
    rows = []
    for name in laws:
        single = takes_x(name)
        res = fit(df, name, loss=loss, delta=delta, x=x if single else None)
        r = np.asarray(res.residuals)
        n, k = len(r), res.law.n_params + 1
        s2 = max(float(np.mean(r**2)), 1e-300)
        ll = -0.5 * n * (math.log(2 * math.pi * s2) + 1)
        key = "C" if "C" in df.columns else res.law.variables[0]
        vals = pd.to_numeric(df[key], errors="coerce").to_numpy(float)
        top = vals >= np.max(vals) / (1 + 1e-9)
        holdout = float("nan")
        if (~top).sum() >= res.law.n_params and top.any():
            sub = fit(df[~top], name, loss=loss, delta=delta, x=x if single else None)
            test = df[top]
            pred = sub.predict(**{v: test[v].to_numpy(float) for v in sub.law.variables})
            holdout = float(np.mean(np.abs(pred / test["loss"].to_numpy(float) - 1)))
        rows.append({"law": name, "n_params": res.law.n_params, "objective": res.objective,
                     "rms_log_residual": math.sqrt(s2), "aic": 2 * k - 2 * ll,
                     "bic": k * math.log(n) - 2 * ll, "largest_scale_holdout_error": holdout,
                     "warnings": len(res.warnings)})
    out = pd.DataFrame(rows)
    out["delta_aic"] = out["aic"] - out["aic"].min()
    return out.sort_values("aic").reset_index(drop=True)

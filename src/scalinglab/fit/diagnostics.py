"""Diagnostics of a fit, as plain warning strings (structured enough to test and to show).

Each check says what it saw and why it matters: a parameter at a bound, an ill-conditioned
Hessian, too few distinct N or D levels to separate alpha from beta, lack of fit (a systematic
residual trend or a large spread), points far from the fit, an optimum reached from only one
start, a gradient that is not zero.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import spearmanr

from scalinglab.fit.optimize import OptimumInfo
from scalinglab.laws.base import Law


def distinct_levels(x: np.ndarray, rel: float = 0.01) -> int:
    """Number of distinct values of ``x`` when values within ``rel`` (relative) are merged."""
    lx = np.sort(np.log(x))
    if lx.size == 0:
        return 0
    return int(1 + np.sum(np.diff(lx) > np.log1p(rel)))


def check(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, info: OptimumInfo,
          residuals: np.ndarray) -> list[str]:
    out: list[str] = []
    lo, hi = law.internal_bounds()
    z = info.z
    for p, zi, a, b in zip(law.params, z, lo, hi, strict=True):
        span = max(abs(zi), 1.0)
        if (np.isfinite(a) and zi - a <= 1e-6 * span) or (np.isfinite(b) and b - zi <= 1e-6 * span):
            bound = p.lower if np.isfinite(a) and zi - a <= 1e-6 * span else p.upper
            out.append(f"bound: parameter {p.name} is at its bound {bound:g}; the optimum may "
                       "lie outside the allowed range or the law may not fit these data")
        elif p.log and p.lower <= 0 and zi < -18.0:
            out.append(f"collapsed: parameter {p.name} went to ~0 ({float(np.exp(zi)):.2g}); "
                       "these data do not identify it (e.g. E needs runs near convergence "
                       "or a wider range of scale)")
    with np.errstate(all="ignore"):
        _, J = law.log_value_and_jac(z[None, :], X)
    J = np.where(np.isfinite(J[0]), J[0], 0.0)
    H = J.T @ (J * w[:, None])
    try:
        cond = float(np.linalg.cond(H))
    except np.linalg.LinAlgError:
        cond = np.inf
    if not np.isfinite(cond) or cond > 1e14:
        out.append(f"ill-conditioned: the Hessian (Gauss-Newton, internal coordinates) has "
                   f"condition number {cond:.2g}; some parameters are not identified by "
                   "these data")
    for v in ("N", "D"):
        if v in law.variables and {"N", "D"} <= set(law.variables):
            k = distinct_levels(X[law.variables.index(v)])
            if k < 3:
                out.append(f"levels: only {k} distinct {v} level(s) (within 1%); at least 3 "
                           f"are needed to separate the N and D exponents")
    n, P = len(logy), law.n_params
    if n < 3 * P:
        out.append(f"few points: {n} points for {P} parameters; intervals will be wide")
    rms = float(np.sqrt(np.average(residuals**2, weights=w)))
    if rms > 0.1:
        out.append(f"lack of fit: RMS log residual {rms:.3f} (> 10% typical error)")
    if n >= 10 and np.ptp(residuals) > 0:
        for i, v in enumerate(law.variables):
            if np.ptp(X[i]) == 0:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rho, pval = spearmanr(np.log(X[i]) if np.all(X[i] > 0) else X[i], residuals)
            if np.isfinite(rho) and abs(rho) > 0.5 and pval < 1e-3:
                out.append(f"lack of fit: residuals trend with {v} (Spearman rho {rho:+.2f}, "
                           f"p {pval:.1g}); the law's shape does not match the data")
    med = float(np.median(residuals))
    mad = 1.4826 * float(np.median(np.abs(residuals - med)))
    if mad > 0:
        far = np.abs(residuals - med) > 6 * mad
        if far.any():
            rows = ", ".join(str(int(i) + 1) for i in np.flatnonzero(far)[:10])
            out.append(f"outliers: {int(far.sum())} point(s) far from the fit (robust z > 6), "
                       f"rows {rows}")
    if not info.converged:
        out.append(f"convergence: gradient norm {info.grad_norm:.2g} at the optimum is not "
                   "small; the optimiser may have stopped early")
    if info.n_refined > 1 and info.n_at_best < 2:
        out.append(f"fragile optimum: only {info.n_at_best} of {info.n_refined} refined "
                   "starts reached the best objective")
    return out

"""Diagnostics of a fit, as :class:`~scalinglab.fit.records.Diagnostic` warnings (a message with
a stable code, :data:`~scalinglab.fit.records.CODES`).

Each check says what it saw and why it matters: a parameter at a bound, an ill-conditioned
Hessian, too few distinct N or D levels to separate alpha from beta, lack of fit (a systematic
residual trend or a large spread), points far from the fit, a law that misses part of the data
(``misfit``), an optimum reached from only one start, a gradient that is not zero. Every
warning's message starts with its code in words and a colon (``outliers: ...``, ``few points:
...`` for code ``few-points``); programs match the ``code``.

Held parameters (``fit(..., fixed=...)``) are not judged: no bound or collapse warning, no
column in the Hessian whose conditioning is checked, and ``p`` below counts only the fitted
parameters (a held one absorbs no degree of freedom). A held floor is still compared with the
observed values (``misfit``), as the held floor.

Rows. Warnings that name points name the input table's own rows: 1-based data rows of the
table as :func:`scalinglab.observations.load_observations` returned it, before any filtering
(``holdout_above``), the convention of the input errors of :mod:`scalinglab.observations`.
:func:`check` gets them in ``rows``; without it, positions in the fitted arrays.

The rules (residuals are ``log(fit) - log(observed)``; ``n`` points, ``p`` parameters):

* Residual scale ``s``: 1.4826 x the median absolute deviation of the residuals about their
  median (a robust SD), times ``sqrt(n / (n - p))`` because fitted residuals are smaller than
  the errors by about that factor (the fit absorbs ``p`` degrees of freedom).
* ``outliers``: only when ``n - p >= 10`` (:data:`OUTLIER_MIN_DOF`); with fewer residual
  degrees of freedom the MAD of a handful of residuals is itself too uncertain to call any
  point far (a 3-parameter law on 6 points says nothing here). A point is an outlier when
  ``|r - median| / s`` exceeds the larger of 6 (the former fixed bar, kept because real
  sweeps' residuals have heavier tails than Gaussian noise) and the Student-t quantile with
  ``n - p`` degrees of freedom at a family-wise 0.1% over the ``n`` points (Bonferroni:
  ``1 - 0.001 / (2 n)``), which raises the bar where ``s`` rests on few degrees of freedom
  (about 6.5 at ``n - p = 10``, 6 from about 13 on).
* ``misfit`` (floor): for laws with an irreducible term (a parameter named ``E``: chinchilla,
  data-constrained, precision; ``L0`` of saturating-power), the observed values the law cannot
  reach: those below the fitted floor by more than ``max(3 s, 0.5%)`` in log terms, so that
  noise about a nearly converged run does not count.
* ``misfit`` (group): a whole group the law misses. Groups are the ``group`` column, and FLOP
  budgets (runs whose C agree within 10%, as Approach 2 groups them) when the table is laid
  out by budget: it has N and C and at least 3/4 of its rows lie in IsoFLOP profiles, budgets
  of 3 or more runs at 3 or more distinct N (otherwise chance clusters of C in a scattered
  table, or one run repeated over corpora, are no design). A group of ``k >= 3``
  points (and not the whole table) is flagged when all its residuals have the same sign and
  their mean exceeds ``max(3 s / sqrt(k), 0.5%)``: three standard errors of a mean of ``k``
  independent errors (same-signed residuals alone happen by chance with probability
  ``2^(1-k)``), and at least 0.5%, below which a shift matters little for extrapolation.
  Like outliers, it needs ``n - p >= 10`` to trust ``s``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
from scipy.special import stdtr, stdtrit

from scalinglab.fit.approaches import budget_groups
from scalinglab.fit.optimize import OptimumInfo
from scalinglab.fit.problem import FitProblem
from scalinglab.fit.records import Diagnostic
from scalinglab.laws.base import Law

#: outliers are judged only with at least this many residual degrees of freedom (n - p)
OUTLIER_MIN_DOF = 10
#: the smallest robust z that makes a point an outlier
OUTLIER_Z = 6.0
#: family-wise false-alarm rate of the outlier test over all points (Bonferroni)
OUTLIER_ALPHA = 1e-3
#: a misfit must exceed this many residual SDs (of a point: floor; of a group mean: bias)
MISFIT_Z = 3.0
#: ... and this much in log terms (0.5%)
MISFIT_MIN = 0.005
#: smallest group whose bias is judged
GROUP_MIN_POINTS = 3
#: runs whose C agree within this (relative) form one FLOP budget
BUDGET_TOLERANCE = 0.1
#: share of the rows that must lie in IsoFLOP profiles (budgets of GROUP_MIN_POINTS runs at as
#: many distinct N) for budgets to count as groups
BUDGET_DESIGN_SHARE = 0.75
#: names of the irreducible term (the value the law tends to at infinite scale)
FLOOR_PARAMS = ("E", "L0")


def distinct_levels(x: np.ndarray, rel: float = 0.01) -> int:
    """Number of distinct values of ``x`` when values within ``rel`` (relative) of a level are
    merged: each level is a value more than ``rel`` above the previous level's first value (no
    chaining, so values spread continuously count as many levels, not as one)."""
    lx = np.sort(np.log(np.asarray(x, float)))
    if lx.size == 0:
        return 0
    step = np.log1p(rel)
    levels, i = 0, 0
    while i < lx.size:  # one jump per level: at most (range / rel) iterations
        levels += 1
        i = int(np.searchsorted(lx, lx[i] + step, side="right"))
    return levels


def residual_scale(residuals: np.ndarray, n_params: int) -> float:
    """Robust SD of the errors behind fitted residuals: 1.4826 MAD about the median, times
    ``sqrt(n / (n - p))`` (NaN when ``n <= p``)."""
    r = np.asarray(residuals, float)
    n = r.size
    if n <= n_params:
        return float("nan")
    mad = float(np.median(np.abs(r - np.median(r))))
    return 1.4826 * mad * float(np.sqrt(n / (n - n_params)))


def outlier_threshold(n: int, n_params: int) -> float:
    """The robust z above which a point is an outlier (NaN when ``n - p`` is too small to
    judge): the larger of :data:`OUTLIER_Z` and the Bonferroni Student-t quantile."""
    dof = n - n_params
    if dof < OUTLIER_MIN_DOF:
        return float("nan")
    # stdtrit is Student's t quantile (scipy.stats.t.ppf), without importing scipy.stats
    return max(OUTLIER_Z, float(stdtrit(dof, 1.0 - OUTLIER_ALPHA / (2 * n))))


def _ranks(a: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank (``scipy.stats.rankdata``)."""
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    first = np.r_[True, s[1:] != s[:-1]]
    ends = np.r_[np.flatnonzero(first), a.size]
    average = (ends[:-1] + ends[1:] + 1) / 2.0
    ranks = np.empty(a.size)
    ranks[order] = average[np.cumsum(first) - 1]
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman's rho and its two-sided p-value from the t distribution with ``n - 2``
    degrees of freedom -- what ``scipy.stats.spearmanr`` returns for two finite 1-D samples,
    computed here so that a fit does not import scipy.stats (half a second of start-up)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = x.size
    if n < 3 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return float("nan"), float("nan")
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float(np.sum(rx * rx)) * float(np.sum(ry * ry)))
    if den == 0:
        return float("nan"), float("nan")
    rho = max(-1.0, min(1.0, float(np.sum(rx * ry)) / den))
    dof = n - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t = rho * math.sqrt(max(dof / ((rho + 1.0) * (1.0 - rho)), 0.0)) if abs(rho) < 1 \
            else math.copysign(math.inf, rho)
    return rho, float(2.0 * stdtr(dof, -abs(t)))


def members(labels: np.ndarray) -> list[tuple[object, np.ndarray]]:
    """``(label, positions)`` of every distinct label, positions ascending: one sort over the
    labels instead of one comparison pass per label (a table of 1e6 runs has thousands)."""
    values, inverse = np.unique(labels, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return list(zip(values.tolist(), np.split(order, bounds), strict=True)) if len(labels) \
        else []


def groupings(df: pd.DataFrame) -> list[np.ndarray]:
    """The groupings of the rows of ``df`` whose bias :func:`check` judges: one label per row
    (``"group NAME"`` from a ``group`` column; ``"budget C"`` for the rows of IsoFLOP profiles
    when the table is laid out by budget, see the module docstring; ``""``: in no group)."""
    out: list[np.ndarray] = []
    if "group" in df.columns:
        out.append(np.array([f"group {g}" for g in df["group"].astype(str)], dtype=object))
    if {"N", "C"} <= set(df.columns) and len(df):
        C = pd.to_numeric(df["C"], errors="coerce").to_numpy(float)
        N = pd.to_numeric(df["N"], errors="coerce").to_numpy(float)
        if np.all(np.isfinite(C) & (C > 0)) and np.all(np.isfinite(N) & (N > 0)):
            labels = budget_groups(C, BUDGET_TOLERANCE)
            names = np.full(len(df), "", dtype=object)
            profiles = set()
            for _, m in members(labels):
                # a profile: several sizes at one budget (not one run repeated, e.g. per corpus)
                if m.size >= GROUP_MIN_POINTS and distinct_levels(N[m]) >= GROUP_MIN_POINTS:
                    name = f"budget {float(np.exp(np.mean(np.log(C[m])))):.3g}"
                    names[m] = name
                    profiles.add(name)
            if len(profiles) >= 2 and np.mean(names != "") >= BUDGET_DESIGN_SHARE:
                out.append(names)
    return out


def _rows(idx: np.ndarray, rows: np.ndarray, most: int = 10) -> str:
    """``"rows 3, 8, 12"`` for positions ``idx`` of the fitted points (first ``most``)."""
    nums = sorted(int(rows[i]) for i in idx)
    text = ", ".join(str(r) for r in nums[:most])
    more = f", ... ({len(nums)} in all)" if len(nums) > most else ""
    return f"row{'s' if len(nums) > 1 else ''} {text}{more}"


def _misfit(law: Law, z: np.ndarray, logy: np.ndarray, residuals: np.ndarray,
            rows: np.ndarray, groups: Sequence[np.ndarray], y: str,
            fixed: Collection[str] = ()) -> list[Diagnostic]:
    """The ``misfit`` warnings: observed values below the fitted (or held) floor, biased
    groups. ``fixed``: the held parameters (they absorb no degree of freedom)."""
    out: list[Diagnostic] = []
    n_fit = law.n_params - sum(n in fixed for n in law.param_names)
    s = residual_scale(residuals, n_fit)
    floor = next((p for p in FLOOR_PARAMS if p in law.param_names), None)
    if floor is not None:
        value = float(law.from_internal(z)[floor])
        margin = max(MISFIT_Z * s, MISFIT_MIN) if np.isfinite(s) else MISFIT_MIN
        if np.isfinite(value) and value > 0:
            below = np.flatnonzero(np.log(value) - logy > margin)
            if below.size:
                how = "held" if floor in fixed else "fitted"
                out.append(Diagnostic(
                    "misfit", f"misfit: the {how} floor {floor} = {value:.4g} lies above "
                    f"{below.size} observed {y} value(s) ({_rows(below, rows)}) by more "
                    f"than {np.expm1(margin):.1%}; the law cannot reach them"))
    if len(residuals) - n_fit < OUTLIER_MIN_DOF or not np.isfinite(s):
        return out  # too few residual degrees of freedom to trust s (as for outliers)
    for labels in groups:
        named = [(str(v), idx) for v, idx in members(labels) if v != ""]
        if len(named) < 2:
            continue
        for name, idx in named:
            k = idx.size
            if k < GROUP_MIN_POINTS:
                continue
            r = residuals[idx]
            if not (np.all(r > 0) or np.all(r < 0)):
                continue
            mean = float(np.mean(r))
            limit = max(MISFIT_Z * s / np.sqrt(k), MISFIT_MIN)
            if abs(mean) > limit:
                side = "below" if mean > 0 else "above"
                out.append(Diagnostic(
                    "misfit", f"misfit: {name} ({k} points, {_rows(idx, rows)}): every observed "
                           f"{y} value lies {side} the fit, by {abs(np.expm1(-mean)):.1%} on "
                           f"average (more than {np.expm1(limit):.1%} = max(3 x residual SD "
                           f"{s:.2%} / sqrt({k}), 0.5%)); the law misses this whole group"))
    return out


def check(problem: FitProblem, info: OptimumInfo, residuals: np.ndarray, *,
          rows: np.ndarray | None = None, groups: Sequence[np.ndarray] = (),
          y: str = "loss") -> list[Diagnostic]:
    """The warnings about the fit of ``problem`` at ``info``.

    ``info.z``: all of ``problem.law``'s internal coordinates (held parameters included,
    :meth:`FitProblem.full <scalinglab.fit.problem.FitProblem.full>`); the held parameters
    (``problem.fixed``) are not judged (see the module docstring). ``residuals``: ``log(fit) -
    logy``. ``rows``: the input table's 1-based row number of each point (default: positions
    1..n), used whenever a warning names points. ``groups``: label arrays (one label per point,
    see :func:`groupings`) whose groups are checked for bias. ``y``: the name of the fitted
    value, for the messages.
    """
    law, X, logy, w, fixed = problem.law, problem.X, problem.logy, problem.w, problem.fixed
    n = len(logy)
    rows = np.arange(1, n + 1) if rows is None else np.asarray(rows)
    if rows.shape != (n,):
        raise ValueError(f"rows has shape {rows.shape}, expected ({n},)")
    out: list[Diagnostic] = []
    lo, hi = law.internal_bounds()
    z = info.z
    free = np.array([n not in fixed for n in law.param_names])
    for p, zi, a, b, f in zip(law.params, z, lo, hi, free, strict=True):
        if not f:
            continue
        span = max(abs(zi), 1.0)
        if (np.isfinite(a) and zi - a <= 1e-6 * span) or (np.isfinite(b) and b - zi <= 1e-6 * span):
            bound = p.lower if np.isfinite(a) and zi - a <= 1e-6 * span else p.upper
            out.append(Diagnostic(
                "bound", f"bound: parameter {p.name} is at its bound {bound:g}; the optimum may "
                "lie outside the allowed range or the law may not fit these data"))
        elif p.log and p.lower <= 0 and zi < -18.0:
            out.append(Diagnostic(
                "collapsed", f"collapsed: parameter {p.name} went to ~0 "
                f"({float(np.exp(zi)):.2g}); these data do not identify it (e.g. E needs runs "
                "near convergence or a wider range of scale)"))
    with np.errstate(all="ignore"):
        _, J = law.log_value_and_jac(z[None, :], X)
    J = np.where(np.isfinite(J[0]), J[0], 0.0)[:, free]
    H = J.T @ (J * w[:, None])
    try:
        cond = float(np.linalg.cond(H))
    except np.linalg.LinAlgError:
        cond = np.inf
    if not np.isfinite(cond) or cond > 1e14:
        out.append(Diagnostic(
            "ill-conditioned", "ill-conditioned: the Hessian (Gauss-Newton, internal "
            f"coordinates) has condition number {cond:.2g}; some parameters are not identified "
            "by these data"))
    for v in ("N", "D"):
        if v in law.variables and {"N", "D"} <= set(law.variables):
            k = distinct_levels(X[law.variables.index(v)])
            if k < 3:
                out.append(Diagnostic(
                    "levels", f"levels: only {k} distinct {v} level(s) (within 1%); at least 3 "
                    "are needed to separate the N and D exponents"))
    P = int(free.sum())  # the fitted parameters
    if n < 3 * P:
        out.append(Diagnostic("few-points", f"few points: {n} points for {P} parameters; "
                              "intervals will be wide"))
    rms = float(np.sqrt(np.average(residuals**2, weights=w)))
    if rms > 0.1:
        out.append(Diagnostic("lack-of-fit", f"lack of fit: RMS log residual {rms:.3f} "
                              "(> 10% typical error)"))
    if n >= 10 and np.ptp(residuals) > 0:
        for i, v in enumerate(law.variables):
            if np.ptp(X[i]) == 0:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rho, pval = spearman(np.log(X[i]) if np.all(X[i] > 0) else X[i], residuals)
            if np.isfinite(rho) and abs(rho) > 0.5 and pval < 1e-3:
                out.append(Diagnostic(
                    "lack-of-fit", f"lack of fit: residuals trend with {v} (Spearman rho "
                    f"{rho:+.2f}, p {pval:.1g}); the law's shape does not match the data"))
    zmax = outlier_threshold(n, P)
    scale = residual_scale(residuals, P)
    if np.isfinite(zmax) and scale > 0:
        far = np.flatnonzero(np.abs(residuals - np.median(residuals)) > zmax * scale)
        if far.size:
            out.append(Diagnostic(
                "outliers", f"outliers: {far.size} point(s) far from the fit (robust z > "
                f"{zmax:.3g}, {n - P} residual degrees of freedom), {_rows(far, rows)}"))
    out.extend(_misfit(law, z, logy, residuals, rows, groups, y, fixed))
    if not info.converged:
        out.append(Diagnostic(
            "convergence", f"convergence: gradient norm {info.grad_norm:.2g} at the optimum is "
            "not small; the optimiser may have stopped early"))
    if info.n_refined > 1 and info.n_at_best < 2:
        out.append(Diagnostic(
            "fragile-optimum", f"fragile optimum: only {info.n_at_best} of {info.n_refined} "
            "refined starts reached the best objective"))
    return out

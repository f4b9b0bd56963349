"""Chinchilla's Approaches 1 and 2, Kaplan-style frontier fits, and model comparison.

* Approach 2 (IsoFLOP profiles, Hoffmann et al. Sec. 3.2): group runs by FLOP budget (runs
  whose C agree within ``budget_tolerance``; by (C, U) when the table has a ``U`` column, unique
  tokens, with more than one value: budgets then carry their U), take each profile's minimum
  in log N as N_opt(C) (and D_opt = C/(6 N_opt)), then fit ``N_opt = k_N C^a`` and
  ``D_opt = k_D C^b`` by least squares in log-log.

  - The minimum: the lowest observed loss (replicate runs at one size averaged) picks the size
    the window is centred on. A profile whose lowest loss is at its smallest or largest size is
    left out ("minimum outside the sizes tried"); any other keeps a minimum inside the sizes
    tried. ``method="parabola"`` (default) fits loss = p0 (ln N)^2 + p1 ln N + p2 to the runs
    in a window and takes its vertex; when the vertex falls outside the window (or the window
    parabola is not convex), the parabola through the 3 sizes around the lowest loss is used,
    whose vertex lies between them. ``method="akima"``: the minimum of an Akima interpolant of
    the mean loss per size over ln N, on a fine grid between the two sizes adjacent to the
    lowest.
  - The window: ``"auto"`` (default): the sizes within a factor ``WINDOW_FACTOR`` = 10 of the
    lowest-loss size (|ln N - ln N_low| <= ln 10), and at least its neighbour on each side;
    cut off at the ends of the profile, never shifted (a shifted window's asymmetry biased a).
    ``"all"``: the whole profile (the former fit: on wide, asymmetric profiles the parabola
    misfits and biases a); an integer K: the lowest-loss size and K sizes on each side.
    Measured in ``benchmarks/isoflop_bias.py`` (9 budgets 1e18 - 1e22, 11-21 sizes over a
    factor 100-1000, centred or with the optimum drifting towards the ends, 0.5-1% noise, 100
    draws): ``auto`` has |bias| <= 0.002 at 0.5% noise on every design (<= 0.007 at 1%) and
    an RMSE of a of 0.007-0.013 at 0.5%, where ``all`` is biased by +0.066 (optimum drifting
    over a factor 1000) and +0.019 (over 300); on centred profiles ``all`` is unbiased and has
    the smallest spread. Factors 20-30 cut the spread by up to a third but doubled the bias
    where the optimum sits near an end; factors 4-6 and K = 1-2 raised the spread 1.5-4x.
    ``akima`` is unbiased without noise, but with noise 3-5x as variable as ``auto`` and biased
    by +0.006 to +0.015 (it passes through the noise).
  - Lack of fit, per budget: the window parabola's residual variance (over its residual
    degrees of freedom) against the noise: ``noise`` (SD of one run's loss, nats) when given,
    otherwise estimated from the default window's parabolas of all budgets (each budget's RSS
    over the median of chi-square with its dof; the median over budgets, so a few bad profiles
    do not hide themselves). A budget is warned about when the ratio exceeds the 99.9% point of
    F(its dof, the estimate's summed dof) (chi-square / dof for a given noise); the noise is
    floored at 0.1% of the budget's lowest loss (noise-free data).
  - Bootstrap: the runs of each budget are resampled with replacement and its window and
    minimum redone (a budget whose resample has no interior minimum sits that resample out);
    percentile intervals. A resample loses distinct sizes, so the intervals lean wide: on the
    benchmark the default window's 95% intervals covered the true a in 93-100% of the draws of
    each design, 1.0-1.6x as wide as 2 x 1.96 SD of a. (The former fit and residual bootstrap
    about the whole-profile parabola covered 0% and 32-68% on the asymmetric designs, where its
    a was biased by +0.067 and +0.019, and 85-93% on the others.)
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

from scalinglab.errors import FitError, ParameterError
from scalinglab.fit.objectives import DEFAULT_DELTA
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


def fit_power(x: np.ndarray, y: np.ndarray, confidence: float | None = None) -> PowerLawFit:
    """``y = k x^exponent`` by least squares in log-log; with ``confidence``, the exponent's
    Student-t interval (n - 2 degrees of freedom; none with fewer than 3 points)."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    slope, intercept = np.polyfit(lx, ly, 1)
    iv = None
    if confidence is not None and len(lx) >= 3 and np.ptp(lx) > 0:
        from scipy.stats import t as student_t

        resid = ly - (slope * lx + intercept)
        dof = len(lx) - 2
        se = math.sqrt(float(resid @ resid) / dof / float(((lx - lx.mean()) ** 2).sum()))
        half = float(student_t.ppf(0.5 + confidence / 2, dof)) * se
        iv = (float(slope - half), float(slope + half))
    with np.errstate(over="ignore"):
        return PowerLawFit(float(slope), float(np.exp(intercept)), iv)


#: ``window="auto"``: the sizes within this factor of the lowest-loss size (module docstring)
WINDOW_FACTOR = 10.0
#: lack of fit: a budget is flagged when its parabola's residual variance over the noise's
#: exceeds this quantile of F (chi-square when the noise is given)
LACK_OF_FIT_LEVEL = 0.999
#: lack of fit: misfits under this fraction of the budget's lowest loss are never flagged (the
#: noise-free limit: a parabola is never exact, and such misfits move its minimum negligibly)
LACK_OF_FIT_FLOOR = 1e-3
_AKIMA_GRID = 1001  # grid points between the two sizes adjacent to the lowest (akima)
WindowRule = str | int


@dataclass
class IsoFLOPResult:
    """Approach 2: each budget's minimum and the power laws through them.

    Per budget (in increasing C, then U): ``budgets`` (FLOPs), ``n_opt``, ``d_opt``,
    ``loss_opt``; ``parabolas``: the coefficients of loss = p0 (ln N)^2 + p1 ln N + p2 fitted
    over its window (over the 3 sizes around the lowest loss when the window's vertex fell
    outside the window; for method "akima" the window's parabola, whose vertex is not the
    minimum); ``windows``: the N range of that parabola's sizes; ``rms_residual``: the window
    parabola's RMS residual (nats, over its residual degrees of freedom; NaN with none);
    ``U``: its unique tokens when budgets are split by U (else None). ``noise``: the SD of one
    run's loss (nats) the residuals were judged against (None: not judged); ``draws``: the
    bootstrap's (R, 2) exponents a, b.
    """

    budgets: np.ndarray
    n_opt: np.ndarray
    d_opt: np.ndarray
    loss_opt: np.ndarray
    parabolas: list[np.ndarray]
    N_fit: PowerLawFit
    D_fit: PowerLawFit
    confidence: float = 0.95
    warnings: list[str] = field(default_factory=list)
    draws: np.ndarray | None = None
    U: np.ndarray | None = None
    windows: list[tuple[float, float]] = field(default_factory=list)
    rms_residual: np.ndarray | None = None
    noise: float | None = None
    method: str = "parabola"
    window: WindowRule = "auto"

    def to_json(self) -> dict[str, Any]:
        return {
            "approach": 2,
            "budgets": self.budgets.tolist(), "N_opt": self.n_opt.tolist(),
            "D_opt": self.d_opt.tolist(), "loss_opt": self.loss_opt.tolist(),
            "U": None if self.U is None else [None if np.isnan(u) else float(u)
                                              for u in self.U],
            "a": self.N_fit.exponent, "b": self.D_fit.exponent,
            "a_interval": self.N_fit.exponent_interval, "b_interval": self.D_fit.exponent_interval,
            "N_coefficient": self.N_fit.coefficient, "D_coefficient": self.D_fit.coefficient,
            "confidence": self.confidence, "warnings": self.warnings,
            "method": self.method, "window": self.window,
            "windows": [list(w) for w in self.windows],
            "rms_residual": None if self.rms_residual is None else [
                None if np.isnan(v) else float(v) for v in self.rms_residual],
            "noise": self.noise,
            "conventions": {"D_opt": "C / (6 N_opt)", "fit": "least squares in log-log",
                            "bootstrap": "runs resampled within each budget"},
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


@dataclass
class _Budget:
    """The runs of one IsoFLOP profile: one FLOP budget (and one U when budgets split by U)."""

    C: float  # geometric mean of its runs' C
    U: float | None
    lx: np.ndarray  # ln N of each run
    L: np.ndarray  # loss of each run

    @property
    def name(self) -> str:
        return f"budget {self.C:.3g}" + ("" if self.U is None else f" (U {self.U:.3g})")


@dataclass
class _Minimum:
    """One profile's minimum and the parabola that judged it."""

    lx: float  # ln N_opt
    loss: float
    parabola: np.ndarray  # the parabola whose vertex is the minimum (the window's for akima)
    span: tuple[float, float]  # ln N range of that parabola's sizes
    rss: float  # residual sum of squares of the window parabola (before any fallback)
    dof: int  # its residual degrees of freedom
    n_sizes: int  # distinct sizes in the window
    fallback: bool  # the window's vertex fell outside it: the 3 sizes around the lowest used


def _budgets(df: pd.DataFrame, tolerance: float) -> list[_Budget]:
    """Group runs into budgets by C (within ``tolerance``), and by U when the table has a U
    column with more than one distinct value; in increasing C, then U."""
    N, C, L = (df[c].to_numpy(float) for c in ("N", "C", "loss"))
    labels = budget_groups(C, tolerance)
    U = None
    if "U" in df.columns:
        u = pd.to_numeric(df["U"], errors="coerce").to_numpy(float)
        if len(np.unique(u[np.isfinite(u)])) + bool((~np.isfinite(u)).any()) > 1:
            U = u
    out = []
    for g in np.unique(labels):
        m = labels == g
        budget = float(np.exp(np.mean(np.log(C[m]))))
        if U is None:
            out.append(_Budget(budget, None, np.log(N[m]), L[m]))
            continue
        # a missing U is a value of its own ("nan" sorts last)
        for u in np.unique(U[m]):
            mu = m & ((U == u) | (np.isnan(U) & np.isnan(u)))
            out.append(_Budget(budget, float(u), np.log(N[mu]), L[mu]))
    return out


def _window(xs: np.ndarray, i: int, window: WindowRule) -> tuple[int, int]:
    """First and last index (into the distinct sizes ``xs``, ln N ascending) of the window
    around the lowest-loss size ``i`` (interior)."""
    if window == "all":
        return 0, len(xs) - 1
    if window == "auto":
        inside = np.flatnonzero(np.abs(xs - xs[i]) <= math.log(WINDOW_FACTOR) + 1e-9)
        return min(int(inside[0]), i - 1), max(int(inside[-1]), i + 1)
    return max(0, i - int(window)), min(len(xs) - 1, i + int(window))


def _parabola(lx: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Least-squares parabola of L in ln N: coefficients, residual sum of squares, dof."""
    p = np.polyfit(lx, L, 2)
    return p, float(np.sum((L - np.polyval(p, lx)) ** 2)), len(L) - 3


def _minimum(b: _Budget, window: WindowRule, method: str, min_points: int) -> _Minimum | str:
    """The budget's minimum (see the module docstring), or why the budget is left out."""
    key, inv = np.unique(np.round(b.lx, 6), return_inverse=True)
    if len(b.L) < min_points or len(key) < 3:
        return f"{len(b.L)} run(s), fewer than {min_points} distinct sizes; skipped"
    count = np.bincount(inv)
    xs = np.bincount(inv, b.lx) / count
    ms = np.bincount(inv, b.L) / count  # mean loss per size (replicates averaged)
    i = int(np.argmin(ms))
    if i in (0, len(xs) - 1):
        return (f"the lowest loss is at the {'smallest' if i == 0 else 'largest'} size, so the "
                f"minimum lies outside the sizes tried ({math.exp(xs[0]):.3g} - "
                f"{math.exp(xs[-1]):.3g}); budget left out, extend the sweep")
    lo, hi = _window(xs, i, window)
    sel = (inv >= lo) & (inv <= hi)
    p, rss, dof = _parabola(b.lx[sel], b.L[sel])
    span = (float(xs[lo]), float(xs[hi]))
    fallback = False
    if method == "akima":
        from scipy.interpolate import Akima1DInterpolator  # here: fit() needs no interpolate

        grid = np.linspace(xs[i - 1], xs[i + 1], _AKIMA_GRID)
        vals = Akima1DInterpolator(xs, ms)(grid)
        k = int(np.argmin(vals))
        return _Minimum(float(grid[k]), float(vals[k]), p, span, rss, dof, hi - lo + 1, False)
    lmin = -p[1] / (2 * p[0]) if p[0] > 0 else math.nan
    if not span[0] <= lmin <= span[1]:
        # never drop an interior minimum: the parabola through the 3 sizes around the lowest
        # loss is convex with its vertex between them (its middle size has the lowest mean)
        fallback = True
        near = (inv >= i - 1) & (inv <= i + 1)
        p = np.polyfit(b.lx[near], b.L[near], 2)
        lmin = -p[1] / (2 * p[0]) if p[0] > 0 else xs[i]
        lmin = float(np.clip(lmin, xs[i - 1], xs[i + 1]))
        span = (float(xs[i - 1]), float(xs[i + 1]))
    return _Minimum(float(lmin), float(np.polyval(p, lmin)), p, span, rss, dof, hi - lo + 1,
                    fallback)


def _lack_of_fit(budgets: list[_Budget], minima: list[_Minimum], window: WindowRule,
                 min_points: int, noise: float | None
                 ) -> tuple[np.ndarray, float | None, list[str]]:
    """Per budget: the window parabola's RMS residual; the noise; lack-of-fit warnings.

    The noise (SD of one run's loss, nats) is ``noise`` when given; otherwise it is estimated
    from the default window's parabolas of all budgets, where a parabola is adequate: each
    budget's RSS over the median of chi-square with its degrees of freedom, the median of those
    over budgets (robust to a few bad profiles). A budget is flagged when its residual variance
    over the noise's exceeds the ``LACK_OF_FIT_LEVEL`` quantile of F(its dof, the summed dof of
    the estimate) (chi-square / dof for a given noise); the noise is floored at
    ``LACK_OF_FIT_FLOOR`` times the budget's lowest loss.
    """
    from scipy import stats  # here: importing the fit package costs no scipy.stats

    rms = np.array([math.sqrt(m.rss / m.dof) if m.dof > 0 else math.nan for m in minima])
    if noise is None:
        ref = minima
        if window != "auto":
            ref = [_minimum(b, "auto", "parabola", min_points) for b in budgets]
        est = [(m.rss / stats.chi2.ppf(0.5, m.dof), m.dof) for m in ref
               if isinstance(m, _Minimum) and m.dof > 0]
        if len(est) < 2:
            return rms, None, []
        sigma, dof_ref = math.sqrt(float(np.median([e[0] for e in est]))), sum(e[1] for e in est)
        source = f"estimated from the default window's residuals of {len(est)} budgets"
    else:
        sigma, dof_ref, source = float(noise), None, "given"
    warns = []
    for b, m, r in zip(budgets, minima, rms, strict=True):
        if m.dof <= 0:
            continue
        sd = max(sigma, LACK_OF_FIT_FLOOR * float(b.L.min()))
        bar = (stats.chi2.ppf(LACK_OF_FIT_LEVEL, m.dof) / m.dof if dof_ref is None
               else stats.f.ppf(LACK_OF_FIT_LEVEL, m.dof, dof_ref))
        if r**2 > bar * sd**2:
            hint = ("the default window (auto) fits only near the minimum" if window == "all"
                    else "more runs near the minimum would tell")
            warns.append(f"{b.name}: lack of fit: the parabola's RMS residual over its "
                         f"{m.n_sizes} sizes is {r:.3g} nats, {r / sd:.1f} x the noise "
                         f"({sd:.3g} nats, {source}); its minimum is doubtful, {hint}")
    return rms, sigma, warns


def isoflop(data: pd.DataFrame | str, *, budget_tolerance: float = 0.1, min_points: int = 3,
            bootstrap: int = 0, seed: int = 0, confidence: float = 0.95,
            window: WindowRule = "auto", method: str = "parabola", noise: float | None = None,
            columns: dict[str, str] | None = None) -> IsoFLOPResult:
    """Chinchilla Approach 2 on a table with N, C and loss (runs at a few FLOP budgets).

    ``window``: ``"auto"`` (sizes within ``WINDOW_FACTOR`` of the lowest-loss size), ``"all"``
    (the whole profile) or K (the lowest and K sizes on each side); ``method``: ``"parabola"``
    or ``"akima"``; ``noise``: the SD of one run's loss in nats for the lack-of-fit check
    (default: estimated). See the module docstring.
    """
    if isinstance(window, str) and window.strip().isdigit():
        window = int(window)
    if not (window in ("auto", "all") or (isinstance(window, int)
                                          and not isinstance(window, bool) and window >= 1)):
        raise ParameterError("window", f"auto, all or a number of sizes on each side of the "
                          f"lowest (>= 1); got {window!r}")
    if method not in ("parabola", "akima"):
        raise ParameterError("method", f"parabola or akima; got {method!r}")
    if noise is not None and not (np.isfinite(noise) and noise > 0):
        raise ParameterError("noise", f"must be > 0 (nats), got {noise}")
    df = load_observations(data, columns)
    df = validate(df, ["N", "C", "loss"])
    groups = _budgets(df, budget_tolerance)
    kept: list[_Budget] = []
    minima: list[_Minimum] = []
    warns = []
    for b in groups:
        m = _minimum(b, window, method, min_points)
        if isinstance(m, str):
            warns.append(f"{b.name}: {m}")
            continue
        kept.append(b)
        minima.append(m)
        if m.fallback:
            warns.append(f"{b.name}: the window parabola has no minimum inside its window; "
                         "the minimum is the vertex of the parabola through the 3 sizes "
                         "around the lowest loss")
    repeated = repetition_warning(df)
    if repeated:
        warns.append(repeated)
    if len(kept) < 2:
        raise FitError(f"Approach 2 needs at least 2 FLOP budgets with >= {min_points} model "
                       f"sizes each; found {len(kept)} (budgets are runs whose C agree within "
                       f"{budget_tolerance:.0%})" + "".join(f"; {w}" for w in warns))
    rms, sigma, lof = _lack_of_fit(kept, minima, window, min_points, noise)
    warns += lof
    U = None if kept[0].U is None else np.array([b.U for b in kept])
    if U is not None:
        warns.append(f"budgets are split by unique tokens U ({len(np.unique(U))} values); "
                     "N_opt ∝ C^a is fitted over all of them: fit each U alone (filter the "
                     "table) where U limits the optimum")
    budgets = np.array([b.C for b in kept])
    n_opt = np.exp([m.lx for m in minima])
    d_opt = budgets / (6 * n_opt)
    nf, dfit = fit_power(budgets, n_opt), fit_power(budgets, d_opt)
    draws = None
    if bootstrap:
        # Resample runs within each budget (with replacement) and redo its window and minimum;
        # a budget whose resample has no interior minimum sits that resample out.
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(bootstrap):
            cs, ns = [], []
            for b in kept:
                j = rng.integers(0, b.L.size, b.L.size)
                m = _minimum(_Budget(b.C, b.U, b.lx[j], b.L[j]), window, method, min_points)
                if isinstance(m, _Minimum):
                    cs.append(b.C)
                    ns.append(math.exp(m.lx))
            if len(set(cs)) >= 2:
                c, n = np.array(cs), np.array(ns)
                out.append((fit_power(c, n).exponent, fit_power(c, c / (6 * n)).exponent))
        if out:
            draws = np.array(out)
            a = (1 - confidence) / 2
            nf.exponent_interval = tuple(np.quantile(draws[:, 0], [a, 1 - a]).tolist())
            dfit.exponent_interval = tuple(np.quantile(draws[:, 1], [a, 1 - a]).tolist())
        else:
            warns.append("bootstrap: no resample kept 2 usable budgets; no intervals")
    return IsoFLOPResult(budgets, n_opt, d_opt, np.array([m.loss for m in minima]),
                         [m.parabola for m in minima], nf, dfit, confidence, warns, draws,
                         U=U, windows=[(math.exp(m.span[0]), math.exp(m.span[1]))
                                       for m in minima],
                         rms_residual=rms, noise=sigma, method=method, window=window)


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
    df = load_observations(curves, columns, curves=True)
    df = validate(df, ["N", "C", "loss", "D"], positive=["N", "C", "loss", "D"])
    if "run_id" not in df.columns:
        raise ParameterError("curves", "Approach 1 needs a run_id column (one curve per run)")
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
            delta: float = DEFAULT_DELTA, columns: dict[str, str] | None = None,
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

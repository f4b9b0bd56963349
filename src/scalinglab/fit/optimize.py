"""The multi-start optimiser.

1. Evaluate the objective on the law's whole start grid at once (vectorised NumPy, chunked to
   bound memory): Hoffmann's 4,500-point grid costs one pass over a (4500, n) array.
2. Move the ``refine_top`` best starts together with a batched Levenberg-Marquardt method
   (iteratively reweighted Gauss-Newton steps for the Huber loss, every start in one NumPy
   pass per iteration, analytic Jacobian) until they settle in their basins.
3. Polish the ``polish_top`` best of those with SciPy's trust-region least squares
   (``least_squares``, method ``trf``, analytic Jacobian). The Huber loss is expressed exactly as
   a robust loss of ``least_squares`` (its built-in ``huber`` with ``f_scale = delta`` is
   ``sum Huber_delta(r)``; a weighted variant is passed as a callable), with tolerances at
   1e-15 so the fit stops at the optimum, not before (Besiroglu et al.).
4. For ``huber-likelihood``, alternate the parameter step (a Huber fit with ``delta sigma``) with
   a one-dimensional minimisation over ``log sigma``, to a relative change of 1e-13.

Large tables (more than ``subsample`` points, :data:`SCAN_POINTS` = 4,096 by default). Steps 1
and 2 cost (grid or starts) x points and the batched Jacobians are (starts, points, params)
arrays, so on 1e5 - 1e6 points they would dominate (minutes, gigabytes). There:

1. the grid is scanned, and the best starts are moved by the batched Levenberg-Marquardt
   method, on a stratified subsample of about ``subsample`` points
   (:func:`stratified_subsample`: equal-width cells in each of the law's variables, on a log
   scale where it is positive, every non-empty cell represented, the points weighted by their
   cell's inverse sampling rate so that the subsample's objective estimates the full one);
2. the refined starts are ranked by their objective on *all* points (one streamed pass,
   :func:`objective_values`) and the ``polish_top`` best are polished on all points with a
   streamed damped Gauss-Newton method (:func:`polish_streamed`: per trial point one pass over
   the data in blocks of ``chunk_elems`` (points x params) elements, accumulating the
   objective, the gradient and two P x P matrices, the exact Gauss-Newton one and the
   reweighting majoriser's, between which the step moves as Levenberg-Marquardt moves
   between Gauss-Newton and gradient steps), run until a step no longer lowers the objective
   by 1e-14 (relative); ``huber-likelihood`` alternates it with the scale step as in 4.

Memory then stays bounded by the data and a few blocks (no (starts, points, params) array on
all points) and the time grows linearly with the points: one objective pass for the ranking
and about 5 - 10 passes per polished start (Huber with delta 1e-3 or squares; the near-L1
steps of ``huber-likelihood`` take tens). The optimum is the full method's (synthetic
Chinchilla data of 2e4 - 1e5 points: the same objective to 1e-15 relative, see
``benchmarks/fit_scale.py`` and ``tests/test_fit_scale.py``). Smaller tables take exactly the
steps 1 - 4 above, unchanged. ``n_at_best`` then counts the refined starts within 1e-6
(relative) of the lowest objective on the subsample (``huber-likelihood``: the polished
candidates, as for small tables).

Every function takes the data as a :class:`~scalinglab.fit.problem.FitProblem` and the loss
as an :class:`~scalinglab.fit.objectives.Objective`. Fixed parameters (``fit(...,
fixed={"E": 1.69})``): the problem's :attr:`~scalinglab.fit.problem.FitProblem.free_law` is a
:class:`~scalinglab.fit.problem.Held` law whose parameters are the free ones only. Every step
above works on the free internal coordinates: the start grid is the product of the free
parameters' start values, and the held values are inserted (in internal coordinates) before the
law is evaluated, their Jacobian columns dropped. :meth:`FitProblem.full
<scalinglab.fit.problem.FitProblem.full>` gives the full internal vector back.

Everything is deterministic: the grid is fixed, ties are broken by grid order, the subsample is
drawn with a fixed seed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, least_squares, minimize_scalar

from scalinglab.errors import FitError
from scalinglab.fit.objectives import Objective, likelihood_nll
from scalinglab.fit.problem import FitProblem, Held, full_internal, hold
from scalinglab.laws.base import Law

__all__ = ["CHUNK_ELEMS", "SCAN_POINTS", "Held", "OptimumInfo", "batched_lm", "full_internal",
           "gradient_norm", "grid_objective", "hold", "multistart", "objective_values",
           "polish_streamed", "refine", "refine_likelihood", "stratified_subsample"]

_BAD_RESIDUAL = 10.0  # stands in for a residual where the prediction is not positive

#: tables with more points than this are scanned and pre-refined on a stratified subsample of
#: about this many points (see the module docstring); smaller ones use every point throughout
SCAN_POINTS = 4096
#: elements (points x params, or points x starts) per block of the streamed full-data passes
CHUNK_ELEMS = 1 << 17  # 1 MiB of float64: blocks stay in cache (measured faster than larger)


@dataclass
class OptimumInfo:
    """What :func:`multistart` found."""

    #: the optimum, in the internal coordinates of the problem's free law (logs of scale
    #: parameters; held parameters left out, see :meth:`FitProblem.full
    #: <scalinglab.fit.problem.FitProblem.full>`)
    z: np.ndarray
    #: the objective there, summed over points (``huber-likelihood``: the negative
    #: log-likelihood)
    objective: float
    #: the fitted residual scale (``huber-likelihood``), else None
    sigma: float | None
    #: start points scanned (rows of the start grid)
    n_starts: int
    #: best starts moved by the batched Levenberg-Marquardt method
    n_refined: int
    #: refined starts that ended within 1e-6 (relative) of the best objective (see the module
    #: docstring for large tables and ``huber-likelihood``)
    n_at_best: int
    #: the gradient's norm (free directions) is at most 1e-6 x sum(w) x delta (x 1 for mse)
    converged: bool
    #: that norm
    grad_norm: float
    #: points the grid scan saw (all of them unless subsampled)
    n_scan_points: int = 0


def grid_objective(problem: FitProblem, objective: Objective, grid: np.ndarray,
                   chunk_elems: int = 2_000_000) -> np.ndarray:
    """Objective at every start point (rows of ``grid``); ``inf`` where not finite."""
    # The scan only ranks the starts, so it runs in float32 (half the memory traffic); the
    # refinement that follows is in float64.
    law, X = problem.free_law, problem.X
    n = X.shape[1]
    step = max(1, chunk_elems // max(n, 1))
    out = np.empty(grid.shape[0])
    X32, logy32 = X.astype(np.float32), problem.logy.astype(np.float32)
    w32 = problem.w.astype(np.float32)
    g32 = grid.astype(np.float32)
    base = objective.base
    with np.errstate(all="ignore"):
        for s in range(0, grid.shape[0], step):
            lv = law.log_value(g32[s : s + step], X32)
            lv -= logy32
            out[s : s + step] = base.value(lv, w32)
    return out


def stratified_subsample(X: np.ndarray, w: np.ndarray, size: int, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray]:
    """About ``size`` of the points (columns of ``X``), every region of the data represented;
    returns (indices in increasing order, weights).

    Each of the ``V`` variables is cut into ``b = floor((size / 4)^(1/V))`` equal-width bins
    (of its log where all its values are positive; one bin for a constant variable); the cells
    of that grid are the strata. Each non-empty cell gets ``size`` x its share of the points
    (largest remainders round), at least one point and at most all of its own, drawn at
    random (seed ``seed``). A point drawn from a cell of ``n_c`` points of which ``k_c`` were
    drawn weighs ``w_i n_c / k_c``, so a weighted sum over the subsample estimates the sum over
    all points (and sparse regions, a few runs at the largest N, still take part in the
    scan). Takes at most ``size`` plus the number of cells (``<= 1.25 size``) points.
    """
    V, n = X.shape
    bins = max(1, int((size / 4) ** (1.0 / max(V, 1))))
    # cell ids fit in 16 bits for the default size: NumPy then sorts them by radix, O(n)
    cell = np.zeros(n, np.int16 if bins ** max(V, 1) < 2**15 else np.int64)
    for v in range(V):
        x = X[v]
        if np.all(x > 0):
            x = np.log(x)
        lo, hi = float(np.min(x)), float(np.max(x))
        if hi > lo:
            k = np.minimum(((x - lo) * (bins / (hi - lo))).astype(cell.dtype), bins - 1)
            cell = cell * cell.dtype.type(bins) + k
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    order = perm[np.argsort(cell[perm], kind="stable")]  # by cell, at random within a cell
    sc = cell[order]
    first = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    count = np.diff(np.r_[first, n])
    quota = size * count / n
    take = np.floor(quota).astype(np.int64)
    rest = size - int(take.sum())
    if rest > 0:
        take[np.argsort(take - quota, kind="stable")[:rest]] += 1
    take = np.clip(take, 1, count)
    rank = np.arange(n) - np.repeat(first, count)
    keep = rank < np.repeat(take, count)
    idx = order[keep]
    scale = np.repeat(count / take, count)[keep]
    srt = np.argsort(idx, kind="stable")
    idx = idx[srt]
    return idx, w[idx] * scale[srt]


def objective_values(problem: FitProblem, objective: Objective, Z: np.ndarray,
                     chunk_elems: int = CHUNK_ELEMS) -> np.ndarray:
    """Objective (float64, summed over all points) at each row of ``Z``, streamed over the
    points in blocks of about ``chunk_elems`` (rows x points) elements; ``inf`` where not
    finite (as :meth:`Objective.value <scalinglab.fit.objectives.Objective.value>`).
    ``huber-likelihood`` ranks by the plain Huber sum."""
    law, X, logy, w = problem.free_law, problem.X, problem.logy, problem.w
    Z = np.atleast_2d(np.asarray(Z, float))
    n = X.shape[1]
    step = max(1, chunk_elems // max(Z.shape[0], 1))
    base = objective.base
    out = np.zeros(Z.shape[0])
    with np.errstate(all="ignore"):
        for s in range(0, n, step):
            r = law.log_value(Z, X[:, s : s + step]) - logy[s : s + step]
            out += base.value(r, w[s : s + step])
    return out


def _finite_rows(r: np.ndarray, J: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residuals that are not finite (a prediction that is not positive) count as
    :data:`_BAD_RESIDUAL` with a zero Jacobian row; Jacobian entries that are not finite as
    0."""
    bad = ~np.isfinite(r)
    if bad.any():
        r = np.where(bad, _BAD_RESIDUAL, r)
        J = np.where(bad[:, None], 0.0, J)
    return r, np.where(np.isfinite(J), J, 0.0)


class _Residuals:
    """Residuals and Jacobian of one start, scaled by ``scale``, with a one-entry cache
    (``least_squares`` asks for the residuals and the Jacobian at the same point
    separately)."""

    def __init__(self, problem: FitProblem, scale: np.ndarray) -> None:
        self.law, self.X, self.logy = problem.free_law, problem.X, problem.logy
        self.scale = scale
        self._z: np.ndarray | None = None
        self._r = self._j = np.empty(0)

    def _eval(self, z: np.ndarray) -> None:
        if self._z is None or not np.array_equal(z, self._z):
            with np.errstate(all="ignore"):
                lv, jac = self.law.log_value_and_jac(z[None, :], self.X)
            r, j = _finite_rows(lv[0] - self.logy, jac[0])
            self._z, self._r, self._j = z.copy(), r * self.scale, j * self.scale[:, None]

    def fun(self, z: np.ndarray) -> np.ndarray:
        self._eval(z)
        return self._r

    def jac(self, z: np.ndarray) -> np.ndarray:
        self._eval(z)
        return self._j


def refine(problem: FitProblem, objective: Objective, z0: np.ndarray,
           max_nfev: int = 400) -> tuple[np.ndarray, float]:
    """Refine one start (SciPy's ``least_squares``, ``trf``, tolerances 1e-15) on the
    objective's summed loss (``huber-likelihood``: the plain Huber loss at its ``delta``);
    returns (z, objective as a sum over points)."""
    lo, hi = problem.free_law.internal_bounds()
    # keep the start strictly inside finite bounds (trf needs an interior point)
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    z0 = np.clip(z0, lo + 1e-10 * span, hi - 1e-10 * span)
    base = objective.base
    scale, loss, f_scale = base.least_squares_loss(problem.w)
    prob = _Residuals(problem, scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        res = least_squares(prob.fun, z0, jac=prob.jac, bounds=(lo, hi), method="trf",
                            loss=loss, f_scale=f_scale, x_scale="jac", ftol=1e-15, xtol=1e-15,
                            gtol=1e-15, max_nfev=max_nfev)
    r = prob.fun(res.x) / prob.scale
    return res.x, float(base.value(r, problem.w))


def refine_likelihood(problem: FitProblem, objective: Objective, z0: np.ndarray,
                      max_rounds: int = 100, *, streamed: bool = False,
                      chunk_elems: int = CHUNK_ELEMS) -> tuple[np.ndarray, float, float]:
    """Huber-likelihood fit (parameters and scale sigma) by alternating minimisation, at the
    objective's ``delta``; returns (z, negative log-likelihood, sigma).

    The parameter step is :func:`refine` (SciPy's ``least_squares``), or with ``streamed`` the
    streamed full-data polish :func:`polish_streamed` (large tables), on
    :meth:`Objective.scaled <scalinglab.fit.objectives.Objective.scaled>`."""
    law, X, logy, w = problem.free_law, problem.X, problem.logy, problem.w
    delta, base = objective.delta, objective.base
    z = z0.copy()
    W = float(np.sum(w))

    def resid(zz: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            r = law.log_value(zz[None, :], X)[0] - logy
        return np.where(np.isfinite(r), r, _BAD_RESIDUAL)

    def sigma_step(r: np.ndarray) -> float:
        f = lambda s: float(np.sum(w * base.loss(r * math.exp(-s))) + W * s)  # noqa: E731
        scale0 = math.log(max(float(np.mean(np.abs(r))), 1e-12))
        res = minimize_scalar(f, bounds=(scale0 - 20.0, scale0 + 20.0), method="bounded",
                              options={"xatol": 1e-12})
        return math.exp(float(res.x))

    sigma = sigma_step(resid(z))
    nll = likelihood_nll(resid(z), w, sigma, delta)
    for _ in range(max_rounds):
        if streamed:
            z, _ = polish_streamed(problem, objective.scaled(sigma), z, chunk_elems=chunk_elems)
        else:
            z, _ = refine(problem, objective.scaled(sigma), z)
        sigma = sigma_step(resid(z))
        new = likelihood_nll(resid(z), w, sigma, delta)
        done = abs(nll - new) <= 1e-13 * max(1.0, abs(new))
        nll = new
        if done:
            break
    return z, nll, sigma


def gradient_norm(problem: FitProblem, objective: Objective, z: np.ndarray,
                  chunk_elems: int = CHUNK_ELEMS) -> float:
    """Norm of the objective's gradient at ``z`` (internal coordinates of the free law), free
    directions only: components pushing against an active bound are left out. Streamed over
    the points in blocks of ``chunk_elems`` (points x params) elements (one block for small
    tables). ``huber-likelihood``: pass the objective at its scale
    (:meth:`Objective.scaled <scalinglab.fit.objectives.Objective.scaled>`)."""
    law, X, logy, w = problem.free_law, problem.X, problem.logy, problem.w
    base = objective.base
    n = X.shape[1]
    step = max(1, chunk_elems // max(z.size, 1))
    g = np.zeros(z.size)
    for s in range(0, n, step):
        with np.errstate(all="ignore"):
            lv, jac = law.log_value_and_jac(z[None, :], X[:, s : s + step])
        r = lv[0] - logy[s : s + step]
        g = g + jac[0].T @ (w[s : s + step] * base.psi(r))
    lo, hi = law.internal_bounds()
    at_lo = np.isclose(z, lo, rtol=0, atol=1e-8) & (g > 0)
    at_hi = np.isclose(z, hi, rtol=0, atol=1e-8) & (g < 0)
    g = np.where(at_lo | at_hi, 0.0, g)
    return float(np.linalg.norm(g))


def _normal_equations(problem: FitProblem, objective: Objective, z: np.ndarray,
                      chunk_elems: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Objective, gradient and two Gauss-Newton matrices of one start ``z`` on all points, in
    one pass over blocks of ``chunk_elems`` (points x params) elements.

    Residuals that are not finite count as :data:`_BAD_RESIDUAL` with a zero Jacobian row (as
    in :func:`refine`). The matrices are ``J' diag(w c) J``: with the loss's exact second
    derivative ``c`` (:meth:`Objective.curvature
    <scalinglab.fit.objectives.Objective.curvature>`) and with the iteratively-reweighted
    majoriser's (:meth:`Objective.irls_weight
    <scalinglab.fit.objectives.Objective.irls_weight>`; the same for ``mse``).
    """
    law, X, logy, w = problem.free_law, problem.X, problem.logy, problem.w
    base = objective.base
    n, P = X.shape[1], z.size
    step = max(1, chunk_elems // max(P, 1))
    F, g = 0.0, np.zeros(P)
    H_exact, H_mm = np.zeros((P, P)), np.zeros((P, P))
    for s in range(0, n, step):
        with np.errstate(all="ignore"):
            lv, jac = law.log_value_and_jac(z[None, :], X[:, s : s + step])
        r, J = _finite_rows(lv[0] - logy[s : s + step], jac[0])
        ws = w[s : s + step]
        F += float(np.sum(ws * base.loss(r)))
        g += J.T @ (ws * base.psi(r))
        H_exact += (J.T * (ws * base.curvature(r))) @ J
        if not base.squares:
            H_mm += (J.T * (ws * base.irls_weight(r))) @ J
    return F, g, H_exact, (H_exact.copy() if base.squares else H_mm)


def polish_streamed(problem: FitProblem, objective: Objective, z0: np.ndarray,
                    max_iter: int = 500, chunk_elems: int = CHUNK_ELEMS
                    ) -> tuple[np.ndarray, float]:
    """Polish one start on all points, streamed (the large-table counterpart of :func:`refine`);
    returns (z, objective as a sum over points).

    Every trial point costs one pass of :func:`_normal_equations`, so memory is a few blocks
    whatever the number of points. The step solves ``(H + mu (M - H) + lam diag(M)) s = -g``
    with ``H`` the exact Gauss-Newton matrix and ``M`` the reweighting majoriser's: ``mu = 1,
    lam = 0`` is an iteratively-reweighted (majorise-minimise) step, which lowers the Huber
    loss even where almost no residual lies inside ``delta`` (``huber-likelihood``, whose
    ``delta sigma`` is tiny, is an L1 fit), ``mu -> 0`` a Newton step, which converges in a few
    passes where many do. A step is kept only where it lowers the objective: then ``lam``, once
    0, ``mu`` shrink; otherwise ``mu`` grows to 1, then ``lam`` from 1e-4. Parameters at a
    bound whose gradient pushes outward are held for that step (projected steps). Stops when
    the step's first-order decrease, or two kept steps' actual decrease, is below 1e-14
    (relative), or when no step lowers the objective even with heavy damping.
    """
    lo, hi = problem.free_law.internal_bounds()
    base = objective.base
    z = np.clip(np.array(z0, float), lo, hi)
    F, g, H, M = _normal_equations(problem, base, z, chunk_elems)
    mu, lam, quiet = 1.0, 0.0, 0
    for _ in range(max_iter):
        free = ~(((z <= lo) & (g > 0)) | ((z >= hi) & (g < 0)))
        ix = np.ix_(free, free)
        d = np.maximum(np.diag(M[ix]), 1e-12)
        A = H[ix] + mu * (M[ix] - H[ix]) + np.diag(lam * d)
        try:
            sf = -np.linalg.solve(A, g[free])
        except np.linalg.LinAlgError:
            sf = -g[free] / (d * (1.0 + lam))
        step = np.zeros_like(z)
        step[free] = np.where(np.isfinite(sf), sf, 0.0)
        zn = np.clip(z + step, lo, hi)
        if -(g @ (zn - z)) <= 2e-14 * abs(F):
            break
        Fn, gn, Hn, Mn = _normal_equations(problem, base, zn, chunk_elems)
        if Fn < F:
            quiet = quiet + 1 if F - Fn <= 1e-14 * abs(F) else 0
            z, F, g, H, M = zn, Fn, gn, Hn, Mn
            if lam > 0.0:
                lam = lam / 4.0 if lam > 1e-9 else 0.0
            else:
                mu = max(mu / 4.0, 1e-9)
            if quiet >= 2:
                break
        elif mu < 1.0 and not base.squares:
            mu = min(1.0, mu * 8.0)
        else:
            lam = max(lam * 8.0, 1e-4)
            if lam > 1e12:
                break
    return z, float(F)


def batched_lm(problem: FitProblem, objective: Objective, Z: np.ndarray,
               max_iter: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Levenberg-Marquardt on many starts at once (rows of ``Z``); returns (Z, objectives).

    For the Huber loss each step solves the Gauss-Newton system with IRLS weights
    ``min(1, delta/|r|)`` (a quadratic majoriser of the Huber loss), damped per start; a step is
    kept only where it lowers that start's objective.
    """
    law, X, logy, w = problem.free_law, problem.X, problem.logy, problem.w
    base = objective.base
    lo, hi = law.internal_bounds()
    Z = np.clip(np.array(Z, float), lo, hi)

    def evaluate(Zs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(all="ignore"):
            lv, J = law.log_value_and_jac(Zs, X)
        r = lv - logy
        return r, np.where(np.isfinite(J), J, 0.0), base.value(r, w)

    r, J, F = evaluate(Z)
    lam = np.full(len(Z), 1e-2)
    diag = np.arange(Z.shape[1])
    quiet = np.zeros(len(Z), int)
    for _ in range(max_iter):
        rr = np.where(np.isfinite(r), r, _BAD_RESIDUAL)
        c, psi = w * base.irls_weight(rr), w * base.psi(rr)
        Jt = J.transpose(0, 2, 1)
        g = (Jt @ psi[..., None])[..., 0]
        H = (Jt * c[:, None, :]) @ J
        d = np.maximum(H[:, diag, diag], 1e-12)
        H[:, diag, diag] += lam[:, None] * d
        try:
            step = -np.linalg.solve(H, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -g / (d * (1.0 + lam[:, None]))
        step = np.where(np.isfinite(step), step, 0.0)
        Zn = np.clip(Z + step, lo, hi)
        rn, Jn, Fn = evaluate(Zn)
        acc = Fn < F
        gain = np.where(acc, (F - Fn) / np.maximum(np.abs(F), 1e-300), 0.0)
        Z[acc], F[acc], r[acc], J[acc] = Zn[acc], Fn[acc], rn[acc], Jn[acc]
        lam = np.where(acc, lam / 3.0, lam * 4.0)
        quiet = np.where(gain < 1e-9, quiet + 1, 0)
        if np.all((quiet >= 2) | (lam > 1e12)):
            break
    return Z, F


def multistart(problem: FitProblem, objective: Objective, grid: np.ndarray | None = None,
               refine_top: int = 16, polish_top: int = 2, *,
               subsample: int | None = SCAN_POINTS,
               chunk_elems: int = CHUNK_ELEMS) -> OptimumInfo:
    """Global fit: vectorised grid scan, batched refinement of the ``refine_top`` best starts,
    tight polishing of the ``polish_top`` best of those.

    ``grid``: the start points (free internal coordinates); default the free law's start grid
    for these data (:meth:`FitProblem.start_grid
    <scalinglab.fit.problem.FitProblem.start_grid>`). ``subsample``: with more points than
    this, scan and batch-refine on a stratified subsample of about this many points, then rank
    and polish on all points, streamed in blocks of ``chunk_elems`` elements (see the module
    docstring); ``None`` or 0: every step on all points whatever their number (the method of
    small tables, for comparisons).
    """
    if grid is None:
        grid = problem.start_grid()
    n = problem.n
    streamed = bool(subsample and n > subsample)
    if streamed:
        idx, ws = stratified_subsample(problem.X, problem.w, int(subsample or 0))
        scan = problem.subset(idx, ws)
    else:
        scan = problem
    vals = grid_objective(scan, objective, grid)
    order = _ranked_starts(problem.free_law, vals, grid)
    starts = grid[order[: max(1, refine_top)]]
    Z, F = batched_lm(scan, objective, starts)
    if streamed:  # rank the refined starts on all points: the subsample's optimum is only near
        ranked = objective_values(problem, objective, Z, chunk_elems)
    else:
        ranked = F
    cand = np.argsort(ranked, kind="stable")[: max(1, polish_top)]
    results = [_polish(problem, objective, Z[i], streamed, chunk_elems) for i in cand]
    objs = np.array([r[0] for r in results])
    best = int(np.argmin(objs))
    obj, z, sig = results[best]
    if objective.likelihood:  # the polished candidates
        n_at_best = _within(objs, obj)
    elif streamed:  # the refined starts within 1e-6 of the lowest objective, on the subsample
        n_at_best = _within(F, float(np.min(F)), one_sided=True)
    else:  # starts whose (batched, or polished) objective is within 1e-6 of the best
        F[cand] = objs
        n_at_best = _within(F, obj)
    gn = gradient_norm(problem, objective.scaled(sig) if sig is not None else objective, z,
                       chunk_elems)
    scale = max(float(np.sum(problem.w)), 1.0) * (1.0 if objective.squares else objective.delta)
    return OptimumInfo(z=z, objective=float(obj), sigma=sig, n_starts=int(grid.shape[0]),
                       n_refined=int(starts.shape[0]), n_at_best=n_at_best,
                       converged=bool(gn <= 1e-6 * scale), grad_norm=gn,
                       n_scan_points=scan.n)


def _within(values: np.ndarray, best: float, one_sided: bool = False) -> int:
    """How many ``values`` lie within 1e-6 (relative) of ``best`` (``one_sided``: at most that
    far above it)."""
    tol = 1e-6 * max(abs(best), 1e-300)
    d = values - best
    return int(np.sum((d if one_sided else np.abs(d)) <= tol))


def _polish(problem: FitProblem, objective: Objective, z0: np.ndarray, streamed: bool,
            chunk_elems: int) -> tuple[float, np.ndarray, float | None]:
    """One candidate polished on all points: (objective, z, sigma or None). ``streamed``: by
    :func:`polish_streamed` (large tables), else by :func:`refine`; ``huber-likelihood`` then
    alternates with the scale step (:func:`refine_likelihood`)."""
    if streamed:
        z, obj = polish_streamed(problem, objective, z0, chunk_elems=chunk_elems)
    else:
        z, obj = refine(problem, objective, z0)
    if not objective.likelihood:
        return obj, z, None
    z, obj, sig = refine_likelihood(problem, objective, z, streamed=streamed,
                                    chunk_elems=chunk_elems)
    return obj, z, sig


def _ranked_starts(law: Law, vals: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Grid rows with a finite scan objective, best first (ties in grid order)."""
    finite = np.flatnonzero(np.isfinite(vals))
    if finite.size == 0:
        raise FitError(f"law {law.name!r}: the objective is not finite at any of the "
                       f"{grid.shape[0]} start points (predictions not positive?)")
    return finite[np.argsort(vals[finite], kind="stable")]

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

Fixed parameters (``fit(..., fixed={"E": 1.69})``): :func:`hold` wraps the law in a
:class:`Held` law whose parameters are the free ones only. Every step above then works on the
free internal coordinates: the start grid is the product of the free parameters' start values,
and the held values are inserted (in internal coordinates) before the law is evaluated, their
Jacobian columns dropped. :meth:`Held.expand` gives the full internal vector back.

Everything is deterministic: the grid is fixed, ties are broken by grid order, the subsample is
drawn with a fixed seed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, least_squares, minimize_scalar

from scalinglab.errors import FitError
from scalinglab.fit.objectives import huber, likelihood_nll, summed
from scalinglab.laws.base import Law

_BAD_RESIDUAL = 10.0  # stands in for a residual where the prediction is not positive

#: tables with more points than this are scanned and pre-refined on a stratified subsample of
#: about this many points (see the module docstring); smaller ones use every point throughout
SCAN_POINTS = 4096
#: elements (points x params, or points x starts) per block of the streamed full-data passes
CHUNK_ELEMS = 1 << 17  # 1 MiB of float64: blocks stay in cache (measured faster than larger)


@dataclass
class OptimumInfo:
    z: np.ndarray  # internal coordinates
    objective: float
    sigma: float | None
    n_starts: int
    n_refined: int
    n_at_best: int  # refined starts that ended within 1e-6 (relative) of the best objective
    converged: bool
    grad_norm: float
    n_scan_points: int = 0  # points the grid scan saw (all of them unless subsampled)


@dataclass
class Held(Law):
    """``base`` with the parameters in ``values`` held at those values (natural units): a law
    in the remaining (free) parameters, with ``base``'s name, variables and bounds.

    Predictions and Jacobians are ``base``'s at the full internal vector (free coordinates
    and the held ones, see :meth:`expand`), the held parameters' Jacobian columns left out.
    """

    base: Law
    values: dict[str, float]

    def __post_init__(self) -> None:
        b = self.base
        self.name, self.formula, self.reference = b.name, b.formula, b.reference
        self.variables = b.variables
        held = [i for i, p in enumerate(b.params) if p.name in self.values]
        self._free = np.array([i for i in range(b.n_params) if i not in held], int)
        self._held = np.array(held, int)
        self._held_z = np.array([b.params[i].to_internal(self.values[b.params[i].name])
                                 for i in held], float)
        self.params = tuple(b.params[i] for i in self._free)

    def expand(self, z: np.ndarray) -> np.ndarray:
        """Free internal coordinates ``(..., F)`` to the base law's ``(..., P)``."""
        z = np.asarray(z)
        out = np.empty((*z.shape[:-1], self.base.n_params),
                       dtype=z.dtype if z.dtype.kind == "f" else float)
        out[..., self._free] = z
        out[..., self._held] = self._held_z
        return out

    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v, j = self.base.value_and_jac(self.expand(z), X)
        return v, j[..., self._free]

    def log_value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lv, j = self.base.log_value_and_jac(self.expand(z), X)
        return lv, j[..., self._free]

    def log_value(self, z: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self.base.log_value(self.expand(z), X)

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        return self.base.derived({**self.values, **params})

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        return {k: v for k, v in self.base.data_init(X, y).items() if k not in self.values}


def hold(law: Law, values: Mapping[str, float] | None) -> Law:
    """``law`` with the parameters in ``values`` held (a :class:`Held` law); ``law`` itself
    when nothing is held. Names must be parameters of ``law`` (checked by the caller)."""
    return Held(law, dict(values)) if values else law


def full_internal(law: Law, z: np.ndarray) -> np.ndarray:
    """The full internal vector of the law behind ``law`` (``z`` itself unless held)."""
    return law.expand(z) if isinstance(law, Held) else np.asarray(z)


def grid_objective(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, grid: np.ndarray,
                   kind: str, delta: float, chunk_elems: int = 2_000_000) -> np.ndarray:
    """Objective at every start point (rows of ``grid``); ``inf`` where not finite."""
    # The scan only ranks the starts, so it runs in float32 (half the memory traffic); the
    # refinement that follows is in float64.
    n = X.shape[1]
    step = max(1, chunk_elems // max(n, 1))
    out = np.empty(grid.shape[0])
    X32, logy32, w32 = X.astype(np.float32), logy.astype(np.float32), w.astype(np.float32)
    g32 = grid.astype(np.float32)
    with np.errstate(all="ignore"):
        for s in range(0, grid.shape[0], step):
            lv = law.log_value(g32[s : s + step], X32)
            lv -= logy32
            out[s : s + step] = summed(lv, w32, "mse" if kind == "mse" else "huber", delta)
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


def objective_values(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, Z: np.ndarray,
                     kind: str, delta: float, chunk_elems: int = CHUNK_ELEMS) -> np.ndarray:
    """Objective (float64, summed over all points) at each row of ``Z``, streamed over the
    points in blocks of about ``chunk_elems`` (rows x points) elements; ``inf`` where not
    finite (as :func:`~scalinglab.fit.objectives.summed`). ``huber-likelihood`` ranks by the
    plain Huber sum."""
    Z = np.atleast_2d(np.asarray(Z, float))
    n = X.shape[1]
    step = max(1, chunk_elems // max(Z.shape[0], 1))
    kind = "mse" if kind == "mse" else "huber"
    out = np.zeros(Z.shape[0])
    with np.errstate(all="ignore"):
        for s in range(0, n, step):
            r = law.log_value(Z, X[:, s : s + step]) - logy[s : s + step]
            out += summed(r, w[s : s + step], kind, delta)
    return out


class _Problem:
    """Residuals and Jacobian of one start, with a one-entry cache (``least_squares`` asks for
    the residuals and the Jacobian at the same point separately)."""

    def __init__(self, law: Law, X: np.ndarray, logy: np.ndarray, scale: np.ndarray) -> None:
        self.law, self.X, self.logy, self.scale = law, X, logy, scale
        self._z: np.ndarray | None = None
        self._r = self._j = np.empty(0)

    def _eval(self, z: np.ndarray) -> None:
        if self._z is None or not np.array_equal(z, self._z):
            with np.errstate(all="ignore"):
                lv, jac = self.law.log_value_and_jac(z[None, :], self.X)
            r = lv[0] - self.logy
            j = jac[0]
            bad = ~np.isfinite(r)
            if bad.any():
                r = np.where(bad, _BAD_RESIDUAL, r)
                j = np.where(bad[:, None], 0.0, j)
            j = np.where(np.isfinite(j), j, 0.0)
            self._z, self._r, self._j = z.copy(), r * self.scale, j * self.scale[:, None]

    def fun(self, z: np.ndarray) -> np.ndarray:
        self._eval(z)
        return self._r

    def jac(self, z: np.ndarray) -> np.ndarray:
        self._eval(z)
        return self._j


def _weighted_huber_loss(w: np.ndarray, delta: float):
    """``least_squares`` robust loss for ``sum w_i Huber_delta(f_i)`` (``f_scale`` = 1).

    ``least_squares`` minimises ``0.5 * sum rho(f^2)``; with ``rho = 2 w Huber_delta(sqrt z)``
    that is the weighted Huber sum.
    """

    def rho(z: np.ndarray) -> np.ndarray:
        out = np.empty((3, z.size))
        inner = z <= delta * delta
        sz = np.sqrt(np.maximum(z, 1e-300))
        out[0] = np.where(inner, w * z, w * (2 * delta * sz - delta * delta))
        out[1] = np.where(inner, w, w * delta / sz)
        out[2] = np.where(inner, 0.0, -0.5 * w * delta / (sz * np.maximum(z, 1e-300)))
        return out

    return rho


def refine(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, z0: np.ndarray,
           kind: str, delta: float, max_nfev: int = 400) -> tuple[np.ndarray, float]:
    """Refine one start; returns (z, objective as a sum over points)."""
    lo, hi = law.internal_bounds()
    # keep the start strictly inside finite bounds (trf needs an interior point)
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    z0 = np.clip(z0, lo + 1e-10 * span, hi - 1e-10 * span)
    unit = bool(np.all(w == 1.0))
    if kind == "mse":
        prob = _Problem(law, X, logy, np.sqrt(w))
        loss, f_scale = "linear", 1.0
    else:
        prob = _Problem(law, X, logy, np.ones_like(w))
        loss, f_scale = ("huber", delta) if unit else (_weighted_huber_loss(w, delta), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        res = least_squares(prob.fun, z0, jac=prob.jac, bounds=(lo, hi), method="trf",
                            loss=loss, f_scale=f_scale, x_scale="jac", ftol=1e-15, xtol=1e-15,
                            gtol=1e-15, max_nfev=max_nfev)
    r = prob.fun(res.x) / prob.scale
    obj = float(summed(r, w, kind, delta))
    return res.x, obj


def refine_likelihood(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray,
                      z0: np.ndarray, delta: float, max_rounds: int = 100, *,
                      streamed: bool = False, chunk_elems: int = CHUNK_ELEMS
                      ) -> tuple[np.ndarray, float, float]:
    """Huber-likelihood fit (parameters and scale sigma) by alternating minimisation.

    The parameter step is :func:`refine` (SciPy's ``least_squares``), or with ``streamed`` the
    streamed full-data polish :func:`polish_streamed` (large tables)."""
    z = z0.copy()
    W = float(np.sum(w))

    def resid(zz: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            r = law.log_value(zz[None, :], X)[0] - logy
        return np.where(np.isfinite(r), r, _BAD_RESIDUAL)

    def sigma_step(r: np.ndarray) -> float:
        f = lambda s: float(np.sum(w * huber(r * math.exp(-s), delta)) + W * s)  # noqa: E731
        scale0 = math.log(max(float(np.mean(np.abs(r))), 1e-12))
        res = minimize_scalar(f, bounds=(scale0 - 20.0, scale0 + 20.0), method="bounded",
                              options={"xatol": 1e-12})
        return math.exp(float(res.x))

    sigma = sigma_step(resid(z))
    nll = likelihood_nll(resid(z), w, sigma, delta)
    for _ in range(max_rounds):
        if streamed:
            z, _ = polish_streamed(law, X, logy, w, z, "huber", delta * sigma,
                                   chunk_elems=chunk_elems)
        else:
            z, _ = refine(law, X, logy, w, z, "huber", delta * sigma)
        sigma = sigma_step(resid(z))
        new = likelihood_nll(resid(z), w, sigma, delta)
        done = abs(nll - new) <= 1e-13 * max(1.0, abs(new))
        nll = new
        if done:
            break
    return z, nll, sigma


def gradient_norm(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, z: np.ndarray,
                  kind: str, delta: float, chunk_elems: int = CHUNK_ELEMS) -> float:
    """Norm of the objective's gradient at ``z`` (internal coordinates), free directions only:
    components pushing against an active bound are left out. Streamed over the points in
    blocks of ``chunk_elems`` (points x params) elements (one block for small tables)."""
    n = X.shape[1]
    step = max(1, chunk_elems // max(z.size, 1))
    g = np.zeros(z.size)
    for s in range(0, n, step):
        with np.errstate(all="ignore"):
            lv, jac = law.log_value_and_jac(z[None, :], X[:, s : s + step])
        r = lv[0] - logy[s : s + step]
        psi = 2 * r if kind == "mse" else np.clip(r, -delta, delta)
        g = g + jac[0].T @ (w[s : s + step] * psi)
    lo, hi = law.internal_bounds()
    at_lo = np.isclose(z, lo, rtol=0, atol=1e-8) & (g > 0)
    at_hi = np.isclose(z, hi, rtol=0, atol=1e-8) & (g < 0)
    g = np.where(at_lo | at_hi, 0.0, g)
    return float(np.linalg.norm(g))


def _normal_equations(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, z: np.ndarray,
                      kind: str, delta: float, chunk_elems: int
                      ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Objective, gradient and two Gauss-Newton matrices of one start ``z`` on all points, in
    one pass over blocks of ``chunk_elems`` (points x params) elements.

    Residuals that are not finite count as :data:`_BAD_RESIDUAL` with a zero Jacobian row (as
    in :func:`refine`). The matrices are ``J' diag(w c) J``: with the loss's exact second
    derivative ``c`` (2 for ``mse``; for Huber 1 inside ``|r| <= delta``, 0 beyond) and with the
    iteratively-reweighted majoriser's ``c = min(1, delta/|r|)`` (the same for ``mse``).
    """
    n, P = X.shape[1], z.size
    step = max(1, chunk_elems // max(P, 1))
    F, g = 0.0, np.zeros(P)
    H_exact, H_mm = np.zeros((P, P)), np.zeros((P, P))
    for s in range(0, n, step):
        with np.errstate(all="ignore"):
            lv, jac = law.log_value_and_jac(z[None, :], X[:, s : s + step])
        r, J = lv[0] - logy[s : s + step], jac[0]
        ws = w[s : s + step]
        bad = ~np.isfinite(r)
        if bad.any():
            r = np.where(bad, _BAD_RESIDUAL, r)
            J = np.where(bad[:, None], 0.0, J)
        J = np.where(np.isfinite(J), J, 0.0)
        if kind == "mse":
            F += float(np.sum(ws * r * r))
            g += J.T @ (2.0 * ws * r)
            H_exact += (J.T * (2.0 * ws)) @ J
            continue
        a = np.abs(r)
        F += float(np.sum(ws * huber(r, delta)))
        g += J.T @ (ws * np.clip(r, -delta, delta))
        H_exact += (J.T * np.where(a <= delta, ws, 0.0)) @ J
        H_mm += (J.T * (ws * np.minimum(1.0, delta / np.maximum(a, 1e-300)))) @ J
    return F, g, H_exact, (H_exact.copy() if kind == "mse" else H_mm)


def polish_streamed(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, z0: np.ndarray,
                    kind: str, delta: float, max_iter: int = 500,
                    chunk_elems: int = CHUNK_ELEMS) -> tuple[np.ndarray, float]:
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
    lo, hi = law.internal_bounds()
    kind = "mse" if kind == "mse" else "huber"
    z = np.clip(np.array(z0, float), lo, hi)
    F, g, H, M = _normal_equations(law, X, logy, w, z, kind, delta, chunk_elems)
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
        Fn, gn, Hn, Mn = _normal_equations(law, X, logy, w, zn, kind, delta, chunk_elems)
        if Fn < F:
            quiet = quiet + 1 if F - Fn <= 1e-14 * abs(F) else 0
            z, F, g, H, M = zn, Fn, gn, Hn, Mn
            if lam > 0.0:
                lam = lam / 4.0 if lam > 1e-9 else 0.0
            else:
                mu = max(mu / 4.0, 1e-9)
            if quiet >= 2:
                break
        elif mu < 1.0 and kind != "mse":
            mu = min(1.0, mu * 8.0)
        else:
            lam = max(lam * 8.0, 1e-4)
            if lam > 1e12:
                break
    return z, float(F)


def batched_lm(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, Z: np.ndarray,
               kind: str, delta: float, max_iter: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Levenberg-Marquardt on many starts at once (rows of ``Z``); returns (Z, objectives).

    For the Huber loss each step solves the Gauss-Newton system with IRLS weights
    ``min(1, delta/|r|)`` (a quadratic majoriser of the Huber loss), damped per start; a step is
    kept only where it lowers that start's objective.
    """
    lo, hi = law.internal_bounds()
    Z = np.clip(np.array(Z, float), lo, hi)
    kind = "mse" if kind == "mse" else "huber"

    def evaluate(Zs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(all="ignore"):
            lv, J = law.log_value_and_jac(Zs, X)
        r = lv - logy
        return r, np.where(np.isfinite(J), J, 0.0), summed(r, w, kind, delta)

    r, J, F = evaluate(Z)
    lam = np.full(len(Z), 1e-2)
    diag = np.arange(Z.shape[1])
    quiet = np.zeros(len(Z), int)
    for _ in range(max_iter):
        rr = np.where(np.isfinite(r), r, _BAD_RESIDUAL)
        if kind == "mse":
            c, psi = np.broadcast_to(2.0 * w, rr.shape), 2.0 * w * rr
        else:
            c = w * np.minimum(1.0, delta / np.maximum(np.abs(rr), 1e-300))
            psi = w * np.clip(rr, -delta, delta)
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


def multistart(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, kind: str,
               delta: float, grid: np.ndarray, refine_top: int = 16,
               polish_top: int = 2, *, subsample: int | None = SCAN_POINTS,
               chunk_elems: int = CHUNK_ELEMS) -> OptimumInfo:
    """Global fit: vectorised grid scan, batched refinement of the ``refine_top`` best starts,
    tight polishing of the ``polish_top`` best of those.

    ``subsample``: with more points than this, scan and batch-refine on a stratified
    subsample of about this many points, then rank and polish on all points, streamed in
    blocks of ``chunk_elems`` elements (see the module docstring); ``None`` or 0: every step
    on all points whatever their number (the method of small tables, for comparisons).
    """
    n = X.shape[1]
    if subsample and n > subsample:
        return _multistart_subsampled(law, X, logy, w, kind, delta, grid, refine_top,
                                      polish_top, int(subsample), chunk_elems)
    vals = grid_objective(law, X, logy, w, grid, kind, delta)
    order = _ranked_starts(law, vals, grid)
    starts = grid[order[: max(1, refine_top)]]
    Z, F = batched_lm(law, X, logy, w, starts, kind, delta)
    cand = np.argsort(F, kind="stable")[: max(1, polish_top)]
    results: list[tuple[float, np.ndarray, float | None]] = []
    for i in cand:
        if kind == "huber-likelihood":
            z, _ = refine(law, X, logy, w, Z[i], "huber", delta)
            z, obj, sig = refine_likelihood(law, X, logy, w, z, delta)
            results.append((obj, z, sig))
        else:
            z, obj = refine(law, X, logy, w, Z[i], kind, delta)
            results.append((obj, z, None))
    objs = np.array([r[0] for r in results])
    best = int(np.argmin(objs))
    obj, z, sig = results[best]
    tol = 1e-6 * max(abs(obj), 1e-300)
    if kind == "huber-likelihood":
        n_at_best = int(np.sum(np.abs(objs - obj) <= tol))
    else:  # starts whose (batched, or polished) objective is within 1e-6 of the best
        F[cand] = objs
        n_at_best = int(np.sum(np.abs(F - obj) <= tol))
    return _info(law, X, logy, w, kind, delta, z, obj, sig, grid, starts.shape[0], n_at_best,
                 n, chunk_elems)


def _ranked_starts(law: Law, vals: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Grid rows with a finite scan objective, best first (ties in grid order)."""
    finite = np.flatnonzero(np.isfinite(vals))
    if finite.size == 0:
        raise FitError(f"law {law.name!r}: the objective is not finite at any of the "
                       f"{grid.shape[0]} start points (predictions not positive?)")
    return finite[np.argsort(vals[finite], kind="stable")]


def _info(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, kind: str, delta: float,
          z: np.ndarray, obj: float, sig: float | None, grid: np.ndarray, n_refined: int,
          n_at_best: int, n_scan: int, chunk_elems: int) -> OptimumInfo:
    """The :class:`OptimumInfo` of the optimum ``z``: gradient norm and convergence verdict."""
    gn = gradient_norm(law, X, logy, w, z, "huber" if kind != "mse" else "mse",
                       delta * (sig or 1.0), chunk_elems)
    scale = max(float(np.sum(w)), 1.0) * (delta if kind != "mse" else 1.0)
    return OptimumInfo(z=z, objective=float(obj), sigma=sig, n_starts=int(grid.shape[0]),
                       n_refined=int(n_refined), n_at_best=n_at_best,
                       converged=bool(gn <= 1e-6 * scale), grad_norm=gn,
                       n_scan_points=int(n_scan))


def _multistart_subsampled(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, kind: str,
                           delta: float, grid: np.ndarray, refine_top: int, polish_top: int,
                           size: int, chunk_elems: int) -> OptimumInfo:
    """:func:`multistart` on a large table: scan and batched refinement on a stratified
    subsample, ranking and streamed polishing on all points (see the module docstring)."""
    idx, ws = stratified_subsample(X, w, size)
    Xs, ls = X[:, idx], logy[idx]
    vals = grid_objective(law, Xs, ls, ws, grid, kind, delta)
    order = _ranked_starts(law, vals, grid)
    starts = grid[order[: max(1, refine_top)]]
    Zs, Fs = batched_lm(law, Xs, ls, ws, starts, kind, delta)
    # rank the refined starts on all points: the subsample's optimum is only near the full one
    Ff = objective_values(law, X, logy, w, Zs, kind, delta, chunk_elems)
    cand = np.argsort(Ff, kind="stable")[: max(1, polish_top)]
    results: list[tuple[float, np.ndarray, float | None]] = []
    for i in cand:
        if kind == "huber-likelihood":
            z, _ = polish_streamed(law, X, logy, w, Zs[i], "huber", delta,
                                   chunk_elems=chunk_elems)
            z, obj, sig = refine_likelihood(law, X, logy, w, z, delta, streamed=True,
                                            chunk_elems=chunk_elems)
            results.append((obj, z, sig))
        else:
            z, obj = polish_streamed(law, X, logy, w, Zs[i], kind, delta,
                                     chunk_elems=chunk_elems)
            results.append((obj, z, None))
    objs = np.array([r[0] for r in results])
    best = int(np.argmin(objs))
    obj, z, sig = results[best]
    if kind == "huber-likelihood":  # as for small tables: the polished candidates
        n_at_best = int(np.sum(np.abs(objs - obj) <= 1e-6 * max(abs(obj), 1e-300)))
    else:  # the refined starts within 1e-6 of the lowest objective, judged on the subsample
        low = float(np.min(Fs))
        n_at_best = int(np.sum(Fs - low <= 1e-6 * max(abs(low), 1e-300)))
    return _info(law, X, logy, w, kind, delta, z, obj, sig, grid, starts.shape[0], n_at_best,
                 idx.size, chunk_elems)

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

Fixed parameters (``fit(..., fixed={"E": 1.69})``): :func:`hold` wraps the law in a
:class:`Held` law whose parameters are the free ones only. Every step above then works on the
free internal coordinates: the start grid is the product of the free parameters' start values,
and the held values are inserted (in internal coordinates) before the law is evaluated, their
Jacobian columns dropped. :meth:`Held.expand` gives the full internal vector back.

Everything is deterministic: the grid is fixed, ties are broken by grid order.
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


@dataclass
class OptimumInfo:
    z: np.ndarray  # internal coordinates
    objective: float
    sigma: float | None
    n_starts: int
    n_refined: int
    n_at_best: int  # refined starts that ended within 1e-9 (relative) of the best objective
    converged: bool
    grad_norm: float


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
                      z0: np.ndarray, delta: float, max_rounds: int = 100
                      ) -> tuple[np.ndarray, float, float]:
    """Huber-likelihood fit (parameters and scale sigma) by alternating minimisation."""
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
        z, _ = refine(law, X, logy, w, z, "huber", delta * sigma)
        sigma = sigma_step(resid(z))
        new = likelihood_nll(resid(z), w, sigma, delta)
        done = abs(nll - new) <= 1e-13 * max(1.0, abs(new))
        nll = new
        if done:
            break
    return z, nll, sigma


def gradient_norm(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, z: np.ndarray,
                  kind: str, delta: float) -> float:
    """Norm of the objective's gradient at ``z`` (internal coordinates), free directions only:
    components pushing against an active bound are left out."""
    with np.errstate(all="ignore"):
        lv, jac = law.log_value_and_jac(z[None, :], X)
    r = lv[0] - logy
    psi = 2 * r if kind == "mse" else np.clip(r, -delta, delta)
    g = jac[0].T @ (w * psi)
    lo, hi = law.internal_bounds()
    at_lo = np.isclose(z, lo, rtol=0, atol=1e-8) & (g > 0)
    at_hi = np.isclose(z, hi, rtol=0, atol=1e-8) & (g < 0)
    g = np.where(at_lo | at_hi, 0.0, g)
    return float(np.linalg.norm(g))


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
               polish_top: int = 2) -> OptimumInfo:
    """Global fit: vectorised grid scan, batched refinement of the ``refine_top`` best starts,
    tight polishing of the ``polish_top`` best of those."""
    vals = grid_objective(law, X, logy, w, grid, kind, delta)
    finite = np.flatnonzero(np.isfinite(vals))
    if finite.size == 0:
        raise FitError(f"law {law.name!r}: the objective is not finite at any of the "
                       f"{grid.shape[0]} start points (predictions not positive?)")
    order = finite[np.argsort(vals[finite], kind="stable")]
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
    gn = gradient_norm(law, X, logy, w, z, "huber" if kind != "mse" else "mse",
                       delta * (sig or 1.0))
    scale = max(float(np.sum(w)), 1.0) * (delta if kind != "mse" else 1.0)
    return OptimumInfo(z=z, objective=float(obj), sigma=sig, n_starts=int(grid.shape[0]),
                       n_refined=int(starts.shape[0]), n_at_best=n_at_best,
                       converged=bool(gn <= 1e-6 * scale), grad_norm=gn)

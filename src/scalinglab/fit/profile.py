"""Profile-likelihood (likelihood-ratio) intervals, and which parameters the data identify.

``fit(df, law, profile=True)`` (or ``profile=["RD", "RN"]``; ``scalinglab fit --profile all``
or ``--profile RD,RN``) profiles the named parameters after the main fit: parameter
``theta_j`` is held at a sequence of values (:func:`scalinglab.fit.optimize.hold`, the
``fixed=`` machinery) and the other free parameters are re-optimised at each one, so the
profile objective ``F_p(theta_j) = min over the others of F`` is traced outwards from the
estimate on both sides.

Cost. Each profile point is one local refinement (SciPy ``least_squares``, the optimiser's
polish step) warm-started from the neighbouring profile point, and once more from the fit's
optimum with ``theta_j`` moved (the better of the two is kept, so a warm start that strayed
into a worse basin does not fake a steep profile; ``huber-likelihood`` uses the warm start
only, its points costing several refits each). The step along ``theta_j`` starts at the
local standard error (from the Gauss-Newton curvature), aims at the predicted crossing of the
threshold (the profile is close to quadratic there) and grows at most 4x per point, so a side
takes about 3 to 8 points (10 - 26 refits per parameter measured, 10 - 30 ms each: 0.1 - 0.3 s
per parameter for Chinchilla on 81 points, about 1 s for all five). It is off by default
(``fit`` stays a single multi-start and the existing results and tests unchanged); it is
opt-in per fit because a law with many parameters, ``huber-likelihood`` (each point
re-fits the scale too) or a large table multiplies that cost.

The statistic. For the ``mse`` and ``huber`` objectives ``F(theta) = sum_i w_i rho(r_i)`` on
log residuals ``r_i``, the drop in objective is turned into a likelihood-ratio statistic by the
"drop-in-dispersion" scaling of M-estimation (Schrader & Hettmansperger 1980, Biometrika 67;
Huber 1981, "Robust Statistics", ch. 7)::

    Lambda(theta_j) = 2 (F_p(theta_j) - F_hat) / kappa,
    kappa = n / (n - p) * sum_i w_i^2 psi(r_i)^2 / sum_i w_i psi'(r_i),

with ``psi = rho'``. Derivation: near the optimum ``F ~ F_hat + (1/2) d' H d`` with
``H = sum w psi' J J'`` (``J``: Jacobian of the log prediction), so the profile drop is
``2 (F_p - F_hat) = d_j^2 / [H^-1]_jj``; the estimator's sandwich covariance is
``H^-1 (sum w^2 psi^2 J J') H^-1 ~ kappa H^-1`` when the score variance is ``kappa`` times
``H`` (exact for equal weights, or precision weights under least squares), so
``Var(theta_j) ~ kappa [H^-1]_jj`` and ``Lambda ~ d_j^2 / Var(theta_j) -> chi-square(1)``.
Special cases: for ``mse`` (``rho = r^2``, ``psi' = 2``) ``kappa = 2 RSS / (n - p)`` and
``Lambda = (RSS_p - RSS) / s^2`` with ``s^2 = RSS / (n - p)``, the classical statistic of
(non)linear least squares; for the Huber loss with every residual inside ``delta``
(``rho = r^2 / 2``) the same with ``F = RSS / 2``; with residuals mostly beyond ``delta``
(Hoffmann's ``delta = 1e-3`` with 0.3 - 1% noise) ``psi`` is clipped, ``kappa`` is about
``delta^2 P(|e| > delta) / P(|e| <= delta)`` and the statistic is the robust one. Two
approximations: ``n / (n - p)`` corrects ``psi^2`` of fitted residuals for the ``p`` fitted
parameters (exact for least squares), and the Huber ``psi' = 1{|r| <= delta}`` is averaged
over a Gaussian kernel around each residual (Silverman's bandwidth on the residuals' robust
SD), which estimates ``P(|e| <= delta)`` smoothly: counting the few residuals inside a small
``delta`` gives a noisy scale (about +-25% on 80 points with 0.5% noise); the kernel biases it
low by a few per cent (intervals a little conservative). For ``huber-likelihood`` the
objective is a negative log-likelihood with a fitted scale sigma (re-fitted at every profile
point by a few alternations of the parameter and scale steps, from the neighbouring point and
the fit's scale to an NLL change below 1e-7), so ``Lambda = 2 (NLL_p - NLL_hat)``. That costs
a few refits per point, each slow at the fitted scale (``delta sigma`` is tiny, the loss nearly
L1): about 5 - 10 s per parameter on 80 points.

The threshold. The interval is ``{theta_j : Lambda(theta_j) <= q}``. For ``mse`` and ``huber``
``q`` is the ``confidence`` quantile of ``F(1, n - p)`` (the square of Student's t with
``n - p`` degrees of freedom: Bates & Watts' profile-t intervals), which tends to the
chi-square(1) quantile as ``n`` grows (3.97 vs 3.84 at 95% with ``n - p = 76``) and makes the
interval exact for a model linear in its parameters (the scale ``s^2`` is estimated, so the
statistic is F, not chi-square, distributed there). For ``huber-likelihood`` ``q`` is the
chi-square(1) quantile. The crossing of ``q`` is located by interpolating ``sqrt(Lambda)``
(linear in ``theta_j`` for a quadratic profile) and refined until ``Lambda`` is within 0.5% of
``q``.

Identification. Each side is walked up to a limit: the parameter's bound where it is finite
(the walk's steps grow, so a far bound costs a few points), else 3 decades (a factor 1000)
from the estimate for a log-scale parameter and ``1000 max(|theta_hat|, 1)`` for a linear
one. A parameter is "not identified" when the statistic stays below ``q`` up to a limit on
either side (the side is open), or when both crossings lie more than 3 decades apart
(log-scale parameters): then there is no interval but a ``flat_range`` (where
``Lambda <= q``, ending at the limit on an open side), a warning ``not identified: parameter
NAME: ...``, and the parameter's bootstrap interval and the derived quantities that depend on
it are marked as not informative (a bootstrap of a flat direction returns wherever the
resamples' optimisers stopped, which looks like an interval but is not one).
:meth:`scalinglab.fit.result.FitResult.unidentified` counts these warnings like the "bound",
"collapsed" and "ill-conditioned" ones, and ``FitResult.not_identified()`` lists the
parameters and the derived quantities concerned.

A profile point whose objective is below the fit's (by more than 1e-9 relative) means the
multi-start missed the global optimum there; it is reported as a ``profile:`` warning and the
statistic is measured from the fit's objective regardless (clipped at 0).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import chdtri, fdtri, ndtr

from scalinglab.errors import FitError, argument_error
from scalinglab.fit.objectives import Objective, likelihood_nll
from scalinglab.fit.optimize import refine
from scalinglab.fit.problem import FitProblem
from scalinglab.fit.records import Diagnostic
from scalinglab.laws.base import Law

#: per side, a log-scale parameter is walked at most this many decades from its estimate
MAX_DECADES = 3.0
#: a linear parameter at most this many times max(|estimate|, 1)
MAX_LINEAR = 1000.0
#: the step along the profiled parameter grows at most this factor per point
MAX_GROWTH = 4.0
#: the crossing is accepted when the statistic is within this fraction of the threshold
CROSS_TOL = 0.005
#: at most this many points to locate one crossing once it is bracketed
MAX_BISECT = 8
#: at most this many points on one side before the crossing is bracketed
MAX_WALK = 40
#: at most this many parameter/scale alternations per huber-likelihood profile point
LIKELIHOOD_ROUNDS = 30


@dataclass
class ProfileOutcome:
    """What :func:`profile_fit` found: per-parameter entries (``FitResult.identification``),
    the settings and statistic used (``FitResult.profile``) and warnings to add to the fit."""

    identification: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)


def resolve_names(law: Law, profile: bool | str | Sequence[str] | None,
                  held: Mapping[str, float] | None = None,
                  option: str = "profile=") -> list[str]:
    """The parameters to profile, in the law's order.

    ``True`` or ``"all"``: every free parameter; ``False``/``None``/empty: none; a name or a
    sequence of names (each may be comma-separated, ``"all"`` among them means all).
    An unknown name, or a held one (``fixed=``; it has no profile), is an
    :class:`OptionError` naming ``option`` that lists the law's free parameters.
    """
    held = dict(held or {})
    free = [n for n in law.param_names if n not in held]
    if profile is None or profile is False:
        return []
    if profile is True:
        return free
    try:
        items = [profile] if isinstance(profile, str) else list(profile)
    except TypeError:
        raise argument_error(option, f"expected True, a parameter name or names, got "
                          f"{profile!r}") from None
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise argument_error(option, f"expected parameter names, got {item!r}")
        names += [s.strip() for s in item.split(",") if s.strip()]
    if "all" in names:
        return free
    takes = f"law {law.name!r} has free parameters {', '.join(free)}"
    unknown = [n for n in names if n not in law.param_names]
    if unknown:
        raise argument_error(option, f"no parameter(s) {', '.join(unknown)} to profile; {takes}")
    fixed = [n for n in names if n in held]
    if fixed:
        raise argument_error(option, f"{', '.join(fixed)} held (fixed=), so not profiled; {takes}")
    return [n for n in law.param_names if n in names]


def _smoothed_inside(r: np.ndarray, delta: float) -> np.ndarray:
    """Per residual, a kernel-smoothed ``1{|r| <= delta}``: ``P(|r + h Z| <= delta)``, ``Z``
    standard normal, ``h`` Silverman's bandwidth on the residuals' robust SD."""
    n = r.size
    mad = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    sd = float(np.std(r))
    spread = min(sd, mad) if mad > 0 else sd
    h = 0.9 * spread * n ** (-0.2)
    if not h > 0:
        return (np.abs(r) <= delta).astype(float)
    return ndtr((delta - r) / h) - ndtr((-delta - r) / h)


def statistic_scale(residuals: np.ndarray, w: np.ndarray, objective: Objective,
                    n_free: int, sigma: float | None = None) -> tuple[float, float]:
    """``(kappa, m)``: the scale that turns twice the drop in objective into the
    likelihood-ratio statistic (see the module docstring; 1 for ``huber-likelihood``), and the
    weighted mean curvature ``m = sum w psi' / sum w`` of the objective per point (the
    Gauss-Newton Hessian is ``m J' W J``, divided by ``sigma^2`` for ``huber-likelihood``,
    whose ``psi'`` is taken at ``r / sigma``; used to size the first step). NaN when the
    residuals leave no degrees of freedom or are not finite."""
    r = np.asarray(residuals, float)
    n = r.size
    if n <= n_free or not np.all(np.isfinite(r)):
        return float("nan"), float("nan")
    delta = objective.delta
    if objective.likelihood:
        rs = r / sigma if sigma else r
        return 1.0, float(np.sum(w * _smoothed_inside(rs, delta)) / np.sum(w))
    psi = objective.psi(r)
    dpsi = objective.curvature(r) if objective.squares else _smoothed_inside(r, delta)
    den = float(np.sum(w * dpsi))
    kappa = n / (n - n_free) * float(np.sum(w * w * psi * psi)) / den if den > 0 else np.inf
    return float(kappa), den / float(np.sum(w))


def threshold(confidence: float, objective: Objective, n: int, n_free: int
              ) -> tuple[float, str]:
    """The statistic's critical value at ``confidence`` and its name (see the module
    docstring): ``F(1, n - p)`` for ``mse``/``huber``, chi-square(1) for ``huber-likelihood``."""
    if objective.likelihood:
        return float(chdtri(1, 1.0 - confidence)), "chi-square(1)"  # chi2.ppf(confidence, 1)
    dof = n - n_free
    return float(fdtri(1, dof, confidence)), f"F(1, {dof})"  # f.ppf(confidence, 1, dof)


@dataclass
class _Side:
    """One side's walk: the crossing (internal coordinate) or the limit reached open."""

    end: float
    open: bool
    limit_kind: str  # "bound" | "range" ; what stopped an open side


def _sigma_step(r: np.ndarray, w: np.ndarray, delta: float, sigma0: float) -> float:
    """The scale minimising the Huber NLL of residuals ``r`` (1-D, bounded, around
    ``sigma0``)."""
    s0 = math.log(sigma0) if sigma0 and sigma0 > 0 else math.log(
        max(float(np.mean(np.abs(r))), 1e-12))
    res = minimize_scalar(lambda s: likelihood_nll(r, w, math.exp(s), delta),
                          bounds=(s0 - 10.0, s0 + 10.0), method="bounded",
                          options={"xatol": 1e-10})
    return math.exp(float(res.x))


class _Profiler:
    """Evaluates the profile of one parameter at internal values, warm-started."""

    def __init__(self, problem: FitProblem, objective: Objective, z_hat: np.ndarray,
                 f_hat: float, kappa: float, j: int, sigma: float | None = None) -> None:
        self.sigma = float(sigma) if sigma else 1.0
        self.problem, self.objective = problem, objective
        self.law, self.held = problem.law, problem.fixed
        law = self.law
        self.z_hat, self.f_hat, self.kappa, self.j = z_hat, f_hat, kappa, j
        self.param = law.params[j]
        self.free = np.array([i for i, p in enumerate(law.params)
                              if i != j and p.name not in self.held], int)
        self.points: dict[float, float] = {}  # internal value -> statistic
        self.z_at: dict[float, np.ndarray] = {}  # internal value -> full internal optimum
        self.lowest: tuple[float, float] | None = None  # (objective, value) below f_hat
        self.evaluations = 0

    def _objective(self, point: FitProblem, start: np.ndarray) -> tuple[float, np.ndarray]:
        """Minimum over the free parameters of ``point`` (the problem with the profiled
        parameter held too) from ``start``: (objective, z)."""
        obj, delta = self.objective, self.objective.delta
        if start.size == 0:  # every other parameter held: nothing to re-optimise
            w = point.w
            with np.errstate(all="ignore"):
                r = point.free_law.log_value(start[None, :], point.X)[0] - point.logy
            if not obj.likelihood:
                return float(obj.value(r, w)), start
            if not np.all(np.isfinite(r)):
                return float("inf"), start
            return likelihood_nll(r, w, _sigma_step(r, w, delta, self.sigma), delta), start
        if obj.likelihood:
            return self._likelihood(point, start)
        z, value = refine(point, obj, start)
        return float(value), z

    def _likelihood(self, point: FitProblem, start: np.ndarray) -> tuple[float, np.ndarray]:
        """Huber-likelihood profile point: alternate a Huber fit at ``delta sigma`` with the
        scale step (as :func:`scalinglab.fit.optimize.refine_likelihood`), from the fit's scale,
        until the NLL changes by less than 1e-7 (the statistic is twice the NLL drop, so this
        is far below what moves a crossing); warm starts take a few rounds."""
        w, delta = point.w, self.objective.delta
        z, sigma, nll = start, self.sigma, math.inf
        for _ in range(LIKELIHOOD_ROUNDS):
            z, _ = refine(point, self.objective.scaled(sigma), z)
            with np.errstate(all="ignore"):
                r = point.free_law.log_value(z[None, :], point.X)[0] - point.logy
            if not np.all(np.isfinite(r)):
                return math.inf, z
            sigma = _sigma_step(r, w, delta, sigma)
            new = likelihood_nll(r, w, sigma, delta)
            done = abs(nll - new) <= 1e-7
            nll = new
            if done:
                break
        return float(nll), z

    def evaluate(self, value: float, start_full: np.ndarray) -> float:
        """The statistic at internal value ``value`` of the parameter (re-optimising the
        others from ``start_full`` and from the fit's optimum; the better is kept)."""
        if value in self.points:
            return self.points[value]
        natural = float(self.param.from_internal(value))
        pr = self.problem
        point = FitProblem(pr.law, pr.X, pr.logy, pr.w, {**self.held, self.param.name: natural})
        best, best_z = float("inf"), None
        starts = [start_full[self.free]]
        if not self.objective.likelihood and not np.array_equal(start_full, self.z_hat):
            starts.append(self.z_hat[self.free])
        for s in starts:
            try:
                obj, z = self._objective(point, np.array(s, float))
            except (FitError, ValueError, np.linalg.LinAlgError):
                continue
            self.evaluations += 1
            if np.isfinite(obj) and obj < best:
                best, best_z = obj, z
        full = np.array(self.z_hat, float)
        full[self.j] = value
        if best_z is not None:
            full[self.free] = best_z
        if np.isfinite(best) and best < self.f_hat - 1e-9 * max(abs(self.f_hat), 1e-300) and (
                self.lowest is None or best < self.lowest[0]):
            self.lowest = (best, natural)
        stat = 2.0 * max(best - self.f_hat, 0.0) / self.kappa if np.isfinite(best) else np.inf
        self.points[value] = float(stat)
        self.z_at[value] = full
        return float(stat)

    def walk(self, direction: int, step0: float, limit: float, limit_kind: str,
             q: float) -> _Side:
        """Walk from the estimate in ``direction`` (+1/-1) to the crossing of ``q`` or to
        ``limit`` (internal coordinates); ``step0``: the first step's length."""
        z0 = float(self.z_hat[self.j])
        span = abs(limit - z0)
        if span <= 0:
            return _Side(z0, True, limit_kind)
        t_in, s_in, z_in = 0.0, 0.0, self.z_hat
        t = min(step0, span)
        for _ in range(MAX_WALK):
            v = z0 + direction * t
            s = self.evaluate(v, z_in)
            if s >= q:
                return _Side(self._cross(z0, direction, t_in, s_in, z_in, t, s, q), False, "")
            if t >= span:
                return _Side(limit, True, limit_kind)
            t_in, s_in, z_in = t, s, self.z_at[v]
            # aim just past the predicted crossing of a quadratic profile, grow at most 4x
            target = t * math.sqrt(q / s) * 1.05 if s > 0 else math.inf
            t = min(max(target, t * 1.2), t * MAX_GROWTH, span)
        return _Side(z0 + direction * t_in, True, "range")

    def _cross(self, z0: float, direction: int, ta: float, sa: float, za: np.ndarray,
               tb: float, sb: float, q: float) -> float:
        """Locate the crossing of ``q`` between distances ``ta`` (below) and ``tb`` (above)."""
        rq = math.sqrt(q)
        for _ in range(MAX_BISECT):
            if np.isfinite(sb):
                frac = (rq - math.sqrt(sa)) / (math.sqrt(sb) - math.sqrt(sa))
                frac = min(max(frac, 0.02), 0.98)
            else:
                frac = 0.5
            tc = ta + frac * (tb - ta)
            if tb - ta <= 1e-12 * max(1.0, abs(z0)):
                return z0 + direction * tc
            v = z0 + direction * tc
            sc = self.evaluate(v, za)
            if abs(sc - q) <= CROSS_TOL * q:
                return v
            if sc < q:
                ta, sa, za = tc, sc, self.z_at[v]
            else:
                tb, sb = tc, sc
        frac = ((rq - math.sqrt(sa)) / (math.sqrt(sb) - math.sqrt(sa))
                if np.isfinite(sb) and sb > sa else 0.5)
        return z0 + direction * (ta + min(max(frac, 0.0), 1.0) * (tb - ta))


def _first_steps(law: Law, X: np.ndarray, w: np.ndarray, z: np.ndarray, free: np.ndarray,
                 kappa: float, m: float, sigma: float | None) -> np.ndarray:
    """Local standard errors ``sqrt(kappa [H^-1]_jj)`` of the free parameters (internal
    coordinates, Gauss-Newton ``H = m J' W J``), NaN where they cannot be had."""
    out = np.full(law.n_params, np.nan)
    with np.errstate(all="ignore"):
        _, J = law.log_value_and_jac(z[None, :], X)
    J = np.where(np.isfinite(J[0]), J[0], 0.0)[:, free]
    scale = m / (sigma * sigma) if sigma else m
    H = scale * (J.T @ (J * w[:, None]))
    try:
        cov = kappa * np.linalg.pinv(H, rcond=1e-13, hermitian=True)
    except np.linalg.LinAlgError:
        return out
    d = np.diag(cov)
    out[free] = np.where(d > 0, np.sqrt(np.abs(d)), np.nan)
    return out


def _limits(law: Law, j: int, z_hat: float) -> tuple[tuple[float, str], tuple[float, str]]:
    """Lower and upper walking limits of parameter ``j`` (internal) and what each is."""
    p = law.params[j]
    lo, hi = p.internal_bounds
    reach = MAX_DECADES * math.log(10.0) if p.log else MAX_LINEAR * max(abs(z_hat), 1.0)
    down = (lo, "bound") if np.isfinite(lo) else (z_hat - reach, "range")
    up = (hi, "bound") if np.isfinite(hi) else (z_hat + reach, "range")
    return down, up


def _dependent_derived(derive: Callable[[Mapping[str, float]], Mapping[str, float]],
                       params: Mapping[str, float], name: str,
                       values: Sequence[float]) -> list[str]:
    """The derived quantities that change when ``name`` moves to ``values``."""
    base = derive(params)
    out: set[str] = set()
    for v in values:
        if not np.isfinite(v):
            continue
        moved = derive({**params, name: v})
        for k, b in base.items():
            m = moved.get(k, np.nan)
            if not (np.isfinite(b) and np.isfinite(m)):
                if np.isfinite(b) != np.isfinite(m):
                    out.add(k)
                continue
            if abs(m - b) > 1e-9 * max(abs(b), 1e-300):
                out.add(k)
    return [k for k in base if k in out]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def profile_fit(problem: FitProblem, objective: Objective, z: np.ndarray, f_hat: float,
                residuals: np.ndarray, names: Sequence[str], *,
                sigma: float | None = None, confidence: float = 0.95,
                derive: Callable[[Mapping[str, float]], Mapping[str, float]] | None = None,
                intervals: Mapping[str, tuple[float, float]] | None = None) -> ProfileOutcome:
    """Profile-likelihood intervals and identification of ``names`` (see the module docstring).

    ``problem``, ``objective``: what was fitted (the problem's held parameters are re-held at
    every profile point; they cannot be profiled); ``z``: the fit's full internal vector (held
    parameters included), ``f_hat`` its objective, ``residuals`` its log residuals, ``sigma``
    the fitted scale (``huber-likelihood``). ``derive``:
    natural parameters -> derived quantities, to list those that depend on a parameter the data
    do not identify; ``intervals``: the bootstrap's, to mark the uninformative ones.

    Each entry of ``identification`` has ``status`` (``"identified"`` with ``interval``
    ``[lo, hi]``, or ``"not identified"`` with ``flat_range`` and ``reason``), ``estimate``,
    ``open`` (``[lower side, upper side]``: ended at a limit with the statistic still below the
    threshold), ``limits`` (natural units), ``scale`` (``log``/``linear``), ``evaluations``,
    the trace ``{"value": [...], "statistic": [...]}`` sorted by value, and for a parameter not
    identified ``derived`` (the derived quantities that depend on it) and
    ``bootstrap_informative: false`` when a bootstrap interval exists.
    """
    t0 = time.perf_counter()
    law, X, w, held = problem.law, problem.X, problem.w, problem.fixed
    names = [n for n in names if n not in held]  # a held parameter has no profile
    out = ProfileOutcome()
    if not names:
        return out
    free_mask = np.array([n not in held for n in law.param_names])
    n_free = int(free_mask.sum())
    n = problem.n
    kappa, m = statistic_scale(residuals, w, objective, n_free, sigma)
    if not (np.isfinite(kappa) and kappa > 0):
        out.warnings.append(Diagnostic(
            "profile", f"profile: no profile intervals; the residual scale cannot be "
            f"estimated ({n} points for {n_free} fitted parameters, residuals all zero or not "
            "finite)"))
        return out
    q, q_name = threshold(confidence, objective, n, n_free)
    z_hat = np.array(z, float)
    params = law.from_internal(z_hat)
    canon = law.canonical(params)  # profile the canonical form that the fit reports
    if canon != params and all(canon[k] == v for k, v in held.items()):
        z_c = law.to_internal(canon)
        if np.all(np.isfinite(z_c)):
            z_hat, params = z_c, canon
    ses = _first_steps(law, X, w, z_hat, np.flatnonzero(free_mask), kappa, m, sigma)
    total = 0
    for name in names:
        j = law.param_names.index(name)
        p = law.params[j]
        zj = float(z_hat[j])
        entry: dict[str, Any] = {"estimate": float(p.from_internal(zj)),
                                 "scale": "log" if p.log else "linear"}
        if not np.isfinite(zj):
            entry.update(status="not identified", flat_range=[entry["estimate"]] * 2,
                         reason="the estimate is not finite", open=[True, True])
            out.identification[name] = entry
            continue
        prof = _Profiler(problem, objective, z_hat, f_hat, kappa, j, sigma)
        se = ses[j]
        cap = 0.5 if p.log else 0.5 * max(abs(zj), 1.0)
        step0 = float(min(se, cap)) if np.isfinite(se) and se > 0 else cap
        step0 = max(step0, 1e-8 * max(abs(zj), 1.0))
        (lo_lim, lo_kind), (hi_lim, hi_kind) = _limits(law, j, zj)
        lower = prof.walk(-1, step0, lo_lim, lo_kind, q)
        upper = prof.walk(+1, step0, hi_lim, hi_kind, q)
        total += prof.evaluations
        lo, hi = (float(p.from_internal(lower.end)), float(p.from_internal(upper.end)))
        vals = sorted(prof.points)
        entry.update(
            open=[lower.open, upper.open],
            limits=[float(p.from_internal(lo_lim)), float(p.from_internal(hi_lim))],
            evaluations=prof.evaluations,
            trace={"value": [float(p.from_internal(v)) for v in vals],
                   "statistic": [prof.points[v] for v in vals]},
        )
        reasons = []
        for side, s, lim in (("below", lower, lo), ("above", upper, hi)):
            if s.open:
                what = (f"its bound {_fmt(lim)}" if s.limit_kind == "bound" else
                        (f"{MAX_DECADES:g} decades {side} the estimate ({_fmt(lim)})" if p.log
                         else f"{_fmt(lim)}, far {side} the estimate"))
                reasons.append(f"up to {what}")
        wide = p.log and not reasons and upper.end - lower.end > MAX_DECADES * math.log(10.0)
        if wide:
            reasons.append(f"over more than {MAX_DECADES:g} decades")
        if reasons:
            entry.update(status="not identified", flat_range=[lo, hi],
                         reason="; ".join(reasons))
            if derive is not None:
                entry["derived"] = _dependent_derived(derive, params, name, [lo, hi])
            boot = (intervals or {}).get(name)
            if boot is not None:
                entry["bootstrap_informative"] = False
            note = (f"; its bootstrap interval {_fmt(boot[0])} - {_fmt(boot[1])} is not "
                    "informative" if boot is not None else "")
            dep = (f"; nor are the derived {', '.join(entry['derived'])}"
                   if entry.get("derived") else "")
            out.warnings.append(Diagnostic(
                "not-identified", f"not identified: parameter {name}: the profile "
                f"likelihood-ratio statistic stays below its {confidence:.0%} threshold "
                f"({q_name} quantile {q:.3g}) from "
                f"{_fmt(lo)} to {_fmt(hi)} ({entry['reason']}); these data do not determine "
                f"{name}{note}{dep}"))
        else:
            entry.update(status="identified", interval=[lo, hi])
        if prof.lowest is not None:
            out.warnings.append(Diagnostic(
                "profile", f"profile: holding {name} = {_fmt(prof.lowest[1])} gives objective "
                f"{prof.lowest[0]:.10g}, below the fit's {f_hat:.10g}; the multi-start "
                "missed the global optimum (refit with more starts)"))
        out.identification[name] = entry
    out.settings = {
        "method": "profile likelihood (others re-optimised at each held value)",
        "statistic": ("2 (NLL_p - NLL_hat)" if objective.likelihood else
                      "2 (F_p - F_hat) / kappa, kappa = n/(n-p) sum w^2 psi^2 / sum w psi'"),
        "kappa": kappa, "threshold": q, "reference": q_name, "confidence": confidence,
        "parameters": names, "evaluations": total, "seconds": time.perf_counter() - t0,
    }
    return out


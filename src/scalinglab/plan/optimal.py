"""Compute-optimal allocation under a fitted law, its inverse, and tolerance bands.

For a budget ``C`` (FLOPs, under ``C = 6 N D`` with N as the law's N) find ``N_opt``,
``D_opt = C / (6 N_opt)`` and the predicted loss:

* ``chinchilla``: Hoffmann et al.'s closed form (Eq. 4; ``laws.chinchilla_allocation``).
* any other law of ``(N, D)`` (``kaplan-nd``, ...): numerically, a 513-point grid in ``log N``
  along the iso-FLOP line, refined by bounded Brent (``scipy.optimize.minimize_scalar``).
* with unique tokens ``U`` (Muennighoff et al.): the effective-data law of ``data-constrained``
  (or a ``chinchilla`` fit extended with Muennighoff's published R_D*, R_N*) along the same line,
  with ``U`` capped at ``D`` as in the authors' allocation helper; epochs = D / U.
* laws that are not functions of N and D (``kaplan-ns``, one-variable laws of C alone) have
  neither route: an :class:`~scalinglab.errors.OptionError` says so.

The inverse (:func:`plan_for_loss`) gives the least compute whose optimal loss reaches a target
(closed form for ``chinchilla``: ``C = 6 (K / (L - E))^((alpha+beta)/(alpha beta))`` with
``K = A G^-alpha + B G^beta``; else ``brentq`` on ``log C``). With bootstrap draws, every
quantity gets a percentile interval (default 80%: the 10th/90th percentiles of Hoffmann et al.'s
Table 2), or the fit's own level when the law comes from a saved fit. The tolerance band is
the range of N (and D) on the same iso-FLOP line whose loss is within ``tolerance`` (relative)
of the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from scalinglab.errors import OptionError, ParameterError, argument_error
from scalinglab.laws import DataConstrained, chinchilla_allocation
from scalinglab.laws import published as pub
from scalinglab.plan.record import PlanRecord
from scalinglab.plan.source import PlanLaw, as_plan_law

if TYPE_CHECKING:
    from scalinglab.fit.result import FitResult

#: default interval level (Hoffmann et al. Table 2 report 10th/90th bootstrap percentiles).
DEFAULT_LEVEL = 0.8
#: cap on bootstrap draws evaluated by the numeric routes (each draw is a 1-D optimisation).
MAX_NUMERIC_DRAWS = 400
_GRID = 513
#: the largest tolerance band (relative loss): 10 = within 11 times the optimal loss.
MAX_TOLERANCE = 10.0


def n_convention(law_name: str) -> str:
    """What N means for a law's published constants (stored beside every N)."""
    if law_name == "kaplan-nd":
        return "non-embedding parameters (Kaplan et al.'s N)"
    if law_name in ("chinchilla", "data-constrained"):
        return "total parameters, embeddings included (Hoffmann et al. App. F)"
    return "as the fitted observation table's N"


def conventions_for(pl: PlanLaw) -> dict[str, str]:
    """The ``conventions`` block of a plan's JSON."""
    return {
        "N": pl.n_convention or ("as the N column of the fitted observation table"
                                 if pl.from_fit else n_convention(pl.law.name)),
        "D": "training tokens (including repeats)",
        "compute": "C = 6 N D FLOPs, N as above",
        "loss": "nats per token, as the law predicts",
    }


def check_positive(value: float, option: str, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise argument_error(option, f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argument_error(option, f"{what} must be a positive finite number, got {value!r}")
    return v


#: the largest finite float: budgets and counts past it overflow.
_FLOAT_MAX = 1.7976931348623157e308


def _closed_ok(params: Mapping[str, float]) -> bool:
    """Whether Hoffmann et al.'s closed form applies (scales and exponents all positive; a
    degenerate fit with one at 0 takes the numeric route instead of dividing by zero)."""
    return all(params[k] > 0 for k in ("A", "B", "alpha", "beta"))


# ============================================================================ the objective
class Objective:
    """The loss along ``C = 6 N D`` for one :class:`PlanLaw` (and optional unique tokens)."""

    def __init__(self, pl: PlanLaw, unique_tokens: float | None = None) -> None:
        self.pl = pl
        self.warnings: list[str] = []
        name = pl.law.name
        self.U = None if unique_tokens is None else check_positive(
            unique_tokens, "unique_tokens", "unique tokens")
        self.law = pl.law
        self.params = dict(pl.params)
        self.draws = pl.draw_dicts()
        if self.U is not None:
            if name == "chinchilla":
                extra = {"RD": pub.DATA_CONSTRAINED_MUENNIGHOFF["RD"],
                         "RN": pub.DATA_CONSTRAINED_MUENNIGHOFF["RN"]}
                self.law = DataConstrained()
                self.params = {**self.params, **extra}
                self.draws = [{**d, **extra} for d in self.draws]
                self.warnings.append(
                    "unique tokens with a chinchilla law: repetition modelled with Muennighoff "
                    f"et al.'s R_D* = {extra['RD']:.6g}, R_N* = {extra['RN']:.6g}")
            elif name != "data-constrained":
                raise ParameterError("unique_tokens", f"law {name!r} does not model repeated "
                                  "data; use law data-constrained or chinchilla")
        elif name == "data-constrained":
            raise ParameterError("unique_tokens", "law 'data-constrained' needs the number of "
                              "unique tokens U (unique_tokens)")
        if self.law.variables not in (("N", "D"), ("N", "D", "U")):
            raise ParameterError("law", f"law {name!r} predicts loss from "
                              f"({', '.join(self.law.variables)}), so it has neither a closed "
                              "form nor a numeric route to N and D; use a law of N and D "
                              "(chinchilla, kaplan-nd, data-constrained)")
        self.closed_form = self.law.name == "chinchilla"

    @property
    def method(self) -> str:
        return "closed-form" if self.closed_form else "numeric"

    def loss(self, params: Mapping[str, float], N: Any, D: Any) -> np.ndarray:
        N = np.asarray(N, float)
        D = np.asarray(D, float)
        if self.U is not None:
            return self.law.predict(params, N=N, D=D, U=np.minimum(self.U, D))
        return self.law.predict(params, N=N, D=D)

    def _iso(self, params: Mapping[str, float], C: float, x: float) -> float:
        N = math.exp(x)
        v = float(self.loss(params, N, C / (6.0 * N)))
        return v if math.isfinite(v) else math.inf

    # ------------------------------------------------------------------ optimum at C
    def optimum(self, params: Mapping[str, float], C: float) -> tuple[float, float, float, bool]:
        """``(N_opt, D_opt, loss, at_edge)`` at budget C (``at_edge``: N or D hit 1)."""
        if self.closed_form and _closed_ok(params):
            try:
                with np.errstate(all="ignore"):
                    N, D = (float(v) for v in chinchilla_allocation(params, C))
            except (ZeroDivisionError, OverflowError):
                N = D = math.nan
            if math.isfinite(N) and math.isfinite(D) and N >= 1 and D >= 1:
                return N, D, float(self.loss(params, N, D)), False
            # a degenerate fit (a scale or exponent at 0) puts the closed-form optimum at
            # N or D below one: search the iso-FLOP line, which reports the edge
        if not C > 6.0:
            raise ParameterError("compute", f"budget {C:g} FLOPs is not above 6 (one "
                              "parameter, one token)")
        hi = math.log(C / 6.0)
        x = np.linspace(0.0, hi, _GRID)
        N = np.exp(x)
        with np.errstate(all="ignore"):
            L = np.asarray(self.loss(params, N, C / (6.0 * N)), float)
        L = np.where(np.isfinite(L), L, np.inf)
        i = int(np.argmin(L))
        if not np.isfinite(L[i]):
            raise ParameterError("pl", "the law is not finite anywhere on the iso-FLOP line")
        a, b = x[max(i - 1, 0)], x[min(i + 1, _GRID - 1)]
        res = minimize_scalar(lambda t: self._iso(params, C, t), bounds=(a, b),
                              method="bounded", options={"xatol": 1e-11})
        xo = float(res.x) if res.fun <= L[i] else float(x[i])
        edge = i in (0, _GRID - 1)
        if not edge:
            xo = self._polish(params, C, xo, a, b)
        No = math.exp(xo)
        return No, C / (6.0 * No), self._iso(params, C, xo), edge

    def _polish(self, params: Mapping[str, float], C: float, xo: float, a: float,
                b: float) -> float:
        """Root of the central-difference slope near ``xo``. A minimum is flat: comparing
        loss values locates it only to ~sqrt(eps L / L''), while the sign of the slope locates
        it to ~eps L / (h L'') (h = 1e-4; the difference's own bias is O(h^2))."""
        h = 1e-4

        def slope(t: float) -> float:
            return (self._iso(params, C, t + h) - self._iso(params, C, t - h)) / (2 * h)

        lo, hi = max(a, xo - 0.05), min(b, xo + 0.05)
        try:
            s_lo, s_hi = slope(lo), slope(hi)
            if not (math.isfinite(s_lo) and math.isfinite(s_hi)) or s_lo >= 0 or s_hi <= 0:
                return xo
            return float(brentq(slope, lo, hi, xtol=1e-12))
        except (ValueError, OverflowError):
            return xo

    # ------------------------------------------------------------------ inverse
    def compute_for_loss(self, params: Mapping[str, float], target: float) -> float:
        """The least C whose optimal loss is ``target`` (``OptionError`` if unreachable)."""
        if self.closed_form and target <= params["E"]:
            raise ParameterError("target_loss", f"target loss {target:g} is not above the "
                              f"law's irreducible loss E = {params['E']:.6g}: no budget "
                              "reaches it")
        if self.closed_form and _closed_ok(params):
            E, A, B = params["E"], params["A"], params["B"]
            al, be = params["alpha"], params["beta"]
            try:
                G = (al * A / (be * B)) ** (1.0 / (al + be))
                K = A * G**-al + B * G**be
                C = 6.0 * (K / (target - E)) ** ((al + be) / (al * be))
            except (ZeroDivisionError, OverflowError):
                C = math.inf
            if not C < _FLOAT_MAX:
                raise ParameterError("target_loss", f"target loss {target:g} is so close to the "
                                  f"irreducible loss E = {E:.6g} that its budget overflows "
                                  f"(more than {_FLOAT_MAX:.3g} FLOPs)")
            if not C >= 6.0:
                raise ParameterError("target_loss", f"target loss {target:g} is reached with "
                                  "less than one parameter and one token (under 6 FLOPs); "
                                  "nothing to plan")
            return C

        def h(lc: float) -> float:
            return self.optimum(params, math.exp(lc))[2] - target

        lo, hi = math.log(60.0), math.log(1e20)
        if h(lo) < 0:
            raise ParameterError("target_loss", f"target loss {target:g} is above the loss "
                              "of even a tiny model; nothing to plan")
        while h(hi) > 0:
            if hi > math.log(1e60):
                floor = self.optimum(params, math.exp(hi))[2]
                raise ParameterError("target_loss", f"target loss {target:g} is not reachable "
                                  f"under this law (the optimal loss is still {floor:.6g} at "
                                  f"{math.exp(hi):.3g} FLOPs)")
            lo, hi = hi, hi + math.log(1e5)
        return math.exp(brentq(h, lo, hi, xtol=1e-12, rtol=1e-13))

    def compute_for_params(self, params: Mapping[str, float], N: float) -> float:
        """The budget whose compute-optimal model has ``N`` parameters."""
        if self.closed_form and _closed_ok(params):
            al, be = params["alpha"], params["beta"]
            try:
                G = (al * params["A"] / (be * params["B"])) ** (1.0 / (al + be))
                C = 6.0 * (N / G) ** ((al + be) / be)
            except (ZeroDivisionError, OverflowError):
                C = math.inf
            if not C < _FLOAT_MAX:
                raise ParameterError("n_params", f"the compute-optimal budget for "
                                  f"{N:.4g} parameters overflows (more than {_FLOAT_MAX:.3g} "
                                  "FLOPs)")
            if not C >= 6.0:
                raise ParameterError("n_params", f"the compute-optimal budget for "
                                  f"{N:.4g} parameters is under 6 FLOPs (one parameter, "
                                  "one token); nothing to plan")
            return C

        def h(lc: float) -> float:
            return math.log(self.optimum(params, math.exp(lc))[0]) - math.log(N)

        if not 6.0 * N * 1e12 < _FLOAT_MAX:
            raise ParameterError("n_params", f"{N:.4g} parameters is too large to plan "
                              f"(its budget would exceed {_FLOAT_MAX:.3g} FLOPs)")
        lo, hi = math.log(6.0 * N * 1.0001), math.log(6.0 * N * 1e12)
        if h(lo) > 0 or h(hi) < 0:
            raise ParameterError("n_params", f"no budget has a compute-optimal model of "
                              f"{N:.4g} parameters under this law")
        return math.exp(brentq(h, lo, hi, xtol=1e-12, rtol=1e-13))

    # ------------------------------------------------------------------ tolerance band
    def band(self, params: Mapping[str, float], C: float, N_opt: float, L_opt: float,
             tolerance: float) -> dict[str, Any]:
        """N (and D) on the iso-FLOP line with loss <= (1 + tolerance) L_opt."""
        thr = (1.0 + tolerance) * L_opt
        xo, lo, hi = math.log(N_opt), 0.0, math.log(C / 6.0)

        def g(t: float) -> float:
            return self._iso(params, C, t) - thr

        n_lo = math.exp(brentq(g, lo, xo, xtol=1e-12)) if g(lo) > 0 else None
        n_hi = math.exp(brentq(g, xo, hi, xtol=1e-12)) if g(hi) > 0 else None
        return {
            "tolerance": tolerance,
            "loss_max": thr,
            "N": [n_lo, n_hi],
            "D": [None if n_hi is None else C / (6.0 * n_hi),
                  None if n_lo is None else C / (6.0 * n_lo)],
        }


# ============================================================================ results
@dataclass
class ComputePlan(PlanRecord):
    """One compute-optimal plan (see :func:`plan_compute` / :func:`plan_for_loss`). Units and
    conventions are in :attr:`conventions` (N as the law's N column, C = 6ND FLOPs, loss in
    nats/token)."""

    #: the law's name
    law: str
    #: ``closed-form`` (Hoffmann et al.'s allocation) or ``numeric`` (a 1-D search along C)
    method: str
    #: the training budget C (FLOPs, C = 6 N D)
    compute: float
    #: the compute-optimal parameter count (the law's N convention)
    N_opt: float
    #: the compute-optimal training tokens (repeats included)
    D_opt: float
    #: the predicted loss at (N_opt, D_opt), nats/token
    loss: float
    #: D_opt / N_opt
    tokens_per_param: float
    #: unique tokens U of a data-constrained plan (Muennighoff et al.), else None
    unique_tokens: float | None = None
    #: D_opt / U, the epochs a data-constrained plan repeats its data
    epochs: float | None = None
    #: the target loss of :func:`plan_for_loss`, else None
    target_loss: float | None = None
    #: quantity -> [low, high] at :attr:`level`, from the fit's bootstrap draws
    intervals: dict[str, list[float]] = field(default_factory=dict)
    #: the interval level (e.g. 0.8)
    level: float | None = None
    #: how many draws the intervals come from
    n_draws: int | None = None
    #: the N range whose loss is within ``tolerance`` of the optimum (``N``, ``loss_max``,
    #: ``tolerance``)
    band: dict[str, Any] | None = None
    #: what N, D, C and the loss mean here
    conventions: dict[str, str] = field(default_factory=dict)
    #: what the plan should not be trusted for (an unidentified fit, extrapolation, ...)
    warnings: list[str] = field(default_factory=list)



def _quantiles(values: Sequence[float], level: float) -> list[float] | None:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return None
    q = np.quantile(v, [(1 - level) / 2, (1 + level) / 2])
    return [float(q[0]), float(q[1])]


def _check_level(level: float | None, pl: PlanLaw | None = None) -> float:
    if level is None:
        return pl.confidence if pl is not None and pl.confidence else DEFAULT_LEVEL
    if not 0 < level < 1:
        raise ParameterError("level", f"interval level must be between 0 and 1, got {level}")
    return float(level)


def _draw_subset(obj: Objective) -> tuple[list[dict[str, float]], list[str]]:
    draws = obj.draws
    notes: list[str] = []
    if not obj.closed_form and len(draws) > MAX_NUMERIC_DRAWS:
        idx = np.linspace(0, len(draws) - 1, MAX_NUMERIC_DRAWS).round().astype(int)
        notes.append(f"intervals from {MAX_NUMERIC_DRAWS} of {len(draws)} bootstrap draws "
                     "(numeric route)")
        draws = [draws[i] for i in idx]
    return draws, notes


def _vector_chinchilla(draws: list[dict[str, float]]) -> dict[str, np.ndarray]:
    return {k: np.array([d[k] for d in draws]) for k in ("E", "A", "B", "alpha", "beta")}


def _intervals_at(obj: Objective, C: float, level: float
                  ) -> tuple[dict[str, list[float]], int, list[str]]:
    draws, notes = _draw_subset(obj)
    if not draws:
        return {}, 0, notes
    if obj.closed_form:
        p = _vector_chinchilla(draws)
        N, D = chinchilla_allocation(p, C)
        L = p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]
    else:
        rows = [obj.optimum(d, C)[:3] for d in draws]
        N, D, L = (np.array(c) for c in zip(*rows, strict=True))
    out = {}
    for k, v in (("N_opt", N), ("D_opt", D), ("loss", L), ("tokens_per_param", D / N)):
        q = _quantiles(v, level)
        if q is not None:
            out[k] = q
    return out, len(draws), notes


def plan_compute(pl: PlanLaw | FitResult, compute: float, *,
                 unique_tokens: float | None = None, tolerance: float | None = 0.01,
                 level: float | None = None) -> ComputePlan:
    """The compute-optimal plan for budget ``compute`` (FLOPs, C = 6ND) under ``pl`` (a
    :class:`PlanLaw` or a fit, :class:`~scalinglab.fit.FitResult`, in memory)."""
    pl = as_plan_law(pl)
    C = check_positive(compute, "compute", "compute budget")
    level = _check_level(level, pl)
    obj = Objective(pl, unique_tokens)
    N, D, L, edge = obj.optimum(obj.params, C)
    warnings = list(pl.warnings) + obj.warnings
    if edge:
        warnings.append("the optimum lies at the edge of the search range (N or D near 1): "
                        "the law has no interior optimum at this budget")
    plan = ComputePlan(law=pl.law.name, method=obj.method, compute=C, N_opt=N, D_opt=D, loss=L,
                       tokens_per_param=D / N, conventions=conventions_for(pl),
                       warnings=warnings)
    if obj.U is not None:
        plan.unique_tokens, plan.epochs = obj.U, D / obj.U
    if tolerance is not None:
        if not 0 < tolerance <= MAX_TOLERANCE:
            raise ParameterError("tolerance", f"must be a relative loss in (0, "
                              f"{MAX_TOLERANCE:g}], got {tolerance}")
        plan.band = obj.band(obj.params, C, N, L, tolerance)
    iv, n, notes = _intervals_at(obj, C, level)
    if iv:
        plan.intervals, plan.level, plan.n_draws = iv, level, n
        plan.warnings += notes + outside_interval_warnings(
            {"N_opt": N, "D_opt": D, "loss": L}, iv)
    return plan


def outside_interval_warnings(values: dict[str, float], intervals: dict[str, list[float]]
                              ) -> list[str]:
    """A warning for each planned quantity whose point value lies outside its own bootstrap
    interval: the resampled fits do not agree with the fit on this budget (too few runs or
    resamples for this extrapolation), so the interval is not a reliable one."""
    out = []
    for key, v in values.items():
        q = intervals.get(key)
        slack = 1e-9 * max(abs(q[0]), abs(q[1])) if q is not None else 0.0
        if q is not None and not q[0] - slack <= v <= q[1] + slack:
            out.append(f"interval: the plan's {key} ({v:.4g}) lies outside its own bootstrap "
                       f"interval [{q[0]:.4g}, {q[1]:.4g}]; the resampled fits disagree with "
                       "the fit at this budget (too few runs or resamples): do not trust the "
                       "interval")
    return out


def plan_for_loss(pl: PlanLaw | FitResult, target_loss: float, *,
                  unique_tokens: float | None = None, tolerance: float | None = None,
                  level: float | None = None) -> ComputePlan:
    """The least compute (and its N, D) whose optimal loss is ``target_loss``; with draws, the
    intervals are percentiles of each draw's own least compute and its N, D. ``pl``: a
    :class:`PlanLaw` or a :class:`~scalinglab.fit.FitResult`."""
    pl = as_plan_law(pl)
    target = check_positive(target_loss, "target_loss", "target loss")
    level = _check_level(level, pl)
    obj = Objective(pl, unique_tokens)
    C = obj.compute_for_loss(obj.params, target)
    # the point plan at C (its own per-budget intervals are not wanted here)
    plan = plan_compute(replace(pl, draws=None), C, unique_tokens=unique_tokens,
                        tolerance=tolerance, level=level)
    plan.target_loss = target
    draws, notes = _draw_subset(obj)
    if draws:
        if obj.closed_form:
            p = _vector_chinchilla(draws)
            ok = p["E"] < target
            G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
            K = p["A"] * G ** -p["alpha"] + p["B"] * G ** p["beta"]
            with np.errstate(all="ignore"):
                Cs = np.where(ok, 6.0 * (K / (target - p["E"])) ** (
                    (p["alpha"] + p["beta"]) / (p["alpha"] * p["beta"])), np.nan)
            N, D = chinchilla_allocation(p, Cs)
        else:
            rows = []
            for d in draws[: max(1, MAX_NUMERIC_DRAWS // 2)]:
                try:
                    c = obj.compute_for_loss(d, target)
                    rows.append((c, *obj.optimum(d, c)[:2]))
                except OptionError:
                    rows.append((math.nan, math.nan, math.nan))
            Cs, N, D = (np.array(c) for c in zip(*rows, strict=True))
        n_unreach = int(np.sum(~np.isfinite(Cs)))
        if n_unreach:
            plan.warnings.append(f"{n_unreach} of {len(Cs)} bootstrap draws cannot reach the "
                                 "target loss (left out of the intervals)")
        iv = {}
        for k, v in (("compute", Cs), ("N_opt", N), ("D_opt", D)):
            q = _quantiles(v, level)
            if q is not None:
                iv[k] = q
        if iv:
            plan.intervals, plan.level, plan.n_draws = iv, level, len(Cs)
            plan.warnings += notes
    return plan


def plan_for_params(pl: PlanLaw | FitResult, n_params: float, *,
                    unique_tokens: float | None = None,
                    level: float | None = None) -> ComputePlan:
    """The plan whose compute-optimal model has ``n_params`` parameters (``pl``: a
    :class:`PlanLaw` or a :class:`~scalinglab.fit.FitResult`)."""
    pl = as_plan_law(pl)
    N = check_positive(n_params, "n_params", "parameter count")
    if N < 1:
        raise ParameterError("n_params", f"a model has at least one parameter, got {N:g}")
    obj = Objective(pl, unique_tokens)
    C = obj.compute_for_params(obj.params, N)
    return plan_compute(pl, C, unique_tokens=unique_tokens, level=level)


def optimal_allocation(pl: PlanLaw | FitResult, compute: float | Sequence[float], *,
                       unique_tokens: float | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised point estimates ``(N_opt, D_opt, loss)`` for one or many budgets (``pl``: a
    :class:`PlanLaw` or a :class:`~scalinglab.fit.FitResult`)."""
    pl = as_plan_law(pl)
    obj = Objective(pl, unique_tokens)
    Cs = np.atleast_1d(np.asarray(compute, float))
    rows = [obj.optimum(obj.params, check_positive(c, "compute", "compute budget"))[:3]
            for c in Cs]
    N, D, L = (np.array(c) for c in zip(*rows, strict=True))
    if np.ndim(compute) == 0:
        return N[0], D[0], L[0]
    return N, D, L

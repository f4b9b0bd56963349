"""Planning with inference-time compute: the cheapest train/test split for a target score.

:func:`plan_test_compute` takes a ``train-test`` law (Jones 2021, arXiv 2104.03113; see
:mod:`scalinglab.laws.testtime`), ``score = s0 + u_train log10 C_train + u_test log10 C_test``,
and a target score, and minimises the total compute

    C_total = C_train + queries * C_test          (C_test: inference FLOPs per query)

on the iso-score line. With ``r = u_train / u_test`` the unconstrained optimum is
``C_train = r * queries * C_test``: a share ``r / (1 + r)`` of the total goes to training
whatever the target and the query count. Limits clip the optimum along the line, where the
total is convex in ``log C_test``: ``c_test_min`` (e.g. one sample, or Jones's single-node tree
search), ``c_test_max`` (a latency budget per query), ``c_train_max`` (the largest trainable
run), and ``budget`` (the total). When no split satisfies them the plan says *not reachable*
and why. Intervals come from the fit's bootstrap draws: each draw is planned the same way, and
the plan reports the share of draws for which the target is reachable.

:func:`plan_samples` takes a ``coverage`` law (Brown et al. 2024, arXiv 2407.21787,
``coverage = exp(a k^b)``) and a target coverage: the samples per problem that reach it and,
with ``flops_per_sample``, the inference compute.

Conventions: compute in FLOPs, training and inference in the same FLOP convention (the fit's
columns'); the score is in whatever units the fitted ``score`` column has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scalinglab.errors import ParameterError
from scalinglab.laws.testtime import samples_for_coverage, trade_off
from scalinglab.plan.optimal import _check_level, _quantiles, check_positive
from scalinglab.plan.record import PlanRecord
from scalinglab.plan.source import PlanLaw, as_plan_law

if TYPE_CHECKING:
    from scalinglab.fit.result import FitResult

#: the decades of compute beyond the fitted range past which a plan warns of extrapolation.
EXTRAPOLATION_DECADES = 1.0


@dataclass
class TrainTestPlan(PlanRecord):
    """The cheapest (C_train, C_test) for a target score under a ``train-test`` law."""

    __test__ = False  # not a pytest test class despite the name

    law: str
    target: float
    queries: float
    reachable: bool
    exchange_rate: float
    test_per_10x_train: float
    C_train: float | None = None
    C_test: float | None = None
    inference_compute: float | None = None
    total_compute: float | None = None
    train_share: float | None = None
    #: which limit the optimum sits on (None: the unconstrained optimum)
    binding: str | None = None
    reason: str | None = None
    intervals: dict[str, list[float]] = field(default_factory=dict)
    level: float | None = None
    n_draws: int | None = None
    #: share of bootstrap draws for which the target is reachable under the limits
    reachable_fraction: float | None = None
    conventions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)



@dataclass
class SamplesPlan(PlanRecord):
    """Samples per problem (and inference compute) for a target coverage."""

    law: str
    target: float
    reachable: bool
    samples: float | None = None
    samples_whole: int | None = None
    coverage_at_whole: float | None = None
    flops_per_sample: float | None = None
    C_test: float | None = None
    queries: float = 1.0
    inference_compute: float | None = None
    reason: str | None = None
    intervals: dict[str, list[float]] = field(default_factory=dict)
    level: float | None = None
    n_draws: int | None = None
    reachable_fraction: float | None = None
    conventions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)



# ---------------------------------------------------------------------------- validation
def _finite(value: Any, name: str, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ParameterError(name, f"{what} must be a finite number, got {value!r}")
    return v


def _optional_positive(value: Any, name: str, what: str) -> float | None:
    return None if value is None else check_positive(value, name, what)


def _law_of(pl: PlanLaw | FitResult, want: str) -> PlanLaw:
    p = as_plan_law(pl)
    if p.law.name != want:
        raise ParameterError("pl", f"this plan needs a {want!r} fit or law, got "
                             f"{p.law.name!r}")
    return p


def _ranges(pl: PlanLaw | FitResult,
            ranges: Mapping[str, Any] | None) -> dict[str, tuple[float, float]]:
    if ranges is None:  # the fit's own: a FitResult's provenance or a PlanLaw's copy of it
        prov = getattr(pl, "provenance", None)
        ranges = prov.get("ranges") if isinstance(prov, Mapping) else getattr(pl, "ranges",
                                                                               None)
    out: dict[str, tuple[float, float]] = {}
    for k, v in dict(ranges or {}).items():
        try:
            lo, hi = float(v[0]), float(v[1])
        except (TypeError, ValueError, IndexError):
            continue
        if lo > 0 and hi > 0:
            out[str(k)] = (lo, hi)
    return out


def _extrapolation(values: Mapping[str, float | None],
                   ranges: Mapping[str, tuple[float, float]]) -> list[str]:
    out = []
    for col, v in values.items():
        if v is None or col not in ranges or not v > 0:
            continue
        lo, hi = ranges[col]
        above, below = math.log10(v / hi), math.log10(lo / v)
        if above > EXTRAPOLATION_DECADES:
            out.append(f"extrapolation: {col} {v:.3g} is {above:.1f} decades above the largest "
                       f"fitted {col} ({hi:.3g})")
        elif below > EXTRAPOLATION_DECADES:
            out.append(f"extrapolation: {col} {v:.3g} is {below:.1f} decades below the smallest "
                       f"fitted {col} ({lo:.3g})")
    return out


# ---------------------------------------------------------------------------- train-test
@dataclass(frozen=True)
class _Limits:
    queries: float
    c_test_min: float | None
    c_test_max: float | None
    c_train_max: float | None
    budget: float | None


def _solve(params: Mapping[str, float], target: float,
           lim: _Limits) -> tuple[float, float, str | None] | str:
    """(C_train, C_test, binding limit) of the cheapest split for one parameter set, or the
    reason no split reaches ``target`` under the limits."""
    s0, ut, ue = float(params["s0"]), float(params["u_train"]), float(params["u_test"])
    if not (ut > 0 and ue > 0):
        return "the fit has a compute slope at 0: the score does not grow with that compute"
    q, need = lim.queries, target - s0
    r = ut / ue
    # on the line s0 + ut T + ue E = target (T, E: log10 of C_train, C_test)
    e_opt = (need - ut * math.log10(q * r)) / (ut + ue)
    lo, hi = -math.inf, math.inf
    lo_name, hi_name = None, None
    if lim.c_test_min is not None:
        lo, lo_name = math.log10(lim.c_test_min), "c_test_min"
    if lim.c_train_max is not None:
        e_need = (need - ut * math.log10(lim.c_train_max)) / ue  # T <= log10 c_train_max
        if e_need > lo:
            lo, lo_name = e_need, "c_train_max"
    if lim.c_test_max is not None:
        hi, hi_name = math.log10(lim.c_test_max), "c_test_max"
    if lo > hi:
        parts = [f"C_train <= {lim.c_train_max:.3g}" if lim.c_train_max is not None else "",
                 f"C_test <= {lim.c_test_max:.3g}" if lim.c_test_max is not None else "",
                 f"C_test >= {lim.c_test_min:.3g}" if lim.c_test_min is not None else ""]
        return (f"no split reaches score {target:g} within "
                f"{', '.join(p for p in parts if p)}")
    binding = None
    e = e_opt
    if e < lo:
        e, binding = lo, lo_name
    elif e > hi:
        e, binding = hi, hi_name
    t = (need - ue * e) / ut
    if t > 308 or e > 308:
        return f"score {target:g} needs more than 1e308 FLOPs under this fit"
    c_train, c_test = 10.0**t, 10.0**e
    if lim.budget is not None and c_train + q * c_test > lim.budget:
        return (f"score {target:g} needs a total of {c_train + q * c_test:.3g} FLOPs at the "
                f"cheapest split, above the budget {lim.budget:.3g}")
    return c_train, c_test, binding


def plan_test_compute(pl: PlanLaw | FitResult, target: float, *, queries: float = 1.0,
                      c_test_min: float | None = None, c_test_max: float | None = None,
                      c_train_max: float | None = None, budget: float | None = None,
                      level: float | None = None,
                      ranges: Mapping[str, Any] | None = None) -> TrainTestPlan:
    """The cheapest split of ``C_train + queries * C_test`` reaching score ``target`` under a
    ``train-test`` fit or law (a :class:`~scalinglab.fit.FitResult` or :class:`PlanLaw`).

    ``queries``: how many times the inference cost is paid (queries served, each costing
    ``C_test`` FLOPs). ``c_test_min`` / ``c_test_max``: limits on inference FLOPs per query;
    ``c_train_max``: on training FLOPs; ``budget``: on the total. Intervals at ``level``
    (default: the fit's level) from the bootstrap draws; ``ranges`` (``{"C_train": (lo, hi),
    ...}``, default: a FitResult's ``provenance["ranges"]``) turns on extrapolation warnings.
    Bad values are :class:`~scalinglab.errors.ParameterError` s naming the parameter.
    """
    p = _law_of(pl, "train-test")
    tgt = _finite(target, "target", "target score")
    lim = _Limits(
        queries=check_positive(queries, "queries", "number of queries"),
        c_test_min=_optional_positive(c_test_min, "c_test_min", "minimum test compute"),
        c_test_max=_optional_positive(c_test_max, "c_test_max", "maximum test compute"),
        c_train_max=_optional_positive(c_train_max, "c_train_max", "maximum training compute"),
        budget=_optional_positive(budget, "budget", "total compute budget"),
    )
    if lim.c_test_min is not None and lim.c_test_max is not None \
            and lim.c_test_min > lim.c_test_max:
        raise ParameterError("c_test_min", f"minimum test compute {lim.c_test_min:g} is above "
                             f"the maximum, c_test_max= {lim.c_test_max:g}")
    lvl = _check_level(level, p)
    rate = trade_off(p.params)
    plan = TrainTestPlan(
        law=p.law.name, target=tgt, queries=lim.queries, reachable=False,
        exchange_rate=rate.get("exchange_rate", math.nan),
        test_per_10x_train=rate.get("test_per_10x_train", math.nan),
        conventions={
            "C_train": "training FLOPs (the fit's C_train column)",
            "C_test": "inference FLOPs per query (the fit's C_test column)",
            "total_compute": "C_train + queries * C_test",
            "score": "the fitted score column's units",
            "exchange_rate": "u_train / u_test = -d log C_test / d log C_train at fixed score",
        },
        warnings=list(p.warnings),
    )
    sol = _solve(p.params, tgt, lim)
    if isinstance(sol, str):
        plan.reason = sol
    else:
        c_train, c_test, binding = sol
        total = c_train + lim.queries * c_test
        plan.reachable = True
        plan.C_train, plan.C_test, plan.binding = c_train, c_test, binding
        plan.inference_compute = lim.queries * c_test
        plan.total_compute = total
        plan.train_share = c_train / total
        plan.warnings += _extrapolation({"C_train": c_train, "C_test": c_test},
                                        _ranges(pl, ranges))
    draws = p.draw_dicts()
    if draws:
        cols: dict[str, list[float]] = {k: [] for k in
                                         ("C_train", "C_test", "inference_compute",
                                          "total_compute", "train_share", "exchange_rate",
                                          "test_per_10x_train")}
        n_ok = 0
        for d in draws:
            rd = trade_off(d)
            for k in ("exchange_rate", "test_per_10x_train"):
                cols[k].append(rd.get(k, math.nan))
            s = _solve(d, tgt, lim)
            if isinstance(s, str):
                continue
            n_ok += 1
            tot = s[0] + lim.queries * s[1]
            cols["C_train"].append(s[0])
            cols["C_test"].append(s[1])
            cols["inference_compute"].append(lim.queries * s[1])
            cols["total_compute"].append(tot)
            cols["train_share"].append(s[0] / tot)
        plan.level, plan.n_draws = lvl, len(draws)
        plan.reachable_fraction = n_ok / len(draws)
        plan.intervals = {k: q for k, v in cols.items()
                          if (q := _quantiles(v, lvl)) is not None}
        if plan.reachable and plan.reachable_fraction < 1:
            plan.warnings.append(f"the target is not reachable under the limits for "
                                 f"{len(draws) - n_ok} of {len(draws)} bootstrap draws; the "
                                 f"intervals cover the others")
    else:
        plan.warnings.append("no bootstrap draws: no intervals (fit with bootstrap > 0)")
    return plan


# ---------------------------------------------------------------------------- coverage
def plan_samples(pl: PlanLaw | FitResult, target: float, *,
                 flops_per_sample: float | None = None, queries: float = 1.0,
                 level: float | None = None,
                 ranges: Mapping[str, Any] | None = None) -> SamplesPlan:
    """Samples per problem at which a ``coverage`` fit or law reaches ``target`` coverage
    (strictly between 0 and 1), the whole number of samples that does and, with
    ``flops_per_sample``, the inference FLOPs per problem (``C_test``) and over ``queries``
    problems. Intervals from the bootstrap draws at ``level``."""
    p = _law_of(pl, "coverage")
    tgt = _finite(target, "target", "target coverage")
    if not 0 < tgt < 1:
        raise ParameterError("target", f"target coverage must be strictly between 0 and 1 "
                             f"(the law reaches 1 only with unboundedly many samples), got "
                             f"{target!r}")
    fps = _optional_positive(flops_per_sample, "flops_per_sample", "FLOPs per sample")
    nq = check_positive(queries, "queries", "number of queries")
    lvl = _check_level(level, p)
    plan = SamplesPlan(law=p.law.name, target=tgt, reachable=False, flops_per_sample=fps,
                       queries=nq,
                       conventions={"samples": "independent samples per problem (k)",
                                    "coverage": "fraction of problems solved by any sample "
                                                "(pass@k with an oracle verifier)",
                                    "C_test": "samples x flops_per_sample, per problem"},
                       warnings=list(p.warnings))
    k = samples_for_coverage(p.params, tgt)
    if not math.isfinite(k) or k > 1e300:
        plan.reason = f"coverage {tgt:g} is not reached with any finite number of samples"
    else:
        plan.reachable = True
        plan.samples = k
        whole = max(1, math.ceil(k - 1e-9))
        plan.samples_whole = whole
        plan.coverage_at_whole = float(p.law.predict(p.params, k=whole))
        if k < 1:
            plan.warnings.append(f"one sample already reaches coverage "
                                 f"{math.exp(p.params['a']):.3g} >= {tgt:g}")
        if fps is not None:
            plan.C_test = whole * fps
            plan.inference_compute = nq * plan.C_test
        plan.warnings += _extrapolation({"k": k}, _ranges(pl, ranges))
    draws = p.draw_dicts()
    if draws:
        ks = [samples_for_coverage(d, tgt) for d in draws]
        ok = [v for v in ks if math.isfinite(v)]
        plan.level, plan.n_draws = lvl, len(draws)
        plan.reachable_fraction = len(ok) / len(draws)
        if (qk := _quantiles(ok, lvl)) is not None:
            plan.intervals["samples"] = qk
            if fps is not None:  # whole samples, as the point plan counts them
                lo, hi = (max(1, math.ceil(v - 1e-9)) * fps for v in qk)
                plan.intervals["C_test"] = [lo, hi]
                plan.intervals["inference_compute"] = [nq * lo, nq * hi]
    else:
        plan.warnings.append("no bootstrap draws: no intervals (fit with bootstrap > 0)")
    return plan

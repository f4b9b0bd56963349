"""``scalinglab.fit``: fit a law to an observation table (Approach 3 and every other law).

``fit(df, law="chinchilla", bootstrap=1000)`` reads and validates the table, runs the
multi-start optimiser (:mod:`scalinglab.fit.optimize`), checks the result
(:mod:`scalinglab.fit.diagnostics`), optionally bootstraps it (every resample gets the full
multi-start; resampling whole runs when the table has a ``run_id`` with repeated values, or
groups on request) and backtests it on the points above a compute threshold.

Fixed parameters (``fixed={"E": 1.69}``, ``scalinglab fit --fix E=1.69``) are held at the given
values: the optimiser and every bootstrap resample fit only the others
(:func:`scalinglab.fit.optimize.hold`), the diagnostics judge only the others (no bound or
collapse warning, no Hessian column for a held parameter), the held ones get no interval and the
result records them (``FitResult.fixed``). Derived quantities use all parameters. This is how a
staged fit is written: fit some parameters on one subset, then hold them and fit the rest on
another (see :func:`fit`).

:func:`fit` runs in steps: check the options (:func:`_objective_of`), read the table and split
off the held-out points (:func:`_read_table`), fit and diagnose (:func:`_fit_main`), bootstrap
(:func:`_bootstrap_step`), profile, backtest, and record the provenance
(:func:`_provenance`). The data travel as one :class:`~scalinglab.fit.problem.FitProblem`, the
loss as one :class:`~scalinglab.fit.objectives.Objective`.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from scalinglab import __version__
from scalinglab.errors import FitError, InputError, ParameterError, argument_error
from scalinglab.fit import diagnostics
from scalinglab.fit.objectives import DEFAULT_DELTA, Objective
from scalinglab.fit.optimize import OptimumInfo, multistart
from scalinglab.fit.problem import FitProblem
from scalinglab.fit.profile import profile_fit
from scalinglab.fit.profile import resolve_names as profile_names
from scalinglab.fit.records import BacktestRecord, BootstrapRecord, Diagnostic, OptimizerRecord
from scalinglab.fit.result import FitResult
from scalinglab.laws import Law, chinchilla_allocation, get_law
from scalinglab.observations import data_hash, load_observations, repetition_warning, validate


def check_fixed(law: Law, fixed: Mapping[str, float] | None,
                option: str = "fixed=") -> dict[str, float]:
    """The parameters of ``law`` to hold, validated, in the law's parameter order.

    Each name must be a parameter of ``law`` and each value a finite number within the
    parameter's allowed range (positive for scale parameters, which are fitted as logs); at
    least one parameter must stay free. Otherwise an :class:`OptionError` naming ``option``
    (``fixed=`` from the API, ``--fix`` / ``--fix-from`` from the command line) that lists the
    law's parameters.
    """
    if not fixed:
        return {}
    takes = f"law {law.name!r} takes {', '.join(law.param_names)}"
    unknown = [str(k) for k in fixed if k not in law.param_names]
    if unknown:
        raise argument_error(option, f"law {law.name!r} has no parameter(s) "
                          f"{', '.join(unknown)}; it takes {', '.join(law.param_names)}")
    out: dict[str, float] = {}
    for p in law.params:
        if p.name not in fixed:
            continue
        try:
            v = float(fixed[p.name])
        except (TypeError, ValueError):
            raise argument_error(option, f"value of {p.name} is not a number: "
                              f"{fixed[p.name]!r}; {takes}") from None
        if not math.isfinite(v):
            raise argument_error(option, f"{p.name} must be a finite number, got {v}; {takes}")
        positive = p.log and p.lower <= 0
        if v < p.lower or v > p.upper or (positive and v <= 0):
            rng = f"{'(' if positive else '['}{p.lower:g}, {p.upper:g}]".replace("inf]", "inf)")
            raise argument_error(option, f"{p.name} = {v:g} is outside its allowed range {rng}; "
                              f"{takes}")
        out[p.name] = v
    if len(out) == law.n_params:
        raise argument_error(option, f"would hold every parameter of law {law.name!r} "
                          f"({', '.join(law.param_names)}); leave at least one to fit")
    return out


def _entropy_rate(df: pd.DataFrame) -> dict[str, float]:
    """``{"entropy_rate": H}`` when the runs carry their source's entropy rate (synthetic
    sources), else ``{}``."""
    if "entropy_rate" not in df.columns:
        return {}
    rates = pd.to_numeric(df["entropy_rate"], errors="coerce").dropna()
    return {"entropy_rate": float(rates.iloc[0])} if len(rates) else {}


def _natural(law: Law, z: np.ndarray, held: Mapping[str, float]) -> dict[str, float]:
    """Natural-unit parameters at the full internal vector ``z``, in canonical form; held
    parameters keep exactly the values given (a canonical form that would move them is not
    applied)."""
    p = law.from_internal(z)
    if not held:
        return law.canonical(p)
    p.update(held)
    c = law.canonical(p)
    return c if all(c[k] == v for k, v in held.items()) else p


def _fit_arrays(problem: FitProblem, objective: Objective, refine_top: int,
                polish_top: int) -> np.ndarray:
    """One full multi-start fit of ``problem``; natural-unit vector of all the law's
    parameters, the held ones at their values (NaN on failure)."""
    law = problem.law
    try:
        info = multistart(problem, objective, None, refine_top, polish_top)
    except FitError:
        return np.full(law.n_params, np.nan)
    p = _natural(law, problem.full(info.z), problem.fixed)
    return np.array([p[n] for n in law.param_names])


@dataclass
class _BootstrapTask:
    """One process's share of the bootstrap: the resamples' row indices of ``problem``."""

    problem: FitProblem
    objective: Objective
    refine_top: int
    polish_top: int
    index_sets: list[np.ndarray] = field(default_factory=list)


def _bootstrap_chunk(task: _BootstrapTask) -> np.ndarray:
    return np.array([_fit_arrays(task.problem.subset(idx), task.objective, task.refine_top,
                                 task.polish_top) for idx in task.index_sets])


def bootstrap_indices(n: int, units: np.ndarray | None, R: int, seed: int) -> list[np.ndarray]:
    """``R`` resamples of row indices: of rows, or of whole units (runs/groups) when given."""
    rng = np.random.default_rng(seed)
    if units is None:
        return [rng.integers(0, n, n) for _ in range(R)]
    labels, inv = np.unique(units, return_inverse=True)
    members = [np.flatnonzero(inv == k) for k in range(len(labels))]
    out = []
    for _ in range(R):
        pick = rng.integers(0, len(labels), len(labels))
        out.append(np.concatenate([members[k] for k in pick]))
    return out


def run_bootstrap(problem: FitProblem, objective: Objective, R: int, seed: int,
                  units: np.ndarray | None = None, n_jobs: int | None = None,
                  refine_top: int = 8, polish_top: int = 1,
                  on_progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Bootstrap draws ``(R, P)`` of ``problem.law``'s parameters in natural units (rows that
    failed are NaN), each resample of ``problem``'s points (or of whole ``units``: runs,
    groups; one label per point) fitted with the full multi-start.

    ``problem.fixed`` is held in every resample; their columns of the draws are the held
    values. ``seed`` seeds the resampling; ``n_jobs`` processes (default: up to 2 from 100
    resamples on, else 1); ``on_progress(k)`` is called as each batch of ``k`` resamples ends.

    Every resample gets the full grid scan; the batched refinement keeps the best 8 starts and
    the polish the best one (measured on Chinchilla resamples: the same optimum as 32/4 in
    every case, at 0.7x the time of the main fit's 16/2).
    """
    index_sets = bootstrap_indices(problem.n, units, R, seed)
    if n_jobs is None:
        n_jobs = min(os.cpu_count() or 1, 2) if R >= 100 else 1
    n_chunks = max(1, min(R, 4 * n_jobs if n_jobs > 1 else 10))
    chunks = [index_sets[i::n_chunks] for i in range(n_chunks)]
    # chunks are interleaved: put the results back in resample order
    order = np.concatenate([np.arange(R)[i::n_chunks] for i in range(n_chunks)])
    tasks = [_BootstrapTask(problem, objective, refine_top, polish_top, c) for c in chunks]
    parts: list[np.ndarray] = []
    if n_jobs > 1:
        with ProcessPoolExecutor(max_workers=n_jobs) as ex:
            for part in ex.map(_bootstrap_chunk, tasks):
                parts.append(part)
                if on_progress:
                    on_progress(len(part))
    else:
        for t in tasks:
            parts.append(_bootstrap_chunk(t))
            if on_progress:
                on_progress(len(parts[-1]))
    stacked = np.concatenate(parts)
    draws = np.empty_like(stacked)
    draws[order] = stacked
    return draws


def _units(df: pd.DataFrame, by: str) -> tuple[np.ndarray | None, str]:
    if by == "points":
        return None, "points"
    if by in ("run_id", "group"):
        if by not in df.columns:
            raise ParameterError("bootstrap_by", f"the table has no {by!r} column")
        return df[by].astype(str).to_numpy(), by
    if by != "auto":
        raise ParameterError("bootstrap_by", f"expected auto, points, run_id or group, got {by!r}")
    # auto: whole runs when a run contributes several rows (checkpoints, seeds); otherwise
    # single points. Groups (a corpus, a FLOP budget) are resampled only when asked for:
    # with a handful of groups, resampling them gives degenerate intervals.
    if "run_id" in df.columns and df["run_id"].duplicated().any():
        return df["run_id"].astype(str).to_numpy(), "run_id"
    return None, "points"


def _derived(law: Law, params: Mapping[str, float],
             at_compute: Sequence[float]) -> dict[str, float]:
    out = dict(law.derived(params))
    if law.name == "chinchilla" and at_compute and "a" in out:
        for c in at_compute:
            n_opt, d_opt = chinchilla_allocation(params, c)
            tag = f"{c:.3g}"
            out[f"N_opt@{tag}"] = float(n_opt)
            out[f"D_opt@{tag}"] = float(d_opt)
            out[f"loss_opt@{tag}"] = float(law.predict(params, N=n_opt, D=d_opt))
    return out


def _percentile(values: np.ndarray, confidence: float) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if v.size < 2:
        return (float("nan"), float("nan"))
    a = (1 - confidence) / 2
    return float(np.quantile(v, a)), float(np.quantile(v, 1 - a))


def backtest(law: Law, params: Mapping[str, float], test: pd.DataFrame, y: str,
             threshold: float, n_train: int, draws: np.ndarray | None = None,
             confidence: float = 0.95, residuals: np.ndarray | None = None,
             seed: int = 0) -> BacktestRecord:
    """Prediction errors of a fit on held-out points (those above the compute threshold).

    With bootstrap ``draws`` and the fit's log ``residuals``, a predictive interval at
    ``confidence``: each draw's prediction times a resampled run scatter (resampled with
    ``seed``, the fit's seed)."""
    obs = test[y].to_numpy(float)
    pred = law.predict(params, **{v: test[v].to_numpy(float) for v in law.variables})
    rel = pred / obs - 1.0
    out = BacktestRecord(
        threshold_C=threshold, n_train=n_train, n_test=len(test),
        mean_abs_rel_error=float(np.mean(np.abs(rel))),
        max_abs_rel_error=float(np.max(np.abs(rel))),
        rmse_log=float(np.sqrt(np.mean(np.log(pred / obs) ** 2))),
        bias_rel=float(np.mean(rel)))
    pts = {"observed": obs, "predicted": pred, "rel_error": rel}
    if "C" in test.columns:
        pts["C"] = test["C"].to_numpy(float)
    if draws is not None and len(draws):
        # predictive interval: parameter uncertainty (the bootstrap draws) times the scatter
        # of single runs about the law (a resampled fitted log residual per draw)
        ok = [d for d in draws if np.all(np.isfinite(d))]
        preds = np.array([law.predict(d, **{v: test[v].to_numpy(float) for v in law.variables})
                          for d in ok])
        if residuals is not None and len(residuals):
            rng = np.random.default_rng(seed)
            preds = preds * np.exp(-rng.choice(np.asarray(residuals), preds.shape))
        a = (1 - confidence) / 2
        lo, hi = np.quantile(preds, a, axis=0), np.quantile(preds, 1 - a, axis=0)
        pts["lo"], pts["hi"] = lo, hi
        out.interval_coverage = float(np.mean((obs >= lo) & (obs <= hi)))
        out.interval = "predictive: bootstrap parameters x resampled run scatter"
    out.points = [dict(zip(pts, vals, strict=True)) for vals in zip(*pts.values(), strict=True)]
    return out


def _objective_of(loss: str, delta: float, bootstrap: int, confidence: float) -> Objective:
    """Check :func:`fit`'s numeric options; the objective they name."""
    objective = Objective(loss, delta)  # ParameterError naming loss or delta
    if bootstrap < 0:
        raise ParameterError("bootstrap", f"must be >= 0, got {bootstrap}")
    if not (0 < confidence < 1):
        raise ParameterError("confidence", f"must be between 0 and 1, got {confidence}")
    return objective


@dataclass
class _Table:
    """The validated observations: the points to fit (``df``, numbered by the input's own
    rows), the held-out ones (``test``, or None), the source's name and the columns used."""

    df: pd.DataFrame
    test: pd.DataFrame | None
    source: str
    required: list[str]


def _read_table(data: pd.DataFrame | str | os.PathLike[str], law: Law, y: str,
                columns: Mapping[str, str] | None, holdout_above: float | None,
                held: Mapping[str, float]) -> _Table:
    """Read and validate the table, split off the points above ``holdout_above`` and check
    that enough points remain to fit the free parameters."""
    # warnings name the input's own rows: number them (1-based) before any row is dropped
    df = load_observations(data, columns, curves="S" in law.variables).reset_index(drop=True)
    src = str(df.attrs.get("source", "<data>"))
    if y not in df.columns:
        raise InputError(f"missing column {y!r} (the value to fit); the table has "
                         f"{', '.join(map(str, df.columns))}", source=src)
    required = [*law.variables, y]
    if holdout_above is not None:
        required.append("C")
    if "weight" in df.columns:
        required.append("weight")
    df = validate(df, dict.fromkeys(required), source=src)
    test = None
    if holdout_above is not None:
        if not holdout_above > 0:
            raise ParameterError("holdout_above", f"must be > 0, got {holdout_above}")
        test = df[df["C"] > holdout_above]
        df = df[df["C"] <= holdout_above]
        if len(test) == 0:
            raise ParameterError("holdout_above", f"no point has C > {holdout_above:g} "
                              f"(largest C is {df['C'].max():g})")
    n_free = law.n_params - len(held)
    if len(df) < n_free:
        free = [n for n in law.param_names if n not in held]
        held_note = f"; {', '.join(held)} held" if held else ""
        raise FitError(f"{src}: {len(df)} point(s) to fit but law {law.name!r} has "
                       f"{n_free} parameters to fit ({', '.join(free)}{held_note})")
    return _Table(df, test, src, required)


@dataclass
class _MainFit:
    """The fit before any bootstrap: the optimum (``info.z`` all of the law's internal
    coordinates), its natural parameters, log residuals and warnings, the data's ranges."""

    info: OptimumInfo
    params: dict[str, float]
    residuals: np.ndarray
    warnings: list[Diagnostic]
    ranges: dict[str, list[float]]


def _fit_main(problem: FitProblem, objective: Objective, df: pd.DataFrame, y: str,
              at_compute: Sequence[float], refine_top: int, polish_top: int) -> _MainFit:
    """Multi-start fit of ``problem`` and its diagnostics (``df``: the fitted rows)."""
    law = problem.law
    info = multistart(problem, objective, None, refine_top, polish_top)
    info = replace(info, z=problem.full(info.z))  # all of the law's parameters
    params = _natural(law, info.z, problem.fixed)
    with np.errstate(all="ignore"):  # from z: natural params may overflow (a scale -> inf)
        resid = law.log_value(info.z[None, :], problem.X)[0] - problem.logy
    rows = df.index.to_numpy() + 1  # the fitted points' rows in the input table
    warnings = diagnostics.check(problem, info, resid, rows=rows,
                                 groups=diagnostics.groupings(df), y=y)
    repeated = repetition_warning(df)
    if repeated:
        warnings.append(Diagnostic("data-repetition", repeated))
    ranges = {c: [float(df[c].min()), float(df[c].max())]
              for c in ("N", "D", "C", *law.variables) if c in df.columns
              and pd.api.types.is_numeric_dtype(df[c])}
    if at_compute and "C" in ranges:
        for c in at_compute:
            orders = np.log10(c / ranges["C"][1])
            if orders > 2:
                warnings.append(Diagnostic(
                    "extrapolation", f"extrapolation: budget {c:.3g} is {orders:.1f} orders of "
                    f"magnitude beyond the largest fitted C ({ranges['C'][1]:.3g})"))
    return _MainFit(info, params, resid, warnings, ranges)


@dataclass
class _Bootstrap:
    """What the bootstrap step adds to a fit (all empty without a bootstrap)."""

    draws: np.ndarray | None = None
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    derived_intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    record: BootstrapRecord = field(default_factory=BootstrapRecord)
    warnings: list[Diagnostic] = field(default_factory=list)


def _bootstrap_step(problem: FitProblem, objective: Objective, df: pd.DataFrame,
                    derived: Mapping[str, float], *, resamples: int, seed: int,
                    confidence: float, bootstrap_by: str, at_compute: Sequence[float],
                    refine_top: int, polish_top: int, n_jobs: int | None,
                    on_progress: Callable[[int], None] | None) -> _Bootstrap:
    """Bootstrap the fit (half the main fit's refined and polished starts per resample);
    percentile intervals of the free parameters and of the ``derived`` quantities."""
    if not resamples:
        return _Bootstrap()
    law = problem.law
    units, unit_name = _units(df, bootstrap_by)
    t1 = time.perf_counter()
    draws = run_bootstrap(problem, objective, resamples, seed, units, n_jobs,
                          max(1, refine_top // 2), max(1, polish_top // 2), on_progress)
    ok = np.all(np.isfinite(draws), axis=1)
    out = _Bootstrap(draws=draws)
    for i, n in enumerate(law.param_names):
        if n not in problem.fixed:  # a held parameter has no interval
            out.intervals[n] = _percentile(draws[:, i], confidence)
    dd = [_derived(law, dict(zip(law.param_names, d, strict=True)), at_compute)
          for d in draws[ok]]
    for k in derived:
        out.derived_intervals[k] = _percentile(np.array([d.get(k, np.nan) for d in dd]),
                                               confidence)
    failed = int((~ok).sum())
    out.record = BootstrapRecord(resamples=resamples, unit=unit_name, failed=failed,
                                 seconds=time.perf_counter() - t1, seed=seed)
    if failed > 0.05 * resamples:
        out.warnings.append(Diagnostic("bootstrap", f"bootstrap: {failed} of {resamples} "
                                       "resamples failed to fit"))
    return out


def _provenance(table: _Table, law: Law, options: Mapping[str, Any],
                ranges: Mapping[str, list[float]]) -> dict[str, Any]:
    """Where the fit came from: the source, its hash over the fitted columns, the data's
    ranges, versions and the options."""
    df = table.df
    return {
        "source": table.source,
        **_entropy_rate(df),
        "data_hash": data_hash(df, table.required[: len(law.variables) + 1]),
        "ranges": dict(ranges),
        "scalinglab_version": __version__, "python": platform.python_version(),
        "options": dict(options),
    }


def fit(
    data: pd.DataFrame | str | os.PathLike[str],
    law: str | Law = "chinchilla",
    *,
    x: str | None = None,
    breaks: int | None = None,
    y: str | None = None,
    loss: str = "huber",
    delta: float = DEFAULT_DELTA,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
    holdout_above: float | None = None,
    columns: Mapping[str, str] | None = None,
    at_compute: Sequence[float] = (),
    bootstrap_by: str = "auto",
    refine_top: int = 16,
    polish_top: int = 2,
    n_jobs: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    fixed: Mapping[str, float] | None = None,
    profile: bool | str | Sequence[str] = False,
) -> FitResult:
    """Fit ``law`` to an observation table (a DataFrame or a file path).

    ``y``: the column to fit (default the law's :attr:`~scalinglab.laws.Law.target`: ``loss``
    for most laws). ``loss``: ``huber`` (default, delta 1e-3 on log residuals, summed), ``mse`` or
    ``huber-likelihood`` (Huber density with a fitted scale). ``bootstrap``: number of
    resamples, each with the full multi-start (percentile intervals at ``confidence``).
    ``holdout_above``: fit on points with C <= this and backtest on the rest.
    ``at_compute``: budgets at which to report the compute-optimal N, D, loss (chinchilla).
    Warnings that name points name the input table's own 1-based data rows (before
    ``holdout_above`` drops any), as input errors do.

    ``fixed``: ``{name: value}`` of parameters to hold at those values (natural units); only the
    others are fitted, in the main fit and in every bootstrap resample. Held parameters get no
    interval and no bound/collapse warning, are left out of the Hessian check and are recorded
    in ``FitResult.fixed``; derived quantities (``a``, ``b``, ``G``, ``N_opt``...) use all
    parameters. Intervals are conditional on the held values (their own uncertainty is not
    propagated). An unknown name, a value that is not finite or outside the law's range, or
    holding every parameter is an :class:`OptionError` naming ``fixed=``.

    A staged fit holds what an earlier fit on another subset found. Muennighoff et al.'s
    data-constrained law (2023) is fitted in two stages: E, A, B, alpha and beta on runs without
    repetition (the Chinchilla law, to which the data-constrained law reduces when D <= U and
    N is at most the compute-optimal size for U), then the repetition scales RD (R_D*) and
    RN (R_N*) on all runs with those five held::

        res1 = fit(df[df["D"] <= df["U"]], "chinchilla")
        res2 = fit(df, "data-constrained",
                   fixed={k: res1.params[k] for k in ("E", "A", "B", "alpha", "beta")})

    (command line: ``scalinglab fit ... --json stage1.json`` then ``scalinglab fit ... --law
    data-constrained --fix-from stage1.json``).

    ``profile``: ``True`` (every free parameter), a name or names (``["RD", "RN"]``): profile
    likelihood-ratio intervals and identification of those parameters
    (:mod:`scalinglab.fit.profile`), in ``FitResult.identification`` (``{"RD": {"status":
    "not identified", "flat_range": [lo, hi], ...}}`` or ``"identified"`` with ``interval``)
    and ``FitResult.profile``, with a ``not identified: ...`` warning for each parameter the
    data do not determine. Off by default (each profiled parameter costs about 10 - 20 local
    refits).
    """
    t0 = time.perf_counter()
    objective = _objective_of(loss, delta, bootstrap, confidence)
    law_options = {"x": x, "breaks": breaks}
    lawobj = get_law(law, x=x, breaks=breaks)
    y = lawobj.target if y is None else y
    held = check_fixed(lawobj, fixed)
    profiled = profile_names(lawobj, profile, held)
    table = _read_table(data, lawobj, y, columns, holdout_above, held)
    df = table.df
    problem = FitProblem.from_frame(df, lawobj, y, held)
    main = _fit_main(problem, objective, df, y, at_compute, refine_top, polish_top)
    warnings = main.warnings
    t_fit = time.perf_counter() - t0

    derived = _derived(lawobj, main.params, at_compute)
    boot = _bootstrap_step(problem, objective, df, derived, resamples=bootstrap, seed=seed,
                           confidence=confidence, bootstrap_by=bootstrap_by,
                           at_compute=at_compute, refine_top=refine_top,
                           polish_top=polish_top, n_jobs=n_jobs, on_progress=on_progress)
    warnings.extend(boot.warnings)
    info = main.info
    prof = profile_fit(problem, objective, info.z, info.objective, main.residuals, profiled,
                       sigma=info.sigma, confidence=confidence,
                       derive=lambda p: _derived(lawobj, p, at_compute),
                       intervals=boot.intervals)
    warnings.extend(prof.warnings)
    bt = None
    if table.test is not None:
        bt = backtest(lawobj, main.params, table.test, y, float(holdout_above or 0), len(df),
                      boot.draws, confidence, main.residuals, seed=seed)
    conventions = {"loss": f"{y}, fitted on log residuals ({loss})",
                   **{k: str(v) for k, v in df.attrs.get("conventions", {}).items()}}
    options = {"loss": loss, "delta": delta, "bootstrap": bootstrap, "seed": seed,
               "confidence": confidence, "holdout_above": holdout_above, "y": y,
               "refine_top": refine_top, "polish_top": polish_top,
               "columns": dict(columns or {}), "fixed": dict(held), "profile": profiled}
    return FitResult(
        law=lawobj, law_options=law_options, params=main.params, objective=info.objective,
        loss=loss, delta=delta, sigma=info.sigma, n_points=len(df), intervals=boot.intervals,
        confidence=confidence, draws=boot.draws, derived=derived,
        derived_intervals=boot.derived_intervals, warnings=warnings,
        residuals=main.residuals, backtest=bt,
        optimizer=OptimizerRecord(n_starts=info.n_starts, n_refined=info.n_refined,
                                  n_at_best=info.n_at_best, converged=info.converged,
                                  grad_norm=info.grad_norm, seconds=t_fit),
        bootstrap=boot.record, conventions=conventions,
        provenance=_provenance(table, lawobj, options, main.ranges), fixed=held,
        identification=prof.identification, profile=prof.settings,
    )

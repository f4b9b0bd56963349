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
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from scalinglab import __version__
from scalinglab.errors import FitError, InputError, ParameterError, argument_error, unknown
from scalinglab.fit import diagnostics
from scalinglab.fit.objectives import OBJECTIVES
from scalinglab.fit.optimize import full_internal, hold, multistart
from scalinglab.fit.profile import profile_fit
from scalinglab.fit.profile import resolve_names as profile_names
from scalinglab.fit.result import FitResult
from scalinglab.laws import Law, chinchilla_allocation, get_law
from scalinglab.observations import data_hash, load_observations, repetition_warning, validate


def _prepare(df: pd.DataFrame, law: Law, y: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.stack([df[v].to_numpy(float) for v in law.variables])
    logy = np.log(df[y].to_numpy(float))
    w = df["weight"].to_numpy(float) if "weight" in df.columns else np.ones(len(df))
    return X, logy, w


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


def _fit_arrays(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, kind: str,
                delta: float, refine_top: int, polish_top: int,
                fixed: Mapping[str, float] | None = None) -> np.ndarray:
    """One full multi-start fit on arrays, the ``fixed`` parameters held; natural-unit vector
    of all the law's parameters (NaN on failure)."""
    held = dict(fixed or {})
    fitlaw = hold(law, held)
    try:
        grid = fitlaw.start_grid(X, np.exp(logy))
        info = multistart(fitlaw, X, logy, w, kind, delta, grid, refine_top, polish_top)
    except FitError:
        return np.full(law.n_params, np.nan)
    p = _natural(law, full_internal(fitlaw, info.z), held)
    return np.array([p[n] for n in law.param_names])


def _bootstrap_chunk(args: tuple) -> np.ndarray:
    law, X, logy, w, kind, delta, refine_top, polish_top, fixed, index_sets = args
    return np.array([_fit_arrays(law, X[:, idx], logy[idx], w[idx], kind, delta, refine_top,
                                 polish_top, fixed) for idx in index_sets])


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


def run_bootstrap(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, kind: str,
                  delta: float, R: int, seed: int, units: np.ndarray | None = None,
                  n_jobs: int | None = None, refine_top: int = 8, polish_top: int = 1,
                  on_progress: Callable[[int], None] | None = None,
                  fixed: Mapping[str, float] | None = None) -> np.ndarray:
    """Bootstrap draws ``(R, P)`` in natural units (rows that failed are NaN).

    ``fixed``: parameters held in every resample (validated by :func:`check_fixed`); their
    columns of the draws are the held values.

    Every resample gets the full grid scan; the batched refinement keeps the best 8 starts and
    the polish the best one (measured on Chinchilla resamples: the same optimum as 32/4 in
    every case, at 0.7x the time of the main fit's 16/2).
    """
    index_sets = bootstrap_indices(len(logy), units, R, seed)
    if n_jobs is None:
        n_jobs = min(os.cpu_count() or 1, 2) if R >= 100 else 1
    n_chunks = max(1, min(R, 4 * n_jobs if n_jobs > 1 else 10))
    chunks = [index_sets[i::n_chunks] for i in range(n_chunks)]
    # chunks are interleaved: put the results back in resample order
    order = np.concatenate([np.arange(R)[i::n_chunks] for i in range(n_chunks)])
    tasks = [(law, X, logy, w, kind, delta, refine_top, polish_top, dict(fixed or {}), c)
             for c in chunks]
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
             confidence: float = 0.95, residuals: np.ndarray | None = None) -> dict[str, Any]:
    """Prediction errors of a fit on held-out points (those above the compute threshold)."""
    obs = test[y].to_numpy(float)
    pred = law.predict(params, **{v: test[v].to_numpy(float) for v in law.variables})
    rel = pred / obs - 1.0
    out: dict[str, Any] = {
        "threshold_C": threshold, "n_train": n_train, "n_test": len(test),
        "mean_abs_rel_error": float(np.mean(np.abs(rel))),
        "max_abs_rel_error": float(np.max(np.abs(rel))),
        "rmse_log": float(np.sqrt(np.mean(np.log(pred / obs) ** 2))),
        "bias_rel": float(np.mean(rel)),
    }
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
            rng = np.random.default_rng(0)
            preds = preds * np.exp(-rng.choice(np.asarray(residuals), preds.shape))
        a = (1 - confidence) / 2
        lo, hi = np.quantile(preds, a, axis=0), np.quantile(preds, 1 - a, axis=0)
        pts["lo"], pts["hi"] = lo, hi
        out["interval_coverage"] = float(np.mean((obs >= lo) & (obs <= hi)))
        out["interval"] = "predictive: bootstrap parameters x resampled run scatter"
    out["points"] = [dict(zip(pts, vals, strict=True)) for vals in zip(*pts.values(),
                                                                        strict=True)]
    return out


def fit(
    data: pd.DataFrame | str | os.PathLike[str],
    law: str | Law = "chinchilla",
    *,
    x: str | None = None,
    breaks: int | None = None,
    y: str = "loss",
    loss: str = "huber",
    delta: float = 1e-3,
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

    ``loss``: ``huber`` (default, delta 1e-3 on log residuals, summed), ``mse`` or
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
    if loss not in OBJECTIVES:
        raise ParameterError("loss", unknown("objective", loss, OBJECTIVES))
    if not (delta > 0):
        raise ParameterError("delta", f"must be > 0, got {delta}")
    if bootstrap < 0:
        raise ParameterError("bootstrap", f"must be >= 0, got {bootstrap}")
    if not (0 < confidence < 1):
        raise ParameterError("confidence", f"must be between 0 and 1, got {confidence}")
    law_options = {"x": x, "breaks": breaks}
    lawobj = get_law(law, x=x, breaks=breaks)
    held = check_fixed(lawobj, fixed)
    profiled = profile_names(lawobj, profile, held)
    fitlaw = hold(lawobj, held)  # the law in the free parameters (lawobj when none is held)
    # warnings name the input's own rows: number them (1-based) before any row is dropped
    df = load_observations(data, columns, curves="S" in lawobj.variables).reset_index(drop=True)
    src = str(df.attrs.get("source", "<data>"))
    if y not in df.columns:
        raise InputError(f"missing column {y!r} (the value to fit); the table has "
                         f"{', '.join(map(str, df.columns))}", source=src)
    required = [*lawobj.variables, y]
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
    if len(df) < fitlaw.n_params:
        held_note = f"; {', '.join(held)} held" if held else ""
        raise FitError(f"{src}: {len(df)} point(s) to fit but law {lawobj.name!r} has "
                       f"{fitlaw.n_params} parameters to fit ({', '.join(fitlaw.param_names)}"
                       f"{held_note})")
    X, logy, w = _prepare(df, lawobj, y)
    grid = fitlaw.start_grid(X, np.exp(logy))
    info = multistart(fitlaw, X, logy, w, loss, delta, grid, refine_top, polish_top)
    info = replace(info, z=full_internal(fitlaw, info.z))  # all of lawobj's parameters
    params = _natural(lawobj, info.z, held)
    with np.errstate(all="ignore"):  # from z: natural params may overflow (a scale -> inf)
        resid = lawobj.log_value(info.z[None, :], X)[0] - logy
    rows = df.index.to_numpy() + 1  # the fitted points' rows in the input table
    warnings = diagnostics.check(lawobj, X, logy, w, info, resid, rows=rows,
                                 groups=diagnostics.groupings(df), y=y, fixed=held)
    repeated = repetition_warning(df)
    if repeated:
        warnings.append(repeated)
    ranges = {c: [float(df[c].min()), float(df[c].max())]
              for c in ("N", "D", "C", *lawobj.variables) if c in df.columns
              and pd.api.types.is_numeric_dtype(df[c])}
    if at_compute and "C" in ranges:
        for c in at_compute:
            orders = np.log10(c / ranges["C"][1])
            if orders > 2:
                warnings.append(f"extrapolation: budget {c:.3g} is {orders:.1f} orders of "
                                f"magnitude beyond the largest fitted C ({ranges['C'][1]:.3g})")
    t_fit = time.perf_counter() - t0

    draws = None
    intervals: dict[str, tuple[float, float]] = {}
    derived = _derived(lawobj, params, at_compute)
    derived_int: dict[str, tuple[float, float]] = {}
    boot: dict[str, Any] = {}
    if bootstrap:
        units, unit_name = _units(df, bootstrap_by)
        t1 = time.perf_counter()
        draws = run_bootstrap(lawobj, X, logy, w, loss, delta, bootstrap, seed, units, n_jobs,
                              max(1, refine_top // 2), max(1, polish_top // 2), on_progress,
                              held)
        ok = np.all(np.isfinite(draws), axis=1)
        for i, n in enumerate(lawobj.param_names):
            if n not in held:  # a held parameter has no interval
                intervals[n] = _percentile(draws[:, i], confidence)
        dd = [_derived(lawobj, dict(zip(lawobj.param_names, d, strict=True)), at_compute)
              for d in draws[ok]]
        for k in derived:
            derived_int[k] = _percentile(np.array([d.get(k, np.nan) for d in dd]), confidence)
        boot = {"resamples": bootstrap, "unit": unit_name, "failed": int((~ok).sum()),
                "seconds": time.perf_counter() - t1, "seed": seed}
        if (~ok).sum() > 0.05 * bootstrap:
            warnings.append(f"bootstrap: {(~ok).sum()} of {bootstrap} resamples failed to fit")
    prof = profile_fit(lawobj, X, logy, w, loss, delta, info.z, info.objective, resid,
                       profiled, held=held, sigma=info.sigma, confidence=confidence,
                       derive=lambda p: _derived(lawobj, p, at_compute), intervals=intervals)
    warnings.extend(prof.warnings)
    bt = None
    if test is not None:
        bt = backtest(lawobj, params, test, y, float(holdout_above), len(df), draws, confidence,
                      resid)
    conventions = {"loss": f"{y}, fitted on log residuals ({loss})",
                   **{k: str(v) for k, v in df.attrs.get("conventions", {}).items()}}
    provenance = {
        "source": src,
        **_entropy_rate(df), "data_hash": data_hash(df, required[: len(lawobj.variables) + 1]),
        "ranges": ranges,
        "scalinglab_version": __version__, "python": platform.python_version(),
        "options": {"loss": loss, "delta": delta, "bootstrap": bootstrap, "seed": seed,
                    "confidence": confidence, "holdout_above": holdout_above, "y": y,
                    "refine_top": refine_top, "polish_top": polish_top,
                    "columns": dict(columns or {}), "fixed": dict(held),
                    "profile": profiled},
    }
    return FitResult(
        law=lawobj, law_options=law_options, params=params, objective=info.objective,
        loss=loss, delta=delta, sigma=info.sigma, n_points=len(df), intervals=intervals,
        confidence=confidence, draws=draws, derived=derived, derived_intervals=derived_int,
        warnings=warnings, residuals=resid, backtest=bt,
        optimizer={"n_starts": info.n_starts, "n_refined": info.n_refined,
                   "n_at_best": info.n_at_best, "converged": info.converged,
                   "grad_norm": info.grad_norm, "seconds": t_fit},
        bootstrap=boot, conventions=conventions, provenance=provenance, fixed=held,
        identification=prof.identification, profile=prof.settings,
    )

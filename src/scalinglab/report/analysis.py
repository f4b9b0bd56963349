"""The analyses a report shows, run on its inputs.

:func:`analyse` takes :class:`~scalinglab.report.inputs.ReportInputs` and produces an
:class:`Analysis`:

* the Approach 3 fit (``scalinglab.fit``, with bootstrap intervals), unless a fit was given;
* a backtest: the given fit's own, or a second fit that holds out the largest compute budget
  (the runs within ``tolerance`` of the largest C; when fewer than 3 runs are there, the top
  10% of runs by C) and predicts it;
* Approach 2 (IsoFLOP profiles) when the data has IsoFLOP structure: at least 2 budgets with a
  usable profile that together hold at least half of the runs (``approach2=None``, the
  default), or always/never (``True``/``False``); a run belongs to a budget by its C, and by
  (C, U) when the budgets are split by unique tokens U (:func:`isoflop_members`);
* Approach 1 and Kaplan's frontier L(C) (``scalinglab.fit.envelope``) when there are curves;
* the plan: compute-optimal N, D and loss with intervals at each budget (default 100x the
  largest C in the data);
* the convention-sensitivity report (:mod:`scalinglab.plan.conventions`) at the first plan
  budget: the allocation refitted with N total or non-embedding, C = 6ND or the full count,
  Approach 3 or Kaplan's frontier.

What cannot be done is not an error: it is noted (``Analysis.notes``) and the report goes on
without it. Only what the user must fix raises (bad options, unreadable files).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import FitError, ParameterError, ScalingLabError
from scalinglab.fit import fit as run_fit
from scalinglab.fit.approaches import EnvelopeResult, IsoFLOPResult, envelope, isoflop
from scalinglab.fit.result import FitResult
from scalinglab.plan import ComputePlan, PlanLaw, plan_compute
from scalinglab.report.inputs import ReportInputs, fit_data_hash, largest_compute

#: runs whose C agree within this fraction share a budget (as ``scalinglab isoflop``)
BUDGET_TOLERANCE = 0.1
#: default plan budget: this many times the largest C in the data
PLAN_FACTOR = 100.0


@dataclass
class Analysis:
    """Everything a report shows besides the raw data (see :func:`analyse`)."""

    inputs: ReportInputs
    fit: FitResult | None = None
    backtest_fit: FitResult | None = None
    isoflop: IsoFLOPResult | None = None
    envelope: EnvelopeResult | None = None
    plan_law: PlanLaw | None = None
    plans: list[ComputePlan] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: (what, how it was chosen or measured) rows of the study's design, shown first
    design: list[tuple[str, str]] = field(default_factory=list)
    #: the convention-sensitivity report at the first plan budget
    #: (:class:`scalinglab.plan.conventions.ConventionReport`), when the data allow one
    conventions: Any = None


def assign_budgets(C: np.ndarray, budgets: np.ndarray,
                   tolerance: float = BUDGET_TOLERANCE, *, U: np.ndarray | None = None,
                   budget_U: np.ndarray | None = None) -> np.ndarray:
    """Index of the budget each run belongs to (nearest in log C, within the tolerance), or -1.

    With ``budget_U`` (one unique-token count per budget, as ``IsoFLOPResult.U`` holds when
    budgets are split by U), a run belongs only to a budget of its own U (``U``, one per run;
    a missing U, NaN, matches a budget whose U is NaN), so two budgets at one C keep their own
    runs."""
    C = np.asarray(C, float)
    b = np.asarray(budgets, float)
    if len(b) == 0:
        return np.full(len(C), -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.abs(np.log(C)[:, None] - np.log(b)[None, :])
    if budget_U is not None:
        bu = np.asarray(budget_U, float)[None, :]
        u = (np.full(len(C), np.nan) if U is None else np.asarray(U, float))[:, None]
        same = np.isclose(u, bu, rtol=1e-9, atol=0) | (np.isnan(u) & np.isnan(bu))
        dist = np.where(same, dist, np.inf)
    dist = np.where(np.isnan(dist), np.inf, dist)
    k = np.argmin(dist, axis=1)
    ok = dist[np.arange(len(C)), k] <= np.log1p(tolerance) + 1e-9
    return np.where(ok, k, -1)


def isoflop_members(observations: pd.DataFrame, iso: IsoFLOPResult,
                    tolerance: float = BUDGET_TOLERANCE) -> np.ndarray:
    """The budget of ``iso`` each run of the table belongs to (-1: none): by C, and by (C, U)
    when the budgets are split by unique tokens (``iso.U``; the table's ``U`` column)."""
    C = pd.to_numeric(observations["C"], errors="coerce").to_numpy(float)
    if iso.U is None:
        return assign_budgets(C, iso.budgets, tolerance)
    U = (pd.to_numeric(observations["U"], errors="coerce").to_numpy(float)
         if "U" in observations.columns else None)
    return assign_budgets(C, iso.budgets, tolerance, U=U, budget_U=iso.U)


def holdout_threshold(C: np.ndarray, n_params: int,
                      tolerance: float = BUDGET_TOLERANCE) -> float | None:
    """The ``holdout_above`` that leaves out the largest budget (see the module docstring), or
    None when too few runs would remain to fit (fewer than ``max(2 P, 10)``)."""
    c = np.sort(np.asarray(C, float))
    if len(c) < 2:
        return None
    top = c >= c[-1] / (1 + tolerance)
    if top.sum() >= 3 and (~top).any():
        thr = float(c[~top].max())
    else:
        thr = float(np.quantile(c, 0.9))
    if not (c > thr).any() or (c <= thr).sum() < max(2 * n_params, 10):
        return None
    return thr


def _fit_options(res: FitResult) -> dict[str, Any]:
    opts = res.provenance.get("options") or {}
    lo = res.law_options or {}
    return {"x": lo.get("x"), "breaks": lo.get("breaks"), "loss": res.loss,
            "delta": res.delta, "y": opts.get("y", "loss")}


def plan_law_of(res: FitResult, source: str = "") -> PlanLaw:
    """The :class:`~scalinglab.plan.PlanLaw` of a fit (its law, estimates, draws, level),
    without its warnings (the report lists those once, under the fit)."""
    return PlanLaw.of_fit(res, source, warnings=False)


def _attach_sizes(res: FitResult, obs: pd.DataFrame) -> None:
    """Give each backtest point the N of its run (matched on C and the observed loss), so the
    error can be shown against model size when the held-out runs share one budget."""
    pts = (res.backtest or {}).get("points") or []
    y = str((res.provenance.get("options") or {}).get("y") or "loss")
    if not pts or not {"N", "C", y} <= set(obs.columns):
        return
    N, C, L = (pd.to_numeric(obs[c], errors="coerce").to_numpy(float) for c in ("N", "C", y))
    for p in pts:
        if p.get("N") is not None or p.get("C") is None:
            continue
        m = np.isclose(C, float(p["C"]), rtol=1e-9, atol=0) & np.isclose(
            L, float(p["observed"]), rtol=1e-12, atol=0)
        if m.any() and np.all(N[m] == N[m][0]):
            p["N"] = float(N[m][0])


def _isoflop_structure(obs: pd.DataFrame, iso: IsoFLOPResult) -> tuple[bool, str]:
    members = isoflop_members(obs, iso)
    share = float(np.mean(members >= 0))
    ok = len(iso.budgets) >= 2 and share >= 0.5
    return ok, (f"{len(iso.budgets)} budget(s) with a usable IsoFLOP profile hold "
                f"{share:.0%} of the runs")


def analyse(inputs: ReportInputs, *, law: str | None = None, bootstrap: int = 100,
            seed: int = 0, confidence: float = 0.95,
            compute: Sequence[float] | None = None, backtest: bool = True,
            approach2: bool | None = None, n_jobs: int | None = None,
            on_progress: Callable[[int], None] | None = None) -> Analysis:
    """Run the report's analyses (see the module docstring)."""
    if bootstrap < 0:
        raise ParameterError("bootstrap", f"must be >= 0, got {bootstrap}")
    budgets = [float(c) for c in compute or ()]
    bad = [c for c in budgets if not (np.isfinite(c) and c > 0)]
    if bad:
        raise ParameterError("compute", f"budgets must be positive FLOP counts, got {bad[0]:g}")
    a = Analysis(inputs=inputs)
    obs = inputs.observations
    res = inputs.fit
    if res is not None and law is not None and law != res.law.name:
        raise ParameterError("law", f"the fit given is of law {res.law.name!r}, not {law!r}; "
                          "leave --law out to report a saved fit")
    law = law or (res.law.name if res is not None else "chinchilla")
    a.options = {"law": law, "bootstrap": bootstrap, "seed": seed, "confidence": confidence,
                 "compute": budgets or None, "backtest": backtest,
                 "approach2": "auto" if approach2 is None else approach2}

    # ---------------------------------------------------------------- Approach 3
    if res is None and obs is not None:
        try:
            res = run_fit(obs, law, bootstrap=bootstrap, seed=seed, confidence=confidence,
                          n_jobs=n_jobs, on_progress=on_progress)
        except FitError as exc:
            a.notes.append(f"no fit of {law!r}: {exc}")
    elif res is not None and obs is not None:
        recorded = res.provenance.get("data_hash")
        mine = fit_data_hash(res, obs)
        if recorded and mine and recorded != mine:
            a.warnings.append(f"the fit was made from other data (data hash {recorded}) than "
                              f"the table shown here ({mine}): figures compare them as given")
    a.fit = res

    # ---------------------------------------------------------------- backtest
    if res is not None and res.backtest:
        a.backtest_fit = res
    elif res is not None and backtest and obs is not None and "C" in obs.columns:
        thr = holdout_threshold(obs["C"].to_numpy(float), res.law.n_params)
        if thr is None:
            a.notes.append("no backtest: too few runs below the largest budget to fit on")
        else:
            try:
                a.backtest_fit = run_fit(obs, res.law.name, **_fit_options(res),
                                         bootstrap=bootstrap, seed=seed, confidence=confidence,
                                         holdout_above=thr, n_jobs=n_jobs,
                                         on_progress=on_progress)
            except ScalingLabError as exc:
                a.notes.append(f"no backtest: {exc}")

    if a.backtest_fit is not None and obs is not None:
        _attach_sizes(a.backtest_fit, obs)

    # ---------------------------------------------------------------- Approach 2
    if approach2 is not False and obs is not None and {"N", "C", "loss"} <= set(obs.columns):
        try:
            try:
                iso = isoflop(obs, bootstrap=bootstrap, seed=seed, confidence=confidence,
                              budget_tolerance=BUDGET_TOLERANCE)
            except (IndexError, ValueError):  # no bootstrap resample kept 2 profiles
                iso = isoflop(obs, confidence=confidence, budget_tolerance=BUDGET_TOLERANCE)
                a.notes.append("Approach 2: no bootstrap resample had 2 usable profiles; "
                               "its exponents are shown without intervals")
            ok, why = _isoflop_structure(obs, iso)
            if ok or approach2:
                a.isoflop = iso
            else:
                a.notes.append(f"no Approach 2: the data has no IsoFLOP structure ({why}; "
                               "at least 2 budgets holding half the runs are needed)")
        except ScalingLabError as exc:
            a.notes.append(f"no Approach 2: {exc}")

    # ---------------------------------------------------------------- Approach 1
    curves = inputs.curves
    if curves is not None and curves["run_id"].nunique() >= 2:
        try:
            a.envelope = envelope(curves)
        except ScalingLabError as exc:
            a.notes.append(f"no Approach 1 envelope: {exc}")

    # ---------------------------------------------------------------- plan
    if res is not None and tuple(res.law.variables[:2]) != ("N", "D"):
        a.notes.append(f"no plan: law {res.law.name!r} is not a function of N and D")
    elif res is not None:
        if not budgets:
            top = largest_compute(inputs)
            if top is None:
                raise ParameterError("compute", "the fit alone does not say at what scale it was "
                                  "made: give the budget(s) to plan, e.g. --compute 1e21")
            budgets = [PLAN_FACTOR * top]
        a.options["plan_compute"] = budgets
        try:
            a.plan_law = plan_law_of(res, inputs.fit_path or "fit")
            a.plans = [plan_compute(a.plan_law, c) for c in budgets]
        except ScalingLabError as exc:
            a.plan_law, a.plans = None, []
            a.notes.append(f"no plan: {exc}")

    # ---------------------------------------------------------------- conventions
    if obs is not None and budgets and {"N", "D", "loss"} <= set(obs.columns):
        from scalinglab.plan.conventions import convention_report

        try:
            a.conventions = convention_report(obs, budgets[0], seed=seed,
                                              confidence=confidence)
        except (ScalingLabError, ValueError) as exc:
            a.notes.append(f"no convention-sensitivity report: {exc}")
    return a

"""Downstream metrics in two steps: compute (or N, D) -> task loss -> accuracy, with intervals.

The method of Llama 3 (Dubey et al. 2024, arXiv 2407.21783, Sec. 3.2.1), the OLMo model ladder
(Bhagia et al. 2024, arXiv 2412.04403) and Gadre et al. 2024 (arXiv 2403.08540):

* step 1: the task loss (the NLL of the correct answer, or the model's own eval loss
  as in Gadre et al.) against one scale variable ``x`` (default ``C``), as a saturating power
  law ``L = L0 + (x0/x)^alpha`` (``step1="saturating-power"``, default) or a pure power law
  ``L = (xc/x)^alpha`` (``step1="power"``);
* step 2: the metric against the task loss, as a sigmoid ``floor + (ceiling - floor) / (1 +
  exp(-k (L - x0)))`` (``step2="sigmoid"``, the ``sigmoid`` law with ``x`` = the loss column;
  OLMo's and Llama 3's choice) or Gadre et al.'s exponential decay of the top-1 error
  ``Err = eps - k exp(-gamma L)`` (``step2="exponential"``; a metric where higher is better is
  fitted as ``1 - metric``, so it must be a fraction in [0, 1]).

Both steps are fitted with the library's engine (:func:`scalinglab.fit.fit`: multi-start,
Huber on log residuals, diagnostics). A prediction at a new ``x`` chains them: ``L(x)`` from
step 1, then the metric at that ``L`` from step 2.

Intervals: a **joint bootstrap over runs**: each resample draws runs (table rows, or whole
``run_id`` s when a run has several rows) with replacement, refits *both* steps on the same
resampled runs and chains them; the interval is the percentile interval of the chained
predictions. Joint rather than step-1 draws pushed through independent step-2 draws because
both steps are fitted on the same runs: a run whose loss is high by chance also has a low
accuracy, and resampling the steps independently would break that correlation (and count the
runs' noise twice). The step-1 loss interval at each point comes from the same draws.

Warnings: every step's own warnings (prefixed ``step 1:``/``step 2:``), a prediction whose loss
lies outside the losses step 2 was fitted on (step 2 extrapolates), and the **floor/ceiling
test**: with ``chance`` (the metric of random guessing, e.g. 0.25 for 4-way multiple choice)
given, *every* observed metric within ``tolerance`` (absolute, default 0.02) of ``chance``
means the task sits at the chance floor over the whole range; with ``ceiling`` (default 1 for
a higher-is-better metric) every observed metric within ``tolerance`` of it means it sits at
the ceiling. Either way the sigmoid's transition is not in the data, its parameters are not
identified, and an apparent jump at larger scale would be emergence in the metric rather than
in the model (Schaeffer et al. 2023, arXiv 2304.15004).

Conventions: losses in nats/token; ``x`` in the table's own convention (C = 6ND unless the
table says otherwise); the metric in the table's units (fraction correct, or error).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scalinglab.errors import InputError, ParameterError, ScalingLabError, unknown
from scalinglab.laws.downstream import ExpDecayError
from scalinglab.observations import load_observations

if TYPE_CHECKING:
    from scalinglab.fit import FitResult

STEP1_LAWS = ("saturating-power", "power")
STEP2_FORMS = ("sigmoid", "exponential")
BOOTSTRAP_UNITS = ("auto", "points", "run_id", "group")


@dataclass
class DownstreamResult:
    """The two-step fit and its chained predictions.

    Fields:

    * ``x``, ``loss_column``, ``metric``: the step-1 variable, the task-loss column and the
      metric column of the table;
    * ``step1``: the :class:`FitResult` of task loss vs ``x``; ``step2``: of the metric vs the
      task loss (for ``step2_form == "exponential"`` with a higher-is-better metric, step 2 is
      fitted on ``1 - metric`` and ``step2.predict`` gives that error);
    * ``predictions``: one dict per requested point: ``{x: value, "loss": L, "loss_interval":
      [lo, hi], "metric": m, "metric_interval": [lo, hi]}`` (intervals ``None`` without a
      bootstrap);
    * ``loss_draws``, ``metric_draws``: the joint bootstrap's chained predictions, shape
      ``(R, n_points)`` (NaN where a resample failed), or ``None``;
    * ``param_intervals``: ``{"step1": {name: [lo, hi]}, "step2": {...}}``, percentile
      intervals of each step's parameters over the same joint resamples (empty without a
      bootstrap; the steps' own ``FitResult.intervals`` stay empty: one bootstrap, not three);
    * ``confidence``; ``bootstrap``: resamples, unit, failed, seed, seconds, method;
    * ``warnings``: the floor/ceiling test, extrapolation in loss, each step's warnings;
    * ``checks``: the floor/ceiling test's inputs and outcome (``chance``, ``ceiling``,
      ``tolerance``, ``metric_range``, ``at_floor``, ``at_ceiling``);
    * ``conventions``, ``provenance``.
    """

    x: str
    loss_column: str
    metric: str
    step2_form: str
    higher_is_better: bool
    step1: FitResult
    step2: FitResult
    predictions: list[dict[str, Any]] = field(default_factory=list)
    loss_draws: np.ndarray | None = None
    param_intervals: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    metric_draws: np.ndarray | None = None
    confidence: float = 0.95
    bootstrap: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    conventions: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ prediction
    def predict_loss(self, values: Any) -> np.ndarray:
        """Step 1: the task loss (nats/token) at ``x`` = ``values``."""
        return self.step1.law.predict(self.step1.params, **{self.x: np.asarray(values, float)})

    def metric_from_loss(self, loss: Any) -> np.ndarray:
        """Step 2: the metric at task loss ``loss``."""
        return _step2_metric(self.step2, self.loss_column, np.asarray(loss, float),
                             self.step2_form, self.higher_is_better)

    def predict(self, values: Any) -> np.ndarray:
        """Both steps chained: the metric at ``x`` = ``values`` (point estimate)."""
        return self.metric_from_loss(self.predict_loss(values))

    @property
    def identified(self) -> bool:
        """False when the metric sits at the chance floor or the ceiling over the whole range
        (step 2's sigmoid is then not identified by these data)."""
        return not (self.checks.get("at_floor") or self.checks.get("at_ceiling"))

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (each step as its own fit-result dict)."""
        def draws(a: np.ndarray | None) -> list[list[float | None]] | None:
            if a is None:
                return None
            return [[None if not np.isfinite(v) else float(v) for v in row] for row in a]

        return {
            "law": "downstream", "x": self.x, "loss_column": self.loss_column,
            "metric": self.metric, "step2_form": self.step2_form,
            "higher_is_better": self.higher_is_better,
            "step1": self.step1.to_json(), "step2": self.step2.to_json(),
            "predictions": self.predictions, "confidence": self.confidence,
            "bootstrap": self.bootstrap, "identified": self.identified,
            "warnings": list(self.warnings), "checks": self.checks,
            "conventions": self.conventions, "provenance": self.provenance,
            "param_intervals": self.param_intervals,
            "loss_draws": draws(self.loss_draws), "metric_draws": draws(self.metric_draws),
        }

    def summary(self) -> str:
        """A few lines: both steps' estimates, the predictions with intervals, warnings."""
        lines = [f"downstream (two steps): {self.x} -> {self.loss_column} -> {self.metric}"]
        for tag, res, ints in (("step 1", self.step1, self.param_intervals.get("step1", {})),
                               ("step 2", self.step2, self.param_intervals.get("step2", {}))):
            note = ""
            if tag == "step 2" and not self.identified:
                note = "  [not identified: the metric sits at the floor/ceiling throughout]"
            ps = ", ".join(f"{k}={_g(v)}" + (" (held)" if k in res.fixed else "")
                           + (f" [{_g(ints[k][0])}, {_g(ints[k][1])}]" if k in ints else "")
                           for k, v in res.params.items())
            lines.append(f"{tag}: {res.law.formula}: {ps}{note}")
        pct = f"{100 * self.confidence:g}%"
        for p in self.predictions:
            li, mi = p["loss_interval"], p["metric_interval"]
            lt = f" [{_g(li[0])}, {_g(li[1])}]" if li else ""
            mt = f" [{_g(mi[0])}, {_g(mi[1])}]" if mi else ""
            flag = "" if self.identified else " (not identified)"
            lines.append(f"at {self.x} = {p[self.x]:.4g}: {self.loss_column} = {_g(p['loss'])}"
                         f"{lt}, {self.metric} = {_g(p['metric'])}{mt}{flag}"
                         + (f" ({pct} joint bootstrap over {self.bootstrap.get('unit')})"
                            if mi else ""))
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _g(v: float) -> str:
    return f"{v:.4g}" if np.isfinite(v) else "-"


def _step2_metric(res: FitResult, loss_column: str, loss: np.ndarray, form: str,
                  higher_is_better: bool) -> np.ndarray:
    with np.errstate(all="ignore"):
        v = res.law.predict(res.params, **{loss_column: loss})
    if form == "exponential" and higher_is_better:
        return 1.0 - v
    return v


def _pct(a: np.ndarray, confidence: float) -> list[float] | None:
    """The percentile interval of the finite draws (:func:`scalinglab.fit.core._percentile`),
    None with fewer than two."""
    from scalinglab.fit.core import _percentile

    lo, hi = _percentile(np.asarray(a, float), confidence)
    return None if np.isnan(lo) else [lo, hi]


def floor_ceiling_check(values: Sequence[float] | np.ndarray, *, chance: float | None,
                        ceiling: float | None, tolerance: float) -> dict[str, Any]:
    """The floor/ceiling test on the observed metric (see the module docstring).

    ``at_floor``: ``chance`` is given and every value is within ``tolerance`` of it;
    ``at_ceiling``: ``ceiling`` is given and every value is within ``tolerance`` of it.
    """
    v = np.asarray(values, float)
    lo, hi = float(np.min(v)), float(np.max(v))
    tol = tolerance + 1e-12  # a value exactly at chance + tolerance counts as at the floor
    at_floor = chance is not None and bool(np.all(np.abs(v - chance) <= tol))
    at_ceiling = ceiling is not None and bool(np.all(np.abs(v - ceiling) <= tol))
    return {"chance": chance, "ceiling": ceiling, "tolerance": tolerance,
            "metric_range": [lo, hi], "at_floor": at_floor, "at_ceiling": at_ceiling}


def _column(df: pd.DataFrame, name: str, parameter: str, what: str, src: str) -> None:
    if name not in df.columns:
        raise InputError(f"missing column {name!r} ({what}; {parameter}=); the table has "
                         f"{', '.join(map(str, df.columns))}", source=src)


def _units(df: pd.DataFrame, by: str) -> tuple[list[np.ndarray], str]:
    """Resampling units as lists of row positions, chosen as :func:`scalinglab.fit` chooses
    them (``auto``: whole runs when a run has several rows, else points)."""
    from scalinglab.fit.core import _units as unit_labels

    if by not in BOOTSTRAP_UNITS:
        raise ParameterError("bootstrap_by", unknown("resampling unit", by, BOOTSTRAP_UNITS))
    labels, by = unit_labels(df, by)
    if labels is None:
        return [np.array([i]) for i in range(len(df))], by
    return [np.flatnonzero(labels == u) for u in dict.fromkeys(labels)], by


def fit_downstream(
    data: pd.DataFrame | str,
    *,
    x: str = "C",
    loss_column: str = "loss",
    metric: str = "accuracy",
    step1: str = "saturating-power",
    step2: str = "sigmoid",
    at: Sequence[float] = (),
    bootstrap: int = 200,
    bootstrap_by: str = "auto",
    seed: int = 0,
    confidence: float = 0.95,
    chance: float | None = None,
    ceiling: float | None = None,
    higher_is_better: bool = True,
    tolerance: float = 0.02,
    hold_chance: bool = False,
    loss: str = "huber",
    delta: float = 1e-3,
    columns: Mapping[str, str] | None = None,
    refine_top: int = 8,
    polish_top: int = 1,
) -> DownstreamResult:
    """Fit task loss vs ``x`` (step 1) and ``metric`` vs task loss (step 2); predict the metric
    at ``x`` = each of ``at`` with a joint-bootstrap interval (see the module docstring).

    ``chance``: the metric of random guessing (0.25 for 4-way multiple choice; for an error
    metric, the chance error), used by the floor test and, with ``hold_chance=True``, held as
    the sigmoid's high-loss level (``floor``). ``ceiling``: the best possible metric (default
    1.0 when ``higher_is_better``, 0.0 for an error metric). ``bootstrap``: resamples of the
    joint bootstrap (0: point estimates only). ``loss``/``delta``: the engine's objective.
    A missing column raises :class:`InputError` naming it and the data source; bad arguments
    raise :class:`ParameterError` naming the parameter.
    """
    from scalinglab.fit import fit  # the engine's public entry point (no import cycle)

    t0 = time.perf_counter()
    if step1 not in STEP1_LAWS:
        raise ParameterError("step1", unknown("step-1 law", step1, STEP1_LAWS))
    if step2 not in STEP2_FORMS:
        raise ParameterError("step2", unknown("step-2 form", step2, STEP2_FORMS))
    if bootstrap < 0 or int(bootstrap) != bootstrap:
        raise ParameterError("bootstrap", f"must be an integer >= 0, got {bootstrap!r}")
    if not 0 < confidence < 1:
        raise ParameterError("confidence", f"must be between 0 and 1, got {confidence}")
    if not tolerance >= 0:
        raise ParameterError("tolerance", f"must be >= 0, got {tolerance}")
    at_arr = np.atleast_1d(np.asarray(at, float))
    if at_arr.size and not np.all(np.isfinite(at_arr) & (at_arr > 0)):
        raise ParameterError("at", f"values of {x} must be finite and > 0, got {list(at)}")
    if hold_chance and chance is None:
        raise ParameterError("hold_chance", "needs chance= (the value to hold the floor at)")
    if hold_chance and step2 != "sigmoid":
        raise ParameterError("hold_chance", "holds the sigmoid's floor; step2 is "
                             f"{step2!r}")
    if ceiling is None:
        ceiling = 1.0 if higher_is_better else 0.0

    df = load_observations(data, columns).reset_index(drop=True)
    src = str(df.attrs.get("source", "<data>"))
    _column(df, x, "x", "the step-1 variable", src)
    _column(df, loss_column, "loss_column", "the task loss", src)
    _column(df, metric, "metric", "the downstream metric", src)
    y2 = metric
    if step2 == "exponential" and higher_is_better:
        vals = pd.to_numeric(df[metric], errors="coerce")
        bad = ~((vals >= 0) & (vals <= 1))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise InputError(f"step2='exponential' fits the error 1 - {metric}, so {metric} "
                             f"must be a fraction in [0, 1]; got {df[metric].iloc[row - 1]!r}",
                             source=src, row=row, column=metric)
        y2 = f"__error_of_{metric}"
        df[y2] = 1.0 - vals
    law2: Any = "sigmoid" if step2 == "sigmoid" else ExpDecayError(x=loss_column)
    x2 = loss_column if step2 == "sigmoid" else None
    fixed2 = {"floor": float(chance)} if hold_chance and chance is not None else None

    def fit_both(frame: pd.DataFrame, top: int, polish: int) -> tuple[FitResult, FitResult]:
        r1 = fit(frame, step1, x=x, y=loss_column, loss=loss, delta=delta,
                 refine_top=top, polish_top=polish)
        r2 = fit(frame, law2, x=x2, y=y2, loss=loss, delta=delta, refine_top=top,
                 polish_top=polish, fixed=fixed2)
        return r1, r2

    res1, res2 = fit_both(df, max(refine_top, 16), max(polish_top, 2))
    metric_vals = pd.to_numeric(df[metric], errors="coerce").to_numpy()
    checks = floor_ceiling_check(metric_vals, chance=chance, ceiling=ceiling,
                                 tolerance=tolerance)
    warnings: list[str] = []
    lo, hi = checks["metric_range"]
    if checks["at_floor"]:
        warnings.append(f"{metric} is within {tolerance:g} of chance ({chance:g}) over the "
                        f"whole range ({lo:.4g} to {hi:.4g}): the sigmoid's transition is not "
                        "in the data, step 2 is not identified, and an apparent jump at larger "
                        "scale would be emergence in the metric, not in the model")
    if checks["at_ceiling"]:
        warnings.append(f"{metric} is within {tolerance:g} of the ceiling ({ceiling:g}) over "
                        f"the whole range ({lo:.4g} to {hi:.4g}): the task is saturated, step 2 "
                        "is not identified and the metric no longer tracks the loss")

    def chain(r1: FitResult, r2: FitResult) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(all="ignore"):
            lv = r1.law.predict(r1.params, **{x: at_arr})
        return lv, _step2_metric(r2, loss_column, lv, step2, higher_is_better)

    loss_pt, metric_pt = chain(res1, res2) if at_arr.size else (np.array([]), np.array([]))
    lrange = (float(df[loss_column].min()), float(df[loss_column].max()))
    for v, lv in zip(at_arr, loss_pt, strict=True):
        if lv < lrange[0] or lv > lrange[1]:
            warnings.append(f"at {x} = {v:.4g} the predicted {loss_column} {lv:.4g} is outside "
                            f"the fitted range {lrange[0]:.4g} to {lrange[1]:.4g}: step 2 "
                            "extrapolates")
    warnings += [f"step 1: {w}" for w in res1.warnings]
    warnings += [f"step 2: {w}" for w in res2.warnings]

    loss_draws = metric_draws = None
    param_intervals: dict[str, dict[str, list[float]]] = {}
    boot: dict[str, Any] = {}
    if bootstrap:
        t1 = time.perf_counter()
        units, unit_name = _units(df, bootstrap_by)
        rng = np.random.default_rng(seed)
        loss_draws = np.full((bootstrap, at_arr.size), np.nan)
        pdraws = {"step1": np.full((bootstrap, len(res1.params)), np.nan),
                  "step2": np.full((bootstrap, len(res2.params)), np.nan)}
        metric_draws = np.full((bootstrap, at_arr.size), np.nan)
        failed = 0
        for b in range(bootstrap):
            pick = rng.integers(0, len(units), len(units))
            rows = np.concatenate([units[k] for k in pick])
            frame = df.iloc[rows].reset_index(drop=True)
            frame.attrs = dict(df.attrs)
            try:
                r1, r2 = fit_both(frame, refine_top, polish_top)
            except ScalingLabError:
                failed += 1
                continue
            pdraws["step1"][b] = list(r1.params.values())
            pdraws["step2"][b] = list(r2.params.values())
            if at_arr.size:
                loss_draws[b], metric_draws[b] = chain(r1, r2)
        boot = {"resamples": bootstrap, "unit": unit_name, "failed": failed, "seed": seed,
                "seconds": time.perf_counter() - t1,
                "method": "joint bootstrap: both steps refitted on each resample of runs"}
        for step, res in (("step1", res1), ("step2", res2)):
            ints = {}
            for j, name in enumerate(res.params):
                iv = _pct(pdraws[step][:, j], confidence)
                if iv is not None and name not in res.fixed:
                    ints[name] = iv
            param_intervals[step] = ints
        if failed > 0.05 * bootstrap:
            warnings.append(f"bootstrap: {failed} of {bootstrap} resamples failed to fit")
    preds = []
    for i, v in enumerate(at_arr):
        preds.append({
            x: float(v), "loss": float(loss_pt[i]), "metric": float(metric_pt[i]),
            "loss_interval": _pct(loss_draws[:, i], confidence) if loss_draws is not None
            else None,
            "metric_interval": _pct(metric_draws[:, i], confidence)
            if metric_draws is not None else None,
        })
    conventions = {
        "loss": f"{loss_column}: task loss in nats/token (step 1 fitted on log residuals, "
                f"{loss})",
        "metric": f"{metric}: as in the table ({'higher' if higher_is_better else 'lower'} is "
                  "better)",
        **{k: str(v) for k, v in df.attrs.get("conventions", {}).items()},
    }
    provenance = {"source": src, "n_points": len(df), "seconds": time.perf_counter() - t0,
                  "options": {"x": x, "loss_column": loss_column, "metric": metric,
                              "step1": step1, "step2": step2, "at": at_arr.tolist(),
                              "bootstrap": bootstrap, "bootstrap_by": bootstrap_by,
                              "seed": seed, "confidence": confidence, "chance": chance,
                              "ceiling": ceiling, "tolerance": tolerance,
                              "hold_chance": hold_chance, "loss": loss, "delta": delta}}
    return DownstreamResult(
        x=x, loss_column=loss_column, metric=metric, step2_form=step2,
        higher_is_better=higher_is_better, step1=res1, step2=res2, predictions=preds,
        loss_draws=loss_draws, metric_draws=metric_draws, param_intervals=param_intervals,
        confidence=confidence,
        bootstrap=boot, warnings=warnings, checks=checks, conventions=conventions,
        provenance=provenance)


__all__ = ["DownstreamResult", "fit_downstream", "floor_ceiling_check"]

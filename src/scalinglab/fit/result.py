"""The fit result record: estimates, intervals, bootstrap draws, diagnostics, provenance.

Serialises to the JSON documented for ``scalinglab fit --json``::

    {"law", "law_options", "params": {name: value}, "objective", "loss", "delta", "sigma",
     "n_points", "intervals": {name: [lo, hi]}, "confidence", "derived": {...},
     "derived_intervals": {...}, "warnings": [message, ...], "warning_codes": [code, ...],
     "draws": {name: [...]}, "backtest": {...} | null, "optimizer": {...}, "bootstrap": {...},
     "conventions": {...}, "provenance": {...}, "fixed": {name: value},
     "identification": {name: {...}}, "profile": {...}}

``warnings`` are :class:`~scalinglab.fit.records.Diagnostic` objects: each is the message (a
``str``) and has a stable ``code`` (:data:`~scalinglab.fit.records.CODES`: ``outliers``,
``misfit``, ``bound``, ``not-identified``, ...); the JSON keeps the messages in ``warnings`` and
their codes, in the same order, in ``warning_codes`` (files written before codes existed read
back with the codes their messages' prefixes spell). ``optimizer``, ``bootstrap`` and
``backtest`` are typed records (:mod:`scalinglab.fit.records`) written as the same JSON objects
as before.

``fixed`` lists the parameters held at given values (``fit(..., fixed=...)``, ``scalinglab fit
--fix``); ``params`` has them too, ``intervals`` does not, and their columns of ``draws`` are
the held values. Files written before the field existed read back with ``fixed`` empty.

The JSON reads back (:meth:`FitResult.load`), so plans and reports can be made from a saved
fit.

``identification`` and ``profile`` (``fit(..., profile=...)``, ``scalinglab fit --profile``,
:mod:`scalinglab.fit.profile`): per profiled parameter ``{"status": "identified", "interval":
[lo, hi], ...}`` or ``{"status": "not identified", "flat_range": [lo, hi], "reason": ...,
"derived": [...], ...}``, and the statistic and threshold used. Where a parameter is not
identified its entry in ``intervals`` (the bootstrap's) is kept but is not informative
(``"bootstrap_informative": false``). Files written before these fields read back with both
empty.

In a notebook or a REPL: ``repr(res)`` is one screen (law, estimates with intervals, number of
observations, objective, key warnings, whether the data identify the parameters);
:meth:`FitResult.summary` is the full text; :meth:`FitResult.to_frame` the parameter table as a
pandas DataFrame; ``_repr_html_`` the table Jupyter shows. :meth:`FitResult.predict` takes a
DataFrame, a mapping of arrays, an array (one column per law variable) or keywords.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scalinglab.errors import InputError, ParameterError, ScalingLabError
from scalinglab.fit.objectives import DEFAULT_DELTA
from scalinglab.fit.records import (
    UNIDENTIFIED,
    BacktestRecord,
    BootstrapRecord,
    Diagnostic,
    OptimizerRecord,
    codes,
)
from scalinglab.jsonio import to_jsonable, write_json
from scalinglab.laws import Law, get_law

if TYPE_CHECKING:
    import pandas as pd


#: characters of one warning in ``repr`` (the full text is in :meth:`FitResult.summary`)
_REPR_WARNING_CHARS = 96
#: warnings listed in ``repr`` (the rest are counted)
_REPR_WARNINGS = 3


def _g(value: Any, digits: int = 5) -> str:
    """A number in ``repr``/``summary`` text: ``%.5g`` (``–`` for None, NaN or infinities)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{v:.{digits}g}" if math.isfinite(v) else "–"


def _iv(iv: Sequence[float] | None, digits: int = 5) -> str:
    return "" if iv is None else f"[{_g(iv[0], digits)}, {_g(iv[1], digits)}]"


def _float(value: float | None, default: float) -> float:
    return default if value is None else float(value)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class FitResult:
    """A fitted law: what :func:`scalinglab.fit` returns and ``scalinglab fit --json`` writes.

    All values are in natural units (parameters as the law states them, loss in nats/token).
    """

    #: the fitted law (``res.law.name``, ``.formula``, ``.param_names``, ``.variables``)
    law: Law
    #: the point estimates, by parameter name (held parameters included)
    params: dict[str, float]
    #: the objective at the estimate (sum of the loss over log residuals)
    objective: float
    #: the objective's loss: ``"huber"`` (default), ``"mse"``, ...
    loss: str = "huber"
    #: the Huber threshold on log residuals
    delta: float = DEFAULT_DELTA
    #: observations fitted (after any holdout)
    n_points: int = 0
    #: options the law was built with (``x``, ``breaks``, ...)
    law_options: dict[str, Any] = field(default_factory=dict)
    #: residual scale, where the objective estimates one
    sigma: float | None = None
    #: bootstrap percentile intervals ``(lo, hi)`` at ``confidence``, by parameter
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: the level of every interval (0.95 = 95%)
    confidence: float = 0.95
    #: bootstrap draws, shape ``(R, P)``, columns in ``law.param_names`` order
    draws: np.ndarray | None = None
    #: closed-form derived quantities (``a``, ``b``, ``G`` of the compute-optimal allocation)
    derived: dict[str, float] = field(default_factory=dict)
    #: their bootstrap intervals
    derived_intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: diagnostics (:class:`~scalinglab.fit.records.Diagnostic`: the message, a ``str``, with
    #: a stable ``.code``): outliers, misfit groups, parameters at bounds, ... (see
    #: :meth:`unidentified` for the ones that void the result; :attr:`warning_codes`)
    warnings: list[str] = field(default_factory=list)
    #: log residuals ``log L_hat - log L`` of the fitted observations
    residuals: np.ndarray | None = None
    #: held-out scale check (``fit(..., holdout_above=C)``): errors, coverage, points
    backtest: BacktestRecord | None = None
    #: the multi-start optimiser's record (starts, refined, converged, gradient norm, time)
    optimizer: OptimizerRecord = field(default_factory=OptimizerRecord)
    #: the bootstrap's record (resamples, unit, failed, seed, time; empty without one)
    bootstrap: BootstrapRecord = field(default_factory=BootstrapRecord)
    #: what N, D, C and loss mean (from the observation table)
    conventions: dict[str, str] = field(default_factory=dict)
    #: data source and hash, options, versions
    provenance: dict[str, Any] = field(default_factory=dict)
    #: parameters held at given values (not fitted), natural units
    fixed: dict[str, float] = field(default_factory=dict)
    #: per profiled parameter: status, profile interval or flat range (scalinglab.fit.profile)
    identification: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the profile's statistic, scale, threshold and cost (empty when not profiled)
    profile: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # records given as plain dicts (code written before the records) become records
        self.warnings = [Diagnostic.of(w) for w in self.warnings]
        if not isinstance(self.optimizer, OptimizerRecord):
            self.optimizer = OptimizerRecord.from_dict(self.optimizer)
        if not isinstance(self.bootstrap, BootstrapRecord):
            self.bootstrap = BootstrapRecord.from_dict(self.bootstrap)
        if self.backtest is not None and not isinstance(self.backtest, BacktestRecord):
            self.backtest = BacktestRecord.from_dict(self.backtest)

    # ------------------------------------------------------------------ use
    @property
    def warning_codes(self) -> list[str]:
        """The code of each warning, in order (:data:`~scalinglab.fit.records.CODES`)."""
        return codes(self.warnings)

    def unidentified(self) -> list[str]:
        """The warnings that say the data do not identify the parameters (a parameter
        collapsed to 0 or at a bound, an ill-conditioned Hessian, a profile that stays flat:
        ``not identified: parameter NAME ...``); empty when they do. A fit with any of these
        is not a result, whatever its numbers: at least the named parameter and the
        quantities that depend on it (:meth:`not_identified`) are not determined."""
        return [w for w in self.warnings if Diagnostic.of(w).code in UNIDENTIFIED]

    def not_identified(self) -> list[str]:
        """The parameters the profile found not identified, then the derived quantities that
        depend on them (empty when none was profiled or all were identified)."""
        names = [n for n, e in self.identification.items() if e.get("status") != "identified"]
        derived = [k for n in names for k in self.identification[n].get("derived", ())]
        return names + list(dict.fromkeys(k for k in derived if k not in names))

    @property
    def profile_intervals(self) -> dict[str, tuple[float, float]]:
        """The profile-likelihood intervals of the identified profiled parameters."""
        return {n: (float(e["interval"][0]), float(e["interval"][1]))
                for n, e in self.identification.items()
                if e.get("status") == "identified" and e.get("interval") is not None}

    def predict(self, data: Any = None, /, **variables: Any) -> np.ndarray:
        """The fitted law's loss (natural units) at the given points, as an array.

        ``data`` is a pandas DataFrame (or any mapping, such as a dict of arrays) with a column
        for each of the law's variables (``res.law.variables``: ``N`` and ``D`` for
        ``chinchilla``; other columns are ignored), or an array with one column per variable
        in that order (a 1-D array for a law of one variable). Or give the variables as
        keywords: ``res.predict(N=1e9, D=2e10)`` (they broadcast). A missing variable is an
        :class:`~scalinglab.errors.ParameterError` naming it.
        """
        if data is None:
            return self.law.predict(self.params, **variables)
        if variables:
            raise ParameterError("data", "give the points either as data or as keywords "
                              f"({', '.join(self.law.variables)}), not both")
        return self.law.predict(self.params, **self._variables_of(data))

    def _variables_of(self, data: Any) -> dict[str, Any]:
        names = self.law.variables
        if isinstance(data, Mapping) or hasattr(data, "columns"):
            cols = list(data.columns) if hasattr(data, "columns") else list(data)
            missing = [v for v in names if v not in cols]
            if missing:
                raise ParameterError("data", f"law {self.law.name!r} predicts from "
                                  f"{', '.join(names)}; the data has no column "
                                  f"{', '.join(missing)} (columns: "
                                  f"{', '.join(map(str, cols[:12])) or 'none'})")
            return {v: np.asarray(data[v], float) for v in names}
        try:
            arr = np.asarray(data, float)
        except (TypeError, ValueError) as exc:
            raise ParameterError("data", "expected a DataFrame, a mapping of arrays or an array "
                              f"of numbers, got {type(data).__name__} ({exc})") from None
        if len(names) == 1 and arr.ndim <= 1:
            return {names[0]: arr}
        if arr.ndim != 2 or arr.shape[1] != len(names):
            raise ParameterError("data", f"an array must have one column per variable of law "
                              f"{self.law.name!r} ({', '.join(names)}): shape (n, "
                              f"{len(names)}), got {arr.shape}")
        return {v: arr[:, i] for i, v in enumerate(names)}

    # ------------------------------------------------------------------ display
    def _status(self, name: str) -> str:
        if name in self.fixed:
            return "held"
        entry = self.identification.get(name)
        if entry is None:
            return ""
        return "identified" if entry.get("status") == "identified" else "NOT identified"

    def _identified_line(self) -> str:
        bad = self.unidentified()
        names = self.not_identified()
        if bad or names:
            what = ", ".join(names) if names else f"{len(bad)} warning(s)"
            return f"NOT IDENTIFIED ({what}): the numbers are not a result"
        if self.identification:
            return "identified (profile likelihood: " + ", ".join(self.identification) + ")"
        return ("identified: no warning says otherwise (no parameter collapsed, at a bound or "
                "flat)")

    def __repr__(self) -> str:
        """One screen: the law, each estimate with its interval, the fit's size and
        objective, the first warnings (clipped) and whether the data identify the law."""
        lvl = f"{self.confidence:.0%}"
        head = (f"FitResult(law={self.law.name!r}, n_points={self.n_points}, "
                f"loss={self.loss!r}, objective={_g(self.objective, 6)})")
        lines = [head, f"  {_clip(self.law.formula, 96)}"]
        width = max((len(n) for n in self.params), default=1)
        prof = self.profile_intervals
        for name in self.law.param_names:
            iv = self.intervals.get(name)
            extra = f"  {lvl} {_iv(iv)}" if iv is not None else ""
            if name in prof:
                extra += f"  profile {_iv(prof[name])}"
            status = self._status(name)
            lines.append(f"  {name:<{width}} = {_g(self.params[name]):>11}{extra}"
                         + (f"  ({status})" if status else ""))
        if self.derived:
            parts = [f"{k} = {_g(v, 4)}" + (f" {_iv(self.derived_intervals.get(k), 4)}"
                                            if k in self.derived_intervals else "")
                     for k, v in self.derived.items()]
            lines.append(_clip("  derived: " + "; ".join(parts), 100))
        if self.bootstrap.resamples:
            lines.append(f"  intervals: {lvl} bootstrap percentiles, "
                         f"{self.bootstrap.resamples} resamples")
        if self.backtest:
            bt = self.backtest
            lines.append(f"  backtest: {bt.n_test} held-out points, mean |rel. error| "
                         f"{100 * _float(bt.mean_abs_rel_error, math.nan):.3g}%")
        lines.append(f"  {self._identified_line()}")
        if self.warnings:
            lines.append(f"  warnings ({len(self.warnings)}):")
            lines += [f"    - {_clip(w, _REPR_WARNING_CHARS)}"
                      for w in self.warnings[:_REPR_WARNINGS]]
            if len(self.warnings) > _REPR_WARNINGS:
                lines.append(f"    ... {len(self.warnings) - _REPR_WARNINGS} more "
                             "(res.summary() or res.warnings)")
        return "\n".join(lines)

    def summary(self) -> str:
        """The whole fit as text: law and reference, the parameter table (estimates,
        bootstrap and profile intervals, identification), derived quantities, objective,
        optimiser, bootstrap, backtest, every warning in full, the conventions and the data's
        source and hash."""
        lvl = f"{self.confidence:.0%}"
        out = [f"Fit of law {self.law.name}: {self.law.formula}"]
        if getattr(self.law, "reference", ""):
            out.append(f"  ({self.law.reference})")
        src = self.provenance.get("source")
        out.append(f"{self.n_points} observations" + (f" from {src}" if src else "")
                   + (f" (data hash {self.provenance['data_hash']})"
                      if self.provenance.get("data_hash") else ""))
        out.append("")
        frame = self.to_frame()
        out.append(frame.to_string(float_format=lambda v: _g(v, 6)))
        out.append("")
        out.append(f"objective ({self.loss}, delta = {_g(self.delta)}): {_g(self.objective, 8)}"
                   + (f"; sigma = {_g(self.sigma)}" if self.sigma is not None else ""))
        opt = self.optimizer
        if opt.n_starts:
            out.append(f"optimiser: {opt.n_starts} starts, {opt.n_at_best} of "
                       f"{opt.n_refined} refined starts reached the best; converged: "
                       f"{opt.converged}")
        boot = self.bootstrap
        if boot.resamples:
            out.append(f"intervals: {lvl} bootstrap percentiles over {boot.resamples} "
                       f"resamples of {boot.unit or 'points'} ({boot.failed or 0} "
                       "failed)")
        else:
            out.append("intervals: none (no bootstrap)")
        if self.profile:
            out.append(f"profile: {self.profile.get('method', 'profile likelihood')}, "
                       f"threshold {_g(self.profile.get('threshold'))}")
        if self.backtest:
            bt = self.backtest
            out.append(f"backtest: fitted on {bt.n_train} points with C <= "
                       f"{_g(bt.threshold_C, 4)}, predicted {bt.n_test}: mean "
                       f"|relative error| {100 * _float(bt.mean_abs_rel_error, 0.0):.3g}%, "
                       f"max {100 * _float(bt.max_abs_rel_error, 0.0):.3g}%")
        out.append(f"identification: {self._identified_line()}")
        out.append("")
        if self.warnings:
            out.append(f"warnings ({len(self.warnings)}):")
            out += [f"  - {w}" for w in self.warnings]
        else:
            out.append("warnings: none")
        if self.conventions:
            out.append("conventions:")
            out += [f"  {k}: {v}" for k, v in self.conventions.items()]
        return "\n".join(out)

    def to_frame(self, *, derived: bool = True) -> pd.DataFrame:
        """The parameters (and, with ``derived``, the derived quantities) as a DataFrame.

        Index: the names. Columns: ``kind`` (``"parameter"``/``"derived"``), ``estimate``,
        ``lower`` and ``upper`` (the bootstrap interval at ``confidence``; NaN without one),
        ``held`` (held at a given value, not fitted), ``status`` (``"identified"``, ``"not
        identified"`` or ``""`` when not profiled), ``profile_lower``/``profile_upper`` (the
        profile-likelihood interval, where profiled and identified). ``df.attrs`` holds
        ``law`` and ``confidence``.
        """
        import pandas as pd

        rows = []
        prof = self.profile_intervals
        for name in self.law.param_names:
            iv = self.intervals.get(name, (math.nan, math.nan))
            piv = prof.get(name, (math.nan, math.nan))
            entry = self.identification.get(name) or {}
            rows.append({"name": name, "kind": "parameter", "estimate": self.params[name],
                         "lower": iv[0], "upper": iv[1], "held": name in self.fixed,
                         "status": str(entry.get("status", "")),
                         "profile_lower": piv[0], "profile_upper": piv[1]})
        if derived:
            for name, v in self.derived.items():
                iv = self.derived_intervals.get(name, (math.nan, math.nan))
                rows.append({"name": name, "kind": "derived", "estimate": float(v),
                             "lower": iv[0], "upper": iv[1], "held": False, "status": "",
                             "profile_lower": math.nan, "profile_upper": math.nan})
        df = pd.DataFrame(rows).set_index("name")
        if not self.identification:
            df = df.drop(columns=["status", "profile_lower", "profile_upper"])
        if not self.fixed:
            df = df.drop(columns="held")
        df.attrs["law"] = self.law.name
        df.attrs["confidence"] = self.confidence
        return df

    def _repr_html_(self) -> str:
        """The fit as a small HTML table (Jupyter's rich display)."""
        esc = html.escape
        lvl = f"{self.confidence:.0%}"
        has_iv = bool(self.intervals)
        head = "<tr><th>parameter</th><th>estimate</th>" + (
            f"<th>{lvl} interval</th>" if has_iv else "") + "<th>status</th></tr>"
        body = []
        for name in self.law.param_names:
            iv = self.intervals.get(name)
            cells = [f"<td><code>{esc(name)}</code></td>",
                     f'<td style="text-align:right">{esc(_g(self.params[name]))}</td>']
            if has_iv:
                cells.append(f'<td style="text-align:right">{esc(_iv(iv))}</td>')
            cells.append(f"<td>{esc(self._status(name))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        for name, v in self.derived.items():
            iv = self.derived_intervals.get(name)
            cells = [f"<td><i>{esc(name)}</i> (derived)</td>",
                     f'<td style="text-align:right">{esc(_g(v))}</td>']
            if has_iv:
                cells.append(f'<td style="text-align:right">{esc(_iv(iv))}</td>')
            cells.append("<td></td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        bad = self.unidentified() or self.not_identified()
        ident = self._identified_line()
        banner = (f'<p style="color:#8e1b1b;font-weight:bold">{esc(ident)}</p>' if bad
                  else f"<p>{esc(ident)}</p>")
        warns = "".join(f"<li>{esc(w)}</li>" for w in self.warnings)
        return (f"<div><p><b>FitResult</b>: law <code>{esc(self.law.name)}</code>, "
                f"{self.n_points} observations, {esc(self.loss)} objective "
                f"{esc(_g(self.objective, 6))}</p>"
                f"<p><code>{esc(self.law.formula)}</code></p>"
                f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"
                f"{banner}"
                + (f"<details><summary>{len(self.warnings)} warning(s)</summary><ul>{warns}"
                   "</ul></details>" if warns else "")
                + "</div>")

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        draws = None
        if self.draws is not None:
            draws = {n: self.draws[:, i] for i, n in enumerate(self.law.param_names)}
        return to_jsonable({
            "law": self.law.name,
            "law_options": self.law_options,
            "formula": self.law.formula,
            "params": self.params,
            "objective": self.objective,
            "loss": self.loss,
            "delta": self.delta,
            "sigma": self.sigma,
            "n_points": self.n_points,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "confidence": self.confidence,
            "derived": self.derived,
            "derived_intervals": {k: list(v) for k, v in self.derived_intervals.items()},
            "warnings": [str(w) for w in self.warnings],
            "warning_codes": self.warning_codes,
            "residuals": self.residuals,
            "backtest": None if self.backtest is None else self.backtest.to_dict(),
            "optimizer": self.optimizer.to_dict(),
            "bootstrap": self.bootstrap.to_dict(),
            "draws": draws,
            "conventions": self.conventions,
            "provenance": self.provenance,
            "fixed": self.fixed,
            "identification": self.identification,
            "profile": self.profile,
        })

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def from_json(cls, d: Mapping[str, Any], source: str = "<dict>") -> FitResult:
        for key in ("law", "params"):
            if key not in d:
                raise InputError(f"not a scalinglab fit: missing key {key!r}", source=source)
        opts = dict(d.get("law_options") or {})
        try:
            law = get_law(d["law"], **{k: v for k, v in opts.items() if v is not None})
        except ScalingLabError as exc:
            raise InputError(f"not a usable fit: {exc}", source=source, column="law") from exc
        try:
            params = {n: float(d["params"][n]) for n in law.param_names}
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"params must give {', '.join(law.param_names)} as numbers "
                             f"({exc})", source=source, column="params") from exc
        draws = None
        if d.get("draws"):
            try:
                cols = [np.asarray(d["draws"][n], float) for n in law.param_names]
                draws = np.stack(cols, axis=1)
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"draws must give {', '.join(law.param_names)} as equal-length "
                                 f"lists of numbers ({exc!r})", source=source,
                                 column="draws") from exc
        try:
            fixed = {str(k): float(v) for k, v in (d.get("fixed") or {}).items()}
        except (AttributeError, TypeError, ValueError) as exc:
            raise InputError(f"fixed must map parameter names to numbers ({exc})",
                             source=source, column="fixed") from exc
        unknown = [k for k in fixed if k not in law.param_names]
        if unknown:
            raise InputError(f"fixed names {', '.join(unknown)}, not parameters of law "
                             f"{law.name!r} ({', '.join(law.param_names)})", source=source,
                             column="fixed")
        ident = d.get("identification") or {}
        if not isinstance(ident, Mapping) or not all(
                isinstance(e, Mapping) and "status" in e for e in ident.values()):
            raise InputError("identification must map parameter names to entries with a "
                             "status", source=source, column="identification")
        res = d.get("residuals")
        records = {}
        for key, record in (("optimizer", OptimizerRecord), ("bootstrap", BootstrapRecord),
                            ("backtest", BacktestRecord)):
            value = d.get(key)
            if value is not None and not isinstance(value, Mapping):
                raise InputError(f"{key} must be a JSON object, got {type(value).__name__}",
                                 source=source, column=key)
            try:
                records[key] = record.from_dict(value)
            except (TypeError, ValueError) as exc:
                raise InputError(f"{key} has a value of the wrong type ({exc})", source=source,
                                 column=key) from exc
        return cls(
            law=law, params=params, objective=float(d.get("objective") or np.nan),
            loss=d.get("loss", "huber"), delta=float(d.get("delta", DEFAULT_DELTA)),
            n_points=int(d.get("n_points", 0)), law_options=opts, sigma=d.get("sigma"),
            intervals={k: (float(v[0]), float(v[1])) for k, v in
                       (d.get("intervals") or {}).items()},
            confidence=float(d.get("confidence", 0.95)), draws=draws,
            derived=dict(d.get("derived") or {}),
            derived_intervals={k: (float(v[0]), float(v[1])) for k, v in
                               (d.get("derived_intervals") or {}).items()},
            warnings=_warnings(d, source),
            residuals=None if res is None else np.asarray(res, float),
            backtest=records["backtest"] if d.get("backtest") is not None else None,
            optimizer=records["optimizer"], bootstrap=records["bootstrap"],
            conventions=dict(d.get("conventions") or {}),
            provenance=dict(d.get("provenance") or {}), fixed=fixed,
            identification={str(k): dict(v) for k, v in ident.items()},
            profile=dict(d.get("profile") or {}),
        )

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        p = Path(path)
        if not p.exists():
            raise InputError("no such file", source=str(p))
        try:
            d = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc}", source=str(p)) from exc
        except RecursionError:
            raise InputError("the JSON is nested too deeply to read", source=str(p)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"could not be read: {exc}", source=str(p)) from None
        if not isinstance(d, dict):
            raise InputError("not a scalinglab fit (expected a JSON object)", source=str(p))
        return cls.from_json(d, source=str(p))


def _warnings(d: Mapping[str, Any], source: str) -> list[str]:
    """The warnings of a fit's JSON, as diagnostics: the messages with ``warning_codes`` where
    the file has them (one per message), else the codes their prefixes spell."""
    msgs = d.get("warnings") or []
    if not isinstance(msgs, list) or not all(isinstance(m, (str, Mapping)) for m in msgs):
        raise InputError("warnings must be a list of messages", source=source,
                         column="warnings")
    tags = d.get("warning_codes")
    if tags is None:
        return [Diagnostic.of(m) for m in msgs]
    if not (isinstance(tags, list) and len(tags) == len(msgs)
            and all(isinstance(t, str) for t in tags)):
        raise InputError(f"warning_codes must be a list of {len(msgs)} strings, one per "
                         "warning", source=source, column="warning_codes")
    return [Diagnostic(t, str(Diagnostic.of(m))) for t, m in zip(tags, msgs, strict=True)]

"""The fit result record: estimates, intervals, bootstrap draws, diagnostics, provenance.

Serialises to the JSON documented for ``scalinglab fit --json``::

    {"law", "law_options", "params": {name: value}, "objective", "loss", "delta", "sigma",
     "n_points", "intervals": {name: [lo, hi]}, "confidence", "derived": {...},
     "derived_intervals": {...}, "warnings": [...], "draws": {name: [...]},
     "backtest": {...} | null, "optimizer": {...}, "conventions": {...}, "provenance": {...},
     "fixed": {name: value}, "identification": {name: {...}}, "profile": {...}}

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
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scalinglab.errors import InputError, ScalingLabError
from scalinglab.jsonio import to_jsonable, write_json
from scalinglab.laws import Law, get_law


@dataclass
class FitResult:
    law: Law
    params: dict[str, float]
    objective: float
    loss: str = "huber"
    delta: float = 1e-3
    n_points: int = 0
    law_options: dict[str, Any] = field(default_factory=dict)
    sigma: float | None = None
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    confidence: float = 0.95
    draws: np.ndarray | None = None
    derived: dict[str, float] = field(default_factory=dict)
    derived_intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    residuals: np.ndarray | None = None
    backtest: dict[str, Any] | None = None
    optimizer: dict[str, Any] = field(default_factory=dict)
    bootstrap: dict[str, Any] = field(default_factory=dict)
    conventions: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    #: parameters held at given values (not fitted), natural units
    fixed: dict[str, float] = field(default_factory=dict)
    #: per profiled parameter: status, profile interval or flat range (scalinglab.fit.profile)
    identification: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the profile's statistic, scale, threshold and cost (empty when not profiled)
    profile: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ use
    def unidentified(self) -> list[str]:
        """The warnings that say the data do not identify the parameters (a parameter
        collapsed to 0 or at a bound, an ill-conditioned Hessian, a profile that stays flat:
        ``not identified: parameter NAME ...``); empty when they do. A fit with any of these
        is not a result, whatever its numbers: at least the named parameter and the
        quantities that depend on it (:meth:`not_identified`) are not determined."""
        return [w for w in self.warnings
                if w.startswith(("collapsed", "ill-conditioned", "bound", "not identified"))]

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

    def predict(self, **variables: Any) -> np.ndarray:
        """The fitted law at the given variables (``N=..., D=...``); natural units."""
        return self.law.predict(self.params, **variables)

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
            "warnings": self.warnings,
            "residuals": self.residuals,
            "backtest": self.backtest,
            "optimizer": self.optimizer,
            "bootstrap": self.bootstrap,
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
        return cls(
            law=law, params=params, objective=float(d.get("objective") or np.nan),
            loss=d.get("loss", "huber"), delta=float(d.get("delta", 1e-3)),
            n_points=int(d.get("n_points", 0)), law_options=opts, sigma=d.get("sigma"),
            intervals={k: (float(v[0]), float(v[1])) for k, v in
                       (d.get("intervals") or {}).items()},
            confidence=float(d.get("confidence", 0.95)), draws=draws,
            derived=dict(d.get("derived") or {}),
            derived_intervals={k: (float(v[0]), float(v[1])) for k, v in
                               (d.get("derived_intervals") or {}).items()},
            warnings=list(d.get("warnings") or []),
            residuals=None if res is None else np.asarray(res, float),
            backtest=d.get("backtest"), optimizer=dict(d.get("optimizer") or {}),
            bootstrap=dict(d.get("bootstrap") or {}),
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
        if not isinstance(d, dict):
            raise InputError("not a scalinglab fit (expected a JSON object)", source=str(p))
        return cls.from_json(d, source=str(p))

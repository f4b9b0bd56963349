"""Where a plan's law comes from: a law name and parameters, or a saved fit.

:class:`PlanLaw` bundles a :class:`~scalinglab.laws.Law`, its natural-unit parameters and,
optionally, bootstrap draws (``(R, P)``, columns in ``law.param_names`` order) from which plans
get intervals. Build one with :func:`plan_law` (name + ``{"E": ..}`` or ``"E=1.69,A=406.4,.."``,
or a named published constant set such as ``hoffmann``), :func:`load_fit` (the fit JSON that
``scalinglab fit --json`` writes, read by ``FitResult.load``) or :meth:`PlanLaw.of_fit` (a
:class:`~scalinglab.fit.FitResult` in memory). Every plan function takes either a
:class:`PlanLaw` or a ``FitResult`` (:func:`as_plan_law`), so ``plan_compute(sl.fit(df), 1e23)``
needs no JSON round trip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scalinglab.errors import (
    InputError,
    OptionError,
    ParameterError,
    argument_error,
    unknown,
)
from scalinglab.laws import Law, get_law
from scalinglab.laws import published as pub

if TYPE_CHECKING:
    from scalinglab.fit.result import FitResult

#: named published constant sets accepted by ``--params`` (law, constants, citation).
PUBLISHED: dict[str, tuple[str, Mapping[str, float], str]] = {
    "hoffmann": ("chinchilla", pub.CHINCHILLA_HOFFMANN,
                 "Hoffmann et al. 2022 Eq. 10, unrounded (Epoch's 'true' parameters)"),
    "hoffmann-rounded": ("chinchilla", pub.CHINCHILLA_HOFFMANN_ROUNDED,
                         "Hoffmann et al. 2022 Eq. 10 as printed"),
    "epoch": ("chinchilla", pub.CHINCHILLA_EPOCH, "Besiroglu et al. 2024 (Epoch) estimate"),
    "muennighoff": ("data-constrained", pub.DATA_CONSTRAINED_MUENNIGHOFF,
                    "Muennighoff et al. 2023, datablations README"),
    "kaplan": ("kaplan-nd", pub.KAPLAN_ND, "Kaplan et al. 2020 Table 2 (N non-embedding)"),
}


@dataclass
class PlanLaw:
    """A law with point parameters and optional bootstrap draws (natural units)."""

    law: Law
    params: dict[str, float]
    draws: np.ndarray | None = None
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    from_fit: bool = False
    #: interval level of the fit the law came from (plans use it unless told otherwise)
    confidence: float | None = None
    #: what N means (from the fit's conventions), when known
    n_convention: str | None = None
    #: column -> (min, max) of the data the fit saw (its provenance), for extrapolation
    #: warnings; empty for published constants
    ranges: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # validates names (an error naming params) and finiteness
        vec = self.law._as_vector(self.params)
        self.params = dict(zip(self.law.param_names, vec, strict=True))
        bad = [k for k, v in self.params.items() if not math.isfinite(v)]
        if bad:
            raise ParameterError("params", f"parameter(s) {', '.join(bad)} must be finite "
                                 "numbers")
        # the law's own parameter bounds (Param.lower/upper, inclusive: a fit may sit on one)
        out = [f"{p.name}={self.params[p.name]:g} (allowed {p.lower:g} to {p.upper:g})"
               for p in self.law.params if not p.lower <= self.params[p.name] <= p.upper]
        if out:
            raise ParameterError("params", f"parameter(s) outside the bounds of law "
                              f"{self.law.name!r}: {'; '.join(out)}")
        if self.draws is not None:
            d = np.asarray(self.draws, dtype=float)
            if d.ndim != 2 or d.shape[1] != self.law.n_params:
                raise InputError(f"bootstrap draws must have shape (R, {self.law.n_params}), "
                                 f"got {d.shape}", source=self.source or None)
            lo = np.array([p.lower for p in self.law.params], float)
            hi = np.array([p.upper for p in self.law.params], float)
            with np.errstate(invalid="ignore"):
                ok = np.all(np.isfinite(d) & (d >= lo) & (d <= hi), axis=1)
            d = d[ok]
            self.draws = d if len(d) else None

    @classmethod
    def of_fit(cls, fit: FitResult, source: str = "<FitResult>", *,
                 warnings: bool = True) -> PlanLaw:
        """The plan law of a fit: its law (with its options), estimates, bootstrap draws,
        interval level and N convention, and (with ``warnings``) its warnings, which every
        plan made from it repeats."""
        draws = None if fit.draws is None else np.asarray(fit.draws, float)
        return cls(law=fit.law, params=dict(fit.params), draws=draws, source=source,
                   warnings=[str(w) for w in fit.warnings] if warnings else [],
                   from_fit=True, confidence=float(fit.confidence),
                   n_convention=str(fit.conventions.get("N", "")) or None,
                   ranges=dict(fit.provenance.get("ranges") or {}))

    @property
    def name(self) -> str:
        return self.law.name

    def draw_dicts(self) -> list[dict[str, float]]:
        if self.draws is None:
            return []
        return [dict(zip(self.law.param_names, map(float, row), strict=True))
                for row in self.draws]

    def describe(self) -> str:
        ps = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        extra = f"; {len(self.draws)} bootstrap draws" if self.draws is not None else ""
        return f"{self.law.name} ({ps}){extra}"


def parse_params(text: str, option: str = "params") -> dict[str, float]:
    """``"E=1.69,A=406.4,B=410.7,alpha=0.34,beta=0.28"`` -> dict (an error naming
    ``option``, a parameter or a flag, on bad text)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "=" not in part:
            raise argument_error(option, f"expected NAME=VALUE pairs separated by commas, "
                              f"got {part!r}")
        k, v = (s.strip() for s in part.split("=", 1))
        if k in out:
            raise argument_error(option, f"parameter {k!r} given twice")
        try:
            out[k] = float(v)
        except ValueError:
            raise argument_error(option, f"value of {k!r} is not a number: {v!r}") from None
    if not out:
        raise argument_error(option, "no parameters given")
    return out


def plan_law(law: str | Law | None = None,
             params: Mapping[str, float] | str | None = None,
             draws: np.ndarray | None = None) -> PlanLaw:
    """A :class:`PlanLaw` from a law name and parameters (a mapping, ``NAME=VALUE`` text or the
    name of a published set: ``hoffmann`` (default for chinchilla), ``hoffmann-rounded``,
    ``epoch``, ``muennighoff``, ``kaplan``). Without ``law``, a published set implies its own
    law (``params="kaplan"`` is ``kaplan-nd``); otherwise the law is ``chinchilla``."""
    key = params.strip().lower() if isinstance(params, str) else None
    if law is None:
        law = PUBLISHED[key][0] if key in PUBLISHED else "chinchilla"
    lw = get_law(law)
    source = "params"
    if params is None:
        defaults = {"chinchilla": "hoffmann", "data-constrained": "muennighoff",
                    "kaplan-nd": "kaplan"}
        if lw.name not in defaults:
            raise ParameterError("params", f"law {lw.name!r} has no published default; give "
                                 f"{'=..,'.join(lw.param_names)}=.. or a fit")
        params = key = defaults[lw.name]
    if isinstance(params, str):
        if key in PUBLISHED:
            law_name, consts, cite = PUBLISHED[key]
            if law_name != lw.name:
                raise ParameterError("params", f"published set {key!r} is for law "
                                     f"{law_name!r}, not {lw.name!r}")
            params, source = dict(consts), cite
        elif "=" not in params:
            raise ParameterError("params", unknown("published parameter set", key, PUBLISHED)
                                 + "; or give NAME=VALUE,...")
        else:
            params = parse_params(params, "params")
    return PlanLaw(law=lw, params=dict(params), draws=draws, source=source)


def load_fit(path: str | Path) -> PlanLaw:
    """A :class:`PlanLaw` from a fit JSON (``scalinglab fit --json``) via
    :meth:`scalinglab.fit.result.FitResult.load`: the law (with ``law_options``), ``params``,
    bootstrap ``draws`` when present, the fit's interval level (``confidence``), its warnings
    and its N convention."""
    from scalinglab.fit.result import FitResult

    p = Path(path)
    try:
        fr = FitResult.load(p)
    except OptionError as exc:
        raise InputError(f"bad law in fit JSON ({exc})", source=str(p)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"not a scalinglab fit JSON ({type(exc).__name__}: {exc})",
                         source=str(p)) from None
    try:
        return PlanLaw.of_fit(fr, str(p))
    except OptionError as exc:
        raise InputError(str(exc), source=str(p)) from None


def as_plan_law(law: PlanLaw | FitResult) -> PlanLaw:
    """The :class:`PlanLaw` the plan functions work with: a ``PlanLaw`` as it is, a
    :class:`~scalinglab.fit.FitResult` through :meth:`PlanLaw.of_fit` (anything else is an
    :class:`~scalinglab.errors.ParameterError` naming the parameter ``pl``)."""
    if isinstance(law, PlanLaw):
        return law
    from scalinglab.fit.result import FitResult

    if isinstance(law, FitResult):
        return PlanLaw.of_fit(law)
    raise ParameterError("pl", "expected a FitResult (scalinglab.fit(...)) or a PlanLaw "
                      f"(plan_law(...), load_fit(...)), got {type(law).__name__}")

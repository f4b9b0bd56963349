"""Typed records of a fit: its diagnostics and what the optimiser, the bootstrap and the
backtest report (:class:`~scalinglab.fit.result.FitResult`'s ``warnings``, ``optimizer``,
``bootstrap`` and ``backtest``).

* :class:`Diagnostic`: a warning. It *is* its message (a ``str``: printing, ``in`` and
  ``startswith`` work as before) and carries a stable :attr:`Diagnostic.code` (:data:`CODES`),
  which is what programs and tests should match, not the text.
* :class:`OptimizerRecord`, :class:`BootstrapRecord`, :class:`BacktestRecord`: typed fields;
  ``to_dict()`` is the JSON object ``scalinglab fit --json`` writes (the same keys as before
  these records existed) and ``from_dict()`` reads it back, keeping keys it does not know in
  ``extra`` so that a file round-trips unchanged. For code written against the former plain
  dicts, a record also reads as a read-only mapping of its ``to_dict()``
  (``res.optimizer["converged"]``, ``res.bootstrap.get("resamples")``); new code should use
  the fields. An empty record (an older file without the object, a fit without a bootstrap)
  has every field ``None``, ``to_dict()`` gives ``{}`` and it is false in a condition.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

#: every diagnostic code, with what it flags
CODES: dict[str, str] = {
    "bound": "a fitted parameter ended at a bound of its allowed range",
    "collapsed": "a scale parameter went to ~0: the data do not identify it",
    "ill-conditioned": "the Gauss-Newton Hessian is (nearly) singular",
    "levels": "too few distinct N or D levels to separate the exponents",
    "few-points": "fewer than 3 points per fitted parameter",
    "lack-of-fit": "a large RMS residual or a residual trend with a variable",
    "outliers": "points far from the fit (robust z)",
    "misfit": "observed values below the floor, or a whole group the law misses",
    "convergence": "the gradient at the optimum is not small",
    "fragile-optimum": "fewer than 2 refined starts reached the best objective",
    "data-repetition": "runs saw their training data more than once",
    "extrapolation": "a requested budget lies far beyond the fitted compute",
    "bootstrap": "more than 5% of the bootstrap resamples failed to fit",
    "not-identified": "a profiled parameter's profile stays flat: the data do not determine it",
    "profile": "the profile could not be computed, or found a better optimum",
    "fixed": "a note on where held parameter values come from",
    "note": "any other note (a message without a known code)",
}
#: codes that say the data do not identify the parameters (:meth:`FitResult.unidentified
#: <scalinglab.fit.result.FitResult.unidentified>`)
UNIDENTIFIED = ("collapsed", "ill-conditioned", "bound", "not-identified")


class Diagnostic(str):
    """A warning: the ``str`` is the message users see, :attr:`code` a stable key from
    :data:`CODES` (``Diagnostic("outliers", "outliers: 2 point(s) ...")``)."""

    code: str

    def __new__(cls, code: str, message: str) -> Diagnostic:
        obj = super().__new__(cls, message)
        obj.code = code
        return obj

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return (self.code, str(self))

    @property
    def message(self) -> str:
        """The message as a plain ``str``."""
        return str(self)

    @classmethod
    def of(cls, text: str | Mapping[str, Any]) -> Diagnostic:
        """A diagnostic from itself, from a ``{"code", "message"}`` mapping, or from a plain
        message (a file written before codes existed, a warning added by hand): its code is
        the known code its ``CODE: `` prefix spells (``"few points: ..."`` -> ``few-points``),
        else ``note``."""
        if isinstance(text, Diagnostic):
            return text
        if isinstance(text, Mapping):
            return cls(str(text.get("code") or "note"), str(text.get("message", "")))
        head = text.split(":", 1)[0].strip().lower().replace(" ", "-") if ":" in text else ""
        return cls(head if head in CODES else "note", text)

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": str(self)}


def codes(warnings: list[str]) -> list[str]:
    """The code of each warning (plain strings by their prefix, see :meth:`Diagnostic.of`)."""
    return [Diagnostic.of(w).code for w in warnings]


class _Record(Mapping[str, Any]):
    """A typed record that also reads as the mapping of its :meth:`to_dict` (see the module
    docstring). Subclasses are dataclasses whose fields (but ``extra``) are the JSON keys, in
    order, ``None`` meaning absent."""

    #: fields written after ``extra``'s keys (none by default)
    _last: ClassVar[tuple[str, ...]] = ()
    #: the type each field's JSON value is converted to on reading
    _types: ClassVar[dict[str, type]] = {}
    extra: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: the fields that are set, in order, then keys read from a file that
        no field holds."""
        names = [f.name for f in fields(self) if f.name != "extra"]  # type: ignore[arg-type]
        out = {n: getattr(self, n) for n in names
               if n not in self._last and getattr(self, n) is not None}
        out.update(self.extra)
        out.update({n: getattr(self, n) for n in self._last if getattr(self, n) is not None})
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Any:
        """The record of a JSON object (``None`` or ``{}``: the empty record); values are
        converted to the fields' types (``ValueError``/``TypeError`` when they cannot be)."""
        d = dict(d or {})
        known = {f.name: f for f in fields(cls) if f.name != "extra"}  # type: ignore[arg-type]
        kw: dict[str, Any] = {}
        for name in list(d):
            if name in known:
                value = d.pop(name)
                kw[name] = None if value is None else cls._convert(name, value)
        return cls(**kw, extra=d)

    @classmethod
    def _convert(cls, name: str, value: Any) -> Any:
        """``value`` as field ``name``'s type (:attr:`_types`; as read where none is given)."""
        t = cls._types.get(name)
        if t is bool:
            if not isinstance(value, (bool, int)):
                raise TypeError(f"{name} must be true or false, got {value!r}")
            return bool(value)
        return t(value) if t is not None else value

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __str__(self) -> str:
        """As the plain dict it stands for (what text written from the former dicts showed)."""
        return str(self.to_dict())


@dataclass(eq=False)
class OptimizerRecord(_Record):
    """The multi-start optimiser's record (``FitResult.optimizer``)."""

    #: start points scanned (rows of the start grid)
    n_starts: int | None = None
    #: best starts moved by the batched refinement
    n_refined: int | None = None
    #: refined starts that ended within 1e-6 (relative) of the best objective
    n_at_best: int | None = None
    #: the gradient at the optimum is small (see :mod:`scalinglab.fit.optimize`)
    converged: bool | None = None
    #: the norm of that gradient (free directions, internal coordinates)
    grad_norm: float | None = None
    #: wall time of the fit before the bootstrap: reading, optimising, diagnostics (s)
    seconds: float | None = None
    #: keys of a file that no field holds
    extra: dict[str, Any] = field(default_factory=dict)

    _types: ClassVar[dict[str, type]] = {"n_starts": int, "n_refined": int, "n_at_best": int,
                                         "converged": bool, "grad_norm": float,
                                         "seconds": float}


@dataclass(eq=False)
class BootstrapRecord(_Record):
    """The bootstrap's record (``FitResult.bootstrap``; empty without a bootstrap)."""

    #: resamples drawn, each fitted with the full multi-start
    resamples: int | None = None
    #: what was resampled: ``points``, ``run_id`` (whole runs) or ``group``
    unit: str | None = None
    #: resamples whose fit failed (their draws are NaN)
    failed: int | None = None
    #: wall time of the bootstrap (s)
    seconds: float | None = None
    #: the seed of the resampling
    seed: int | None = None
    #: keys of a file that no field holds
    extra: dict[str, Any] = field(default_factory=dict)

    _types: ClassVar[dict[str, type]] = {"resamples": int, "unit": str, "failed": int,
                                         "seconds": float, "seed": int}


@dataclass(eq=False)
class BacktestRecord(_Record):
    """Prediction errors on held-out points (``FitResult.backtest``,
    :func:`scalinglab.fit.backtest`): the fit used the points with ``C <= threshold_C``
    (compute as the table states it) and predicts those above. Relative errors are
    ``predicted / observed - 1`` of the fitted value (loss in nats/token)."""

    #: the compute threshold (C, the table's convention)
    threshold_C: float | None = None
    #: points fitted
    n_train: int | None = None
    #: held-out points predicted
    n_test: int | None = None
    #: mean of ``|predicted / observed - 1|``
    mean_abs_rel_error: float | None = None
    #: largest ``|predicted / observed - 1|``
    max_abs_rel_error: float | None = None
    #: root mean square of ``log(predicted / observed)``
    rmse_log: float | None = None
    #: mean of ``predicted / observed - 1`` (positive: the fit predicts too high)
    bias_rel: float | None = None
    #: share of held-out points inside the predictive interval (with a bootstrap)
    interval_coverage: float | None = None
    #: how that interval was made
    interval: str | None = None
    #: per held-out point: observed, predicted, rel_error, C (where the table has it) and,
    #: with a bootstrap, the interval's lo and hi
    points: list[dict[str, Any]] | None = None
    #: keys of a file that no field holds
    extra: dict[str, Any] = field(default_factory=dict)

    _last: ClassVar[tuple[str, ...]] = ("points",)
    _types: ClassVar[dict[str, type]] = {"threshold_C": float, "n_train": int, "n_test": int,
                                         "mean_abs_rel_error": float,
                                         "max_abs_rel_error": float, "rmse_log": float,
                                         "bias_rel": float, "interval_coverage": float,
                                         "interval": str}

    @classmethod
    def _convert(cls, name: str, value: Any) -> Any:
        if name == "points":
            return [dict(p) for p in value]
        return super()._convert(name, value)

"""A fit problem: the law, the data (variables, log values, weights) and the parameters held.

:class:`FitProblem` is what the optimiser (:mod:`scalinglab.fit.optimize`), the bootstrap
(:func:`scalinglab.fit.core.run_bootstrap`), the diagnostics
(:mod:`scalinglab.fit.diagnostics`) and the profile (:mod:`scalinglab.fit.profile`) take, with
an :class:`~scalinglab.fit.objectives.Objective`, instead of the arrays one by one.

Fixed parameters (``fit(..., fixed={"E": 1.69})``): :func:`hold` wraps the law in a
:class:`Held` law whose parameters are the free ones only; :attr:`FitProblem.free_law` is that
law, the one the optimiser moves (in free internal coordinates), and :meth:`FitProblem.full`
gives the full internal vector of :attr:`FitProblem.law` back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalinglab.errors import ParameterError
from scalinglab.laws.base import Law


@dataclass
class Held(Law):
    """``base`` with the parameters in ``values`` held at those values (natural units): a law
    in the remaining (free) parameters, with ``base``'s name, variables and bounds.

    Predictions and Jacobians are ``base``'s at the full internal vector (free coordinates
    and the held ones, see :meth:`expand`), the held parameters' Jacobian columns left out.
    """

    base: Law
    values: dict[str, float]

    def __post_init__(self) -> None:
        b = self.base
        self.name, self.formula, self.reference = b.name, b.formula, b.reference
        self.variables = b.variables
        held = [i for i, p in enumerate(b.params) if p.name in self.values]
        self._free = np.array([i for i in range(b.n_params) if i not in held], int)
        self._held = np.array(held, int)
        self._held_z = np.array([b.params[i].to_internal(self.values[b.params[i].name])
                                 for i in held], float)
        self.params = tuple(b.params[i] for i in self._free)

    def expand(self, z: np.ndarray) -> np.ndarray:
        """Free internal coordinates ``(..., F)`` to the base law's ``(..., P)``."""
        z = np.asarray(z)
        out = np.empty((*z.shape[:-1], self.base.n_params),
                       dtype=z.dtype if z.dtype.kind == "f" else float)
        out[..., self._free] = z
        out[..., self._held] = self._held_z
        return out

    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v, j = self.base.value_and_jac(self.expand(z), X)
        return v, j[..., self._free]

    def log_value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lv, j = self.base.log_value_and_jac(self.expand(z), X)
        return lv, j[..., self._free]

    def log_value(self, z: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self.base.log_value(self.expand(z), X)

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        return self.base.derived({**self.values, **params})

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        return {k: v for k, v in self.base.data_init(X, y).items() if k not in self.values}


def hold(law: Law, values: Mapping[str, float] | None) -> Law:
    """``law`` with the parameters in ``values`` held (a :class:`Held` law); ``law`` itself
    when nothing is held. Names must be parameters of ``law`` (checked by the caller)."""
    return Held(law, dict(values)) if values else law


def full_internal(law: Law, z: np.ndarray) -> np.ndarray:
    """The full internal vector of the law behind ``law`` (``z`` itself unless held)."""
    return law.expand(z) if isinstance(law, Held) else np.asarray(z)


@dataclass
class FitProblem:
    """The data one fit sees and the law it fits.

    ``law``: the law, all its parameters; ``X``: its variables, shape ``(V, n)`` in
    ``law.variables`` order (natural units: N, D, C as the table states them); ``logy``: the
    log of the fitted value (loss in nats/token), shape ``(n,)``; ``w``: per-point weights,
    shape ``(n,)`` (ones when the table has no ``weight`` column); ``fixed``: parameters held
    at these values (natural units), validated by the caller
    (:func:`scalinglab.fit.core.check_fixed`).
    """

    law: Law
    X: np.ndarray
    logy: np.ndarray
    w: np.ndarray
    fixed: dict[str, float] = field(default_factory=dict)
    #: the law in the free parameters (``law`` itself when nothing is held)
    free_law: Law = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = self.logy.shape[0]
        if self.X.shape != (len(self.law.variables), n) or self.w.shape != (n,):
            raise ParameterError("X", f"X must be ({len(self.law.variables)}, n) and w (n,) "
                                 f"for n = {n} values; got X {self.X.shape}, w {self.w.shape}")
        self.fixed = dict(self.fixed)
        self.free_law = hold(self.law, self.fixed)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, law: Law, y: str = "loss",
                   fixed: Mapping[str, float] | None = None) -> FitProblem:
        """The problem of fitting ``law`` to ``y`` in a validated table (columns named by
        ``law.variables``, ``y`` and optionally ``weight``)."""
        X = np.stack([df[v].to_numpy(float) for v in law.variables])
        logy = np.log(df[y].to_numpy(float))
        w = df["weight"].to_numpy(float) if "weight" in df.columns else np.ones(len(df))
        return cls(law, X, logy, w, dict(fixed or {}))

    @property
    def n(self) -> int:
        """Number of points."""
        return int(self.logy.shape[0])

    @property
    def n_free(self) -> int:
        """Number of fitted (not held) parameters."""
        return self.free_law.n_params

    def subset(self, idx: np.ndarray, w: np.ndarray | None = None) -> FitProblem:
        """The points ``idx`` (a resample may repeat them), with weights ``w`` (default: their
        own)."""
        return FitProblem(self.law, self.X[:, idx], self.logy[idx],
                          self.w[idx] if w is None else w, self.fixed)

    def start_grid(self) -> np.ndarray:
        """The free law's start grid for these data (free internal coordinates)."""
        return self.free_law.start_grid(self.X, np.exp(self.logy))

    def full(self, z: np.ndarray) -> np.ndarray:
        """Free internal coordinates to ``law``'s full internal vector."""
        return full_internal(self.free_law, z)

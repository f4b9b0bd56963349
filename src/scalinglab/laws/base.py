"""The law protocol: a scaling law as a small declarative object.

A :class:`Law` has

* ``variables``: the observation-table columns it reads (``("N", "D")`` for Chinchilla);
* ``params``: named :class:`Param` s with bounds, a transform (scale parameters are optimised as
  their natural log, so ``A`` is searched as ``log A``) and a default initialisation grid;
* a vectorised prediction and its analytic Jacobian in the *internal* coordinates ``z``
  (log for scale parameters), evaluated for many parameter vectors at once: ``z`` has shape
  ``(K, P)``, the data ``X`` has shape ``(V, n)`` (one row per variable), predictions come back
  as ``(K, n)`` and Jacobians as ``(K, n, P)``;
* closed-form derived quantities where they exist (:meth:`Law.derived`).

Fitting works on log predictions (residuals are ``log L_hat - log L``), so every law provides
:meth:`Law.log_value_and_jac`; laws whose log prediction has a stable closed form (log-sum-exp
for ``E + A/N^alpha + B/D^beta``) override it.

Conventions: losses are in nats per token; N, D, C are whatever the observation table says
(the table records its convention); nothing here converts units.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scalinglab.errors import ParameterError

ArrayLike = np.ndarray | Sequence[float] | float


@dataclass(frozen=True)
class Param:
    """One law parameter.

    ``lower``/``upper`` are bounds in natural units. With ``log=True`` the optimiser works on
    ``log(value)`` (the parameter must be positive). ``grid`` lists initialisation values in
    natural units; the law's start grid is their Cartesian product.
    """

    name: str
    lower: float
    upper: float
    log: bool = False
    grid: tuple[float, ...] = ()
    doc: str = ""

    def to_internal(self, value: float | np.ndarray) -> float | np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(value) if self.log else value

    def from_internal(self, z: float | np.ndarray) -> float | np.ndarray:
        with np.errstate(over="ignore"):
            return np.exp(z) if self.log else z

    @property
    def internal_bounds(self) -> tuple[float, float]:
        if self.log:
            lo = -np.inf if self.lower <= 0 else math.log(self.lower)
            hi = np.inf if not np.isfinite(self.upper) else math.log(self.upper)
            return lo, hi
        return self.lower, self.upper


@dataclass
class Law:
    """Base class of every law. Subclasses set the class attributes and implement
    :meth:`value_and_jac` (and optionally :meth:`log_value_and_jac`)."""

    name: str = field(init=False, default="")
    formula: str = field(init=False, default="")
    reference: str = field(init=False, default="")
    variables: tuple[str, ...] = field(init=False, default=())
    params: tuple[Param, ...] = field(init=False, default=())
    #: the column the law predicts, fitted when no other is named (``loss`` for most laws;
    #: ``score`` for the train/test-compute law, ``coverage`` for the coverage law)
    target: str = field(init=False, default="loss")

    # ------------------------------------------------------------------ the contract
    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Prediction ``(K, n)`` and its Jacobian ``(K, n, P)`` w.r.t. the internal ``z``."""
        raise NotImplementedError

    def log_value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``log`` of the prediction and its Jacobian; ``-inf``/``nan`` where it is not > 0."""
        v, j = self.value_and_jac(z, X)
        with np.errstate(divide="ignore", invalid="ignore"):
            logv = np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), np.nan)
            jl = j / np.where(v > 0, v, np.nan)[..., None]
        return logv, jl

    def log_value(self, z: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``log`` prediction only (used on the start grid; override when cheaper)."""
        return self.log_value_and_jac(z, X)[0]

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        """Closed-form derived quantities (allocation exponents, ...); empty by default."""
        return {}

    def canonical(self, params: Mapping[str, float]) -> dict[str, float]:
        """The canonical form of a fitted parameter set (laws with symmetries override)."""
        return dict(params)

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        """Data-dependent start values (natural units) that replace ``Param.grid`` entries."""
        return {}

    # ------------------------------------------------------------------ helpers
    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def n_params(self) -> int:
        return len(self.params)

    def to_internal(self, params: Mapping[str, float] | Sequence[float]) -> np.ndarray:
        """Natural-unit parameters (a mapping by name, or a sequence in order) to ``z``."""
        vals = self._as_vector(params)
        return np.array([p.to_internal(v) for p, v in zip(self.params, vals, strict=True)])

    def from_internal(self, z: np.ndarray) -> dict[str, float]:
        z = np.asarray(z, dtype=float).reshape(-1)
        return {p.name: float(p.from_internal(v)) for p, v in zip(self.params, z, strict=True)}

    def internal_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        b = [p.internal_bounds for p in self.params]
        return np.array([x[0] for x in b], float), np.array([x[1] for x in b], float)

    def _as_vector(self, params: Mapping[str, float] | Sequence[float]) -> list[float]:
        if isinstance(params, Mapping):
            missing = [n for n in self.param_names if n not in params]
            if missing:
                raise ParameterError(
                    "params",
                    f"law {self.name!r} needs parameter(s) {', '.join(missing)}; "
                    f"it takes {', '.join(self.param_names)}",
                )
            extra = [k for k in params if k not in self.param_names]
            if extra:
                raise ParameterError(
                    "params",
                    f"law {self.name!r} has no parameter(s) {', '.join(extra)}; "
                    f"it takes {', '.join(self.param_names)}",
                )
            return [float(params[n]) for n in self.param_names]
        vals = [float(v) for v in params]
        if len(vals) != self.n_params:
            raise ParameterError(
                "params", f"law {self.name!r} takes {self.n_params} parameters, got {len(vals)}"
            )
        return vals

    def stack_variables(
        self, variables: Mapping[str, ArrayLike]
    ) -> tuple[np.ndarray, tuple[int, ...]]:
        """``{"N": ..., "D": ...}`` to the ``(V, n)`` array the law reads, and the broadcast
        shape to give predictions back in."""
        missing = [v for v in self.variables if v not in variables]
        if missing:
            raise ParameterError(
                "variables", f"law {self.name!r} needs {', '.join(missing)} to predict"
            )
        arrays = np.broadcast_arrays(*[np.asarray(variables[v], float) for v in self.variables])
        return np.stack([a.reshape(-1) for a in arrays]), arrays[0].shape

    def predict(
        self, params: Mapping[str, float] | Sequence[float], **variables: ArrayLike
    ) -> np.ndarray:
        """Evaluate the law at natural-unit ``params`` on named variables (broadcasting)."""
        z = self.to_internal(params)[None, :]
        X, shape = self.stack_variables(variables)
        logv = self.log_value(z, X)[0]
        return np.exp(logv).reshape(shape)

    def start_grid(self, X: np.ndarray, y: np.ndarray, max_points: int = 20000,
                   seed: int = 0) -> np.ndarray:
        """Initialisation points in internal coordinates, shape ``(G, P)``.

        The Cartesian product of each parameter's start values (data-dependent ones from
        :meth:`data_init` take precedence). When the product is larger than ``max_points``, a
        deterministic random subset of it is used.
        """
        over = self.data_init(X, y)
        axes = []
        for p in self.params:
            vals = over.get(p.name, p.grid)
            if not vals:
                lo, hi = p.lower, p.upper
                vals = (math.sqrt(lo * hi),) if p.log and lo > 0 else ((lo + hi) / 2,)
            axes.append(np.array([p.to_internal(v) for v in vals], float))
        sizes = [len(a) for a in axes]
        total = int(np.prod(sizes))
        if total <= max_points:
            grid = np.array(list(itertools.product(*axes)), float)
        else:
            rng = np.random.default_rng(seed)
            idx = rng.choice(total, size=max_points, replace=False)
            coords = np.array(np.unravel_index(idx, sizes)).T
            grid = np.stack([axes[j][coords[:, j]] for j in range(len(axes))], axis=1)
        lo, hi = self.internal_bounds()
        return np.clip(grid, lo, hi)

    def describe(self) -> str:
        return f"{self.name}: {self.formula}"


def logsumexp_terms(terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stable ``log(sum(exp(t)))`` over the last axis and the softmax weights."""
    m = np.max(terms, axis=-1, keepdims=True)
    e = np.exp(terms - m)
    s = np.sum(e, axis=-1, keepdims=True)
    return (m + np.log(s))[..., 0], e / s


def numeric_jacobian(
    law: Law, z: np.ndarray, X: np.ndarray, eps: float = 1e-6, log: bool = True
) -> np.ndarray:
    """Central-difference Jacobian of the (log) prediction, for tests of analytic ones."""
    z = np.atleast_2d(np.asarray(z, float))
    K, P = z.shape
    out = np.empty((K, X.shape[1], P))
    f = law.log_value if log else (lambda zz, XX: law.value_and_jac(zz, XX)[0])
    for j in range(P):
        h = eps * max(1.0, abs(float(np.max(np.abs(z[:, j])))))
        zp, zm = z.copy(), z.copy()
        zp[:, j] += h
        zm[:, j] -= h
        out[:, :, j] = (f(zp, X) - f(zm, X)) / (2 * h)
    return out

"""Fitting objectives on log residuals ``r = log L_hat - log L``.

* ``huber`` (default): ``sum_i w_i Huber_delta(r_i)`` with ``Huber_delta(r) = r^2/2`` for
  ``|r| <= delta`` and ``delta (|r| - delta/2)`` beyond; delta = 1e-3 as Hoffmann et al. The
  reported objective is the **sum** over points (Besiroglu et al. show the mean stops L-BFGS
  early).
* ``mse``: ``sum_i w_i r_i^2`` (least squares in log space).
* ``huber-likelihood`` (Besiroglu et al. 2024): the negative log-likelihood of residuals drawn
  from the density ``exp(-Huber_delta(r/sigma)) / (sigma Z(delta))`` with a fitted scale sigma,
  ``Z(delta) = sqrt(2 pi) (1 - 2 Phi(-delta)) + 2 exp(-delta^2/2)/delta``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from scalinglab.errors import ParameterError, unknown

OBJECTIVES = ("huber", "mse", "huber-likelihood")
#: Hoffmann et al.'s Huber threshold on log residuals, the default of every fit
DEFAULT_DELTA = 1e-3


def huber(r: np.ndarray, delta: float) -> np.ndarray:
    # with m = min(|r|, delta): m (|r| - m/2) is r^2/2 inside and delta (|r| - delta/2) outside
    a = np.abs(r)
    m = np.minimum(a, delta)
    a -= 0.5 * m
    a *= m
    return a


def huber_psi(r: np.ndarray, delta: float) -> np.ndarray:
    """Derivative of :func:`huber`."""
    return np.clip(r, -delta, delta)


def huber_log_normaliser(delta: float) -> float:
    """``log Z(delta)`` of the Huber density (scale 1)."""
    z = math.sqrt(2 * math.pi) * (1 - 2 * float(ndtr(-delta))) + 2 * math.exp(
        -0.5 * delta * delta) / delta
    return math.log(z)


def summed(r: np.ndarray, w: np.ndarray, kind: str, delta: float) -> np.ndarray:
    """Objective of the residual rows ``r`` (..., n) with weights ``w`` (n,): one value per row.

    Non-finite residuals (a prediction that is not positive) give ``inf``.
    For ``huber-likelihood`` this is the plain summed Huber (used to rank starts).
    """
    return Objective(kind, delta).value(r, w)


def likelihood_nll(r: np.ndarray, w: np.ndarray, sigma: float, delta: float) -> float:
    """Negative log-likelihood of the Huber density with scale ``sigma``."""
    W = float(np.sum(w))
    return float(np.sum(w * huber(r / sigma, delta)) + W * (math.log(sigma)
                                                             + huber_log_normaliser(delta)))


def weighted_huber_loss(w: np.ndarray, delta: float) -> Callable[[np.ndarray], np.ndarray]:
    """``least_squares`` robust loss for ``sum w_i Huber_delta(f_i)`` (``f_scale`` = 1).

    ``least_squares`` minimises ``0.5 * sum rho(f^2)``; with ``rho = 2 w Huber_delta(sqrt z)``
    that is the weighted Huber sum. Returns ``rho`` and its first two derivatives in ``z``.
    """

    def rho(z: np.ndarray) -> np.ndarray:
        out = np.empty((3, z.size))
        inner = z <= delta * delta
        sz = np.sqrt(np.maximum(z, 1e-300))
        out[0] = np.where(inner, w * z, w * (2 * delta * sz - delta * delta))
        out[1] = np.where(inner, w, w * delta / sz)
        out[2] = np.where(inner, 0.0, -0.5 * w * delta / (sz * np.maximum(z, 1e-300)))
        return out

    return rho


@dataclass(frozen=True)
class Objective:
    """One fitting objective on log residuals ``r``: ``kind`` (one of :data:`OBJECTIVES`) and
    the Huber threshold ``delta`` (log residuals; unused by ``mse``).

    Per point (``rho`` the loss; for ``huber-likelihood`` the plain Huber loss, which its
    parameter step minimises at a fixed scale):

    * :meth:`loss`: ``rho(r)``: ``r^2`` (``mse``) or ``Huber_delta(r)``;
    * :meth:`psi`: ``rho'(r)``: ``2 r`` or ``clip(r, -delta, delta)``;
    * :meth:`irls_weight`: the weight ``c(r)`` of the quadratic majoriser
      ``rho(r0) + psi(r0) (r - r0) + c(r0) (r - r0)^2 / 2`` used by reweighted Gauss-Newton
      steps: ``2`` or ``min(1, delta / |r|)``;
    * :meth:`curvature`: ``rho''(r)``: ``2``, or ``1`` inside ``|r| <= delta`` and ``0``
      beyond;
    * :meth:`least_squares_loss`: the same sum as ``scipy.optimize.least_squares`` takes it.

    :meth:`value` sums ``w_i rho(r_i)`` over the last axis (``inf`` where not finite); for
    ``huber-likelihood`` it ranks starts, the likelihood itself is :func:`likelihood_nll`.
    Invalid ``kind`` or ``delta`` raise :class:`~scalinglab.errors.ParameterError` naming
    ``loss`` or ``delta`` (the names :func:`scalinglab.fit` gives them).
    """

    kind: str = "huber"
    delta: float = DEFAULT_DELTA

    def __post_init__(self) -> None:
        if self.kind not in OBJECTIVES:
            raise ParameterError("loss", unknown("objective", self.kind, OBJECTIVES))
        if not (self.delta > 0):
            raise ParameterError("delta", f"must be > 0, got {self.delta}")
        # a Python float: a NumPy scalar would promote the float32 grid scan to float64
        object.__setattr__(self, "delta", float(self.delta))

    @property
    def squares(self) -> bool:
        """Least squares (``mse``) rather than a Huber loss."""
        return self.kind == "mse"

    @property
    def likelihood(self) -> bool:
        """``huber-likelihood``: the Huber density with a fitted scale."""
        return self.kind == "huber-likelihood"

    @property
    def base(self) -> Objective:
        """The summed loss the parameter steps minimise: itself, or for ``huber-likelihood``
        the plain Huber loss at ``delta``."""
        return Objective("huber", self.delta) if self.likelihood else self

    def scaled(self, sigma: float) -> Objective:
        """The plain Huber loss at ``delta sigma``: ``huber-likelihood``'s parameter step at
        scale ``sigma`` (the loss of ``r / sigma``, times ``sigma^2``)."""
        return Objective("huber", self.delta * sigma)

    def loss(self, r: np.ndarray) -> np.ndarray:
        """``rho(r)`` per point."""
        return (r * r) if self.squares else huber(r, self.delta)

    def value(self, r: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``sum_i w_i rho(r_i)`` of the residual rows ``r`` (..., n): one value per row;
        ``inf`` where not finite (a prediction that is not positive)."""
        out = np.sum(self.loss(r) * w, axis=-1)
        return np.where(np.isfinite(out), out, np.inf)

    def psi(self, r: np.ndarray) -> np.ndarray:
        """``rho'(r)``: ``2 r`` (``mse``) or ``clip(r, -delta, delta)``."""
        return 2.0 * r if self.squares else huber_psi(r, self.delta)

    def irls_weight(self, r: np.ndarray) -> np.ndarray:
        """The majoriser's curvature ``c(r)``: ``2`` (``mse``; broadcast to ``r``'s shape) or
        ``min(1, delta / |r|)``."""
        if self.squares:
            return np.full(np.shape(r), 2.0)
        return np.minimum(1.0, self.delta / np.maximum(np.abs(r), 1e-300))

    def curvature(self, r: np.ndarray) -> np.ndarray:
        """``rho''(r)``: ``2`` (``mse``), or ``1`` for ``|r| <= delta`` and ``0`` beyond."""
        if self.squares:
            return np.full(np.shape(r), 2.0)
        return (np.abs(r) <= self.delta).astype(float)

    def least_squares_loss(self, w: np.ndarray
                           ) -> tuple[np.ndarray, str | Callable[[np.ndarray], np.ndarray],
                                      float]:
        """``(scale, loss, f_scale)`` for ``scipy.optimize.least_squares`` on the residuals
        times ``scale``, whose ``0.5 sum loss(f^2)`` (at ``f_scale``) is ``value / 2`` for
        ``mse`` and ``value`` for the Huber losses (SciPy's ``huber`` at ``f_scale = delta``
        is ``sum Huber_delta``; with weights other than 1, :func:`weighted_huber_loss`)."""
        if self.squares:
            return np.sqrt(w), "linear", 1.0
        if bool(np.all(w == 1.0)):
            return np.ones_like(w), "huber", self.delta
        return np.ones_like(w), weighted_huber_loss(w, self.delta), 1.0

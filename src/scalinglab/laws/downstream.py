"""Downstream-metric laws: a task metric (accuracy, top-1 error) as a function of compute via
an intermediate loss.

* ``downstream``: the two steps chained into one curve of one scale variable ``x`` (default
  ``C``)::

      step 1 (task loss):  L(x) = L0 + (x0/x)^alpha                (saturating power law)
      step 2 (metric):     acc(L) = floor + (ceiling - floor) / (1 + exp(-k (L - Lmid)))

  the method of Llama 3 (Dubey et al. 2024, arXiv 2407.21783, Sec. 3.2.1: compute -> the
  NLL of the correct answer -> accuracy through a sigmoid) and of the OLMo model
  ladder (Bhagia et al. 2024, arXiv 2412.04403: (N, D) -> task loss -> accuracy). Accuracy
  falls as the loss grows, so a fitted curve has ``k < 0`` and ``floor`` is the high-loss
  (chance) side. The law is the *chained* curve; scalinglab fits it in two steps
  (:func:`scalinglab.fit.downstream.fit_downstream`, ``scalinglab fit --law downstream``),
  each step with its own law (``saturating-power`` and ``sigmoid``), which is how the papers
  fit it. Loss in nats/token; x in the table's own convention (C = 6ND unless it says).
* :class:`ExpDecayError` (``gadre-error``, not in the registry: the alternative step 2 of
  :func:`~scalinglab.fit.downstream.fit_downstream`): Gadre et al. 2024 (arXiv 2403.08540,
  code ``decay_ours`` in mlfoundations/scaling ``scaling/laws.py``): average top-1 error
  from the loss, ``Err(L) = eps - k exp(-gamma L)``; ``eps`` is the error as the loss grows
  (chance error), ``k, gamma > 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalinglab.laws.base import Law, Param
from scalinglab.laws.kaplan import _check_x

_REFERENCE = ("Llama 3 (Dubey et al. 2024, arXiv 2407.21783) Sec. 3.2.1; OLMo ladder "
              "(Bhagia et al. 2024, arXiv 2412.04403); Gadre et al. 2024 (arXiv 2403.08540)")


def _sig(u: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * u))


@dataclass
class Downstream(Law):
    """The chained two-step curve metric(x) = sigmoid(L0 + (x0/x)^alpha)."""

    x: str = "C"

    def __post_init__(self) -> None:
        x = _check_x("downstream", self.x)
        self.name = "downstream"
        self.formula = (f"L = L0 + (x0/{x})^alpha (task loss); acc = floor + (ceiling - floor)"
                        " / (1 + exp(-k (L - Lmid)))")
        self.reference = _REFERENCE
        self.variables = (x,)
        self.params = (
            Param("L0", 0.0, np.inf, log=True, doc="step 1: irreducible task loss (nats)"),
            Param("x0", 0.0, np.inf, log=True, doc=f"step 1: scale of {x}"),
            Param("alpha", 1e-5, 10.0, grid=(0.05, 0.15, 0.3, 0.6), doc="step 1: exponent"),
            Param("floor", 0.0, np.inf, doc="step 2: metric at high loss (chance) when k < 0"),
            Param("ceiling", 0.0, np.inf, doc="step 2: metric at low loss when k < 0"),
            Param("k", -1e3, 1e3, doc="step 2: steepness per nat of task loss"),
            Param("Lmid", 0.0, np.inf, doc="step 2: task loss at the sigmoid's midpoint"),
        )

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        lm = float(np.median(np.log(X[0])))
        ymin, ymax = float(np.min(y)), float(np.max(y))
        return {"L0": (0.5, 1.0, 2.0),
                "x0": tuple(float(np.exp(lm + o)) for o in (-8.0, -2.0, 0.0, 4.0)),
                "floor": (0.95 * ymin,), "ceiling": (1.05 * ymax,),
                "k": (-1.0, -4.0, -10.0), "Lmid": (1.0, 2.0, 3.0, 4.0)}

    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lx = np.log(X[0])[None, :]
        lL0, lx0, al, fl, ce, k, lm = (z[:, i : i + 1] for i in range(7))
        d = lx0 - lx
        p = np.exp(al * d)
        L0 = np.exp(lL0)
        L = L0 + p
        s = _sig(k * (L - lm))
        v = fl + (ce - fl) * s
        ds = s * (1.0 - s)
        g = (ce - fl) * ds * k  # d value / d L
        K, n = v.shape
        jac = np.empty((K, n, 7))
        jac[..., 0] = g * L0
        jac[..., 1] = g * p * al
        jac[..., 2] = g * p * d
        jac[..., 3] = 1.0 - s
        jac[..., 4] = s
        jac[..., 5] = (ce - fl) * ds * (L - lm)
        jac[..., 6] = -g
        return v, jac


@dataclass
class ExpDecayError(Law):
    """Gadre et al. 2024: top-1 error from loss, Err(L) = eps - k exp(-gamma L)."""

    x: str = "loss"

    def __post_init__(self) -> None:
        x = _check_x("gadre-error", self.x)
        self.name = "gadre-error"
        self.formula = f"Err = eps - k exp(-gamma {x})"
        self.reference = ("Gadre et al. 2024 (arXiv 2403.08540); mlfoundations/scaling "
                          "scaling/laws.py decay_ours")
        self.variables = (x,)
        self.params = (
            Param("eps", 0.0, 10.0, grid=(0.5, 0.8, 1.0), doc="error as the loss grows"),
            Param("k", 0.0, np.inf, log=True, grid=(0.1, 1.0, 10.0, 100.0), doc="scale"),
            Param("gamma", 1e-4, 50.0, grid=(0.3, 1.0, 3.0), doc="decay per nat of loss"),
        )

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        ymax = float(np.max(y))
        return {"eps": (1.02 * ymax, 1.2 * ymax, 2.0 * ymax)}

    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = X[0][None, :]
        eps, lk, g = z[:, 0:1], z[:, 1:2], z[:, 2:3]
        e = np.exp(lk - g * t)
        v = eps - e
        K, n = v.shape
        jac = np.empty((K, n, 3))
        jac[..., 0] = 1.0
        jac[..., 1] = -e
        jac[..., 2] = t * e
        return v, jac

"""Laws that extend Chinchilla's: low-precision training and transfer from pre-training.

* ``precision`` (Kumar et al. 2024, "Scaling Laws for Precision", Eq. 3-4, weights only):
  ``L(N, D, P) = E + A / (N (1 - exp(-P/gamma)))^alpha + B / D^beta``: training with P-bit
  weights acts as fewer effective parameters. Reported gamma_w = 2.6745 (secondary source).
* ``transfer`` (Hernandez et al. 2021, "Scaling Laws for Transfer"): the effective data
  transferred from pre-training, ``D_T = k D_F^alpha N^beta`` (variables D = D_F, the
  fine-tuning set size, and N, non-embedding parameters; fitted to a column of D_T values).
  Table 1 (secondary): English text -> Python k 1.9e4, alpha 0.18, beta 0.38.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalinglab.laws.base import Law, Param

_AB = tuple(float(np.exp(v)) for v in (0.0, 5.0, 10.0, 15.0))


@dataclass
class Precision(Law):
    def __post_init__(self) -> None:
        self.name = "precision"
        self.formula = "L = E + A/(N (1 - exp(-P/gamma)))^alpha + B/D^beta"
        self.reference = "Kumar et al. 2024 (arXiv 2411.04330), Eq. 3-4"
        self.variables = ("N", "D", "P")
        self.params = (
            Param("E", 0.0, 1e3, log=True, grid=(1.0, 2.0), doc="irreducible loss"),
            Param("A", 0.0, np.inf, log=True, grid=_AB, doc="parameter-term scale"),
            Param("B", 0.0, np.inf, log=True, grid=_AB, doc="data-term scale"),
            Param("alpha", 1e-3, 5.0, grid=(0.2, 0.5), doc="parameter exponent"),
            Param("beta", 1e-3, 5.0, grid=(0.2, 0.5), doc="data exponent"),
            Param("gamma", 1e-2, 1e2, log=True, grid=(1.0, 2.7, 6.0),
                  doc="bits scale of the effective-parameter penalty"),
        )

    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lN, lD, P = np.log(X[0]), np.log(X[1]), X[2]
        lE, lA, lB, al, be, lg = (z[:, i : i + 1] for i in range(6))
        g = np.exp(lg)
        u = P / g
        keep = -np.expm1(-u)  # 1 - exp(-P/gamma)
        lneff = lN + np.log(keep)
        ta = np.exp(lA - al * lneff)
        tb = np.exp(lB - be * lD)
        e = np.exp(lE)
        v = e + ta + tb
        dlneff_dlg = -u * np.exp(-u) / keep
        K, n = v.shape
        jac = np.empty((K, n, 6))
        jac[..., 0] = np.broadcast_to(e, (K, n))
        jac[..., 1] = ta
        jac[..., 2] = tb
        jac[..., 3] = -ta * lneff
        jac[..., 4] = -tb * lD
        jac[..., 5] = -al * ta * dlneff_dlg
        return v, jac


@dataclass
class Transfer(Law):
    def __post_init__(self) -> None:
        self.name = "transfer"
        self.formula = "D_T = k D^alpha N^beta  (D: fine-tuning data, N: parameters)"
        self.reference = "Hernandez et al. 2021 (arXiv 2102.01293)"
        self.variables = ("D", "N")
        self.params = (
            Param("k", 0.0, np.inf, log=True, grid=tuple(10.0**p for p in (-2, 0, 2, 4, 6))),
            Param("alpha", -2.0, 2.0, grid=(0.1, 0.3, 0.6), doc="data exponent"),
            Param("beta", -2.0, 2.0, grid=(0.1, 0.4, 0.8), doc="parameter exponent"),
        )

    def log_value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lD, lN = np.log(X[0]), np.log(X[1])
        lk, al, be = z[:, 0:1], z[:, 1:2], z[:, 2:3]
        lv = lk + al * lD + be * lN
        jac = np.stack([np.ones_like(lv), np.broadcast_to(lD, lv.shape),
                        np.broadcast_to(lN, lv.shape)], axis=-1)
        return lv, jac

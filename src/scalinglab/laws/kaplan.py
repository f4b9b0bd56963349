"""Kaplan et al. 2020's laws and the single-variable power laws.

* ``kaplan-nd``: L(N, D) = ((Nc/N)^(alphaN/alphaD) + Dc/D)^alphaD  (Eq. 1.5; Table 2 joint fit:
  alphaN 0.076, alphaD 0.103, Nc 6.4e13, Dc 1.8e13; N non-embedding).
* ``kaplan-ns``: L(N, S) = (Nc/N)^alphaN + (Sc/S)^alphaS  (Eq. 1.6; Table 3: alphaN 0.077,
  alphaS 0.76, Nc 6.5e13, Sc 2.1e3; S = optimiser steps at B >> B_crit, S_min).
* ``power``: L(x) = (xc/x)^alpha for one of N, D, C (Eq. 1.1-1.3; Table 5).
* ``saturating-power``: L(x) = L0 + (x0/x)^alpha (Henighan et al. 2020's "power law plus
  constant"; Hestness et al. 2017's learning-curve form).

Scale parameters (Nc, Dc, Sc, xc, x0, L0) are optimised in log space. Their start values are
placed relative to the data (the median of log x plus a ladder of offsets), because the
published scales (1e13 and up) are tokenisation-dependent and far from small-scale studies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalinglab.errors import ParameterError
from scalinglab.laws.base import Law, Param, logsumexp_terms

_EXP_GRID = (0.03, 0.07, 0.15, 0.3, 0.6, 1.2)
_OFFSETS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)

SCALE_VARIABLES = ("N", "D", "C", "S")


def _scale_starts(x: np.ndarray) -> tuple[float, ...]:
    """Start values for a scale parameter: exp(median log x + offsets), in natural units."""
    m = float(np.median(np.log(x)))
    return tuple(float(np.exp(m + o)) for o in _OFFSETS)


@dataclass
class KaplanND(Law):
    def __post_init__(self) -> None:
        self.name = "kaplan-nd"
        self.formula = "L = ((Nc/N)^(alphaN/alphaD) + Dc/D)^alphaD"
        self.reference = "Kaplan et al. 2020 (arXiv 2001.08361), Eq. 1.5 / 4.1"
        self.variables = ("N", "D")
        self.params = (
            Param("Nc", 0.0, np.inf, log=True, doc="parameter scale"),
            Param("Dc", 0.0, np.inf, log=True, doc="data scale"),
            Param("alphaN", 1e-4, 5.0, grid=_EXP_GRID, doc="parameter exponent"),
            Param("alphaD", 1e-4, 5.0, grid=_EXP_GRID, doc="data exponent"),
        )

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        return {"Nc": _scale_starts(X[0]), "Dc": _scale_starts(X[1])}

    def log_value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lN, lD = np.log(X[0]), np.log(X[1])
        lNc, lDc, aN, aD = (z[:, i : i + 1] for i in range(4))
        r = aN / aD
        u1 = r * (lNc - lN)
        u2 = np.broadcast_to(lDc - lD, u1.shape)
        s, w = logsumexp_terms(np.stack([u1, u2], axis=-1))
        w1, w2 = w[..., 0], w[..., 1]
        jac = np.stack([aN * w1, aD * w2, w1 * (lNc - lN), s - w1 * r * (lNc - lN)], axis=-1)
        return aD * s, jac


@dataclass
class KaplanNS(Law):
    def __post_init__(self) -> None:
        self.name = "kaplan-ns"
        self.formula = "L = (Nc/N)^alphaN + (Sc/S)^alphaS"
        self.reference = "Kaplan et al. 2020 (arXiv 2001.08361), Eq. 1.6 / 5.6"
        self.variables = ("N", "S")
        self.params = (
            Param("Nc", 0.0, np.inf, log=True, doc="parameter scale"),
            Param("Sc", 0.0, np.inf, log=True, doc="step scale"),
            Param("alphaN", 1e-4, 5.0, grid=_EXP_GRID, doc="parameter exponent"),
            Param("alphaS", 1e-4, 5.0, grid=(0.1, 0.3, 0.76, 1.5), doc="step exponent"),
        )

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        m = float(np.median(np.log(X[1])))
        return {"Nc": _scale_starts(X[0]),
                "Sc": tuple(float(np.exp(m + o)) for o in (-4.0, -2.0, 0.0, 2.0, 4.0))}

    def log_value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lN, lS = np.log(X[0]), np.log(X[1])
        lNc, lSc, aN, aS = (z[:, i : i + 1] for i in range(4))
        t1 = aN * (lNc - lN)
        t2 = aS * (lSc - lS)
        s, w = logsumexp_terms(np.stack([t1, t2], axis=-1))
        w1, w2 = w[..., 0], w[..., 1]
        jac = np.stack([w1 * aN, w2 * aS, w1 * (lNc - lN), w2 * (lSc - lS)], axis=-1)
        return s, jac


def _check_x(law: str, x: str) -> str:
    if not x or not isinstance(x, str):
        raise ParameterError("x", f"law {law!r} needs the variable to use (one of N, D, C)")
    return x


@dataclass
class Power(Law):
    """(xc/x)^alpha for one variable x."""

    x: str = "N"

    def __post_init__(self) -> None:
        x = _check_x("power", self.x)
        self.name = "power"
        self.formula = f"L = ({x}c/{x})^alpha"
        self.reference = "Kaplan et al. 2020 (arXiv 2001.08361), Eq. 1.1-1.3"
        self.variables = (x,)
        self.params = (
            Param(f"{x}c" if x in SCALE_VARIABLES else "xc", 0.0, np.inf, log=True,
                  doc="scale"),
            Param("alpha", 1e-5, 10.0, grid=_EXP_GRID, doc="exponent"),
        )

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        return {self.params[0].name: _scale_starts(X[0])}

    def log_value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lx = np.log(X[0])
        lxc, al = z[:, 0:1], z[:, 1:2]
        d = np.broadcast_to(lxc - lx, (z.shape[0], X.shape[1]))
        return al * d, np.stack([np.broadcast_to(al, d.shape), d], axis=-1)


@dataclass
class SaturatingPower(Law):
    """L0 + (x0/x)^alpha for one variable x."""

    x: str = "N"

    def __post_init__(self) -> None:
        x = _check_x("saturating-power", self.x)
        self.name = "saturating-power"
        self.formula = f"L = L0 + (x0/{x})^alpha"
        self.reference = "Henighan et al. 2020 (arXiv 2010.14701); Hestness et al. 2017"
        self.variables = (x,)
        self.params = (
            Param("L0", 0.0, np.inf, log=True, doc="irreducible value"),
            Param("x0", 0.0, np.inf, log=True, doc="scale"),
            Param("alpha", 1e-5, 10.0, grid=_EXP_GRID, doc="exponent"),
        )

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        ymin = float(np.min(y))
        return {"L0": tuple(ymin * f for f in (0.05, 0.3, 0.6, 0.85, 0.97)),
                "x0": tuple(float(np.exp(float(np.median(np.log(X[0]))) + o))
                            for o in (-8.0, -4.0, -2.0, 0.0, 2.0, 4.0, 8.0, 16.0))}

    def log_value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lx = np.log(X[0])
        lL0, lx0, al = z[:, 0:1], z[:, 1:2], z[:, 2:3]
        d = lx0 - lx
        t = al * d
        s, w = logsumexp_terms(np.stack([np.broadcast_to(lL0, t.shape), t], axis=-1))
        return s, np.stack([w[..., 0], w[..., 1] * al, w[..., 1] * d], axis=-1)

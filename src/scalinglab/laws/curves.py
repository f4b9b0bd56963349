"""Shape-flexible one-variable laws: broken power laws and sigmoids.

* ``bnsl`` (Caballero et al. 2022, "Broken Neural Scaling Laws", arXiv 2210.14891), K breaks:
  ``y = a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)``. Segment k has log-log slope
  ``-(c0 + ... + c_{k-1})``; ``d_i`` is the location and ``f_i`` the sharpness of break i.
  Evaluated in logs with a stable softplus; ``b, d_i, f_i`` are optimised in log space.
* ``sigmoid``: ``floor + (ceiling - floor) / (1 + exp(-k (t - x0)))`` for bounded metrics
  (accuracy vs loss, or vs log compute; OLMo's ladder step 2, Xiao et al.'s densing law).
  ``t = log10(x)`` when x is a scale variable (N, D, C, S), else ``t = x``. After a fit the
  parameters are put in the canonical order floor <= ceiling (the swap with k -> -k gives the
  same curve).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scalinglab.errors import ParameterError
from scalinglab.laws.base import Law, Param
from scalinglab.laws.kaplan import SCALE_VARIABLES, _check_x


def _softplus(u: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, u)


def _sigmoid(u: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * u))


@dataclass
class BrokenPowerLaw(Law):
    x: str = "C"
    breaks: int = 1

    def __post_init__(self) -> None:
        x = _check_x("bnsl", self.x)
        if not isinstance(self.breaks, int) or self.breaks < 0 or self.breaks > 4:
            raise ParameterError("breaks", f"must be an integer from 0 to 4, got {self.breaks!r}")
        self.name = "bnsl"
        terms = "".join(f" (1 + ({x}/d{i})^(1/f{i}))^(-c{i} f{i})"
                        for i in range(1, self.breaks + 1))
        self.formula = f"y = a + b {x}^-c0{terms}"
        self.reference = "Caballero et al. 2022 (arXiv 2210.14891), Eq. 1"
        self.variables = (x,)
        ps = [
            Param("a", 0.0, np.inf, doc="limit value"),
            Param("b", 0.0, np.inf, log=True, doc="offset on log-log"),
            Param("c0", -5.0, 5.0, grid=(0.0, 0.25, 0.5, 1.0), doc="initial slope"),
        ]
        for i in range(1, self.breaks + 1):
            ps += [
                Param(f"c{i}", -5.0, 5.0, grid=(-0.5, 0.0, 0.5, 1.0),
                      doc=f"change of slope at break {i}"),
                Param(f"d{i}", 0.0, np.inf, log=True, doc=f"location of break {i}"),
                Param(f"f{i}", 1e-3, 1e2, log=True, grid=(0.1, 0.5, 1.0),
                      doc=f"sharpness of break {i} (smaller = sharper)"),
            ]
        self.params = tuple(ps)

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        lx = np.log(X[0])
        ymin, ymed = float(np.min(y)), float(np.median(y))
        lxm = float(np.median(lx))
        out: dict[str, tuple[float, ...]] = {
            "a": (0.0, 0.5 * ymin, 0.9 * ymin),
            "b": tuple(float(ymed * np.exp(c * lxm)) for c in (0.0, 0.25, 0.5, 1.0)),
        }
        qs = np.quantile(lx, np.linspace(0.2, 0.8, 4))
        for i in range(1, self.breaks + 1):
            out[f"d{i}"] = tuple(float(np.exp(q)) for q in qs)
        return out

    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lx = np.log(X[0])[None, :]
        K, n = z.shape[0], X.shape[1]
        a, lb, c0 = z[:, 0:1], z[:, 1:2], z[:, 2:3]
        T = lb - c0 * lx
        dT = np.zeros((K, n, self.n_params))
        dT[..., 1] = 1.0
        dT[..., 2] = -lx
        for i in range(self.breaks):
            ci, ldi, lfi = (z[:, 3 + 3 * i + k : 4 + 3 * i + k] for k in range(3))
            fi = np.exp(lfi)
            u = (lx - ldi) / fi
            sp = _softplus(u)
            sg = _sigmoid(u)
            T = T - ci * fi * sp
            dT[..., 3 + 3 * i] = -fi * sp
            dT[..., 4 + 3 * i] = ci * sg
            dT[..., 5 + 3 * i] = ci * fi * (u * sg - sp)
        eT = np.exp(np.minimum(T, 700.0))
        v = a + eT
        jac = dT * eT[..., None]
        jac[..., 0] = 1.0
        return v, jac


@dataclass
class Sigmoid(Law):
    x: str = "loss"

    def __post_init__(self) -> None:
        x = _check_x("sigmoid", self.x)
        self.name = "sigmoid"
        t = f"log10({x})" if x in SCALE_VARIABLES else x
        self.formula = f"y = floor + (ceiling - floor) / (1 + exp(-k ({t} - x0)))"
        self.reference = "OLMo ladder (Bhagia et al. 2024) step 2; Xiao et al. 2024"
        self.variables = (x,)
        self.params = (
            Param("floor", 0.0, np.inf, doc="value far on the low-t side when k > 0"),
            Param("ceiling", 0.0, np.inf, doc="value far on the high-t side when k > 0"),
            Param("k", -1e3, 1e3, doc="steepness (per unit of t)"),
            Param("x0", -np.inf, np.inf, doc="midpoint, in units of t"),
        )

    def _t(self, X: np.ndarray) -> np.ndarray:
        return np.log10(X[0]) if self.x in SCALE_VARIABLES else X[0]

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        t = self._t(X)
        ymin, ymax = float(np.min(y)), float(np.max(y))
        span = max(float(np.std(t)), 1e-12)
        return {
            "floor": (0.0, 0.5 * ymin, 0.95 * ymin, 1.05 * ymax),
            "ceiling": (0.95 * ymin, 1.05 * ymax, 1.5 * ymax),
            "k": tuple(s * k / span for s in (-1.0, 1.0) for k in (0.5, 1.0, 2.0, 5.0)),
            "x0": tuple(float(q) for q in np.quantile(t, [0.0, 0.25, 0.5, 0.75, 1.0])),
        }

    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = self._t(X)[None, :]
        fl, ce, k, x0 = (z[:, i : i + 1] for i in range(4))
        s = _sigmoid(k * (t - x0))
        v = fl + (ce - fl) * s
        ds = s * (1.0 - s)
        K, n = v.shape
        jac = np.empty((K, n, 4))
        jac[..., 0] = 1.0 - s
        jac[..., 1] = s
        jac[..., 2] = (ce - fl) * ds * (t - x0)
        jac[..., 3] = -(ce - fl) * ds * k
        return v, jac

    def canonical(self, params: Mapping[str, float]) -> dict[str, float]:
        """floor <= ceiling (swapping them and negating k gives the same curve)."""
        p = dict(params)
        if p["floor"] > p["ceiling"]:
            p["floor"], p["ceiling"], p["k"] = p["ceiling"], p["floor"], -p["k"]
        return p

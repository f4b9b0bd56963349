"""Hoffmann et al.'s parametric law and Muennighoff et al.'s data-constrained extension.

``chinchilla``: L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, Eq. 2), evaluated as
Hoffmann's log-sum-exp ``log L = LSE(log A - alpha log N, log B - beta log D, log E)``. The
default start grid is Hoffmann's (alpha, beta in {0, .5, ..., 2}, log E in {-1, -.5, ..., 1},
log A, log B in {0, 5, ..., 25}: 4,500 starts). Closed forms under C = 6ND (Eq. 4):
``G = (alpha A / (beta B))^(1/(alpha+beta))``, ``N_opt = G (C/6)^a``, ``D_opt = (C/6)^b / G``,
``a = beta/(alpha+beta)``, ``b = alpha/(alpha+beta)``.

``data-constrained``: Muennighoff et al. 2023 (datablations README, "Parametric Fit"): with U
unique tokens (``U_D = min(U, D)``: unique data actually seen), repeated data and excess
parameters decay in value, ``D' = U_D + U_D R_D* (1 - exp(-R_D/R_D*))`` with
``R_D = max(D/U_D - 1, 0)`` and
``N' = U_N + U_N R_N* (1 - exp(-R_N/R_N*))`` with ``U_N = min(N, N_opt(U))``,
``R_N = max(N/U_N - 1, 0)``, ``N_opt(U) = G (U_D G)^(beta/alpha)``; then
``L = E + A/N'^alpha + B/D'^beta``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scalinglab.laws.base import Law, Param, logsumexp_terms

_HOFF_AB = tuple(float(np.exp(v)) for v in (0.0, 5.0, 10.0, 15.0, 20.0, 25.0))
_HOFF_E = tuple(float(np.exp(v)) for v in (-1.0, -0.5, 0.0, 0.5, 1.0))
_HOFF_EXP = (0.0, 0.5, 1.0, 1.5, 2.0)


def chinchilla_allocation(params: Mapping[str, float], compute: np.ndarray | float
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Compute-optimal (N, D) under C = 6 N D for ``E + A/N^alpha + B/D^beta`` (closed form)."""
    A, B = params["A"], params["B"]
    alpha, beta = params["alpha"], params["beta"]
    G = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    a = beta / (alpha + beta)
    b = alpha / (alpha + beta)
    c6 = np.asarray(compute, float) / 6.0
    return G * c6**a, c6**b / G


@dataclass
class Chinchilla(Law):
    """E + A/N^alpha + B/D^beta."""

    def __post_init__(self) -> None:
        self.name = "chinchilla"
        self.formula = "L = E + A/N^alpha + B/D^beta"
        self.reference = "Hoffmann et al. 2022 (arXiv 2203.15556), Eq. 2"
        self.variables = ("N", "D")
        self.params = (
            Param("E", 0.0, 1e3, log=True, grid=_HOFF_E, doc="irreducible loss (nats/token)"),
            Param("A", 0.0, np.inf, log=True, grid=_HOFF_AB, doc="parameter-term scale"),
            Param("B", 0.0, np.inf, log=True, grid=_HOFF_AB, doc="data-term scale"),
            Param("alpha", 0.0, 5.0, grid=_HOFF_EXP, doc="parameter exponent"),
            Param("beta", 0.0, 5.0, grid=_HOFF_EXP, doc="data exponent"),
        )

    def _terms(self, z: np.ndarray, X: np.ndarray) -> np.ndarray:
        lN, lD = np.log(X[0]), np.log(X[1])
        e, a, b, al, be = (z[:, i : i + 1] for i in range(5))
        return np.stack([a - al * lN, b - be * lD, np.broadcast_to(e, (z.shape[0], X.shape[1]))],
                        axis=-1)

    def _exp_terms(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """The three terms A/N^alpha, B/D^beta, E as exponentials, or None on overflow."""
        lN, lD = np.log(X[0]), np.log(X[1])
        K = z.shape[0]
        with np.errstate(over="ignore"):
            if K >= 64:
                # start grids: (log A, alpha) and (log B, beta) pairs repeat; compute each
                # distinct power term once and gather it
                u1, i1, u2, i2 = self._pairs(z)
                t1 = np.exp(u1[:, :1] - u1[:, 1:] * lN)[i1]
                t2 = np.exp(u2[:, :1] - u2[:, 1:] * lD)[i2]
            else:
                t1 = np.exp(z[:, 1:2] - z[:, 3:4] * lN)
                t2 = np.exp(z[:, 2:3] - z[:, 4:5] * lD)
            t3 = np.exp(z[:, 0:1])
        s = t1 + t2
        s += t3
        if not np.all(np.isfinite(s)):
            return None
        return t1, t2, t3, s

    def _pairs(self, z: np.ndarray) -> tuple[np.ndarray, ...]:
        key = hash(z.tobytes())
        cached = getattr(self, "_pair_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        u1, i1 = np.unique(z[:, [1, 3]], axis=0, return_inverse=True)
        u2, i2 = np.unique(z[:, [2, 4]], axis=0, return_inverse=True)
        out = (u1, i1.ravel(), u2, i2.ravel())
        self._pair_cache = (key, out)
        return out

    def log_value(self, z: np.ndarray, X: np.ndarray) -> np.ndarray:
        terms = self._exp_terms(z, X)
        if terms is None:
            return logsumexp_terms(self._terms(z, X))[0]
        s = terms[3]
        return np.log(s, out=s)

    def log_value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lN, lD = np.log(X[0]), np.log(X[1])
        terms = self._exp_terms(z, X) if z.shape[0] < 64 else None
        if terms is None:
            lse, w = logsumexp_terms(self._terms(z, X))
            w0, w1, w2 = w[..., 0], w[..., 1], w[..., 2]
        else:
            t1, t2, t3, s = terms
            w0, w1, w2 = t1 / s, t2 / s, np.broadcast_to(t3 / s, s.shape)
            lse = np.log(s)
        jac = np.stack([w2, w0, w1, -w0 * lN, -w1 * lD], axis=-1)
        return lse, jac

    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lv, jl = self.log_value_and_jac(z, X)
        v = np.exp(lv)
        return v, jl * v[..., None]

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        alpha, beta = params["alpha"], params["beta"]
        if alpha + beta <= 0 or alpha <= 0 or beta <= 0:
            return {}
        G = (alpha * params["A"] / (beta * params["B"])) ** (1.0 / (alpha + beta))
        return {"a": beta / (alpha + beta), "b": alpha / (alpha + beta), "G": float(G)}


@dataclass
class DataConstrained(Law):
    """Muennighoff et al.'s effective-data law (variables N, D, U)."""

    def __post_init__(self) -> None:
        self.name = "data-constrained"
        self.formula = ("L = E + A/N'^alpha + B/D'^beta; D' = U + U*RD*(1-exp(-(D/U-1)/RD)), "
                        "N' likewise with U_N = min(N, N_opt(U)) and RN")
        self.reference = "Muennighoff et al. 2023 (arXiv 2305.16264), datablations README"
        self.variables = ("N", "D", "U")
        self.params = (
            Param("E", 0.0, 1e3, log=True, grid=(1.5, 2.0), doc="irreducible loss"),
            Param("A", 0.0, np.inf, log=True, grid=(float(np.exp(5)), float(np.exp(10))),
                  doc="parameter-term scale"),
            Param("B", 0.0, np.inf, log=True, grid=(float(np.exp(5)), float(np.exp(10))),
                  doc="data-term scale"),
            Param("alpha", 1e-3, 5.0, grid=(0.3, 0.5), doc="parameter exponent"),
            Param("beta", 1e-3, 5.0, grid=(0.3, 0.5), doc="data exponent"),
            Param("RD", 1e-3, 1e4, log=True, grid=(5.0, 15.0, 50.0),
                  doc="repetition scale of data (epochs beyond which repeats stop helping)"),
            Param("RN", 1e-3, 1e4, log=True, grid=(1.0, 5.0, 20.0),
                  doc="scale of excess parameters"),
        )

    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # unique tokens actually seen: U_D = min(U, D) (a run cannot see more unique data than D)
        N, D = X[0][None, :], X[1][None, :]
        U = np.minimum(X[2], X[1])[None, :]
        lE, lA, lB, al, be, lRD, lRN = (z[:, i : i + 1] for i in range(7))
        E, A, B, RD, RN = np.exp(lE), np.exp(lA), np.exp(lB), np.exp(lRD), np.exp(lRN)
        lU = np.log(U)
        # N_opt(U) from the Chinchilla frontier, in logs: l = (ln a + lA - ln b - lB + b lU)/a
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.log(al) + lA - np.log(be) - lB + be * lU
            l_nopt = q / al
        n_opt = np.exp(np.minimum(l_nopt, 700.0))
        capped = n_opt < N  # U_N = N_opt(U) < N: parameters beyond it are "excess"
        UN = np.where(capped, n_opt, N)
        RNr = np.maximum(N / UN - 1.0, 0.0)
        eN = np.exp(-RNr / RN)
        Np = UN + UN * RN * (1.0 - eN)
        RDr = np.maximum(D / U - 1.0, 0.0)
        eD = np.exp(-RDr / RD)
        Dp = U + U * RD * (1.0 - eD)
        TA = A * Np ** (-al)
        TB = B * Dp ** (-be)
        v = E + TA + TB
        dTA_dNp = -al * TA / Np
        dTB_dDp = -be * TB / Dp
        dNp_dUN = np.where(capped, 1.0 + RN * (1.0 - eN) - eN * N / UN, 0.0)
        # d l_nopt / d(lA, lB, alpha, beta)
        dl_dlA = 1.0 / al
        dl_dlB = -1.0 / al
        dl_dal = (1.0 / al - l_nopt) / al
        dl_dbe = (-1.0 / be + lU) / al
        via = dTA_dNp * dNp_dUN * UN  # d v / d l_nopt where capped
        K, n = v.shape
        jac = np.empty((K, n, 7))
        jac[..., 0] = np.broadcast_to(E, (K, n))
        jac[..., 1] = TA + via * dl_dlA
        jac[..., 2] = TB + via * dl_dlB
        jac[..., 3] = -TA * np.log(Np) + via * dl_dal
        jac[..., 4] = -TB * np.log(Dp) + via * dl_dbe
        jac[..., 5] = dTB_dDp * U * RD * ((1.0 - eD) - (RDr / RD) * eD)
        jac[..., 6] = dTA_dNp * UN * RN * ((1.0 - eN) - (RNr / RN) * eN)
        return v, jac

    def effective(self, params: Mapping[str, float], N: np.ndarray | float,
                  D: np.ndarray | float, U: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Effective parameters N' and effective data D' (natural units)."""
        p = dict(params)
        N, D, U = np.broadcast_arrays(np.asarray(N, float), np.asarray(D, float),
                                      np.asarray(U, float))
        U = np.minimum(U, D)
        G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1.0 / (p["alpha"] + p["beta"]))
        n_opt = G * (U * G) ** (p["beta"] / p["alpha"])
        UN = np.minimum(N, n_opt)
        RN = np.maximum(N / UN - 1.0, 0.0)
        RD = np.maximum(D / U - 1.0, 0.0)
        Np = UN + UN * p["RN"] * (1.0 - np.exp(-RN / p["RN"]))
        Dp = U + U * p["RD"] * (1.0 - np.exp(-RD / p["RD"]))
        return Np, Dp

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        out = Chinchilla().derived(params)
        out["max_effective_epochs"] = 1.0 + params["RD"]
        return out

"""Scaling laws of other domains: vision (Zhai et al.) and machine translation (Ghorbani et
al., Gordon et al.).

* ``zhai``: E = c + a (C + d)^(-b), the saturating power law in compute with an offset d in the
  compute axis and a floor c (Zhai, Kolesnikov, Houlsby, Beyer 2022, "Scaling Vision
  Transformers", arXiv 2106.04560). E is the error (or any quantity that falls with compute)
  in the table's ``--y`` column; C is in the table's unit (the paper plots TPUv3 core-days) and
  d has the unit of C. No fitted constants of the paper could be traced to a printed table or a
  repository file, so none are shipped.
* ``nmt-encdec``: L = alpha (N_enc_ref/N_enc)^p_enc (N_dec_ref/N_dec)^p_dec + L_inf, the
  bivariate law in encoder and decoder size (Ghorbani et al. 2021, "Scaling Laws for Neural
  Machine Translation", arXiv 2109.07740 / ICLR 2022). In the product form alpha and the two
  reference sizes are one constant, so scalinglab holds the reference sizes fixed (fields
  ``N_enc_ref``/``N_dec_ref``, default 1e8 each): alpha is then the reducible loss of a model
  with 1e8 encoder and 1e8 decoder parameters. No fitted constants are shipped (none traced).
  Closed forms: at a fixed total N_enc + N_dec the loss is lowest with the encoder share
  p_enc / (p_enc + p_dec); scaling both in proportion gives the exponent p_enc + p_dec.
* ``gordon-nmt``: L(N, D) = ((Nc/N)^(alphaN/alphaD) + Dc/D)^alphaD, Kaplan et al.'s joint
  form as Gordon, Duh and Kaplan 2021 fit it (EMNLP 2021, "Data and Parameter Scaling Laws for
  Neural Machine Translation"): N is the non-embedding parameter count of encoder plus decoder,
  D the training data in bytes, L the dev cross-entropy (repository mitchellgordon95/mt-scaling,
  ``plots/main.py`` at commit 15e80fe768588c802235b9a66a784ec57751a3ee, ``joint_modeling_fn``;
  the runs ship as the data set ``gordon2021``). The paper's fitted constants are not shipped
  (none traced to a printed table).

Units: every variable is taken as the table gives it; nothing here converts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scalinglab.laws.base import Law, Param, logsumexp_terms
from scalinglab.laws.kaplan import KaplanND

_EXP_GRID = (0.05, 0.15, 0.3, 0.6, 1.0)


@dataclass
class Zhai(Law):
    """E = c + a (C + d)^(-b) (Zhai et al. 2022)."""

    x: str = "C"

    def __post_init__(self) -> None:
        x = self.x
        self.name = "zhai"
        self.formula = f"E = c + a ({x} + d)^(-b)"
        self.reference = ("Zhai et al. 2022, Scaling Vision Transformers (arXiv 2106.04560), "
                          "saturating power law in compute (C in TPUv3 core-days there)")
        self.variables = (x,)
        self.params = (
            Param("a", 0.0, np.inf, log=True, doc="scale of the reducible term"),
            Param("b", 1e-4, 10.0, grid=_EXP_GRID, doc="compute exponent"),
            Param("c", 0.0, np.inf, log=True, doc="floor (irreducible error)"),
            Param("d", 0.0, np.inf, log=True, doc="offset in the compute axis (unit of C)"),
        )

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        x = X[0]
        ymin, ymax = float(np.min(y)), float(np.max(y))
        lo, med = float(np.min(x)), float(np.median(x))
        return {
            "c": tuple(ymin * f for f in (0.05, 0.3, 0.6, 0.85, 0.97)),
            "d": (*(lo * f for f in (1e-3, 0.03, 0.3, 1.0, 3.0)), med),
            "a": tuple(ymax * f for f in (0.1, 0.3, 1.0, 3.0)),
        }

    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        la, b, lc, ld = (z[:, i : i + 1] for i in range(4))
        d = np.exp(ld)
        u = X[0][None, :] + d
        lu = np.log(u)
        t = np.exp(la - b * lu)  # a u^-b
        c = np.exp(lc)
        v = c + t
        jac = np.stack([t, -t * lu, np.broadcast_to(c, t.shape), -b * t * d / u], axis=-1)
        return v, jac

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        return {"E_at_zero_compute": params["c"] + params["a"] * params["d"] ** (-params["b"])}


@dataclass
class NMTEncDec(Law):
    """L = alpha (N_enc_ref/N_enc)^p_enc (N_dec_ref/N_dec)^p_dec + L_inf (Ghorbani et al.)."""

    N_enc_ref: float = 1e8
    N_dec_ref: float = 1e8

    def __post_init__(self) -> None:
        for name, v in (("N_enc_ref", self.N_enc_ref), ("N_dec_ref", self.N_dec_ref)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                from scalinglab.errors import ParameterError

                raise ParameterError(name, f"must be a positive number of parameters, got {v!r}")
        self.name = "nmt-encdec"
        self.formula = ("L = alpha (N_enc_ref/N_enc)^p_enc (N_dec_ref/N_dec)^p_dec + L_inf "
                        f"(N_enc_ref = {self.N_enc_ref:.3g}, N_dec_ref = {self.N_dec_ref:.3g})")
        self.reference = ("Ghorbani et al. 2021, Scaling Laws for Neural Machine Translation "
                          "(arXiv 2109.07740, ICLR 2022), Eq. 2")
        self.variables = ("N_enc", "N_dec")
        self.params = (
            Param("alpha", 0.0, np.inf, log=True, doc="reducible loss at the reference sizes"),
            Param("p_enc", 1e-4, 5.0, grid=_EXP_GRID, doc="encoder exponent"),
            Param("p_dec", 1e-4, 5.0, grid=_EXP_GRID, doc="decoder exponent"),
            Param("L_inf", 0.0, np.inf, log=True, doc="irreducible loss"),
        )

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        ymin, ymax = float(np.min(y)), float(np.max(y))
        return {"L_inf": tuple(ymin * f for f in (0.05, 0.3, 0.6, 0.85, 0.97)),
                "alpha": tuple(ymax * f for f in (0.01, 0.05, 0.2, 0.6, 1.5))}

    def log_value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ge = math.log(self.N_enc_ref) - np.log(X[0])
        gd = math.log(self.N_dec_ref) - np.log(X[1])
        la, pe, pd, lL = (z[:, i : i + 1] for i in range(4))
        t = la + pe * ge + pd * gd
        s, w = logsumexp_terms(np.stack([t, np.broadcast_to(lL, t.shape)], axis=-1))
        wt, wl = w[..., 0], w[..., 1]
        return s, np.stack([wt, wt * ge, wt * gd, wl], axis=-1)

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        pe, pd = params["p_enc"], params["p_dec"]
        return {"encoder_share_opt": pe / (pe + pd), "p_total": pe + pd}


def encdec_split(total: float, p_enc: float, p_dec: float) -> tuple[float, float]:
    """The (N_enc, N_dec) with N_enc + N_dec = ``total`` that minimise Ghorbani et al.'s
    law: N_enc = total p_enc / (p_enc + p_dec) (from d/dN_enc of p_enc ln N_enc + p_dec
    ln(total - N_enc) = 0)."""
    share = p_enc / (p_enc + p_dec)
    return total * share, total * (1.0 - share)


@dataclass
class GordonNMT(KaplanND):
    """Kaplan's joint L(N, D) as Gordon et al. 2021 fit it to NMT (D in bytes)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.name = "gordon-nmt"
        self.formula = ("L = ((Nc/N)^(alphaN/alphaD) + Dc/D)^alphaD "
                        "(N non-embedding enc+dec, D bytes)")
        self.reference = ("Gordon, Duh, Kaplan 2021 (EMNLP 2021); form from "
                          "mitchellgordon95/mt-scaling plots/main.py @15e80fe")


def gordon_param_count(layers: np.ndarray | float, d_model: np.ndarray | float,
                       d_ff: np.ndarray | float) -> np.ndarray:
    """Non-embedding parameters of Gordon et al.'s encoder-decoder Transformers, as their
    repository counts them: 2 layers (4 d_model^2 + 2 d_model d_ff) (``layers`` per side,
    encoder and decoder alike; mitchellgordon95/mt-scaling plots/main.py @15e80fe)."""
    L, d, f = (np.asarray(v, float) for v in (layers, d_model, d_ff))
    return 2.0 * L * (4.0 * d * d + 2.0 * d * f)


def gordon_bleu(loss: np.ndarray | float, C: float, k: float) -> np.ndarray:
    """BLEU from dev cross-entropy as Gordon et al. model it: BLEU = C exp(k L) (k < 0;
    ``exp_decay`` in mitchellgordon95/mt-scaling plots/main.py @15e80fe)."""
    return C * np.exp(k * np.asarray(loss, float))

"""Laws of inference-time (test-time) compute: the train/test trade-off and repeated sampling.

* ``train-test`` (Jones 2021, "Scaling Scaling Laws with Board Games", arXiv 2104.03113, the
  train-test trade-off section and Fig. 9): at a fixed score, train-time and test-time compute
  trade off linearly in log-compute. Jones fits ``log10 C_test ~ log10 C_train + score + 1`` by
  ordinary least squares (repository andyljones/boardlaw, ``analysis/data.py``,
  ``train_test_model``); solved for the score this is a plane in the two log-computes::

      score = s0 + u_train log10(C_train) + u_test log10(C_test)

  ``u_train`` and ``u_test`` are score units per decade of each compute. The iso-score exchange
  rate is ``r = u_train / u_test = -d log C_test / d log C_train``: ten times the training
  compute replaces ``10^r`` times the test compute (Jones's text: "about 15x"; that number is
  what this law measures from runs, it is not built in). Minimising ``C_train + q C_test`` on an
  iso-score line puts ``r / (1 + r)`` of the total into training, whatever the target and the
  query count ``q`` (:mod:`scalinglab.plan.testtime`).

  Conventions: ``C_train`` is training FLOPs, ``C_test`` inference FLOPs *per query* (Jones:
  test-time search nodes times FLOPs per node), both in the same FLOP convention. The score is
  fitted on log residuals like every law here, so it must be positive: use a score that grows
  with compute and is > 0 on the data (Elo above random play, accuracy, coverage), not Jones's
  Elo relative to perfect play (which is <= 0).

* ``coverage`` (Brown et al. 2024, "Large Language Monkeys", arXiv 2407.21787, Sec. 3.1, Eq. 2-3):
  coverage (the fraction of problems solved by at least one of k independent samples, pass@k
  with an oracle verifier) as an exponentiated power law in the number of samples::

      log(coverage) = a k^b,   coverage = exp(a k^b),   a < 0, b < 0

  ``exp(a)`` is the coverage of one sample; the samples needed for a target coverage c* are
  ``k = (log c* / a)^(1/b)`` (:func:`samples_for_coverage`). The law never reaches coverage 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scalinglab.errors import ParameterError
from scalinglab.laws.base import Law, Param

_LN10 = math.log(10.0)


@dataclass
class TrainTest(Law):
    """Jones's train/test compute frontier: a score linear in both log-computes."""

    def __post_init__(self) -> None:
        self.name = "train-test"
        self.target = "score"
        self.formula = "score = s0 + u_train log10(C_train) + u_test log10(C_test)"
        self.reference = ("Jones 2021 (arXiv 2104.03113), train-test trade-off, Fig. 9; "
                          "exchange rate u_train/u_test")
        self.variables = ("C_train", "C_test")
        self.params = (
            Param("s0", -np.inf, np.inf, grid=(0.0,),
                  doc="score at C_train = C_test = 1 FLOP (an extrapolation)"),
            Param("u_train", 0.0, np.inf, log=True, grid=(0.01, 1.0, 100.0),
                  doc="score per decade of training compute"),
            Param("u_test", 0.0, np.inf, log=True, grid=(0.01, 1.0, 100.0),
                  doc="score per decade of test-time compute per query"),
        )

    def value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lt, le = np.log10(X[0]), np.log10(X[1])
        s0, ut, ue = z[:, 0:1], np.exp(z[:, 1:2]), np.exp(z[:, 2:3])
        a, b = ut * lt, ue * le
        v = s0 + a + b
        jac = np.stack([np.ones_like(v), a, b], axis=-1)
        return v, jac

    def data_init(self, X: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, ...]]:
        """Start at the ordinary least-squares plane (the law is linear in its parameters)."""
        A = np.column_stack([np.ones(X.shape[1]), np.log10(X[0]), np.log10(X[1])])
        try:
            coef = np.linalg.lstsq(A, y, rcond=None)[0]
        except np.linalg.LinAlgError:
            return {}
        if not np.all(np.isfinite(coef)):
            return {}
        ut = float(coef[1]) if coef[1] > 0 else 1e-3 * max(float(np.ptp(y)), 1e-12)
        ue = float(coef[2]) if coef[2] > 0 else 1e-3 * max(float(np.ptp(y)), 1e-12)
        # the intercept that keeps the plane through the data's mean at these slopes
        s0 = float(np.mean(y - ut * A[:, 1] - ue * A[:, 2]))
        return {"s0": (s0,), "u_train": (ut,), "u_test": (ue,)}

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        return trade_off(params)


def trade_off(params: Mapping[str, float]) -> dict[str, float]:
    """The exchange rate of a ``train-test`` parameter set.

    ``exchange_rate`` r = u_train / u_test = -d log C_test / d log C_train at a fixed score
    (decades of test compute one decade of training compute replaces); ``test_per_10x_train``
    = 10^r (the test-compute factor that 10x training compute replaces); ``train_share`` =
    r / (1 + r), the share of total compute (C_train + queries * C_test) that goes to training
    at the cheapest split for any target score.
    """
    ut, ue = float(params["u_train"]), float(params["u_test"])
    if not (ut > 0 and ue > 0):
        return {}
    r = ut / ue
    return {"exchange_rate": r, "test_per_10x_train": 10.0**r if r < 300 else math.inf,
            "train_share": r / (1.0 + r)}


@dataclass
class Coverage(Law):
    """Brown et al.'s exponentiated power law for coverage against the number of samples."""

    def __post_init__(self) -> None:
        self.name = "coverage"
        self.target = "coverage"
        self.formula = "coverage = exp(a k^b)  (k samples; a < 0, b < 0)"
        self.reference = "Brown et al. 2024 (arXiv 2407.21787), Sec. 3.1, Eq. 2-3"
        self.variables = ("k",)
        self.params = (
            Param("a", -1e3, 0.0, grid=(-0.05, -0.3, -1.0, -3.0, -8.0),
                  doc="log coverage at k = 1 (coverage of one sample = exp(a))"),
            Param("b", -5.0, 0.0, grid=(-0.05, -0.15, -0.3, -0.6, -1.0),
                  doc="exponent of the decay of -log coverage with k"),
        )

    def log_value_and_jac(self, z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lk = np.log(X[0])
        a, b = z[:, 0:1], z[:, 1:2]
        kb = np.exp(b * lk)
        lv = a * kb
        jac = np.stack([kb, lv * lk], axis=-1)
        return lv, jac

    def derived(self, params: Mapping[str, float]) -> dict[str, float]:
        return {"coverage_at_1": math.exp(float(params["a"]))}


def samples_for_coverage(params: Mapping[str, float], target: float) -> float:
    """Samples ``k`` at which the ``coverage`` law reaches ``target``: ``(log target / a)^(1/b)``.
    ``target`` must lie strictly between 0 and 1 (the law approaches 1 only as k grows without
    bound); below ``exp(a)`` the answer is below one sample. With ``a`` or ``b`` at 0 the
    coverage does not change with k: 0 when it is already reached, else ``inf``."""
    t = float(target)
    if not (0.0 < t < 1.0):
        raise ParameterError("target", f"coverage must be strictly between 0 and 1, got {target}")
    a, b = float(params["a"]), float(params["b"])
    if a >= 0 or b >= 0:  # coverage constant in k: exp(a) for every k
        return 0.0 if t <= math.exp(min(a, 0.0)) else math.inf
    with np.errstate(over="ignore"):
        return float(np.exp(math.log(math.log(t) / a) / b))

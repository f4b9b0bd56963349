"""Kaplan et al. 2020's laws, fitted the way the paper did.

* L(N) (Eq. 1.1): for each model, its converged loss (the lowest loss it reached, i.e. trained
  on the most data), excluding 1-layer models (their lump breaks the trend, App. D.7) when the
  table has an ``n_layer`` column; ``L = (Nc/N)^alphaN``.
* L(D) (Eq. 1.2): for each data size, the lowest loss over model sizes (large models,
  early-stopped); ``L = (Dc/D)^alphaD``.
* L(C) (Eq. 1.3): the lower envelope of all learning curves over compute (Figure 1), excluding
  1-layer models; ``L = (Cc/C)^alphaC``.
* Critical batch size (Sec. 5.1, McCandlish et al. 2018): with runs at several batch sizes B,
  the steps S and examples E = B S needed to reach a loss obey (S/S_min - 1)(E/E_min - 1) = 1,
  i.e. S = S_min (1 + B_crit/B): a straight line in 1/B whose intercept is S_min and slope
  S_min B_crit. Repeated over target losses, ``B_crit(L) = B_* / L^(1/alpha_B)`` (Eq. 5.3).

All power laws are least squares in log-log (Kaplan et al. do not state their objective; the
reference sheet marks it unverified); they reuse :func:`scalinglab.fit` with ``loss="mse"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import FitError, InputError, ParameterError
from scalinglab.fit.approaches import envelope, fit_power
from scalinglab.fit.core import fit
from scalinglab.fit.result import FitResult
from scalinglab.observations import load_observations, validate


def _drop_one_layer(df: pd.DataFrame) -> pd.DataFrame:
    if "n_layer" in df.columns:
        return df[pd.to_numeric(df["n_layer"], errors="coerce") > 1]
    return df


def kaplan_fit(data: pd.DataFrame | str, variable: str, *, y: str = "loss",
               columns: dict[str, str] | None = None) -> FitResult:
    """Kaplan's single-variable law for ``variable`` in N, D (best loss per level) or C
    (the envelope of learning curves: rows with run_id and C per step)."""
    if variable not in ("N", "D", "C"):
        raise ParameterError("variable", f"Kaplan's single-variable laws are in N, D or C, "
                          f"not {variable!r}")
    df = _drop_one_layer(load_observations(data, columns, curves=variable == "C"))
    if variable == "C":
        env = envelope(df)
        frontier = pd.DataFrame({"C": env.compute, "loss": env.loss})
        frontier.attrs["source"] = str(df.attrs.get("source", "<curves>")) + " (envelope)"
        return fit(frontier, "power", x="C", loss="mse")
    df = validate(df, [variable, y])
    best = df.loc[df.groupby(variable)[y].idxmin()]
    if len(best) < 3:
        raise FitError(f"Kaplan's L({variable}) needs at least 3 distinct {variable} levels; "
                       f"found {len(best)}")
    best = best.copy()
    best.attrs = dict(df.attrs)
    return fit(best, "power", x=variable, y=y, loss="mse")


@dataclass
class CriticalBatchResult:
    losses: np.ndarray  # target losses
    b_crit: np.ndarray  # critical batch (tokens) at each target
    s_min: np.ndarray  # minimum steps at each target
    e_min: np.ndarray  # minimum tokens at each target
    B_star: float
    alpha_B: float

    def to_json(self) -> dict[str, Any]:
        return {"loss": self.losses.tolist(), "B_crit": self.b_crit.tolist(),
                "S_min": self.s_min.tolist(), "E_min": self.e_min.tolist(),
                "B_star": self.B_star, "alpha_B": self.alpha_B,
                "conventions": {"B": "tokens per batch", "law": "B_crit = B_star / L^(1/alpha_B)"}}


def steps_to_reach(curve: pd.DataFrame, target: float) -> float:
    """First (interpolated) step at which a learning curve's loss reaches ``target``."""
    s = curve["step"].to_numpy(float)
    loss = curve["loss"].to_numpy(float)
    below = np.flatnonzero(loss <= target)
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(s[0])
    # interpolate in log step between the last point above and the first below
    f = (loss[i - 1] - target) / (loss[i - 1] - loss[i])
    return float(np.exp(np.log(s[i - 1]) + f * (np.log(s[i]) - np.log(s[i - 1]))))


def critical_batch(curves: pd.DataFrame, targets: np.ndarray | None = None) -> CriticalBatchResult:
    """Critical batch size from a batch-size sweep (rows: run_id, batch_size in tokens, step,
    loss; all runs the same model)."""
    need = ["run_id", "batch_size", "step", "loss"]
    missing = [c for c in need if c not in curves.columns]
    if missing:
        raise InputError(f"a batch sweep needs columns {', '.join(need)}; missing "
                         f"{', '.join(missing)}", source=curves.attrs.get("source"))
    runs = {rid: g.sort_values("step") for rid, g in curves.groupby("run_id")}
    batches = {rid: float(g["batch_size"].iloc[0]) for rid, g in runs.items()}
    if len(set(batches.values())) < 3:
        raise FitError("the critical batch size needs runs at 3 or more batch sizes")
    if targets is None:
        reach = max(float(g["loss"].min()) for g in runs.values())  # every run gets there
        start = min(float(g["loss"].iloc[0]) for g in runs.values())
        targets = np.geomspace(reach * 1.001, reach + 0.5 * (start - reach), 6)
    rows = []
    for L in np.asarray(targets, float):
        S, B = [], []
        for rid, g in runs.items():
            s = steps_to_reach(g, L)
            if np.isfinite(s):
                S.append(s)
                B.append(batches[rid])
        if len(set(B)) < 3:
            continue
        slope, intercept = np.polyfit(1.0 / np.array(B), np.array(S), 1)
        if intercept <= 0 or slope <= 0:
            continue
        bc = slope / intercept
        rows.append((L, bc, intercept, bc * intercept))
    if len(rows) < 2:
        raise FitError("could not estimate the critical batch at 2 or more target losses "
                       "(runs too short, or steps do not fall with batch size)")
    arr = np.array(rows)
    pw = fit_power(arr[:, 0], arr[:, 1])  # B_crit = k L^p, p = -1/alpha_B
    alpha_B = -1.0 / pw.exponent
    return CriticalBatchResult(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3],
                               B_star=pw.coefficient, alpha_B=alpha_B)

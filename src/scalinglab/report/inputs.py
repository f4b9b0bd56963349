"""What a report is made from: an observation table, learning curves and/or a saved fit.

:func:`load_inputs` gathers them from the places the ``report`` command accepts:

* ``data``: an observation table (a DataFrame, a CSV/Parquet/JSON(L) path, ``example:NAME``
  for a bundled data set, or a run store ``*.db``). A table whose ``run_id`` repeats and that
  has a step column ``S`` is a table of learning curves: the curves are kept, and the last row
  of each run (largest ``S``) becomes its observation.
* ``store``: a run store (``scalinglab.store``): its completed runs (the learning-rate frontier,
  as ``scalinglab fit`` reads them) and their learning curves.
* ``fit``: a :class:`~scalinglab.fit.FitResult` or the path of its JSON (``scalinglab fit
  --json``).

Curves are normalised to the columns ``run_id``, ``N``, ``D`` (tokens seen so far), ``C``
(``6 N D``, N as the observation table's N) and ``loss`` (validation loss, else training loss,
nats/token); rows at zero tokens are dropped (they cannot sit on a log axis).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import InputError, OptionError, ParameterError
from scalinglab.fit.result import FitResult
from scalinglab.observations import data_hash, load_observations

CURVE_COLUMNS = ("run_id", "N", "D", "C", "loss")
_STORE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


@dataclass
class ReportInputs:
    """The material of one report (any part may be missing, not all of them)."""

    observations: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None
    fit: FitResult | None = None
    fit_path: str | None = None
    source: str = ""
    store: str | None = None
    conventions: dict[str, str] = field(default_factory=dict)
    citation: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def data_hash(self) -> str | None:
        """sha256 (16 hex digits) of the table's N, D, C, loss columns, as ``fit`` hashes."""
        if self.observations is None:
            return None
        cols = [c for c in ("N", "D", "C", "loss") if c in self.observations.columns]
        return data_hash(self.observations, cols)


def _finite_positive(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    keep = np.ones(len(df), bool)
    for c in cols:
        if c in df.columns:
            v = pd.to_numeric(df[c], errors="coerce").to_numpy(float)
            keep &= np.isfinite(v) & (v > 0)
    return df[keep]


def _conventions(df: pd.DataFrame) -> dict[str, str]:
    conv = {str(k): str(v) for k, v in dict(df.attrs.get("conventions", {})).items()}
    for col, key in (("N_convention", "N"), ("C_convention", "C")):
        if col in df.columns:
            vals = df[col].dropna().astype(str).unique()
            if len(vals) == 1:
                conv[key] = str(vals[0]) if key == "N" else str(vals[0]).replace("6ND", "6 N D")
    return conv


def _read_data(data: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    if isinstance(data, str) and data.startswith("example:"):
        from scalinglab import datasets

        return load_observations(datasets.load(data.split(":", 1)[1]))
    return load_observations(data, curves=True)  # a tracker source: its curves (split below)


def split_curves(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``(observations, curves)`` of a table: a curves table (``run_id`` repeated and a step
    column ``S``) gives its last row per run as the observations; any other table is returned
    as it is, with no curves."""
    if "run_id" not in df.columns or "S" not in df.columns or not df["run_id"].duplicated().any():
        return df, None
    step = pd.to_numeric(df["S"], errors="coerce")
    last = df.assign(_S=step).sort_values(["run_id", "_S"]).groupby("run_id", sort=False).tail(1)
    obs = last.drop(columns="_S").reset_index(drop=True)
    obs.attrs = dict(df.attrs)
    curves = normalise_curves(df)
    return obs, curves


def normalise_curves(df: pd.DataFrame) -> pd.DataFrame:
    """A curves table with the standard columns (``run_id``, ``N``, ``D``, ``C = 6ND``,
    ``loss``), finite positive values only, sorted by run and tokens."""
    missing = [c for c in ("run_id", "N", "D", "loss") if c not in df.columns]
    if missing:
        raise InputError(f"learning curves need columns {', '.join(missing)}",
                         source=str(df.attrs.get("source", "<curves>")))
    out = pd.DataFrame({
        "run_id": df["run_id"].astype(str).to_numpy(),
        "N": pd.to_numeric(df["N"], errors="coerce").to_numpy(float),
        "D": pd.to_numeric(df["D"], errors="coerce").to_numpy(float),
        "loss": pd.to_numeric(df["loss"], errors="coerce").to_numpy(float),
    })
    out["C"] = 6.0 * out["N"] * out["D"]
    out = _finite_positive(out, ("N", "D", "C", "loss"))
    return out[list(CURVE_COLUMNS)].sort_values(["run_id", "D"]).reset_index(drop=True)


def curves_from_store(path: str | Path, observations: pd.DataFrame) -> pd.DataFrame | None:
    """The learning curves of the runs in ``observations`` (rows of ``read_observations``),
    with ``N`` from the table (so C follows the table's convention); None when no run has
    one."""
    from scalinglab.store import RunStore

    rows: list[dict[str, Any]] = []
    with RunStore(path, readonly=True) as store:
        for rid, n in zip(observations["run_id"], observations["N"], strict=True):
            for point in store.curve(str(rid)):
                loss = point.get("val_loss")
                if loss is None:
                    loss = point.get("train_loss")
                rows.append({"run_id": str(rid), "N": n, "D": point.get("tokens"),
                             "loss": loss})
    if not rows:
        return None
    curves = normalise_curves(pd.DataFrame(rows))
    return curves if len(curves) else None


def _load_fit(fit: FitResult | str | os.PathLike[str]) -> tuple[FitResult, str | None]:
    if isinstance(fit, FitResult):
        return fit, None
    return FitResult.load(fit), str(fit)


def _read_source(data: pd.DataFrame | str | os.PathLike[str] | None,
                 store: str | os.PathLike[str] | None, study: str | None
                 ) -> tuple[pd.DataFrame, pd.DataFrame | None, str | None]:
    """``(observations, curves, store path)`` from a table or a run store."""
    if store is not None:
        from scalinglab.store import read_observations

        p = Path(store)
        if not p.is_file():
            raise InputError("no such run store", source=str(p))
        obs = read_observations(p, study)
        if obs.empty:
            raise InputError("the run store has no completed run to report on", source=str(p))
        obs = load_observations(obs)
        return obs, curves_from_store(p, obs), str(p)
    assert data is not None
    obs, found = split_curves(_read_data(data))
    return obs, found, None


def _is_store_path(data: object) -> bool:
    if not isinstance(data, (str, os.PathLike)) or str(data).startswith("example:") \
            or Path(data).suffix.lower() not in _STORE_SUFFIXES:
        return False
    from scalinglab.importers.mlflow_source import is_mlflow_db

    return not is_mlflow_db(Path(data))  # an MLflow backend is a tracker source


def _attach(inp: ReportInputs, obs: pd.DataFrame, curves: pd.DataFrame | None,
            store: str | None) -> None:
    """Keep the rows with finite positive N, D, C, loss; record source and conventions."""
    inp.store, inp.curves = store, curves
    inp.source = store or str(obs.attrs.get("source", "<data>"))
    inp.conventions = _conventions(obs)
    inp.citation = obs.attrs.get("citation")
    kept = _finite_positive(obs, ("N", "D", "C", "loss")).reset_index(drop=True)
    kept.attrs = dict(obs.attrs)
    if kept.empty:
        raise InputError("no row has a finite positive N, D, C and loss", source=inp.source)
    if len(kept) < len(obs):
        inp.notes.append(f"{len(obs) - len(kept)} row(s) without a finite positive N, D, C "
                         "and loss are left out")
    inp.observations = kept


def load_inputs(data: pd.DataFrame | str | os.PathLike[str] | None = None, *,
                store: str | os.PathLike[str] | None = None,
                fit: FitResult | str | os.PathLike[str] | None = None,
                curves: pd.DataFrame | None = None,
                study: str | None = None) -> ReportInputs:
    """Read what a report is made from (see the module docstring). ``data`` and ``store`` are
    alternatives; ``fit`` goes with either, or alone (then the data named in its provenance
    is used when it is still there, unchanged)."""
    if data is not None and store is not None:
        raise ParameterError("store", "give either a data table or --store, not both")
    if data is None and store is None and fit is None:
        raise ParameterError("data", "nothing to report on: give a data table, --store runs.db "
                          "or --fit FIT.json")
    if _is_store_path(data):
        store, data = data, None  # type: ignore[assignment]
    inp = ReportInputs()
    if data is not None or store is not None:
        _attach(inp, *_read_source(data, store, study))
    if curves is not None:
        inp.curves = normalise_curves(curves)
    if fit is not None:
        inp.fit, inp.fit_path = _load_fit(fit)
        if inp.observations is None:
            _data_from_provenance(inp, inp.fit)
        for k, v in inp.fit.conventions.items():
            inp.conventions.setdefault(k, str(v))
        if not inp.source:
            inp.source = str(inp.fit.provenance.get("source") or inp.fit_path or "<fit>")
    return inp


def _data_from_provenance(inp: ReportInputs, fit: FitResult) -> None:
    """With a fit alone, read the data it names in its provenance when that is still there
    and unchanged (same data hash); otherwise note that the data figures are left out."""
    src = str(fit.provenance.get("source") or "")
    recorded = fit.provenance.get("data_hash")
    if not src or not recorded:
        inp.notes.append("the fit records no data source: figures of the data are left out "
                         "(give the DATA too)")
        return
    target = src
    if src.startswith("<"):
        inp.notes.append(f"the fit was made from an in-memory table ({src}): figures of the "
                         "data are left out (give the DATA too)")
        return
    if src.startswith("scalinglab.datasets:"):
        target = "example:" + src.split(":", 1)[1]
    elif not Path(src).is_file():
        inp.notes.append(f"the fit's data {src} is not there: figures of the data are left "
                         "out (give the DATA too)")
        return
    try:
        obs, found, store = (_read_source(None, target, None) if _is_store_path(target)
                             else _read_source(target, None, None))
    except (InputError, OptionError) as exc:
        inp.notes.append(f"the fit's data {src} could not be read ({exc}): figures of the "
                         "data are left out")
        return
    if fit_data_hash(fit, obs) != recorded:
        inp.notes.append(f"the fit's data {src} has changed since the fit (its data hash "
                         "differs): figures of the data are left out (give the DATA to show "
                         "it anyway)")
        return
    _attach(inp, obs, found, store)
    inp.notes.append(f"data read from the fit's provenance, {src} (data hash {recorded} "
                     "matches)")


def fit_data_hash(fit: FitResult, observations: pd.DataFrame) -> str | None:
    """The hash ``fit`` would have recorded for ``observations`` (its law's variables and
    ``y``, after its holdout split), to check that a saved fit belongs to the data."""
    opts: Mapping[str, Any] = fit.provenance.get("options") or {}
    y = str(opts.get("y") or "loss")
    cols = [*fit.law.variables, y]
    if any(c not in observations.columns for c in cols):
        return None
    df = observations
    hold = opts.get("holdout_above")
    if hold is not None and "C" in df.columns:
        df = df[df["C"].to_numpy(float) <= float(hold)]
    return data_hash(df, cols)


def largest_compute(inp: ReportInputs) -> float | None:
    """The largest C in the data (or, with a fit alone, among its backtest points)."""
    if inp.observations is not None and "C" in inp.observations.columns:
        return float(np.max(inp.observations["C"].to_numpy(float)))
    bt = inp.fit.backtest if inp.fit is not None else None
    if bt and bt.get("points"):
        cs = [p.get("C") for p in bt["points"] if p.get("C") is not None]
        if cs:
            return float(max(cs))
    return None

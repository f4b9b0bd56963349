"""The run store as an observation table (what ``scalinglab fit`` reads).

One row per run: ``run_id``, ``study``, ``group``, ``status``, ``N``, ``D``, ``C``, ``loss``,
then the run's config columns (``n_layer``, ``d_model``, ``lr``, ...), the trainer's metrics
(``params_total``, ``final_val_loss``, ``tokens_per_second``, ...) and ``frontier``.

Conventions, stated in the columns ``N_convention``/``C_convention`` and in
``df.attrs["conventions"]``:

* ``N``: total parameters including embeddings (the study spec's ``n_convention: nonembedding``
  switches to non-embedding parameters);
* ``D``: tokens trained;
* ``C``: ``6 N D`` with that N (the trainer's own FLOP counts are in ``flops`` and
  ``flops_<convention>``);
* ``loss``: final validation loss in nats per token (``best_val_loss``, the early-stopped loss,
  for designs that ask for it, such as ``kaplan-d``);
* ``frontier``: True for the best run (lowest loss) among runs that differ only in learning
  rate (a study's per-size learning-rate sweep); True for every run of a study without one.

Runs that are not completed carry the planned ``N`` and ``D`` and no loss.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglab.errors import ParameterError
from scalinglab.store.runstore import RunRecord, RunStore

N_CONVENTIONS: dict[str, str] = {
    "total": "total parameters incl. embeddings",
    "nonembedding": "non-embedding parameters",
}
C_CONVENTION = "6ND"

_LEADING = ("run_id", "study", "group", "status", "N", "D", "C", "loss")


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _metric_columns(metrics: dict[str, Any]) -> dict[str, Any]:
    """Scalar metrics as columns; a dict of scalars (``flops_by_convention``) as one column
    per key, ``flops_<key>``; lists (per-position losses) and the config are left out."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if key == "config" or isinstance(value, list):
            continue
        if isinstance(value, dict):
            if key == "flops_by_convention":
                for sub, v in value.items():
                    out["flops_" + re.sub(r"\W+", "_", str(sub)).strip("_")] = v
            continue
        out[key] = value
    return out


def run_row(run: RunRecord) -> dict[str, Any]:
    """The observation-table row of one run (see the module docstring)."""
    labels = run.labels
    n_conv = labels.get("n_convention", "total")
    metrics = run.metrics or {}
    loss_metric = labels.get("loss_metric", "final_val_loss")
    if run.status == "completed":
        key = "params_nonembedding" if n_conv == "nonembedding" else "params_total"
        n = _number(metrics.get(key))
        d = _number(metrics.get("tokens"))
        loss = _number(metrics.get(loss_metric, metrics.get("final_val_loss")))
    else:
        n = _number(labels.get("N_planned"))
        d = _number(run.config.get("tokens"))
        loss = math.nan
    row: dict[str, Any] = {
        "run_id": run.run_id,
        "study": run.study,
        "group": labels.get("group", ""),
        "status": run.status,
        "N": n,
        "D": d,
        "C": 6.0 * n * d,
        "loss": loss,
        "N_convention": N_CONVENTIONS.get(n_conv, n_conv),
        "C_convention": C_CONVENTION,
        "loss_metric": loss_metric,
    }
    for key, value in labels.items():
        if key not in ("group", "n_convention", "loss_metric", "tune_key"):
            row.setdefault(key, value)
    for key, value in run.config.items():
        if not isinstance(value, (dict, list)):
            row.setdefault(key, value)
    for key, value in _metric_columns(metrics).items():
        row.setdefault(key, value)
    row["attempts"] = run.attempts
    row["error"] = run.error
    row["_tune_key"] = labels.get("tune_key", run.run_id)
    return row


def runs_table(store: RunStore, study: str | None = None) -> pd.DataFrame:
    """Every run of a study (or of the store) as an observation table, any status."""
    rows = [run_row(r) for r in store.runs(study=study)]
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=[*_LEADING, "frontier"])
    else:
        done = df["status"] == "completed"
        best = df[done].groupby("_tune_key")["loss"].transform("min")
        df["frontier"] = False
        df.loc[done, "frontier"] = df.loc[done, "loss"] <= best
        df = df.drop(columns="_tune_key")
        df = df[[*_LEADING, *[c for c in df.columns if c not in _LEADING]]]
    df.attrs["conventions"] = {
        "N": N_CONVENTIONS["total"] + " (column N_convention, per study spec)",
        "D": "tokens trained",
        "C": "6 N D",
        "loss": "validation loss, nats/token (column loss_metric)",
    }
    df.attrs["source"] = str(store.path)
    return df


def read_observations(path: str | Path, study: str | None = None, *,
                      frontier_only: bool = True) -> pd.DataFrame:
    """The completed runs of a run store as an observation table for ``fit``.

    One row per completed run (runs a learning-rate sweep beat are dropped unless
    ``frontier_only=False``); columns and conventions as in the module docstring.
    """
    with RunStore(path, readonly=True) as store:
        if study is not None:
            store.study(study)  # a clear error for an unknown study
        df = runs_table(store, study)
    attrs = dict(df.attrs)
    df = df[df["status"] == "completed"]
    if frontier_only and not df.empty:
        df = df[df["frontier"].astype(bool)]
    df = df.reset_index(drop=True)
    df.attrs = attrs
    return df


def export_runs(path: str | Path, out: str | Path, study: str | None = None) -> pd.DataFrame:
    """Write every run of the store (or of one study) to CSV or Parquet (by ``out``'s suffix):
    one row per run with ``status``, ``N``, ``D``, ``C``, ``loss`` and the config."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ParameterError("out", f"{out}: write .csv or .parquet, got {suffix or 'no suffix'}")
    with RunStore(path, readonly=True) as store:
        if study is not None:
            store.study(study)
        df = runs_table(store, study)
    if suffix == ".csv":
        df.to_csv(out, index=False)
    else:
        try:
            df.to_parquet(out, index=False)
        except ImportError as exc:
            raise ParameterError("out", f"writing Parquet needs pyarrow "
                              f"(pip install 'scalinglab[parquet]'): {exc}") from exc
    return df

"""The observation table: what ``fit`` consumes, and how foreign tables are read into it.

Standard columns: ``N`` (parameters), ``D`` (tokens), ``C`` (training FLOPs), ``loss`` (nats per
token), optional ``S`` (steps), ``U`` (unique tokens), ``run_id``, ``group``, ``weight`` and any
metric column. :func:`load_observations` reads CSV, TSV, Parquet, JSON and JSONL files (or a
scalinglab run store, ``*.db``), maps common column names onto the standard ones
(``params``/``model_size``/``num_params`` -> ``N``, ``tokens`` -> ``D``, ``flops`` -> ``C``, ...;
``columns={"loss": "val_loss"}`` overrides), derives ``D = C/(6N)`` or ``C = 6ND`` when one is
missing (the convention is recorded in ``df.attrs["conventions"]``), and validates the columns a
fit needs: every bad cell is reported with the file, the row (1-based data row) and the column.
A header that names a column twice, a JSON object with a key given twice, JSON nested too deeply
to parse, and booleans where numbers belong (``True`` is not 1.0) are refused the same way.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from scalinglab.errors import InputError, argument_error
from scalinglab.jsonio import parse_json

STANDARD_COLUMNS = ("N", "D", "C", "loss", "S", "U", "P", "run_id", "group", "weight")

#: lower-cased foreign names -> standard name (first match wins, exact standard names first)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "N": ("n", "params", "n_params", "num_params", "nparams", "parameters", "model_size",
          "model size", "param_count", "params_total", "size"),
    "D": ("d", "tokens", "n_tokens", "num_tokens", "train_tokens", "training_tokens",
          "dataset_size", "data_size"),
    "C": ("c", "flops", "compute", "training flop", "training_flops", "train_flops",
          "training flops", "total_flops"),
    "loss": ("loss", "val_loss", "final_loss", "eval_loss", "validation_loss", "test_loss",
             "final_val_loss", "valid_loss"),
    "S": ("s", "step", "steps"),
    "U": ("u", "unique_tokens", "unique"),
    "P": ("p", "bits", "precision", "precision_bits"),
    "run_id": ("run_id", "run", "run_name", "name", "id"),
    "group": ("group", "dataset", "family"),
    "weight": ("weight", "weights"),
    "N_enc": ("n_enc", "n_e", "encoder_params", "enc_params", "n_encoder"),
    "N_dec": ("n_dec", "n_d", "decoder_params", "dec_params", "n_decoder"),
    # train-test law (training FLOPs; inference FLOPs per query) and coverage law (samples k)
    "C_train": ("c_train", "train_compute", "training_compute"),
    "C_test": ("c_test", "test_flops", "test_compute", "inference_flops", "inference_compute"),
    "k": ("k", "samples_per_problem", "attempts"),
    "coverage": ("coverage", "pass@k", "pass_at_k"),
}

NUMERIC = ("N", "D", "C", "loss", "S", "U", "weight")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet/JSON/JSONL file (or a run store) into a DataFrame."""
    p = Path(path)
    src = str(p)
    if not p.exists():
        raise InputError("no such file", source=src)
    if p.is_dir():
        raise InputError("is a folder, expected a CSV, Parquet, JSON or JSONL file", source=src)
    suffix = p.suffix.lower()
    try:
        if suffix in (".db", ".sqlite", ".sqlite3"):
            from scalinglab.store import read_observations  # the run store (sweeps)

            df = read_observations(p)
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        elif suffix == ".jsonl":
            df = _read_jsonl(p, src)
        elif suffix == ".json":
            obj = parse_json(p.read_bytes(), src)
            if isinstance(obj, dict) and "runs" in obj:
                obj = obj["runs"]
            df = pd.DataFrame(obj)
        elif suffix == ".tsv":
            _check_header(p, "\t", src)
            df = pd.read_csv(p, sep="\t")
        else:
            _check_header(p, ",", src)
            df = pd.read_csv(p)
    except InputError:
        raise
    except (ValueError, TypeError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"could not be read as a table: {exc}", source=src) from exc
    except ImportError as exc:
        raise InputError(f"reading this format needs an optional package: {exc}",
                         source=src) from exc
    dup = [str(c) for c in df.columns[df.columns.duplicated()]]
    if dup:
        raise InputError(f"the column {dup[0]!r} appears twice; keep one", source=src)
    if df.empty:
        raise InputError("the table is empty (no data rows)", source=src)
    df.attrs["source"] = src
    return df


def _check_header(path: Path, sep: str, src: str) -> None:
    """Refuse a header naming a column twice (pandas would rename the second ``loss.1``)."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            header = next(csv.reader(fh, delimiter=sep), [])
    except csv.Error:
        return  # pandas reports what is wrong with the file
    seen: set[str] = set()
    for name in (h.strip() for h in header):
        if name and name in seen:
            raise InputError(f"the header names the column {name!r} twice; keep one",
                             source=src, row=None)
        seen.add(name)


def _read_jsonl(path: Path, src: str) -> pd.DataFrame:
    """One JSON object per line (blank lines skipped); a bad line is named by its number."""
    records = []
    for i, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = parse_json(line, src)
        except InputError as exc:
            raise InputError(f"line {i}: {str(exc).removeprefix(f'file {src}: ')}",
                             source=src) from None
        if not isinstance(rec, dict):
            raise InputError(f"line {i}: expected a JSON object per line, got "
                             f"{type(rec).__name__}", source=src)
        records.append(rec)
    return pd.DataFrame.from_records(records) if records else pd.DataFrame()


def map_columns(df: pd.DataFrame, overrides: Mapping[str, str] | None = None,
                source: str | None = None) -> pd.DataFrame:
    """Rename foreign columns to the standard names (``overrides``: standard -> foreign)."""
    overrides = dict(overrides or {})
    src = source or df.attrs.get("source")
    rename: dict[str, str] = {}
    taken = set()
    for std, foreign in overrides.items():
        if foreign not in df.columns:
            raise InputError(
                f"column mapping {std}={foreign}: no column {foreign!r}; the columns are "
                f"{', '.join(map(str, df.columns))}", source=src)
        rename[foreign] = std
        taken.add(std)
    lower = {str(c).lower().strip(): c for c in df.columns}
    for std, names in SYNONYMS.items():
        if std in taken:
            continue
        if std in df.columns:
            taken.add(std)
            continue
        for n in names:
            col = lower.get(n)
            if col is not None and col not in rename and col not in STANDARD_COLUMNS:
                rename[col] = std
                taken.add(std)
                break
    out = df.rename(columns=rename)
    out.attrs = dict(df.attrs)
    out.attrs["column_map"] = {str(k): v for k, v in rename.items()}
    return out


def _as_float(value: object) -> float:
    """One cell as a float: NaN when it is not a number, +-inf when it overflows a float."""
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        return math.copysign(math.inf, -1.0 if str(value).lstrip().startswith("-") else 1.0)
    except (TypeError, ValueError):
        return math.nan


def to_numeric(series: pd.Series) -> pd.Series:
    """``pd.to_numeric(..., errors="coerce")`` that also copes with integers too large for a
    float (a JSON ``1e400`` written out in digits): they become infinite, so validation
    reports them as not finite instead of crashing."""
    raw = series.astype(object) if series.dtype == object else series
    try:
        return pd.to_numeric(raw, errors="coerce")
    except (OverflowError, TypeError, ValueError):
        return pd.to_numeric(series.map(_as_float), errors="coerce")


def _bad_cell(df: pd.DataFrame, col: str, mask: np.ndarray, what: str, src: str | None) -> None:
    i = int(np.flatnonzero(mask)[0])
    row = i + 1
    value = df[col].iloc[i]
    if isinstance(value, np.generic):
        value = value.item()
    extra = f" (line {row + 1} of the file)" if src and src.endswith((".csv", ".tsv")) else ""
    n_bad = int(mask.sum())
    more = f"; {n_bad - 1} more row(s) like it" if n_bad > 1 else ""
    raise InputError(f"{what}: {value!r}{extra}{more}", source=src, row=row, column=col)


def validate(df: pd.DataFrame, required: Iterable[str], source: str | None = None,
             positive: Iterable[str] | None = None) -> pd.DataFrame:
    """Check that ``required`` columns exist, are numeric, finite and (``positive``) > 0.

    Returns a copy with those columns as float64. Raises :class:`InputError` naming the file,
    the first bad row (1-based data row) and the column.
    """
    src = source or df.attrs.get("source")
    required = list(required)
    positive = set(required if positive is None else positive)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; the table has "
            f"{', '.join(map(str, df.columns))} (map one with --column {missing[0]}=NAME, "
            f"in Python columns={{{missing[0]!r}: NAME}})",
            source=src)
    out = df.copy()
    for col in required:
        raw = out[col]
        if pd.api.types.is_bool_dtype(raw.dtype):
            _bad_cell(out, col, raw.notna().to_numpy(), "not a number (a boolean)", src)
        if raw.dtype == object:
            is_bool = raw.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
            if is_bool.any():
                _bad_cell(out, col, is_bool, "not a number (a boolean)", src)
        num = to_numeric(raw)
        bad = num.isna().to_numpy() & raw.notna().to_numpy()
        if bad.any():
            _bad_cell(out, col, bad, "not a number", src)
        if num.isna().any():
            _bad_cell(out, col, num.isna().to_numpy(), "missing value", src)
        vals = num.to_numpy(dtype=float)
        if not np.isfinite(vals).all():
            _bad_cell(out, col, ~np.isfinite(vals), "not a finite number", src)
        if col in positive and (vals <= 0).any():
            _bad_cell(out, col, vals <= 0, "must be > 0", src)
        out[col] = vals
    out.attrs = dict(df.attrs)
    return out


def complete(df: pd.DataFrame) -> pd.DataFrame:
    """Derive ``D = C/(6N)`` or ``C = 6ND`` when only one of them is present (recorded)."""
    conv = dict(df.attrs.get("conventions", {}))
    out = df
    if "D" not in df.columns and {"N", "C"} <= set(df.columns):
        out = df.copy()
        out["D"] = to_numeric(df["C"]) / (6.0 * to_numeric(df["N"]))
        conv["D"] = "derived as C / (6 N)"
    elif "C" not in df.columns and {"N", "D"} <= set(df.columns):
        out = df.copy()
        out["C"] = 6.0 * to_numeric(df["N"]) * to_numeric(df["D"])
        conv["C"] = "derived as 6 N D"
    out.attrs = dict(df.attrs)
    out.attrs["conventions"] = conv
    return out


def parse_column_overrides(items: Iterable[str] | None, option: str = "columns"
                           ) -> dict[str, str]:
    """``["loss=val_loss", "N=params"]`` -> ``{"loss": "val_loss", "N": "params"}``."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise argument_error(option, f"expected STANDARD=COLUMN (e.g. loss=val_loss), "
                                 f"got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def load_observations(data: str | Path | pd.DataFrame,
                      columns: Mapping[str, str] | None = None, *,
                      curves: bool = False) -> pd.DataFrame:
    """Read and map an observation table (validation happens in :func:`validate`).

    ``data`` may also be a run source of :mod:`scalinglab.importers` (an MLflow URI or
    ``mlruns/``, a ``wandb/`` folder, a TensorBoard log dir, a ``trainer_state.json``, ...):
    its runs table, or with ``curves=True`` its learning curves (rows per step, ``run_id``,
    ``S``); ``columns`` is then the importer's mapping (``loss=val/loss``)."""
    if isinstance(data, pd.DataFrame):
        df = data.copy()
        df.attrs = dict(data.attrs)
        df.attrs.setdefault("source", "<DataFrame>")
    elif _import_source(data):
        from scalinglab.importers import load_table

        df, columns = load_table(data, columns, curves=curves), None
    else:
        df = read_table(data)
    df = map_columns(df, columns)
    return complete(df)


def _import_source(data: str | Path) -> bool:
    """A tracker or log source (scalinglab.importers), not a table or a run store."""
    from scalinglab.importers import is_source

    return is_source(data)


def repetition_warning(df: pd.DataFrame) -> str | None:
    """A warning when runs of the table saw their training data more than once (an
    ``epochs`` column above 1, as the run store records it), else None."""
    if "epochs" not in df.columns:
        return None
    epochs = pd.to_numeric(df["epochs"], errors="coerce").to_numpy(float)
    over = np.isfinite(epochs) & (epochs > 1.0 + 1e-9)
    if not over.any():
        return None
    return (f"data repetition: {int(over.sum())} of {len(df)} runs saw their training data "
            f"more than once (up to {np.nanmax(epochs):.2f} epochs), so their D counts "
            "repeated tokens, which are worth less than unique ones (Muennighoff et al. 2023); "
            "train on more data (or a synthetic:NAME source), or fit the data-constrained law "
            "(law data-constrained, with the unique tokens in a U column)")


def data_hash(df: pd.DataFrame, cols: Iterable[str]) -> str:
    """sha256 of the numeric content of ``cols`` (provenance of a fit)."""
    h = hashlib.sha256()
    for c in cols:
        h.update(c.encode())
        h.update(np.ascontiguousarray(df[c].to_numpy(dtype=float)).tobytes())
    return h.hexdigest()[:16]

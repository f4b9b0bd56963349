"""Reading observation tables: formats, column mapping, derived columns and clear errors that
name the file, row and column (property-tested with hypothesis)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scalinglab as sl
from scalinglab.errors import InputError
from scalinglab.observations import load_observations, validate


def _table(n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"params": np.logspace(7, 9, n), "tokens": np.logspace(9, 11, n),
                         "val_loss": 2 + rng.random(n)})


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json", "jsonl", "tsv"])
def test_formats_and_synonyms(tmp_path, fmt) -> None:
    df = _table()
    p = tmp_path / f"runs.{fmt}"
    if fmt == "csv":
        df.to_csv(p, index=False)
    elif fmt == "tsv":
        df.to_csv(p, index=False, sep="\t")
    elif fmt == "parquet":
        df.to_parquet(p)
    elif fmt == "json":
        p.write_text(json.dumps(df.to_dict(orient="records")))
    else:
        df.to_json(p, orient="records", lines=True)
    obs = load_observations(p)
    assert {"N", "D", "loss", "C"} <= set(obs.columns)
    np.testing.assert_allclose(obs["C"], 6 * obs["N"] * obs["D"])
    assert obs.attrs["conventions"]["C"] == "derived as 6 N D"


def test_D_derived_from_C_and_override(tmp_path) -> None:
    df = pd.DataFrame({"N": [1e8, 2e8], "flops": [6e18, 1.2e19], "my_loss": [3.0, 2.9]})
    obs = load_observations(df, columns={"loss": "my_loss"})
    np.testing.assert_allclose(obs["D"], [1e10, 1e10])
    assert obs.attrs["conventions"]["D"] == "derived as C / (6 N)"


def test_datasets_have_standard_columns() -> None:
    for name in ("chinchilla", "gadre2024", "misfitting2025", "misfitting2025-best"):
        df = sl.datasets.load(name)
        validate(df, ["N", "D", "C", "loss"])
        assert "citation" in df.attrs
    assert len(sl.datasets.load("misfitting2025-best")) == 81


def test_missing_file_and_column_messages(tmp_path) -> None:
    with pytest.raises(InputError, match=r"file .*nope.csv: no such file"):
        load_observations(tmp_path / "nope.csv")
    p = tmp_path / "x.csv"
    pd.DataFrame({"N": [1.0, 2.0], "loss": [1.0, 2.0]}).to_csv(p, index=False)
    with pytest.raises(InputError, match=r"x.csv: missing column\(s\) D"):
        validate(load_observations(p), ["N", "D", "loss"])
    empty = tmp_path / "empty.csv"
    empty.write_text("N,D,loss\n")
    with pytest.raises(InputError, match="empty"):
        load_observations(empty)


BAD = st.sampled_from(["abc", "-1", "0", "inf", "nan", ""])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, 7), col=st.sampled_from(["N", "D", "loss"]), bad=BAD)
def test_any_bad_cell_is_reported_with_file_row_and_column(tmp_path, row, col, bad) -> None:
    df = pd.DataFrame({"N": np.logspace(7, 9, 8), "D": np.logspace(9, 11, 8),
                       "loss": np.linspace(3, 2, 8)}).astype(object)
    df.loc[row, col] = bad
    p = tmp_path / "bad.csv"
    df.to_csv(p, index=False)
    with pytest.raises(InputError) as exc:
        validate(load_observations(p), ["N", "D", "loss"])
    msg = str(exc.value)
    assert "bad.csv" in msg and f"row {row + 1}" in msg and f"column '{col}'" in msg
    assert f"line {row + 2} of the file" in msg


@settings(max_examples=30, deadline=None)
@given(vals=st.lists(st.floats(1e-3, 1e12), min_size=3, max_size=20))
def test_valid_positive_tables_pass_unchanged(vals) -> None:
    df = pd.DataFrame({"N": vals, "D": vals, "loss": vals})
    out = validate(df, ["N", "D", "loss"])
    np.testing.assert_array_equal(out["N"].to_numpy(), np.asarray(vals, float))

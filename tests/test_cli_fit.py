"""The fit command line: contract of `scalinglab fit --json`, `laws`, `isoflop`, `compare`,
`data list`, and clear errors (exit 2, one message, no traceback)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import scalinglab as sl


def test_fit_json_contract(cli, tmp_path) -> None:
    out = tmp_path / "fit.json"
    code, stdout, stderr = cli("fit", "example:chinchilla-240", "--law", "chinchilla",
                               "--bootstrap", "8", "--jobs", "1", "--json", str(out))
    assert code == 0, stderr
    d = json.loads(out.read_text())
    assert d["law"] == "chinchilla" and d["n_points"] == 240
    assert set(d["params"]) == {"E", "A", "B", "alpha", "beta"}
    assert d["objective"] <= 1.0182741e-3
    assert set(d["intervals"]) == set(d["params"])
    assert "a" in d["derived"] and isinstance(d["warnings"], list)
    assert "alpha" in stdout and "objective" in stdout


def test_fit_from_csv_with_column_mapping_and_holdout(cli, tmp_path) -> None:
    df = sl.datasets.load("chinchilla-240")[["N", "C", "loss"]].rename(
        columns={"N": "model_size", "loss": "val"})
    p = tmp_path / "runs.csv"
    df.to_csv(p, index=False)
    out = tmp_path / "f.json"
    code, _, stderr = cli("fit", str(p), "--column", "loss=val", "--holdout-above", "1e21",
                               "--json", str(out))
    assert code == 0, stderr
    d = json.loads(out.read_text())
    assert d["backtest"]["n_test"] > 0
    assert d["conventions"]["D"] == "derived as C / (6 N)"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["fit", "missing.csv"], "missing.csv: no such file"),
        (["fit", "example:chinchilla", "--law", "bogus"], "unknown law 'bogus'"),
        (["fit", "example:chinchilla", "--loss", "l1"], "option --loss"),
        (["fit", "example:chinchilla", "--law", "kaplan-ns"], "missing column(s) S"),
        (["fit", "example:nodata"], "unknown data set"),
    ],
)
def test_bad_input_exits_2_with_one_message(cli, args, needle) -> None:
    code, stdout, stderr = cli(*args)
    assert code == 2
    assert needle in stderr
    assert "Traceback" not in stderr + stdout


def test_bad_cell_names_file_row_column(cli, tmp_path) -> None:
    p = tmp_path / "bad.csv"
    pd.DataFrame({"N": [1e8, 2e8, 3e8, 4e8, 5e8, 6e8], "D": [1e9] * 5 + ["x"],
                  "loss": [3.0] * 6}).to_csv(p, index=False)
    code, _, stderr = cli("fit", str(p))
    assert code == 2
    assert "bad.csv" in stderr and "row 6" in stderr and "'D'" in stderr


def test_laws_isoflop_compare_and_data(cli, tmp_path) -> None:
    code, stdout, _ = cli("laws")
    assert code == 0
    for name in ("chinchilla", "kaplan-nd", "bnsl", "data-constrained", "sigmoid"):
        assert name in stdout
    code, stdout, _ = cli("data", "list")
    assert code == 0 and "gadre2024" in stdout
    code, stdout, _ = cli("compare", "example:misfitting2025-best",
                          "--laws", "chinchilla,kaplan-nd")
    assert code == 0 and "aic" in stdout
    out = tmp_path / "iso.json"
    code, stdout, stderr = cli("isoflop", "example:chinchilla-240", "--json", str(out))
    assert code == 0, stderr
    assert 0.3 < json.loads(out.read_text())["a"] < 0.7


def test_fit_shows_the_true_entropy_beside_E(cli, tmp_path) -> None:
    from scalinglab.datasets import load

    df = load("chinchilla-240")
    df["entropy_rate"] = 1.8  # as the runs of a synthetic source carry it
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    code, out, err = cli("fit", str(path), "--bootstrap", "10")
    assert code == 0, err
    assert "true entropy rate: 1.80000 nats/token; fitted E = 1.8" in out
    assert "its interval)" in out

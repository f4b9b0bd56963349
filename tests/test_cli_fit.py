"""The fit command line: contract of `scalinglab fit --json`, `laws`, `isoflop`, `compare`,
`data list`, and clear errors (exit 2, one message, no traceback)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalinglab as sl
from scalinglab.laws import get_law
from scalinglab.laws import published as pub


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


def _chinchilla_csv(path, params: dict, seed: int = 0) -> None:
    """Chinchilla losses at ``params`` on a 9 x 9 grid of N and D, noise 0.3%."""
    rng = np.random.default_rng(seed)
    N, D = (a.ravel() for a in np.meshgrid(np.logspace(6, 10, 9), np.logspace(8, 12, 9)))
    y = get_law("chinchilla").predict(params, N=N, D=D) * np.exp(rng.normal(0, 0.003, N.size))
    pd.DataFrame({"N": N, "D": D, "loss": y}).to_csv(path, index=False)


def test_fit_fix_holds_parameters(cli, tmp_path) -> None:
    truth = pub.CHINCHILLA_HOFFMANN
    data, out = tmp_path / "runs.csv", tmp_path / "fit.json"
    _chinchilla_csv(data, truth)
    code, stdout, stderr = cli("fit", str(data), "--fix", f"E={truth['E']!r}", "--fix",
                               f"alpha={truth['alpha']!r}", "--bootstrap", "4", "--jobs", "1",
                               "--json", str(out))
    assert code == 0, stderr
    d = json.loads(out.read_text())
    assert d["fixed"] == {"E": truth["E"], "alpha": truth["alpha"]}
    assert d["params"]["E"] == truth["E"] and d["params"]["alpha"] == truth["alpha"]
    assert set(d["intervals"]) == {"A", "B", "beta"}
    assert d["params"]["beta"] == pytest.approx(truth["beta"], rel=0.02)
    assert "E (fixed)" in stdout and "alpha (fixed)" in stdout


def test_staged_fit_with_fix_from(cli, tmp_path) -> None:
    # stage 1: the Chinchilla part of Muennighoff et al.'s constants, on unrepeated runs
    dc = pub.DATA_CONSTRAINED_MUENNIGHOFF
    five = ("E", "A", "B", "alpha", "beta")
    one_epoch, stage1 = tmp_path / "unrepeated.csv", tmp_path / "stage1.json"
    _chinchilla_csv(one_epoch, {k: dc[k] for k in five})
    code, _, stderr = cli("fit", str(one_epoch), "--json", str(stage1))
    assert code == 0, stderr
    s1 = json.loads(stage1.read_text())["params"]
    # stage 2: repeated runs (U unique tokens for 1 - 40 epochs), the five held
    rng = np.random.default_rng(1)
    rows = pd.DataFrame([{"N": n, "U": u, "D": u * ep} for u in (1e8, 1e9, 1e10)
                         for n in np.logspace(7, 9.5, 6) for ep in (1, 2, 5, 10, 20, 40)])
    y = get_law("data-constrained").predict(dc, N=rows["N"], D=rows["D"], U=rows["U"])
    rows["loss"] = y * np.exp(rng.normal(0, 0.005, len(rows)))
    repeated, stage2 = tmp_path / "repeated.csv", tmp_path / "stage2.json"
    rows.to_csv(repeated, index=False)
    code, stdout, stderr = cli("fit", str(repeated), "--law", "data-constrained",
                               "--fix-from", str(stage1), "--json", str(stage2))
    assert code == 0, stderr
    d = json.loads(stage2.read_text())
    assert d["fixed"] == {k: s1[k] for k in five}
    assert {k: d["params"][k] for k in five} == d["fixed"]
    assert d["provenance"]["fixed_from"]["fit"] == str(stage1)
    assert d["provenance"]["fixed_from"]["params"] == list(five)
    assert set(d["params"]) - set(d["fixed"]) == {"RD", "RN"}
    assert "beta (fixed)" in stdout and "RN " in stdout
    # --fix wins over --fix-from for a parameter both give
    code, _, stderr = cli("fit", str(repeated), "--law", "data-constrained",
                          "--fix-from", str(stage1), "--fix", "E=1.9", "--json", str(stage2))
    assert code == 0, stderr
    d = json.loads(stage2.read_text())
    assert d["fixed"]["E"] == 1.9 and d["fixed"]["A"] == s1["A"]
    assert d["provenance"]["fixed_from"]["params"] == ["A", "B", "alpha", "beta"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--fix", "F=1"], "option --fix: law 'chinchilla' has no parameter(s) F; it takes E, "
                           "A, B, alpha, beta"),
        (["--fix", "E=nan"], "option --fix: E must be a finite number"),
        (["--fix", "alpha=7"], "option --fix: alpha = 7 is outside its allowed range "
                               "[0, 5]"),
        (["--fix", "E"], "option --fix: expected NAME=VALUE"),
        (["--fix", "E=x"], "option --fix: value of 'E' is not a number"),
        (["--fix", "E=1.8,A=400,B=400,alpha=0.3,beta=0.3"],
         "option --fix: would hold every parameter"),
        (["--fix-from", "KAPLAN"], "option --fix-from: the 'kaplan-nd' fit in"),
        (["--fix-from", "CHINCHILLA"], "option --fix-from: would hold every parameter"),
        (["--fix-from", "CHINCHILLA", "--fix", "E=1.8"], "option --fix: would hold every"),
        (["--fix-from", "missing.json"], "missing.json: no such file"),
    ],
)
def test_bad_fix_exits_2_with_one_line(cli, tmp_path, args, needle) -> None:
    saved = {"KAPLAN": ("kaplan-nd", pub.KAPLAN_ND),
             "CHINCHILLA": ("chinchilla", pub.CHINCHILLA_HOFFMANN)}
    for key, (law, params) in saved.items():
        (tmp_path / f"{key}.json").write_text(json.dumps({"law": law, "params": params}))
    args = [str(tmp_path / f"{a}.json") if a in saved else a for a in args]
    code, stdout, stderr = cli("fit", "example:chinchilla-240", *args)
    assert code == 2
    assert needle in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert "Traceback" not in stderr + stdout

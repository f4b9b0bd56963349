"""``scalinglab import`` and the other commands reading a source directly: outputs (.csv with
its curves and provenance, .parquet, a .db run store), ``--map``/``--set``, the unmappable
message, and ``fit``/``envelope``/``report`` on a source (a Trainer output folder)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from importer_helpers import ALPHA_N, NC, power

from scalinglab.importers import detect

NS = [1.2e7, 5.0e7, 1.24e8, 3.5e8]


def _logs(folder) -> None:
    """nanoGPT logs (format strings of train.py), losses on the power law at the end."""
    folder.mkdir()
    for i, n in enumerate(NS):
        lines = [f"number of parameters: {n / 1e6:.2f}M"]
        for it in (100, 200):
            loss = power(n) * (1.0 if it == 200 else 1.1)
            lines.append(f"step {it}: train loss {loss:.6f}, val loss {loss:.6f}")
        (folder / f"r{i}.txt").write_text("\n".join(lines) + "\n")


def test_import_to_csv_parquet_and_store(tmp_path, cli):
    logs = tmp_path / "logs"
    _logs(logs)
    out = tmp_path / "runs.csv"
    code, stdout, err = cli("import", str(logs), "--out", str(out), "--set",
                            "tokens_per_step=65536")
    assert code == 0, err
    assert "4 run(s) from nanogpt" in err and "learning curves for 4 of them" in err
    table = pd.read_csv(out)
    assert sorted(table["N"]) == pytest.approx(NS)
    assert set(table["D"]) == {200 * 65536}
    assert set(table["D_convention"]) == {"D inferred as steps x tokens per step (tokens per "
                                          "step from 'tokens_per_step')"}
    meta = json.loads((tmp_path / "runs.import.json").read_text())
    assert meta["provenance"]["importer"] == "nanogpt"
    assert "D" in meta["provenance"]["inferred"]
    curves = pd.read_csv(tmp_path / "runs.curves.csv")
    assert len(curves) == 8 and list(curves.columns[:6]) == ["run_id", "S", "N", "D", "C",
                                                             "loss"]
    code, stdout, err = cli("fit", str(out), "--law", "power", "--x", "N", "--loss", "mse")
    assert code == 0, err
    code, _, err = cli("import", str(logs), "--out", str(tmp_path / "runs.parquet"),
                       "--map", "N=tokens_per_step", "--set", "tokens_per_step=65536")
    assert code == 0, err
    assert set(pd.read_parquet(tmp_path / "runs.parquet")["N"]) == {65536.0}
    # a run store: fit and runs read it like a sweep's
    db = tmp_path / "runs.db"
    code, stdout, err = cli("import", str(logs), "--out", str(db), "--set",
                            "tokens_per_step=65536")
    assert code == 0, err
    assert "wrote 4 runs to the run store" in stdout
    from scalinglab.store import RunStore, read_observations

    obs = read_observations(db)
    assert sorted(obs["N"]) == pytest.approx(NS) and set(obs["D"]) == {200 * 65536}
    with RunStore(db, readonly=True) as rs:
        assert len(rs.curve(obs.loc[0, "run_id"])) == 2
    from scalinglab.fit import fit

    res = fit(str(db), "power", x="N", loss="mse")
    assert res.params["alpha"] == pytest.approx(ALPHA_N, rel=1e-3)
    assert res.params["Nc"] == pytest.approx(NC, rel=0.02)


def test_unmappable_and_bad_options(tmp_path, cli):
    logs = tmp_path / "logs"
    _logs(logs)
    code, _, err = cli("import", str(logs), "--out", str(tmp_path / "x.csv"))
    assert code == 2
    assert "cannot map the 4 run(s)" in err and "no D" in err
    assert "Metric keys found: train_loss, val_loss" in err
    code, _, err = cli("import", str(logs), "--out", str(tmp_path / "x.txt"))
    assert code == 2 and "--out" in err
    code, _, err = cli("import", str(logs), "--out", str(tmp_path / "x.csv"), "--map", "Q=x")
    assert code == 2 and "unknown column 'Q'" in err
    code, _, err = cli("import", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.csv"))
    assert code == 2 and "no such file or folder" in err
    code, _, err = cli("import", str(logs), "--out", str(tmp_path / "x.csv"), "--tag", "a")
    assert code == 2 and "--tag" in err and "only for TensorBoard" in err
    from scalinglab.errors import ParameterError
    from scalinglab.importers.export import mirror_for

    # the library names its parameter; the sweep command's --log-to maps onto it
    with pytest.raises(ParameterError, match="argument target: use mlflow, mlflow:URI, wandb"):
        mirror_for("neptune:x")


def test_fit_envelope_and_report_read_a_source(tmp_path, cli):
    """A Trainer output folder given straight to fit, envelope and report."""
    from test_hf_trainer import _write_runs

    _write_runs(tmp_path / "hf")
    src = str(tmp_path / "hf")
    assert detect(src) == "hf"
    code, out, err = cli("fit", src, "--law", "chinchilla", "--loss", "mse")
    assert code == 0, err
    assert "alpha" in out
    code, out, err = cli("envelope", src)
    assert code == 0, err
    from scalinglab.report.inputs import load_inputs

    inp = load_inputs(src)
    assert len(inp.observations) == 16 and inp.curves is not None
    assert inp.curves["run_id"].nunique() == 16
    assert inp.conventions["C"] == "C from metric 'total_flos' (recognised)"

"""The main job end to end, scaled down: `scalinglab demo --budget-minutes 0.5` trains a real
IsoFLOP study on the default synthetic source, fits, backtests on the held-out budget, plans and
writes summary.json and the report; a second run resumes (trains nothing) and gives the same
runs."""

from __future__ import annotations

import json
import sqlite3

import pytest

pytest.importorskip("torch")


@pytest.mark.slow
def test_demo_end_to_end_and_resume(cli, tmp_path) -> None:
    out = tmp_path / "demo"
    code, stdout, stderr = cli("demo", "--out", str(out), "--budget-minutes", "0.5",
                               "--bootstrap", "20", "--workers", "2")
    assert code == 0, stderr[-3000:]
    for name in ("report.html", "runs.db", "fit.json", "summary.json"):
        assert (out / name).exists(), name
    s = json.loads((out / "summary.json").read_text())
    assert s["corpus"] == "synthetic:quanta" and s["epochs_max"] == 0.0
    assert s["entropy_rate"] == pytest.approx(0.74479, abs=1e-5)
    assert s["backtest"]["heldout_compute"] >= 4 * s["backtest"]["fit_max_compute"]
    assert s["backtest"]["n_heldout"] >= 2 and s["backtest"]["mean_abs_rel_error"] is not None
    assert s["plan"]["N_opt"] > 0 and s["a_interval"] is not None
    assert isinstance(s["identified"], bool) and s["seconds"] > 0
    pngs = sorted((out / "figures").glob("*.png"))
    assert len(pngs) >= 5 and len(list((out / "figures").glob("*.svg"))) == len(pngs)
    fit = json.loads((out / "fit.json").read_text())
    assert fit["law"] == "chinchilla" and fit["n_points"] >= 10
    assert set(fit["intervals"]) == {"E", "A", "B", "alpha", "beta"}
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 5
    assert "report:" in stdout and "N_opt" in stdout and "predicted loss" in stdout
    flat = " ".join(stdout.split())  # the console wraps long lines
    assert "backtest at C" in flat and "true entropy rate 0.7448" in flat
    with sqlite3.connect(out / "runs.db") as db:
        done = db.execute("select count(*) from runs where status = 'completed'").fetchone()[0]
    # resume: everything is done, nothing is trained again, nothing is duplicated
    code, stdout2, stderr2 = cli("demo", "--out", str(out), "--budget-minutes", "0.5",
                                 "--bootstrap", "20")
    assert code == 0, stderr2[-3000:]
    assert "report:" in stdout2
    assert "started" not in stderr2
    with sqlite3.connect(out / "runs.db") as db:
        assert db.execute("select count(*) from runs").fetchone()[0] == done

"""``scalinglab sweep status`` and ``scalinglab runs list|show|export`` on a store filled by a
sweep of stand-in runs, and ``sweep run --dry-run``."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sweep_fakes
import yaml

from scalinglab.store import RunStore
from scalinglab.sweep.driver import run_sweep
from scalinglab.sweep.spec import parse_spec


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One sweep for the whole module (the tests only read the store)."""
    spec = {"name": "grid", "context": 32, "batch_size": 4, "max_retries": 0,
            "seeds": [0, sweep_fakes.RAISE_SEED],
            "design": {"kind": "grid", "tokens": [2.0e4, 4.0e4],
                       "models": [{"n_layer": 1, "d_model": 16, "n_head": 1},
                                  {"n_layer": 1, "d_model": 32, "n_head": 2}]}}
    path = tmp_path_factory.mktemp("cli") / "runs.db"
    run_sweep(parse_spec(spec), path, run_fn=sweep_fakes.ok_run, workers=2,
              show_progress=False)
    return path


def test_runs_list_shows_every_run_and_filters_by_status(cli, store):
    code, out, _ = cli("runs", "list", "--store", str(store))
    assert code == 0
    with RunStore(store, readonly=True) as rs:
        runs = rs.runs()
    assert len(runs) == 8
    for r in runs:
        assert r.run_id in out
    code, out, _ = cli("runs", "list", "--store", str(store), "--status", "failed")
    assert code == 0 and "4 runs" in out and "completed" not in out
    code, _, err = cli("runs", "list", "--store", str(store), "--status", "done")
    assert code == 2 and "--status" in err


def test_runs_show_text_and_json(cli, store):
    with RunStore(store, readonly=True) as rs:
        done = rs.runs(statuses=["completed"])[0]
        failed = rs.runs(statuses=["failed"])[0]
    code, out, _ = cli("runs", "show", done.run_id[:8], "--store", str(store), "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["run_id"] == done.run_id and payload["status"] == "completed"
    assert payload["metrics"]["final_val_loss"] == done.metrics["final_val_loss"]
    assert [p["step"] for p in payload["curve"]] == [0, 10, 20]
    assert payload["attempts"][0]["outcome"] == "completed"
    code, out, _ = cli("runs", "show", failed.run_id, "--store", str(store))
    assert code == 0 and "deliberate failure" in out and "failed" in out
    code, _, err = cli("runs", "show", "nonexistent", "--store", str(store))
    assert code == 2 and "no run with id" in err


def test_runs_export_is_the_observation_table(cli, store, tmp_path):
    out_csv = tmp_path / "runs.csv"
    code, out, _ = cli("runs", "export", "--store", str(store), "--out", str(out_csv))
    assert code == 0 and "wrote 8 runs" in out
    df = pd.read_csv(out_csv)
    assert len(df) == 8 and df["run_id"].is_unique
    for col in ("status", "N", "D", "C", "loss", "n_layer", "d_model", "seed", "tokens"):
        assert col in df.columns
    done = df[df["status"] == "completed"]
    assert len(done) == 4 and (done["C"] == 6 * done["N"] * done["D"]).all()
    assert done["loss"].notna().all() and df[df["status"] == "failed"]["loss"].isna().all()
    code, _, err = cli("runs", "export", "--store", str(store), "--out", str(tmp_path / "x.txt"))
    assert code == 2 and "--out" in err


def test_sweep_status_counts_and_failures(cli, store):
    code, out, _ = cli("sweep", "status", "--store", str(store))
    assert code == 0
    assert "grid" in out and "deliberate failure" in out
    row = next(ln for ln in out.splitlines() if ln.startswith("│ grid"))
    assert [c.strip() for c in row.strip("│").split("│")] == ["grid", "grid", "8", "4", "0",
                                                             "0", "4"]
    assert out.count("failed (attempt 1) ValueError: deliberate failure") == 4
    code, _, err = cli("sweep", "status", "--store", str(store.parent / "missing.db"))
    assert code == 2 and "no such run store" in err


def test_dry_run_lists_runs_and_their_stored_status(cli, store, tmp_path, grid_spec):
    grid_spec["seeds"] = [0, sweep_fakes.RAISE_SEED]
    spec_path = tmp_path / "grid.yaml"
    spec_path.write_text(yaml.safe_dump(grid_spec))
    code, out, _ = cli("sweep", "run", str(spec_path), "--store", str(store), "--dry-run")
    assert code == 0
    assert "8 runs (grid)" in out and out.count("completed") == 4 and out.count("failed") == 4
    code, _, err = cli("sweep", "run", str(spec_path), "--store", str(store),
                       "--executor", "dask")
    assert code == 2 and "--executor" in err

"""The run store: identity, one-transaction results, state changes, observation tables."""

from __future__ import annotations

import math
import sqlite3

import pandas as pd
import pytest

from scalinglab.errors import InputError, OptionError
from scalinglab.store import (
    PlannedRun,
    RunStore,
    export_runs,
    read_observations,
    run_id_for,
)


def _runs(n: int = 3, **labels) -> list[PlannedRun]:
    return [PlannedRun({"n_layer": 1, "d_model": 16, "n_head": 1, "context": 32,
                        "tokens": 1000 * (i + 1), "lr": None}, {"group": "g", **labels})
            for i in range(n)]


def _metrics(loss: float, n: int = 5000, d: int = 1000, **extra) -> dict:
    return {"final_val_loss": loss, "params_total": n, "params_nonembedding": n - 1000,
            "tokens": d, "flops_by_convention": {"6N": 6.0 * n * d}, "curve_path": "x",
            "per_position_loss": [1.0, 2.0], **extra}


def test_identity_is_the_config_hash_independent_of_key_order():
    a = {"n_layer": 1, "d_model": 16, "tokens": 5}
    b = {"tokens": 5, "d_model": 16, "n_layer": 1}
    assert run_id_for(a) == run_id_for(b)
    assert run_id_for(a) != run_id_for({**a, "tokens": 6})
    assert len(run_id_for(a)) == 16


def test_register_twice_adds_nothing_and_a_changed_spec_only_adds_the_new_runs(tmp_path):
    with RunStore(tmp_path / "s.db") as store:
        runs = _runs(3)
        assert store.register_study("st", {"v": 1}, runs) == (3, 0)
        assert store.register_study("st", {"v": 1}, runs) == (0, 0)
        changed = runs[1:] + _runs(4)[3:]
        assert store.register_study("st", {"v": 2}, changed) == (1, 1)
        assert [r.run_id for r in store.runs(study="st")] == [r.run_id for r in changed]
        # the dropped run stays in the store, results untouched
        n_all = store._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        assert n_all == 4
        assert store.study("st").spec == {"v": 2}


def test_store_is_in_wal_mode(tmp_path):
    RunStore(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_run_lifecycle_attempts_failures_and_one_transaction_result(tmp_path):
    with RunStore(tmp_path / "s.db") as store:
        (run,) = _runs(1)
        store.register_study("st", {}, [run])
        assert store.start_run(run.run_id, out_dir="d") == 1
        assert store.counts("st")["running"] == 1
        assert store.fail_run(run.run_id, "boom") == 1
        rec = store.get(run.run_id)
        assert (rec.status, rec.error, rec.failures) == ("failed", "boom", 1)
        assert store.start_run(run.run_id, out_dir="d") == 2
        curve = [{"step": 0, "tokens": 0, "val_loss": 5.0, "noise_scale": None},
                 {"step": 5, "tokens": 100, "val_loss": float("nan"), "elapsed_s": 1.5}]
        assert store.complete_run(run.run_id, _metrics(3.0), curve) is True
        # a second result for a completed run is refused and changes nothing
        assert store.complete_run(run.run_id, _metrics(9.0), []) is False
        rec = store.get(run.run_id)
        assert rec.status == "completed" and rec.error is None
        assert rec.metrics["final_val_loss"] == 3.0
        got = store.curve(run.run_id)
        assert [p["step"] for p in got] == [0, 5]
        assert got[1]["val_loss"] is None and got[1]["elapsed_s"] == 1.5
        outcomes = [a["outcome"] for a in store.attempts(run.run_id)]
        assert outcomes == ["failed", "completed"]
        with pytest.raises(RuntimeError, match="already completed"):
            store.start_run(run.run_id, out_dir="d")


def test_failed_transaction_leaves_nothing_half_written(tmp_path):
    with RunStore(tmp_path / "s.db") as store:
        (run,) = _runs(1)
        store.register_study("st", {}, [run])
        store.start_run(run.run_id, out_dir="d")
        bad_curve = [{"step": 0}, {"step": object()}]  # the second row cannot be bound
        with pytest.raises(sqlite3.Error):
            store.complete_run(run.run_id, _metrics(3.0), bad_curve)
        rec = store.get(run.run_id)
        assert rec.status == "running" and rec.metrics is None
        assert store.curve(run.run_id) == []


def test_reset_interrupted_puts_running_runs_back_without_counting_a_failure(tmp_path):
    with RunStore(tmp_path / "s.db") as store:
        runs = _runs(2)
        store.register_study("st", {}, runs)
        store.start_run(runs[0].run_id, out_dir="d")
        assert store.reset_interrupted() == 1
        rec = store.get(runs[0].run_id)
        assert (rec.status, rec.failures, rec.attempts) == ("pending", 0, 1)
        assert store.attempts(runs[0].run_id)[0]["outcome"] == "interrupted"


def test_get_by_prefix_and_clear_errors(tmp_path):
    with RunStore(tmp_path / "s.db") as store:
        runs = _runs(3)
        store.register_study("st", {}, runs)
        assert store.get(runs[0].run_id[:6]).run_id == runs[0].run_id
        with pytest.raises(InputError, match="no run with id"):
            store.get("zzzz")
        with pytest.raises(InputError, match="ambiguous"):
            store.get("")
        with pytest.raises(InputError, match="no study named 'nope'"):
            store.study("nope")


def test_opening_something_that_is_not_a_store(tmp_path):
    with pytest.raises(InputError, match="no such run store"):
        RunStore(tmp_path / "missing.db", readonly=True)
    text = tmp_path / "runs.csv"
    text.write_text("N,D,loss\n1,2,3\n" * 100)
    with pytest.raises(InputError, match="not a scalinglab run store"):
        RunStore(text)
    assert text.read_text().startswith("N,D,loss")  # nothing harmed
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    with pytest.raises(InputError, match="not a scalinglab run store"):
        RunStore(other, readonly=True)


def _filled_store(tmp_path, n_convention="total"):
    path = tmp_path / "s.db"
    base = {"n_layer": 1, "d_model": 16, "n_head": 1, "context": 32, "tokens": 1000}
    runs = [PlannedRun({**base, "lr": lr}, {"group": "a", "tune_key": "k1",
                                            "n_convention": n_convention, "N_planned": 5000})
            for lr in (1e-3, 2e-3, 4e-3)]
    runs.append(PlannedRun({**base, "tokens": 2000, "lr": None},
                           {"group": "b", "n_convention": n_convention, "N_planned": 5000}))
    runs.append(PlannedRun({**base, "tokens": 3000, "lr": None},
                           {"group": "b", "n_convention": n_convention, "N_planned": 5000}))
    with RunStore(path) as store:
        store.register_study("st", {}, runs)
        for run, loss in zip(runs[:4], (3.0, 2.5, 2.8, 2.0), strict=True):
            store.start_run(run.run_id, out_dir="d")
            store.complete_run(run.run_id, _metrics(loss, d=run.config["tokens"]))
    return path, runs


def test_read_observations_one_row_per_completed_run_on_the_tuned_frontier(tmp_path):
    path, runs = _filled_store(tmp_path)
    df = read_observations(path)
    # the lr sweep keeps its best run (2.5), the untuned run is kept, the pending one is not
    assert sorted(df["loss"]) == [2.0, 2.5]
    assert set(df["run_id"]) == {runs[1].run_id, runs[3].run_id}
    row = df.set_index("run_id").loc[runs[3].run_id]
    assert row["N"] == 5000 and row["D"] == 2000 and row["C"] == 6 * 5000 * 2000
    assert row["group"] == "b" and row["status"] == "completed"
    assert row["n_layer"] == 1 and row["flops_6N"] == 6.0 * 5000 * 2000
    assert "per_position_loss" not in df.columns and "config" not in df.columns
    assert df.attrs["conventions"]["C"] == "6 N D"
    assert set(df["N_convention"]) == {"total parameters incl. embeddings"}
    everything = read_observations(path, frontier_only=False)
    assert len(everything) == 4


def test_nonembedding_convention_changes_n_and_c(tmp_path):
    path, runs = _filled_store(tmp_path, n_convention="nonembedding")
    df = read_observations(path).set_index("run_id")
    assert df.loc[runs[3].run_id, "N"] == 4000
    assert df.loc[runs[3].run_id, "C"] == 6 * 4000 * 2000
    assert set(df["N_convention"]) == {"non-embedding parameters"}


def test_export_has_every_run_with_status_and_round_trips(tmp_path):
    path, _ = _filled_store(tmp_path)
    csv_df = export_runs(path, tmp_path / "runs.csv")
    back = pd.read_csv(tmp_path / "runs.csv")
    assert len(back) == 5 and list(back.columns[:8]) == ["run_id", "study", "group", "status",
                                                         "N", "D", "C", "loss"]
    pending = back[back["status"] == "pending"].iloc[0]
    assert pending["N"] == 5000 and pending["D"] == 3000 and math.isnan(pending["loss"])
    assert back["frontier"].sum() == 2
    export_runs(path, tmp_path / "runs.parquet")
    pq = pd.read_parquet(tmp_path / "runs.parquet")
    assert list(pq["run_id"]) == list(csv_df["run_id"])
    with pytest.raises(OptionError, match=r"^argument out: "):  # a Python parameter
        export_runs(path, tmp_path / "runs.xlsx")


def test_fit_readers_take_a_store_path(tmp_path):
    from scalinglab.observations import load_observations

    path, _ = _filled_store(tmp_path)
    df = load_observations(path)
    assert len(df) == 2 and {"N", "D", "C", "loss", "run_id", "group"} <= set(df.columns)

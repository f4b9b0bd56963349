"""Hardening (issue 17, items 1, 2 and 13): malformed inputs that crashed, inputs that gave a
silently wrong result, and the report's plan error bar. Each is one clear error (exit status 2,
naming the file, row, column or option) or, for the figure, a drawing that holds its value."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from cli_checks import one_error as _one_error
from scalinglab.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"
DEEP = "[" * 100_000 + "]" * 100_000
ROWS = [(1e6, 1e9, 3.0), (2e6, 1e9, 2.9), (4e6, 2e9, 2.8), (8e6, 2e9, 2.7), (1.6e7, 4e9, 2.6),
        (3.2e7, 4e9, 2.5)]




def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- item 1
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_deeply_nested_json_table_is_refused_by_fit(cli, tmp_path, suffix) -> None:
    p = tmp_path / f"obs{suffix}"
    p.write_text(DEEP + "\n")
    code, _out, err = cli("fit", str(p))
    _one_error(code, err, str(p), "nested too deeply")


def test_deeply_nested_fit_json_is_refused_by_plan(cli, tmp_path) -> None:
    p = tmp_path / "fit.json"
    p.write_text(DEEP)
    code, _out, err = cli("plan", "--fit", str(p), "--compute", "1e21")
    _one_error(code, err, str(p), "nested too deeply")


def test_deeply_nested_hf_config_is_refused_by_count(cli, tmp_path) -> None:
    p = tmp_path / "config.json"
    p.write_text(DEEP)
    code, _out, err = cli("count", "--hf-config", str(p))
    _one_error(code, err, str(p))


def _foreign_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    for table in ("studies", "runs", "study_runs", "curves"):
        conn.execute(f"CREATE TABLE {table} (x TEXT, y REAL)")
    conn.execute("INSERT INTO runs VALUES ('mine', 1.0)")
    conn.commit()
    conn.close()


def test_sqlite_file_with_the_table_names_is_not_a_store_for_fit(cli, tmp_path) -> None:
    db = tmp_path / "f.db"
    _foreign_db(db)
    before = _sha(db)
    code, _out, err = cli("fit", str(db))
    _one_error(code, err, str(db), "not a scalinglab run store")
    code, _out, err = cli("runs", "list", "--store", str(db))
    _one_error(code, err, str(db), "not a scalinglab run store")
    assert _sha(db) == before


def test_sweep_never_writes_into_a_foreign_sqlite_file(cli, tmp_path) -> None:
    db = tmp_path / "f.db"
    _foreign_db(db)
    before = _sha(db)
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\ncontext: 32\nbatch_size: 4\ndesign: {kind: grid, models: "
                    "[{n_layer: 1, d_model: 16, n_head: 1}], tokens: [2.0e4]}\n")
    pytest.importorskip("torch")
    code, _out, err = cli("sweep", "run", str(spec), "--store", str(db), "--quiet")
    _one_error(code, err, "f.db", "not a scalinglab run store")
    from scalinglab.store import RunStore

    with pytest.raises(InputError, match="not a scalinglab run store"):
        RunStore(db)
    assert _sha(db) == before
    assert not (tmp_path / "f.db-wal").exists() or (tmp_path / "f.db-wal").stat().st_size == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT * FROM runs").fetchall() == [("mine", 1.0)]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0


def test_store_with_wrong_columns_is_refused(tmp_path) -> None:
    from scalinglab.store import RunStore
    from scalinglab.store.schema import SCHEMA_VERSION

    db = tmp_path / "f.db"
    _foreign_db(db)
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match=r"table studies lacks the column"):
        RunStore(db, readonly=True)


# --------------------------------------------------------------------------- item 2
def _csv(path: Path, header: str, rows: list[tuple]) -> Path:
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_boolean_losses_are_not_fitted_as_one(cli, tmp_path) -> None:
    p = _csv(tmp_path / "t.csv", "N,D,loss", [(n, d, True) for n, d, _ in ROWS])
    code, _out, err = cli("fit", str(p))
    _one_error(code, err, str(p), "column 'loss'", "row 1", "boolean", "True")


def test_boolean_losses_in_json_are_refused(tmp_path) -> None:
    from scalinglab.observations import load_observations, validate

    p = tmp_path / "t.json"
    p.write_text(json.dumps([{"N": n, "D": d, "loss": i != 2} for i, (n, d, _) in
                             enumerate(ROWS)]))
    df = load_observations(p)
    with pytest.raises(InputError, match=r"row 1, column 'loss': not a number \(a boolean\)"):
        validate(df, ["N", "D", "loss"])


@pytest.mark.parametrize("header", ["N,D,loss,loss", "N,N,D,loss", "N, D,loss,D"])
def test_duplicate_headers_are_refused(cli, tmp_path, header) -> None:
    p = _csv(tmp_path / "d.csv", header, [(*r, r[-1]) for r in ROWS])
    dup = [h.strip() for h in header.split(",")]
    name = next(h for i, h in enumerate(dup) if h in dup[:i])
    code, _out, err = cli("fit", str(p))
    _one_error(code, err, str(p), repr(name), "twice")


def test_duplicate_keys_in_json_records_are_refused(tmp_path) -> None:
    from scalinglab.observations import load_observations

    p = tmp_path / "d.jsonl"
    p.write_text("".join(f'{{"N": {n}, "D": {d}, "loss": {loss}, "loss": 9}}\n'
                         for n, d, loss in ROWS))
    with pytest.raises(InputError, match=r"line 1: the key 'loss' appears twice"):
        load_observations(p)


def test_a_clean_table_still_loads(tmp_path) -> None:
    from scalinglab.observations import load_observations, validate

    p = _csv(tmp_path / "ok.csv", "N,D,loss", ROWS)
    df = validate(load_observations(p), ["N", "D", "loss"])
    assert df["loss"].tolist() == [r[2] for r in ROWS]


def test_string_tie_word_embeddings_is_an_error_not_true(cli, tmp_path) -> None:
    cfg = json.loads((FIXTURES / "llama-2-7b.json").read_text())
    cfg["tie_word_embeddings"] = "false"
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    code, out, err = cli("count", "--hf-config", str(p))
    _one_error(code, err, str(p), "'tie_word_embeddings'")
    assert "6,607,343,616" not in out
    cfg["tie_word_embeddings"] = False
    p.write_text(json.dumps(cfg))
    from scalinglab.accounting import count_params
    from scalinglab.accounting.hf_config import shape_from_hf_config

    assert count_params(shape_from_hf_config(cfg)).total == 6_738_415_616


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_fit_at_compute_must_be_a_positive_budget(cli, tmp_path, value) -> None:
    p = _csv(tmp_path / "ok.csv", "N,D,loss", ROWS)
    code, out, err = cli("fit", str(p), "--at-compute", value)
    flat = _one_error(code, err)
    assert "option --at-compute" in flat or "option --compute" in flat, err
    assert "alpha" not in out  # refused before fitting


# --------------------------------------------------------------------------- item 13
def test_plan_error_bar_holds_a_value_outside_its_interval() -> None:
    from scalinglab.report.figures import plan_error_bar

    assert plan_error_bar(5.0, [1.0, 3.0]) == [[4.0], [0.0]]
    assert plan_error_bar(0.5, [1.0, 3.0]) == [[0.0], [2.5]]
    assert plan_error_bar(2.0, [1.0, 3.0]) == [[1.0], [1.0]]
    assert plan_error_bar(2.0, None) is None
    assert plan_error_bar(2.0, [float("nan"), 3.0]) is None


def test_allocation_figure_with_a_plan_outside_its_interval(chin_fit_and_plan) -> None:
    from matplotlib.collections import LineCollection

    from scalinglab.report.figures import allocation_figure

    fit, plan = chin_fit_and_plan
    plan.intervals = {"N_opt": [plan.N_opt * 1.5, plan.N_opt * 3.0],
                      "D_opt": [plan.D_opt * 0.2, plan.D_opt * 0.5]}
    fig = allocation_figure(fit=fit, plans=[plan])  # crashed: "yerr must not contain negative"
    for ax, key in zip(fig.axes[:2], ("N_opt", "D_opt")):
        bars = [c for c in ax.collections if isinstance(c, LineCollection)
                and c.get_gid() != "approach3-band"]
        segs = [s for c in bars for s in c.get_segments()]
        assert segs, key
        lo = min(min(s[:, 1]) for s in segs)
        hi = max(max(s[:, 1]) for s in segs)
        v = getattr(plan, key)
        iv = plan.intervals[key]
        assert lo <= v <= hi  # the drawn bar holds the plan's value ...
        assert lo <= iv[0] * 1.000001 and hi >= iv[1] * 0.999999  # ... and its interval


@pytest.fixture(scope="module")
def chin_fit_and_plan():
    import pandas as pd

    import scalinglab
    from scalinglab.plan.optimal import plan_compute

    rows = [(n, d, 1.69 + 406.4 / n ** 0.34 + 410.7 / d ** 0.28)
            for n in (1e7, 3e7, 1e8) for d in (2e8, 1e9, 5e9)]
    df = pd.DataFrame(rows, columns=["N", "D", "loss"])
    fit = scalinglab.fit(df, law="chinchilla")
    return fit, plan_compute(fit, 1e21)

"""MLflow: a file store, a SQLite backend behind a real ``mlflow server``, and the round trip of
a sweep logged with ``--log-to mlflow`` (and ``runs export --to mlflow``) imported back."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from importer_helpers import ALPHA, ALPHA_N, BETA, NC, E, chinchilla, close, grid, power

from scalinglab.errors import InputError, OptionError
from scalinglab.fit import fit
from scalinglab.importers import detect, read_source

mlflow = pytest.importorskip("mlflow", reason="needs the mlflow extra (pip install "
                             "'scalinglab[mlflow]')")


def _log_runs(uri: str, experiment: str, points: list[tuple[float, float]], *,
              law, steps: int = 5, batch: int = 32, context: int = 1024) -> None:
    """Runs through the MLflow client: params (params, batch size, context), the loss at each
    step (the law at the tokens seen by then), one unfinished run (left out)."""
    from mlflow.entities import Metric, Param

    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(experiment)
    for i, (n, d) in enumerate(points):
        total_steps = d / (batch * context)
        run = client.create_run(exp, run_name=f"run{i}")
        rid = run.info.run_id
        params = [Param("n_params", str(int(n))), Param("batch_size", str(batch)),
                  Param("block_size", str(context))]
        metrics = []
        for k in range(1, steps + 1):
            s = round(total_steps * k / steps)
            metrics.append(Metric("val/loss", law(n, s * batch * context), 0, s))
        client.log_batch(rid, metrics=metrics, params=params)
        client.set_terminated(rid, "FINISHED")
    unfinished = client.create_run(exp, run_name="crashed")
    client.log_metric(unfinished.info.run_id, "val/loss", 9.0, step=1)


def test_file_store_chinchilla_recovered(tmp_path):
    store = tmp_path / "mlruns"
    uri = store.as_uri()
    pts = [(n, round(d / 32768) * 32768.0) for n, d in grid()]
    _log_runs(uri, "chin", pts, law=chinchilla)
    assert detect(str(store)) == "mlflow"
    imp = read_source(str(store), experiments=["chin"])
    runs = imp.runs.sort_values("N", kind="stable")
    assert len(runs) == 16  # the unfinished run is left out
    assert set(runs["run_id"]) == set(runs["mlflow_run_id"])
    # D inferred as steps x batch x context (stated), C as 6 N D
    assert "steps x tokens per step" in imp.conventions["D"]
    assert "'batch_size' x 'block_size'" in imp.conventions["D"]
    assert imp.conventions["C"] == "C inferred as 6 N D"
    expected_d = sorted(d for _, d in pts)
    np.testing.assert_allclose(sorted(runs["D"]), expected_d, rtol=1e-12)
    np.testing.assert_allclose(runs["C"], 6 * runs["N"] * runs["D"], rtol=1e-12)
    # the learning curves come along: 5 points per run, tokens = step x 32 x 1024
    cur = imp.curves
    assert cur is not None and len(cur) == 16 * 5
    np.testing.assert_allclose(cur["D"], cur["S"] * 32 * 1024)
    res = fit(str(store), "chinchilla", loss="mse")
    assert res.n_points == 16
    assert close(res.params["alpha"], ALPHA, 0.02) and close(res.params["beta"], BETA, 0.02)
    assert abs(res.params["E"] - E) < 0.02
    assert res.conventions["D"].startswith("D inferred as steps x tokens per step")


def test_filter_and_unknown_experiment(tmp_path):
    uri = (tmp_path / "mlruns").as_uri()
    _log_runs(uri, "pw", [(n, 1e10) for n in (1e7, 1e8, 1e9)], law=lambda n, d: power(n))
    imp = read_source(uri, filter="params.n_params = '100000000'")
    assert list(imp.runs["N"]) == [1e8]
    with pytest.raises(OptionError, match=r"no experiment .nope.*pw"):
        read_source(uri, experiments=["nope"])


def test_unmappable_source_lists_the_keys(tmp_path):
    uri = (tmp_path / "mlruns").as_uri()
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("x")
    rid = client.create_run(exp).info.run_id
    client.log_param(rid, "width", 64)
    client.log_metric(rid, "acc", 0.5, step=3)
    client.set_terminated(rid, "FINISHED")
    with pytest.raises(InputError) as err:
        read_source(uri)
    msg = str(err.value)
    assert "no loss: 1 run(s)" in msg
    assert "Metric keys found: acc" in msg and "Config keys found: width" in msg
    assert "--map loss=KEY" in msg
    with pytest.raises(OptionError, match=r"loss=val: no run .* metric keys: acc"):
        read_source(uri, mapping="loss=val")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def mlflow_server(tmp_path: Path, timeout: float = 90.0) -> Iterator[str]:
    """A real ``mlflow server`` on a SQLite backend, on 127.0.0.1, always terminated."""
    port = _free_port()
    db = tmp_path / "server.db"
    log = open(tmp_path / "server.log", "w")  # closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
         "--default-artifact-root", (tmp_path / "artifacts").as_uri(), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError("mlflow server exited: "
                                   + (tmp_path / "server.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mlflow server not ready in time: "
                                   + (tmp_path / "server.log").read_text()[-2000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_http_server_with_sqlite_backend(tmp_path, cli):
    ns = [3e7, 1e8, 3e8, 1e9]
    with mlflow_server(tmp_path) as url:
        _log_runs(url, "power", [(n, 2 ** 33) for n in ns], law=lambda n, d: power(n))
        out = tmp_path / "runs.csv"
        code, _, stderr = cli("import", url, "--experiment", "power", "--out", str(out))
        assert code == 0, stderr
    res = fit(str(out), "power", x="N", loss="mse")
    table = pd.read_csv(out)
    assert sorted(table["N"]) == ns
    np.testing.assert_allclose(table["D"], 2 ** 33)
    assert set(table["D_convention"]) == {
        "D inferred as steps x tokens per step (tokens per step = 'batch_size' x "
        "'block_size' (32 x 1024))"}
    curves = pd.read_csv(tmp_path / "runs.curves.csv")
    assert len(curves) == 20 and set(curves["run_id"]) == set(table["run_id"])
    assert "4 run(s) from mlflow" in stderr and "D inferred as steps" in stderr
    assert close(res.params["alpha"], ALPHA_N, 1e-4) and close(res.params["Nc"], NC, 1e-3)


# ------------------------------------------------------------------------- round trip
SPEC = {
    "name": "grid", "context": 32, "batch_size": 4,
    "design": {"kind": "grid",
               "models": [{"n_layer": 1, "d_model": 16, "n_head": 1},
                          {"n_layer": 1, "d_model": 32, "n_head": 2},
                          {"n_layer": 2, "d_model": 32, "n_head": 2}],
               "tokens": [2.0e4, 4.0e4]},
}
KEY = ["run_id", "N", "D", "C", "loss", "n_layer", "d_model", "n_head", "tokens", "seed"]


def _same(exported: pd.DataFrame, imported: pd.DataFrame) -> None:
    a = exported[KEY].sort_values("run_id").reset_index(drop=True)
    b = imported[KEY].sort_values("run_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a.astype({c: float for c in KEY[1:]}),
                                  b.astype({c: float for c in KEY[1:]}), rtol=1e-12)


def test_sweep_logged_to_mlflow_imports_back_as_runs_export(tmp_path, cli):
    import sweep_fakes

    from scalinglab.importers.export import MlflowMirror
    from scalinglab.store import export_runs
    from scalinglab.sweep.driver import run_sweep
    from scalinglab.sweep.spec import parse_spec

    store = tmp_path / "runs.db"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mirror = MlflowMirror(uri)
    summary = run_sweep(parse_spec(SPEC), store, run_fn=sweep_fakes.ok_run, workers=1,
                        show_progress=False, on_complete=mirror)
    assert summary.complete and mirror.logged == 6 and mirror.failed is None
    exported = export_runs(store, tmp_path / "export.csv")
    assert detect(str(tmp_path / "mlflow.db")) == "mlflow"
    imp = read_source(uri, experiments=["grid"])
    _same(exported, imp.runs)
    assert set(imp.runs["study"]) == {"grid"}
    # curves: the fake trainer's 3 points, the one at 0 tokens kept in the table
    assert len(imp.curves) == 18
    last = imp.curves.groupby("run_id").tail(1).set_index("run_id")["loss"]
    assert dict(last) == pytest.approx(dict(exported.set_index("run_id")["loss"]), rel=1e-12)
    # report reads the MLflow backend file as a source (not as a run store), curves included
    from scalinglab.report.inputs import load_inputs

    inp = load_inputs(str(tmp_path / "mlflow.db"))
    assert inp.store is None and len(inp.observations) == 6
    assert inp.curves is not None and inp.curves["run_id"].nunique() == 6
    # runs export --to mlflow: runs already mirrored are skipped; to a new tracking store
    # (a file store here) it logs them all and they import back as the same table
    code, out, err = cli("runs", "export", "--store", str(store), "--to", f"mlflow:{uri}")
    assert code == 0, err
    assert "logged 0 completed runs" in out and "(6 already there)" in out
    uri2 = (tmp_path / "mlruns").as_uri()
    code, out, err = cli("runs", "export", "--store", str(store), "--to", f"mlflow:{uri2}")
    assert code == 0, err
    assert "logged 6 completed runs" in out
    _same(exported, read_source(uri2).runs)
    # a law fitted to the imported table: the fake's loss is 1.7 + 400/N^0.34 + 410/D^0.28
    res = fit(imp.runs, "chinchilla", loss="mse", fixed={"E": 1.7, "alpha": 0.34,
                                                         "beta": 0.28})
    assert res.params["A"] == pytest.approx(400.0, rel=1e-3)
    assert res.params["B"] == pytest.approx(410.0, rel=1e-3)


def test_missing_extra_names_the_pip_command(monkeypatch):
    from scalinglab.importers import mapping

    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    with pytest.raises(OptionError, match=r"pip install 'scalinglab\[mlflow\]'"):
        mapping.require("mlflow", "mlflow")

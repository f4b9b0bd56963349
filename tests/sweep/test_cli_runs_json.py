"""Issue 14: ``runs show --json`` was a flag while ``fit --json`` took a file and ``train --json
-`` meant stdout. Now ``--json [PATH|-]`` is the same option on ``runs show`` and ``runs list``
as everywhere: bare or ``-`` is stdout, a path is a file."""

from __future__ import annotations

import json

import pytest
import sweep_fakes

from scalinglab.store import RunStore
from scalinglab.sweep.driver import run_sweep
from scalinglab.sweep.spec import parse_spec


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    spec = {"name": "grid", "context": 32, "batch_size": 4, "max_retries": 0, "seeds": [0],
            "design": {"kind": "grid", "tokens": [2.0e4],
                       "models": [{"n_layer": 1, "d_model": 16, "n_head": 1}]}}
    path = tmp_path_factory.mktemp("json") / "runs.db"
    run_sweep(parse_spec(spec), path, run_fn=sweep_fakes.ok_run, workers=1,
              show_progress=False)
    return path


def test_runs_show_json_bare_dash_or_path(cli, store, tmp_path):
    with RunStore(store, readonly=True) as rs:
        run = rs.runs()[0]
    for argv in (["--json"], ["--json", "-"]):
        code, out, err = cli("runs", "show", run.run_id, *argv, "--store", str(store))
        assert code == 0, err
        assert json.loads(out)["run_id"] == run.run_id
    dest = tmp_path / "run.json"
    code, out, err = cli("runs", "show", run.run_id, "--store", str(store), "--json", str(dest))
    assert code == 0, err
    assert json.loads(dest.read_text())["run_id"] == run.run_id
    assert f"run {run.run_id}" in out  # the text view too, as with every --json PATH


def test_runs_list_json(cli, store):
    code, out, err = cli("runs", "list", "--store", str(store), "--json", "-")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 1 and rows[0]["status"] == "completed"

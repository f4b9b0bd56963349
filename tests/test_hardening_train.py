"""Hardening of ``scalinglab train`` and of the runs of a sweep (issue 17, items 9 and 12):
a corrupt checkpoint (truncated, empty, random bytes) or ``result.json`` is renamed aside with a
warning and the run starts again from scratch, in ``train --resume`` and in a sweep (a plain
rerun and ``--retry-failed`` recover the run); ``train --out`` never deletes another run
without ``--overwrite``; unwritable output paths are refused before training starts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cli_checks import one_error as _one_error

pytest.importorskip("torch")

pytestmark = pytest.mark.train

TINY = ["--n-layer", "1", "--d-model", "16", "--n-head", "1", "--context", "32",
        "--batch-size", "4", "--tokens", "2560", "--eval-tokens", "512", "--ood-data", "none",
        "--threads", "1", "--checkpoint-every", "5", "--quiet"]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALINGLAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("SCALINGLAB_CONCURRENT_RUNS", raising=False)




def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The result of the tiny run, trained once without interruption."""
    import os

    from scalinglab.cli import main

    folder = tmp_path_factory.mktemp("reference")
    old = os.environ.get("SCALINGLAB_CACHE")
    os.environ["SCALINGLAB_CACHE"] = str(tmp_path_factory.getbasetemp() / "cache")
    try:
        with pytest.raises(SystemExit) as info:
            main(["train", *TINY, "--out", str(folder), "--json", str(folder / "r.json")])
    finally:
        if old is None:
            os.environ.pop("SCALINGLAB_CACHE", None)
        else:
            os.environ["SCALINGLAB_CACHE"] = old
    assert info.value.code in (0, None)
    return json.loads((folder / "r.json").read_text())


def _corrupt(kind: str, data: bytes) -> bytes:
    return {"truncated": data[: len(data) // 2], "empty": b"",
            "random": bytes(range(256)) * 64, "pickle": b"\x80\x04K\x07."}[kind]


# --------------------------------------------------------------------------- item 9
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind", ["truncated", "empty", "random", "pickle"])
def test_corrupt_checkpoint_is_quarantined_and_the_run_restarts(cli, tmp_path, reference, kind
                                                                ) -> None:
    out = tmp_path / "run"
    code, _o, err = cli("train", *TINY, "--out", str(out))
    assert code == 0, err
    (out / "result.json").unlink()  # as if killed after its last checkpoint
    bad = _corrupt(kind, (out / "checkpoint.pt").read_bytes())
    (out / "checkpoint.pt").write_bytes(bad)
    code, _o, err = cli("train", *TINY, "--out", str(out), "--resume", "--json",
                        str(tmp_path / "r.json"))
    assert code == 0, err
    flat = " ".join(err.split())
    assert "warning:" in flat and "checkpoint.pt" in flat and "moved it aside" in flat, err
    assert "Traceback" not in err and "Aborted" not in err
    aside = list(out.glob("checkpoint.pt.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == bad  # kept for inspection
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["resumed_from_step"] is None  # from scratch ...
    assert res["final_val_loss"] == reference["final_val_loss"]  # ... to the same result


def test_corrupt_result_is_quarantined_and_the_run_resumes(cli, tmp_path, reference) -> None:
    out = tmp_path / "run"
    code, _o, err = cli("train", *TINY, "--out", str(out))
    assert code == 0, err
    (out / "result.json").write_text('{"config": ')
    code, _o, err = cli("train", *TINY, "--out", str(out), "--resume", "--json",
                        str(tmp_path / "r.json"))
    assert code == 0, err
    assert "moved it aside" in " ".join(err.split())
    assert len(list(out.glob("result.json.corrupt-*"))) == 1
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["final_val_loss"] == reference["final_val_loss"]


def test_a_sweep_recovers_a_run_with_a_corrupt_checkpoint(tmp_path, monkeypatch) -> None:
    from scalinglab.store import RunStore
    from scalinglab.sweep.designs import expand
    from scalinglab.sweep.driver import run_sweep
    from scalinglab.sweep.spec import parse_spec

    spec = parse_spec({"name": "one", "context": 32, "batch_size": 4, "checkpoint_every": 5,
                       "design": {"kind": "grid", "models": [{"n_layer": 1, "d_model": 16,
                                                              "n_head": 1}],
                                  "tokens": [2560.0, 3840.0]},
                       "train": {"eval_tokens": 512, "ood_data": "none"}})
    store = tmp_path / "s.db"
    runs = expand(spec).runs
    with RunStore(store) as rs:  # run 0: failed for good; run 1: pending; both corrupt
        rs.register_study("one", spec.model_dump(mode="json"), runs)
        for _ in range(spec.max_retries + 1):
            rs.start_run(runs[0].run_id, out_dir="x")
            rs.fail_run(runs[0].run_id, "UnpicklingError: invalid load key")
    for r in runs:
        folder = tmp_path / "s.db.runs" / r.run_id
        folder.mkdir(parents=True)
        (folder / "checkpoint.pt").write_bytes(bytes(range(256)) * 16)
    # the pending run recovers on a plain rerun, the failed one with --retry-failed
    summary = run_sweep(spec, store, workers=1, show_progress=False, retry_failed=True)
    assert summary.complete and not summary.failed
    with RunStore(store, readonly=True) as rs:
        done = rs.runs(study="one")
        outcomes = [[a["outcome"] for a in rs.attempts(r.run_id)] for r in done]
    assert [r.status for r in done] == ["completed", "completed"]
    assert outcomes == [["failed"] * (spec.max_retries + 1) + ["completed"], ["completed"]]
    for r in runs:
        folder = tmp_path / "s.db.runs" / r.run_id
        assert len(list(folder.glob("checkpoint.pt.corrupt-*"))) == 1


# --------------------------------------------------------------------------- item 12
@pytest.fixture
def other_run(cli, tmp_path) -> Path:
    """A folder holding a finished run of a different configuration (d_model 32)."""
    out = tmp_path / "other"
    argv = [a if a != "16" else "32" for a in TINY]
    argv[argv.index("--n-head") + 1] = "2"
    code, _o, err = cli("train", *argv, "--out", str(out))
    assert code == 0, err
    return out


def test_train_out_refuses_a_folder_holding_another_run(cli, other_run) -> None:
    before = {n: _sha(other_run / n) for n in ("result.json", "checkpoint.pt")}
    code, _o, err = cli("train", *TINY, "--out", str(other_run))
    _one_error(code, err, "option --out", str(other_run), "result.json", "--overwrite",
               "different configuration", "d_model")
    code, _o, err = cli("train", *TINY, "--out", str(other_run), "--resume")
    assert code == 2, err  # its checkpoint is of another configuration too
    assert {n: _sha(other_run / n) for n in before} == before


def test_train_out_refuses_a_result_of_another_configuration_on_resume(cli, other_run) -> None:
    (other_run / "checkpoint.pt").unlink()
    before = _sha(other_run / "result.json")
    code, _o, err = cli("train", *TINY, "--out", str(other_run), "--resume")
    _one_error(code, err, "option --out", "different configuration", "--overwrite")
    assert _sha(other_run / "result.json") == before


def test_train_overwrite_replaces_the_run(cli, other_run, tmp_path, reference) -> None:
    code, _o, err = cli("train", *TINY, "--out", str(other_run), "--overwrite", "--resume")
    _one_error(code, err, "option --overwrite")
    code, _o, err = cli("train", *TINY, "--out", str(other_run), "--overwrite", "--json",
                        str(tmp_path / "r.json"))
    assert code == 0, err
    res = json.loads((other_run / "result.json").read_text())
    assert res["config"]["d_model"] == 16
    assert res["final_val_loss"] == reference["final_val_loss"]


def test_train_same_run_again_needs_resume_or_overwrite(cli, tmp_path) -> None:
    out = tmp_path / "run"
    code, _o, err = cli("train", *TINY, "--out", str(out))
    assert code == 0, err
    before = _sha(out / "result.json")
    code, _o, err = cli("train", *TINY, "--out", str(out))
    _one_error(code, err, "option --out", "--resume", "--overwrite")
    assert _sha(out / "result.json") == before
    code, _o, err = cli("train", *TINY, "--out", str(out), "--resume")  # the stored result
    assert code == 0, err
    assert _sha(out / "result.json") == before


@pytest.mark.parametrize("target", ["/proc/scalinglab-x", "/proc/self/status/x"])
def test_train_out_that_cannot_be_created(cli, target) -> None:
    code, _o, err = cli("train", *TINY, "--out", target)
    _one_error(code, err, "option --out", target)


def test_train_json_unwritable_is_refused_before_training(cli, tmp_path) -> None:
    out = tmp_path / "run"
    code, _o, err = cli("train", *TINY, "--out", str(out), "--json", "/proc/scalinglab-x.json")
    _one_error(code, err, "option --json", "/proc/scalinglab-x.json")
    assert not (out / "result.json").exists() and not (out / "checkpoint.pt").exists()
    folder = tmp_path / "afolder"
    folder.mkdir()
    code, _o, err = cli("train", *TINY, "--out", str(out), "--json", str(folder))
    _one_error(code, err, "option --json", "folder")
    assert not (out / "result.json").exists()


def test_install_script_states_the_torch_minimum_of_pyproject() -> None:
    """scripts/install.sh explains the ``train`` extra's torch range: the same minimum as
    pyproject.toml (they once said 2.2 and 2.5)."""
    import re

    root = Path(__file__).resolve().parent.parent
    extra = re.search(r'^train = \[(.*)\]$', (root / "pyproject.toml").read_text(), re.M)
    assert extra is not None
    pinned = set(re.findall(r'"torch>=([\d.]+)"', extra.group(1)))
    stated = set(re.findall(r"torch>=([\d.]+)", (root / "scripts" / "install.sh").read_text()))
    assert len(pinned) == 1 and stated == pinned

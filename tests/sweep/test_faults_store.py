"""Faults of the run store as users meet them (issue 17, items 8, 10 and 11): a symlinked store,
a read-only store and a read-only folder, a full disk. Each ends in one clear message (exit
status 2, naming the store, saying what to do), and the store is never harmed: its runs are
unchanged, and a restart completes every run exactly once.

Read-only files and folders are made with a read-only bind mount in a private mount namespace
(``unshare -rm``), so the tests hold for root too (root ignores permission bits); the full disk
is a small tmpfs mounted the same way. Where the system allows no such namespace, those tests
are skipped with the reason, and the disk-full path is still covered by a commit that fails
with SQLite's own "database or disk is full".
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sweep_fakes

from scalinglab.errors import InputError, ScalingLabError
from scalinglab.store import RunStore, StoreWriteError
from scalinglab.sweep.driver import run_sweep, store_lock
from scalinglab.sweep.spec import parse_spec

HERE = Path(__file__).resolve().parent
SPEC9 = {"name": "g9", "context": 32, "batch_size": 4,
         "design": {"kind": "grid",
                    "models": [{"n_layer": 1, "d_model": 16, "n_head": 1},
                               {"n_layer": 1, "d_model": 32, "n_head": 2},
                               {"n_layer": 2, "d_model": 48, "n_head": 3}],
                    "tokens": [2.0e4, 6.0e4, 2.0e5]}}
YAML9 = ("name: g9\ncontext: 32\nbatch_size: 4\ndesign:\n  kind: grid\n  models:\n"
         "    - {n_layer: 1, d_model: 16, n_head: 1}\n    - {n_layer: 1, d_model: 32, n_head: 2}\n"
         "    - {n_layer: 2, d_model: 48, n_head: 3}\n  tokens: [2.0e4, 6.0e4, 2.0e5]\n")



def _one_error(code: int, err: str, *names: str) -> str:
    from cli_checks import one_error  # tests/ is on sys.path in the test process only

    return one_error(code, err, *names)

def _sweep(spec: dict, store: Path, **kw: Any):
    kw.setdefault("workers", 1)
    kw.setdefault("show_progress", False)
    kw.setdefault("run_fn", sweep_fakes.ok_run)
    return run_sweep(parse_spec(spec), store, **kw)


def _digest(store: Path) -> str:
    return hashlib.sha256(store.read_bytes()).hexdigest()


def _snapshot(store: Path) -> list[tuple]:
    with RunStore(store, readonly=True) as rs:
        return [(r.run_id, r.status, r.attempts, json.dumps(r.metrics, sort_keys=True))
                for r in rs.runs()]




@pytest.fixture(scope="module")
def store9(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 9 completed runs (fake trainer); copy it before changing anything."""
    store = tmp_path_factory.mktemp("store9") / "s.db"
    summary = _sweep(SPEC9, store, workers=2)
    assert summary.complete
    return store


def _copy_store(store: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "s.db"
    src, dst = sqlite3.connect(store), sqlite3.connect(out)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = WAL").fetchone()  # as a sweep leaves it
    finally:
        src.close()
        dst.close()  # the last connection: no -wal or -shm left beside it
    return out


# --------------------------------------------------------------------------- namespaces
@functools.cache
def _namespace_problem() -> str | None:
    """Why read-only bind mounts and a tmpfs cannot be made here (None: they can)."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return "needs Linux and unshare(1)"
    probe = Path(os.environ.get("TMPDIR", "/tmp"))
    proc = subprocess.run(["unshare", "-rm", "sh", "-c",
                           f'mount -t tmpfs -o size=64k none "{probe}" && '
                           f'mount --bind "{probe}" "{probe}" && '
                           f'mount -o remount,ro,bind "{probe}" "{probe}"'],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        return ("cannot mount in a private namespace here (unshare -rm: "
                f"{proc.stderr.strip()[:200]})")
    return None


CLI_SCRIPT = textwrap.dedent("""
    import contextlib, io, json, sys
    sys.path.insert(0, {here!r})
    from scalinglab.cli import main
    results = []
    for argv in json.loads(sys.argv[1]):
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (exc.code is not None)
        results.append([code, out.getvalue(), err.getvalue()])
    print("@@" + json.dumps(results))
""")


def _cli_read_only(target: Path, commands: list[list[str]]) -> list[tuple[int, str, str]]:
    """Run CLI commands (in one process) where ``target`` is a read-only bind mount."""
    problem = _namespace_problem()
    if problem:
        pytest.skip(problem)
    script = CLI_SCRIPT.format(here=str(HERE))
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c",
         'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && '
         'exec "$2" -c "$3" "$4"', "sh", str(target), sys.executable, script,
         json.dumps(commands)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@")), None)
    assert line is not None, proc.stdout[-2000:] + proc.stderr[-3000:]
    return [tuple(r) for r in json.loads(line[2:])]


# --------------------------------------------------------------------------- item 10
def test_read_only_folder_reads_fine_and_a_sweep_is_refused(store9, tmp_path) -> None:
    folder = tmp_path / "ro"
    store = _copy_store(store9, folder)
    assert not (folder / "s.db-shm").exists()  # so mode=ro alone could not open it
    before, snap = _digest(store), _snapshot(store)
    spec = tmp_path / "g9.yaml"
    spec.write_text(YAML9)
    out = tmp_path / "out"
    out.mkdir()
    results = _cli_read_only(folder, [
        ["runs", "list", "--store", str(store)],
        ["runs", "export", "--store", str(store), "--out", str(out / "runs.csv")],
        ["fit", str(store)],
        ["report", str(store), "--bootstrap", "0", "-o", str(out / "r.html")],
        ["sweep", "run", str(spec), "--store", str(store), "--quiet"],
    ])
    for (code, stdout, err), what in zip(results[:4], ("list", "export", "fit", "report")):
        assert code == 0, (what, stdout[-1000:], err[-2000:])
        assert "not a scalinglab run store" not in err
    assert "9 runs in" in results[0][1]
    assert len((out / "runs.csv").read_text().splitlines()) == 10
    assert "alpha" in results[2][1]
    assert (out / "r.html").stat().st_size > 0
    code, _stdout, err = results[4]
    _one_error(code, err, str(store), "read-only")
    assert _digest(store) == before and _snapshot(store) == snap


def test_read_only_store_file_is_refused_by_a_sweep_and_read_by_runs_list(store9, tmp_path
                                                                          ) -> None:
    store = _copy_store(store9, tmp_path / "rw")
    before, snap = _digest(store), _snapshot(store)
    spec = tmp_path / "g9.yaml"
    spec.write_text(YAML9)
    results = _cli_read_only(store, [
        ["sweep", "run", str(spec), "--store", str(store), "--quiet"],
        ["runs", "list", "--store", str(store)],
    ])
    code, _out, err = results[0]
    _one_error(code, err, str(store), "read-only", "its file")
    assert results[1][0] == 0 and "9 runs in" in results[1][1], results[1]
    assert _digest(store) == before and _snapshot(store) == snap


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="permission bits do not bind root (the bind-mount tests cover it)")
def test_chmod_read_only_store_and_folder(store9, tmp_path, cli) -> None:
    folder = tmp_path / "ro"
    store = _copy_store(store9, folder)
    snap = _snapshot(store)
    store.chmod(0o444)
    with pytest.raises(InputError, match="read-only"):
        _sweep(SPEC9, store)
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError, match="read-only"):
            _sweep(SPEC9, store)
        code, out, err = cli("runs", "list", "--store", str(store))
        assert code == 0 and "9 runs in" in out, err
    finally:
        folder.chmod(0o755)
        store.chmod(0o644)
    assert _snapshot(store) == snap


# --------------------------------------------------------------------------- item 8
def test_a_symlink_to_a_store_takes_the_same_lock(store9, tmp_path) -> None:
    store = _copy_store(store9, tmp_path)
    link = tmp_path / "l.db"
    link.symlink_to(store.name)
    snap = _snapshot(store)
    with store_lock(store), pytest.raises(InputError, match="another sweep is running"):
        _sweep(SPEC9, link)
    with store_lock(link), pytest.raises(InputError, match="another sweep is running"):
        _sweep(SPEC9, store)
    assert _snapshot(store) == snap


GATE = "go"


def gated_run(config: dict, out_dir: Path, threads: int) -> dict:
    """``ok_run`` once the file ``GATE`` exists beside the store (a run that holds its driver
    for as long as a test needs)."""
    import time

    gate = Path(out_dir).parent.parent / GATE
    deadline = time.monotonic() + 120
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return sweep_fakes.ok_run(config, out_dir, threads)


def test_two_drivers_through_a_symlink_train_each_run_once(tmp_path) -> None:
    import time

    store = tmp_path / "s.db"
    link = tmp_path / "l.db"
    link.symlink_to(store.name)
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        import test_faults_store as t
        from scalinglab.errors import InputError
        from scalinglab.sweep.driver import run_sweep
        from scalinglab.sweep.spec import parse_spec
        if __name__ == "__main__":
            try:
                run_sweep(parse_spec(t.SPEC9), sys.argv[1], run_fn=t.gated_run, workers=1,
                          show_progress=False)
                print("@@done")
            except InputError as exc:
                print("@@refused", exc)
    """)
    script = tmp_path / "drive.py"
    script.write_text(code)
    first = subprocess.Popen([sys.executable, str(script), str(store)], stdout=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.monotonic() + 120  # the first driver holds the lock, its run waits
        while time.monotonic() < deadline and not any(
                r.status == "running" for r in _runs(store)):
            time.sleep(0.1)
        second = subprocess.run([sys.executable, str(script), str(link)], capture_output=True,
                                text=True, timeout=120)
    finally:
        (tmp_path / GATE).touch()
    out1, _ = first.communicate(timeout=120)
    assert "@@done" in out1
    assert "@@refused" in second.stdout and "another sweep is running" in second.stdout
    with RunStore(store, readonly=True) as rs:
        runs = rs.runs()
    assert len(runs) == 9 and all(r.status == "completed" and r.attempts == 1 for r in runs)
    assert all(sweep_fakes.calls(tmp_path / "s.db.runs" / r.run_id) == 1 for r in runs)
    assert not (tmp_path / "l.db.runs").exists()  # run folders beside the real file


def _runs(store: Path) -> list:
    try:
        with RunStore(store, readonly=True) as rs:
            return rs.runs()
    except InputError:  # not created yet, or created without its tables yet
        return []


# --------------------------------------------------------------------------- item 11
class _FullDisk:
    """A connection whose commits of a run's result fail as SQLite's do on a full disk."""

    def __init__(self, conn: sqlite3.Connection, fail: list[int]) -> None:
        self._conn, self._fail, self._result = conn, fail, False

    def execute(self, sql: str, *args: Any) -> Any:
        if "SET status = 'completed'" in sql:
            self._result = True
        if sql == "COMMIT" and self._result:
            self._result = False
            if self._fail[0] > 0:
                self._fail[0] -= 1
                raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_a_commit_on_a_full_disk_ends_cleanly_and_the_restart_completes(tmp_path, monkeypatch,
                                                                       cli) -> None:
    import scalinglab.store.runstore as runstore

    real_connect = runstore.connect
    fail = [1]
    monkeypatch.setattr(runstore, "connect",
                        lambda *a, **k: _FullDisk(real_connect(*a, **k), fail))
    store = tmp_path / "s.db"
    with pytest.raises(StoreWriteError) as info:
        _sweep(SPEC9, store, workers=2)
    message = str(info.value)
    assert str(store) in message and "disk is full" in message
    assert "run the same command again to resume" in message
    with RunStore(store, readonly=True) as rs:  # rolled back: nothing half-written
        runs = rs.runs()
        assert rs._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        completed = [r for r in runs if r.status == "completed"]
        assert all(rs.curve(r.run_id) for r in completed)
    assert len(runs) == 9 and len(completed) < 9
    # the CLI says the same in one line (exit 2, no traceback)
    import scalinglab.sweep.driver as driver

    fail[0] = 1
    monkeypatch.setattr(driver, "train_run", sweep_fakes.ok_run)
    real_sweep = driver.run_sweep
    monkeypatch.setattr(driver, "run_sweep",
                        lambda *a, **k: real_sweep(*a, **{**k, "run_fn": sweep_fakes.ok_run}))
    spec = tmp_path / "g9.yaml"
    spec.write_text(YAML9)
    code, _out, err = cli("sweep", "run", str(spec), "--store", str(store), "--quiet")
    _one_error(code, err, str(store), "disk is full", "run the same command again to resume")
    # space is back: the same command completes every run, each once
    monkeypatch.setattr(runstore, "connect", real_connect)
    summary = _sweep(SPEC9, store, workers=2)
    assert summary.complete
    with RunStore(store, readonly=True) as rs:
        runs = rs.runs()
        n_rows = rs._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert n_rows == 9 and all(r.status == "completed" for r in runs)
    for r in completed:  # results committed before the failure were kept as they were
        assert next(x for x in runs if x.run_id == r.run_id).metrics == r.metrics


FILL_MARK = "fill-the-disk"


def filling_run(config: dict, out_dir: Path, threads: int) -> dict:
    """``ok_run``, but while ``FILL_MARK`` exists beside the store it first fills the disk."""
    result = sweep_fakes.ok_run(config, out_dir, threads)
    root = Path(out_dir).parent.parent
    if (root / FILL_MARK).exists():
        with open(root / "filler", "ab") as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
    return result


DISK_SCRIPT = textwrap.dedent("""
    import json, os, sqlite3, sys
    from pathlib import Path
    sys.path.insert(0, {here!r})
    import test_faults_store as t
    from scalinglab.errors import ScalingLabError
    from scalinglab.store import RunStore
    from scalinglab.sweep.driver import run_sweep
    from scalinglab.sweep.spec import parse_spec
    if __name__ == "__main__":
        root = Path(sys.argv[1])
        store = root / "s.db"
        spec = parse_spec(t.SPEC9)
        run_sweep(spec, store, run_fn=t.filling_run, workers=1, show_progress=False,
                  max_retries=0)  # registers the study; nothing fills yet ...
        out = {{}}
        (root / t.FILL_MARK).touch()
        spec2 = parse_spec({{**t.SPEC9, "name": "g9b", "seeds": [1]}})  # 9 runs, disk full
        try:
            run_sweep(spec2, store, run_fn=t.filling_run, workers=1, show_progress=False)
            out["error"] = None
        except ScalingLabError as exc:
            out["error"] = str(exc)
        (root / t.FILL_MARK).unlink()
        (root / "filler").unlink()
        with RunStore(store, readonly=True) as rs:
            out["integrity"] = rs._conn.execute("PRAGMA integrity_check").fetchone()[0]
            out["first"] = [r.status for r in rs.runs(study="g9")]
        s = run_sweep(spec2, store, run_fn=t.filling_run, workers=1, show_progress=False)
        with RunStore(store, readonly=True) as rs:
            out["after"] = [r.status for r in rs.runs(study="g9b")]
            out["first_after"] = [r.status for r in rs.runs(study="g9")]
            out["rows"] = rs._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        out["complete"] = s.complete
        print("@@" + json.dumps(out))
""")


def test_a_really_full_disk_ends_cleanly_and_the_restart_completes(tmp_path) -> None:
    problem = _namespace_problem()
    if problem:
        pytest.skip(problem)
    root = tmp_path / "small"
    root.mkdir()
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c",
         'mount -t tmpfs -o size=2m none "$1" && exec "$2" -c "$3" "$1"', "sh", str(root),
         sys.executable, DISK_SCRIPT.format(here=str(HERE))],
        capture_output=True, text=True, timeout=300)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@")), None)
    assert line is not None, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = json.loads(line[2:])
    assert out["error"] and "could not write to the run store" in out["error"], out
    assert "run the same command again to resume" in out["error"]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert out["integrity"] == "ok"
    assert out["first"] == ["completed"] * 9  # the first study was untouched
    assert out["complete"] and out["rows"] == 18
    assert out["after"] == ["completed"] * 9 and out["first_after"] == ["completed"] * 9


def test_store_write_error_is_a_clean_cli_error() -> None:
    exc = StoreWriteError(Path("x.db"), sqlite3.OperationalError("attempt to write a readonly "
                                                                 "database"))
    assert isinstance(exc, ScalingLabError) and exc.exit_code == 2
    assert str(exc).startswith("file x.db: could not write to the run store")

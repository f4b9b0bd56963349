"""The sweep with the real trainer (tiny models on the built-in corpus): a driver SIGKILLed
mid-sweep and restarted (local pool and Ray), Ctrl-C, and an IsoFLOP study fitted end to end.

Drivers run as ``python -m scalinglab sweep run ...`` subprocesses in their own session, so
that whatever a killed driver leaves behind (Ray's agent processes) can be ended by its
process-group id.

The local-pool test does not race the trainer: the worker training the run chosen to be caught
mid-way is frozen (SIGSTOP; found by the ``flock`` it holds on its run folder) while the
driver is killed or interrupted, and thawed only once the signal has landed, so the run is
mid-way whatever the machine's load.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from scalinglab.errors import InputError
from scalinglab.store import RunStore, read_observations

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

pytestmark = [pytest.mark.train, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

GRID6 = {
    "name": "grid6",
    "context": 32,
    "batch_size": 8,
    "checkpoint_every": 10,
    "design": {"kind": "grid",
               "models": [{"n_layer": 1, "d_model": 16, "n_head": 1},
                          {"n_layer": 1, "d_model": 32, "n_head": 2}],
               "tokens": [3.0e4, 6.0e4, 9.0e4]},
    "train": {"eval_tokens": 2048, "ood_data": "none"},
}


def _driver(spec: Path, store: Path, log: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "scalinglab", "sweep", "run", str(spec), "--store", str(store),
           "--quiet", *extra]
    with open(log, "ab") as fh:
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _end(proc: subprocess.Popen, timeout: float = 240) -> int:
    """Wait for a driver, then end anything left in its process group (Ray's agents)."""
    try:
        code = proc.wait(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return code


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _runs(store: Path) -> list:
    if not store.exists():
        return []
    try:
        with RunStore(store, readonly=True) as rs:
            return rs.runs()
    except InputError:  # the driver has created the file but not yet its tables
        return []


def _midway(run) -> bool:
    """A run that has a checkpoint and well under 70% of its tokens done (so that it cannot
    finish before the kill lands)."""
    folder = Path(run.out_dir or "/nonexistent")
    if not (folder / "checkpoint.pt").exists() or (folder / "result.json").exists():
        return False
    try:
        last = (folder / "curve.csv").read_text().strip().splitlines()[-1].split(",")
        return float(last[1]) < 0.7 * run.config["tokens"]
    except (OSError, IndexError, ValueError):
        return False


def _checkpointed_run_in_flight(store: Path) -> bool:
    runs = _runs(store)
    done = sum(r.status == "completed" for r in runs)
    return done >= 1 and any(r.status == "running" and _midway(r) for r in runs)


def _folders_free(store: Path) -> bool:
    """No process still trains in a run folder (a killed driver's workers have exited)."""
    if fcntl is None:
        return True
    for lock in (store.parent / (store.name + ".runs")).glob("*/.lock"):
        with open(lock, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(fh, fcntl.LOCK_UN)
    return True


def _worker_of(folder: Path) -> int | None:
    """The pid of the process holding the ``flock`` of a run folder (the worker training it),
    from /proc/locks."""
    try:
        st = (folder / ".lock").stat()
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        f = line.split()
        if len(f) >= 6 and f[1] == "FLOCK" and f[5] == key:
            return int(f[4])
    return None


def _sigint_pending(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # gone: nothing to wait for
    masks = [int(ln.split()[1], 16) for ln in status.splitlines()
             if ln.startswith(("SigPnd:", "ShdPnd:"))]
    return any(m & (1 << (signal.SIGINT - 1)) for m in masks)


def _in_loop(run, since: float) -> bool:
    """A run of this driver inside its training loop: it has written a checkpoint since
    ``since`` (so its Ctrl-C handler is in place) and has no result yet."""
    folder = Path(run.out_dir or "/nonexistent")
    try:
        fresh = (folder / "checkpoint.pt").stat().st_mtime > since
    except OSError:
        return False
    return fresh and not (folder / "result.json").exists()


def _freeze(store: Path, ready: Callable, since: float = 0.0, timeout: float = 180) -> int:
    """Wait for a run in flight (started after ``since``) for which ``ready(run)`` holds,
    freeze its worker (SIGSTOP), and return the worker's pid once ``ready`` still holds for
    the frozen run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in _runs(store):
            if r.status != "running" or (r.started_at or 0) <= since or not ready(r):
                continue
            pid = _worker_of(Path(r.out_dir))
            if pid is None:
                continue
            os.kill(pid, signal.SIGSTOP)
            if ready(r):  # still so now that it cannot move
                return pid
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.2)
    raise AssertionError("timed out waiting for a checkpointed run in flight")


def _assert_six_completed_once(store: Path, before: dict) -> list:
    with RunStore(store, readonly=True) as rs:
        runs = rs.runs(study="grid6")
        n_rows = rs._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        n_members = rs._conn.execute("SELECT COUNT(*) FROM study_runs").fetchone()[0]
        curves = {r.run_id: len(rs.curve(r.run_id)) for r in runs}
    assert [r.status for r in runs] == ["completed"] * 6
    assert n_rows == 6 and n_members == 6 and len({r.run_id for r in runs}) == 6
    assert all(n >= 2 for n in curves.values())
    for r in runs:  # runs finished before the kill were neither lost nor run again
        if r.run_id in before:
            assert (r.finished_at, r.metrics["final_val_loss"]) == before[r.run_id]
        assert r.metrics["tokens"] >= r.config["tokens"]
        assert math.isfinite(r.metrics["final_val_loss"])
    return runs


def _sigkill_then_finish(tmp_path: Path, *extra: str, ctrl_c: bool = False,
                         resumed: bool = True, freeze: bool = False) -> list:
    spec = tmp_path / "grid6.yaml"
    spec.write_text(yaml.safe_dump(GRID6))
    store = tmp_path / "runs.db"
    log = tmp_path / "driver.log"
    first = _driver(spec, store, log, "--workers", "2", *extra)
    frozen = None
    try:
        _wait(lambda: _checkpointed_run_in_flight(store), 180,
              "a completed run and a checkpointed run in flight")
        if freeze:
            frozen = _freeze(store, _midway)
    finally:
        first.send_signal(signal.SIGKILL)
        _end(first)
        if frozen is not None:  # thawed: it sees its driver gone, checkpoints and exits
            os.kill(frozen, signal.SIGCONT)
    before = {r.run_id: (r.finished_at, r.metrics["final_val_loss"])
              for r in _runs(store) if r.status == "completed"}
    assert 1 <= len(before) < 6
    _wait(lambda: _folders_free(store), 60, "the killed driver's workers to exit")
    if ctrl_c:  # a restart interrupted by Ctrl-C stops cleanly and fails nothing
        since = time.time()
        second = _driver(spec, store, log, "--workers", "2", *extra)
        _wait(lambda: any((r.started_at or 0) > since and r.status == "running"
                          for r in _runs(store)), 120, "the restart to start a run")
        if freeze:  # Ctrl-C lands while a run is mid-way, however loaded the machine is
            frozen = _freeze(store, lambda r: _in_loop(r, since), since)
            second.send_signal(signal.SIGINT)
            _wait(lambda: _sigint_pending(frozen), 60, "the driver to pass on the Ctrl-C")
            os.kill(frozen, signal.SIGCONT)
        else:
            time.sleep(1.0)
            second.send_signal(signal.SIGINT)
        assert _end(second) == 130, log.read_text()[-2000:]
        runs = _runs(store)
        assert not any(r.status in ("running", "failed") for r in runs), [
            (r.status, r.error) for r in runs]
        before.update({r.run_id: (r.finished_at, r.metrics["final_val_loss"])
                       for r in runs if r.status == "completed"})
    last = _driver(spec, store, log, "--workers", "2", *extra)
    assert _end(last) == 0, log.read_text()[-3000:]
    runs = _assert_six_completed_once(store, before)
    with RunStore(store, readonly=True) as rs:
        history = {r.run_id: ([a["outcome"] for a in rs.attempts(r.run_id)],
                              r.metrics.get("resumed_from_step")) for r in runs}
    # runs in flight at the kill were closed as interrupted and completed by a later driver
    assert any(h[0][:1] == ["interrupted"] and h[0][-1] == "completed"
               for h in history.values()), history
    if resumed:  # ... from the checkpoint they had written
        assert any(step for _, step in history.values()), history
    return runs


def test_sigkill_of_the_local_driver_loses_and_duplicates_nothing(tmp_path):
    if not Path("/proc/locks").exists():
        pytest.skip("needs /proc/locks to find the worker of a run")
    runs = _sigkill_then_finish(tmp_path, ctrl_c=True, freeze=True)
    with RunStore(tmp_path / "runs.db", readonly=True) as rs:
        outcomes = {a["outcome"] for r in runs for a in rs.attempts(r.run_id)}
    assert "interrupted" in outcomes and "failed" not in outcomes


@pytest.mark.ray
def test_sigkill_of_the_ray_driver_loses_and_duplicates_nothing(tmp_path):
    # Ray takes a moment to stop a dead driver's tasks: a task may finish its run first, and
    # the restart then takes that run's result from its folder instead of resuming it.
    _sigkill_then_finish(tmp_path, "--executor", "ray", resumed=False)


def test_isoflop_study_on_the_builtin_corpus_fitted_end_to_end(tmp_path, cli):
    import scalinglab

    store = tmp_path / "iso.db"
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "scalinglab", "sweep", "run",
         str(ROOT / "examples" / "isoflop-tiny.yaml"), "--store", str(store)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "11/11 completed" in proc.stdout
    obs = read_observations(store)
    assert len(obs) == 11
    # every point spends its budget: C = 6 N D within the rounding of D to whole steps
    ratio = obs["C"] / obs["C_budget"]
    assert ((ratio > 0.99) & (ratio < 1.03)).all()
    # a larger budget buys a lower best loss
    best = obs.groupby("C_budget")["loss"].min().sort_index()
    assert best.is_monotonic_decreasing and best.iloc[0] - best.iloc[-1] > 0.2
    code, out, err = cli("fit", str(store), "--law", "chinchilla")
    assert code == 0, err
    assert "alpha" in out and "beta" in out
    result = scalinglab.fit(store, law="chinchilla")
    assert set(result.params) >= {"E", "A", "B", "alpha", "beta"}
    assert all(math.isfinite(v) for v in result.params.values())
    assert 0 < result.params["alpha"] < 3 and 0 < result.params["beta"] < 3
    assert time.monotonic() - t0 < 150

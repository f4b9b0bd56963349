"""The sweep driver with stand-in run functions: crash isolation, retries, resumption,
locking, Ctrl-C. (The real trainer is exercised in test_sweep_e2e.py.)"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sweep_fakes
from rich.console import Console

from scalinglab.errors import InputError, OptionError
from scalinglab.store import RunStore
from scalinglab.sweep.driver import run_sweep, store_lock
from scalinglab.sweep.resources import plan_slots
from scalinglab.sweep.spec import parse_spec

HERE = Path(__file__).resolve().parent


def _run(spec, store, **kw):
    kw.setdefault("workers", 2)
    kw.setdefault("show_progress", False)
    return run_sweep(parse_spec(spec), store, run_fn=sweep_fakes.ok_run, **kw)


def _calls(store: Path, run_id: str) -> int:
    return sweep_fakes.calls(store.parent / (store.name + ".runs") / run_id)


def test_crashing_runs_are_recorded_retried_and_the_others_go_on(tmp_path, grid_spec):
    grid_spec["design"]["tokens"] = [2e4]
    grid_spec["seeds"] = [0, sweep_fakes.RAISE_SEED, sweep_fakes.CRASH_SEED]
    grid_spec["max_retries"] = 1
    store = tmp_path / "s.db"
    summary = _run(grid_spec, store)
    assert summary.counts["completed"] == 2 and summary.counts["failed"] == 4
    assert len(summary.failed) == 4 and not summary.complete
    with RunStore(store, readonly=True) as rs:
        runs = rs.runs(study="grid")
    for r in runs:
        seed = r.config["seed"]
        if seed == 0:
            assert r.status == "completed" and r.attempts == 1
            assert r.metrics["final_val_loss"] > 1.7
        else:
            assert r.status == "failed" and r.attempts == 2 and r.failures == 2
            assert _calls(store, r.run_id) == 2
            if seed == sweep_fakes.RAISE_SEED:
                assert "ValueError: deliberate failure" in r.error
                assert "Traceback" in r.error
            else:
                assert "worker process running this run died (exit code 7)" in r.error


def test_a_run_that_fails_once_succeeds_on_retry(tmp_path, grid_spec):
    grid_spec["design"]["tokens"] = [2e4]
    grid_spec["seeds"] = [sweep_fakes.FLAKY_SEED]
    store = tmp_path / "s.db"
    assert _run(grid_spec, store, workers=1).complete
    with RunStore(store, readonly=True) as rs:
        for r in rs.runs():
            assert (r.status, r.attempts, r.failures, r.error) == ("completed", 2, 1, None)
            assert [a["outcome"] for a in rs.attempts(r.run_id)] == ["failed", "completed"]


def test_a_restart_skips_completed_runs_and_resumes_interrupted_ones(tmp_path, grid_spec):
    store = tmp_path / "s.db"
    assert _run(grid_spec, store).complete
    with RunStore(store) as rs:
        runs = rs.runs()
        first_finish = {r.run_id: r.finished_at for r in runs}
        # as a driver killed mid-run leaves it: one run still "running", no result
        victim = runs[2].run_id
        rs._conn.execute("UPDATE runs SET status='pending', metrics=NULL WHERE run_id=?",
                         (victim,))
        rs.start_run(victim, out_dir="x")
    summary = _run(grid_spec, store)
    assert summary.complete and summary.finished == 1 and summary.new_runs == 0
    with RunStore(store, readonly=True) as rs:
        runs = rs.runs()
        assert len(runs) == 4 and len({r.run_id for r in runs}) == 4
        n_rows = rs._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        assert n_rows == 4
        for r in runs:
            assert _calls(store, r.run_id) == (2 if r.run_id == victim else 1)
            if r.run_id != victim:
                assert r.finished_at == first_finish[r.run_id]
        assert [a["outcome"] for a in rs.attempts(victim)] == ["completed", "interrupted",
                                                              "completed"]


def test_runs_out_of_retries_wait_for_retry_failed(tmp_path, grid_spec):
    grid_spec["design"]["tokens"] = [2e4]
    grid_spec["seeds"] = [sweep_fakes.RAISE_SEED]
    grid_spec["max_retries"] = 0
    store = tmp_path / "s.db"
    assert _run(grid_spec, store).counts["failed"] == 2
    again = _run(grid_spec, store)
    assert again.finished == 0 and not again.failed
    with RunStore(store, readonly=True) as rs:
        assert all(_calls(store, r.run_id) == 1 for r in rs.runs())
    _run(grid_spec, store, retry_failed=True)
    with RunStore(store, readonly=True) as rs:
        assert all(_calls(store, r.run_id) == 2 for r in rs.runs())


def test_one_driver_per_store(tmp_path, grid_spec):
    store = tmp_path / "s.db"
    with store_lock(store), pytest.raises(InputError, match="another sweep is running"):
        _run(grid_spec, store)
    assert _run(grid_spec, store).complete  # the lock is gone with its holder


def test_workers_share_the_cores():
    assert plan_slots(10, cores=8) == plan_slots(10, cores=8, workers=8)
    assert plan_slots(10, cores=8).threads == 1
    assert plan_slots(3, cores=8).workers == 3 and plan_slots(3, cores=8).threads == 2
    big = plan_slots(10, cores=8, largest_model=50_000_000)
    assert (big.workers, big.threads) == (2, 4)
    assert plan_slots(10, cores=2, workers=1).threads == 2
    gpu = plan_slots(10, cores=16, gpus=["0", "1"])
    assert (gpu.workers, gpu.threads, gpu.gpus) == (2, 8, ("0", "1"))


def test_each_run_gets_its_share_of_threads(tmp_path, grid_spec):
    store = tmp_path / "s.db"
    _run(grid_spec, store, workers=1)
    with RunStore(store, readonly=True) as rs:
        threads = {r.metrics["threads"] for r in rs.runs()}
    from scalinglab.sweep.resources import available_cores

    assert threads == {available_cores()}


def test_progress_lines_when_not_on_a_terminal(tmp_path, grid_spec):
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=200)
    run_sweep(parse_spec(grid_spec), tmp_path / "s.db", run_fn=sweep_fakes.ok_run, workers=2,
              console=console)
    lines = buf.getvalue().splitlines()
    assert sum("started" in ln for ln in lines) == 4
    assert sum("completed: loss" in ln for ln in lines) == 4
    assert all(ln.startswith("[grid] run ") for ln in lines)


def test_live_table_shows_status_loss_and_eta(tmp_path, grid_spec):
    from scalinglab.sweep.progress import SweepView

    with RunStore(tmp_path / "s.db") as rs:
        from scalinglab.sweep.designs import expand

        spec = parse_spec(grid_spec)
        rs.register_study("grid", {}, expand(spec).runs)
        runs = rs.runs()
    out = tmp_path / "run0"
    out.mkdir()
    (out / "curve.csv").write_text("step,tokens,val_loss\n0,0,5.5\n")
    view = SweepView("grid", runs, Console(file=io.StringIO(), width=200))
    view.started(runs[0].run_id, 1, out)
    view.views[runs[0].run_id].poll(1000.0)
    (out / "curve.csv").write_text("step,tokens,val_loss\n0,0,5.5\n10,5000,3.25\n")
    view.views[runs[0].run_id].poll(1002.0)
    v = view.views[runs[0].run_id]
    assert (v.tokens, v.loss, v.rate) == (5000.0, 3.25, 2500.0)
    assert v.eta == pytest.approx((20000 - 5000) / 2500.0)
    text = Console(file=io.StringIO(), width=200, record=True)
    text.print(view.render())
    shown = text.export_text()
    assert "0/4 completed, 1 running, 3 pending" in shown
    assert "3.2500" in shown and "25%" in shown and "0:06" in shown


SCRIPT = """
import json, sys
sys.path.insert(0, {here!r})
import sweep_fakes
from scalinglab.sweep.driver import run_sweep
from scalinglab.sweep.spec import parse_spec
spec = parse_spec(json.loads({spec!r}))
s = run_sweep(spec, {store!r}, run_fn=sweep_fakes.ok_run, workers=2, show_progress=False)
print(json.dumps({{"interrupted": s.interrupted, "counts": s.counts}}))
"""


def test_ctrl_c_stops_cleanly_and_the_runs_resume(tmp_path, grid_spec):
    store = tmp_path / "s.db"
    script = SCRIPT.format(here=str(HERE), spec=json.dumps(grid_spec), store=str(store))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, sweep_fakes.SLEEP_ENV: "30"})
    deadline = time.monotonic() + 60
    running = 0
    while time.monotonic() < deadline and running < 2:
        time.sleep(0.3)
        if store.exists():
            with RunStore(store, readonly=True) as rs:
                running = rs.counts()["running"]
    assert running == 2
    time.sleep(1.0)  # let the workers enter the run function
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 20
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["interrupted"] is True
    assert result["counts"] == {"pending": 4, "running": 0, "completed": 0, "failed": 0}
    with RunStore(store, readonly=True) as rs:
        assert all(r.failures == 0 for r in rs.runs())
        outcomes = [a["outcome"] for r in rs.runs() for a in rs.attempts(r.run_id)]
        assert outcomes == ["interrupted", "interrupted"]
    assert "Traceback" not in err


@pytest.mark.ray
def test_ray_executor_records_crashes_and_goes_on(tmp_path, grid_spec):
    import ray

    ray.cloudpickle.register_pickle_by_value(sweep_fakes)  # Ray workers lack tests/ on sys.path
    grid_spec["design"]["tokens"] = [2e4]
    grid_spec["seeds"] = [0, sweep_fakes.RAISE_SEED, sweep_fakes.CRASH_SEED]
    grid_spec["max_retries"] = 0
    store = tmp_path / "s.db"
    summary = _run(grid_spec, store, executor="ray", ray_num_cpus=2)
    assert not ray.is_initialized()  # the instance the sweep started is shut down
    assert summary.counts["completed"] == 2 and summary.counts["failed"] == 4
    with RunStore(store, readonly=True) as rs:
        errors = {r.config["seed"]: r.error for r in rs.runs() if r.status == "failed"}
    assert "deliberate failure" in errors[sweep_fakes.RAISE_SEED]
    assert errors[sweep_fakes.CRASH_SEED].startswith(("WorkerCrashedError", "RayError",
                                                      "ActorDiedError", "NodeDiedError"))


@pytest.mark.ray
def test_ray_address_that_does_not_answer_fails_fast(tmp_path, grid_spec):
    t0 = time.monotonic()
    with pytest.raises(OptionError, match=r"no Ray cluster answers at 127\.0\.0\.1:1"):
        _run(grid_spec, tmp_path / "s.db", executor="ray", address="127.0.0.1:1")
    assert time.monotonic() - t0 < 30


def test_an_interrupt_right_after_dispatch_is_never_a_failure(tmp_path):
    from scalinglab.sweep.local import LocalExecutor
    from scalinglab.sweep.worker import RunTask

    config = {"n_layer": 1, "d_model": 16, "n_head": 1, "context": 32, "tokens": 1000,
              "sleep_s": 30}
    with LocalExecutor(2, sweep_fakes.ok_run) as ex:
        for i in range(2):
            ex.submit(RunTask(f"r{i}", config, str(tmp_path / f"r{i}"), 1))
        ex.interrupt()  # at once: maybe before a worker has even read its task
        outcomes = []
        deadline = time.monotonic() + 25
        while ex.busy() and time.monotonic() < deadline:
            outcomes += ex.wait(0.2)
            ex.interrupt()  # as the driver does while stopping (a starting worker may miss one)
    assert sorted(o.run_id for o in outcomes) == ["r0", "r1"]
    assert {o.status for o in outcomes} == {"interrupted"}

"""Faults of a sweep as users meet them (issue 17, items 7 and 14, and the fault tests): spec
values out of range, a local Ray instance that must listen on the loopback interface only, and
five SIGKILLs of the driver at random moments, after which every run completed exactly once
with the loss of an uninterrupted sweep.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from cli_checks import one_error as _one_error
from scalinglab.errors import InputError
from scalinglab.store import RunStore

BASE = {"name": "s", "context": 32, "batch_size": 4,
        "design": {"kind": "grid", "models": [{"n_layer": 1, "d_model": 16, "n_head": 1}],
                   "tokens": [2.0e4]}}




# --------------------------------------------------------------------------- item 7
def _spec(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(text)
    return p


GRID = ("name: s\ncontext: 32\nbatch_size: 4\ndesign: {{kind: grid, models: [{{n_layer: 1, "
        "d_model: 16, n_head: 1}}], tokens: [{tokens}]}}\n")


@pytest.mark.parametrize("dry_run", [True, False])
@pytest.mark.parametrize(("text", "names"), [
    (GRID.format(tokens=".inf"), ["design.tokens[0]", "finite"]),
    (GRID.format(tokens="1.0e300"), ["design.tokens[0]", "less than or equal"]),
    (GRID.format(tokens="-5"), ["design.tokens[0]"]),
    (GRID.format(tokens=".nan"), ["design.tokens[0]"]),
    ("name: s\ncontext: 32\nbatch_size: 4\ndesign: {kind: kaplan-n, params: [1.0e4], "
     "tokens: .inf}\n", ["design.tokens"]),
    ("name: s\ncontext: 32\nbatch_size: 4\ndesign: {kind: isoflop, budgets: [.inf], "
     "models: [{n_layer: 1, d_model: 16, n_head: 1}]}\n", ["design.budgets[0]"]),
    ("name: s\ncontext: 32\nbatch_size: 4\ndesign: {kind: isoflop, budgets: [1.0e300], "
     "models: [{n_layer: 1, d_model: 16, n_head: 1}]}\n", ["key design", "tokens", "1e+15"]),
    ("name: s\ncontext: 32\nbatch_size: 4\ndesign: {kind: shape, params: [1.0e4], "
     "n_layers: [1], tokens_per_param: 1.0e300}\n", ["key design", "1e+15"]),
    (GRID.format(tokens="2.0e4") + "seeds: [" + "9" * 30 + "]\n", ["seeds[0]"]),
    (GRID.format(tokens="2.0e4") + "train: {bogus: 1}\n", ["train.bogus", "not a trainer option"]),
    (GRID.format(tokens="2.0e4") + "train: {eval_tokens: -5}\n", ["train.eval_tokens"]),
    (GRID.format(tokens="2.0e4") + "data: no-such-corpus.txt\n",
     ["key data", "no-such-corpus.txt", "no such file"]),
])
def test_bad_spec_values_are_refused_before_anything_runs(cli, tmp_path, text, names, dry_run
                                                          ) -> None:
    spec = _spec(tmp_path, text)
    store = tmp_path / "runs.db"
    t0 = time.monotonic()
    code, _out, err = cli("sweep", "run", str(spec), "--store", str(store), "--quiet",
                          *(["--dry-run"] if dry_run else []))
    _one_error(code, err, *names)
    assert time.monotonic() - t0 < 30
    assert not store.exists()  # nothing registered, nothing trained


def test_a_data_file_beside_the_spec_is_found(cli, tmp_path) -> None:
    (tmp_path / "corpus.txt").write_text("hello world " * 200)
    spec = _spec(tmp_path, GRID.format(tokens="2.0e4") + "data: corpus.txt\n")
    code, out, err = cli("sweep", "run", str(spec), "--store", str(tmp_path / "r.db"),
                         "--dry-run")
    assert code == 0, err
    assert "1 runs" in out


# --------------------------------------------------------------------------- item 14
class _FakeRay:
    """Just enough of Ray to see how a local instance is started."""

    def __init__(self) -> None:
        self.init_kwargs: dict[str, Any] | None = None
        self.env_at_init: str | None = None
        self.flag_at_init: bool | None = None
        self._private = SimpleNamespace(ray_constants=SimpleNamespace(ENABLE_RAY_CLUSTER=True))
        self.exceptions = SimpleNamespace(TaskCancelledError=RuntimeError, RayError=RuntimeError)

    def is_initialized(self) -> bool:
        return self.init_kwargs is not None

    def init(self, **kwargs: Any) -> None:
        self.init_kwargs = kwargs
        self.env_at_init = os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
        self.flag_at_init = self._private.ray_constants.ENABLE_RAY_CLUSTER

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 2.0}

    def remote(self, fn: Any) -> Any:
        return SimpleNamespace(options=lambda **kw: fn)

    def shutdown(self) -> None:
        pass


@pytest.mark.parametrize("address", [None, "auto"])
def test_a_local_ray_instance_is_started_on_the_loopback_only(monkeypatch, address) -> None:
    import scalinglab.sweep.ray_executor as rx

    fake = _FakeRay()
    monkeypatch.setattr(rx, "_import_ray", lambda: fake)
    monkeypatch.setattr(rx, "_check_reachable", lambda a: None)
    monkeypatch.delenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", raising=False)
    with rx.RayExecutor(lambda *a: {}, address=address, num_cpus=2):
        pass
    kw = fake.init_kwargs
    assert kw is not None and kw["include_dashboard"] is False
    if address is None:
        assert kw["_node_ip_address"] == "127.0.0.1" and kw["address"] is None
        assert fake.env_at_init == "0" and fake.flag_at_init is False
    else:  # a cluster: as it is configured
        assert "_node_ip_address" not in kw and kw["address"] == "auto"
        assert fake.env_at_init is None and fake.flag_at_init is True
    # put back once the instance runs (a later --address connects as a cluster node)
    assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER" not in os.environ
    assert fake._private.ray_constants.ENABLE_RAY_CLUSTER is True


def _listening(pids: set[int]) -> list[tuple[str, int]]:
    """(address, pid) of the TCP sockets in LISTEN state that the processes ``pids`` hold."""
    owner: dict[str, int] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:["):
                        owner[link[8:-1]] = pid
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            for line in fh.readlines()[1:]:
                f = line.split()
                if f[3] == "0A" and f[9] in owner:  # LISTEN
                    out.append((f[1], owner[f[9]]))
    return out


LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net")
def test_a_real_local_ray_instance_listens_on_the_loopback_only() -> None:
    import ray

    from scalinglab.sweep.ray_executor import RayExecutor
    from scalinglab.sweep.worker import RunTask

    def children() -> set[int]:
        pids = set()
        for d in os.listdir("/proc"):
            if d.isdigit():
                with contextlib.suppress(OSError), open(f"/proc/{d}/stat") as fh:
                    if "ray" in open(f"/proc/{d}/cmdline").read() or d == str(os.getpid()):
                        pids.add(int(d))
                    fh.read()
        return pids

    before = children()
    with RayExecutor(_ok, num_cpus=1) as ex:
        ex.submit(RunTask("r", {}, "/tmp", 1))
        deadline = time.monotonic() + 120
        got: list = []
        while not got and time.monotonic() < deadline:
            got = ex.wait(1.0)
        assert got and got[0].status in ("completed", "failed")
        sockets = _listening(children() - before | {os.getpid()})
        assert sockets, "found no listening socket of Ray"
        exposed = [(a, p) for a, p in sockets if a.split(":")[0] not in LOOPBACK]
        assert not exposed, exposed
    assert not ray.is_initialized()


def _ok(config: dict, out_dir: Path, threads: int) -> dict:
    return {"final_val_loss": 1.0}


# --------------------------------------------------------------------------- SIGKILLs
KILL_SPEC = {
    "name": "kill5",
    "context": 16,
    "batch_size": 4,
    "checkpoint_every": 4,
    "eval_every": 8,
    "design": {"kind": "grid",
               "models": [{"n_layer": 1, "d_model": 8, "n_head": 1},
                          {"n_layer": 1, "d_model": 16, "n_head": 2}],
               "tokens": [4.0e3, 8.0e3]},
    "train": {"eval_tokens": 256, "ood_data": "none"},
}


def _driver(spec: Path, store: Path, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "scalinglab", "sweep", "run", str(spec), "--store", str(store),
           "--quiet", "--workers", "2"]
    with open(log, "ab") as fh:
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _end(proc: subprocess.Popen, timeout: float = 300) -> int:
    try:
        return proc.wait(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _losses(store: Path) -> dict[str, tuple[float, float]]:
    with RunStore(store, readonly=True) as rs:
        return {r.run_id: (r.metrics["final_val_loss"], r.metrics["final_train_loss"])
                for r in rs.runs(study="kill5") if r.status == "completed"}


def _runs(store: Path) -> list:
    if not store.exists():
        return []
    try:
        with RunStore(store, readonly=True) as rs:
            return rs.runs()
    except InputError:  # created but without its tables yet: the driver is starting
        return []


def _uninterrupted(folder: Path) -> dict[str, tuple[float, float]]:
    """The losses of the study's runs trained start to end, in this process, with the thread
    count the sweep's workers get (``--workers 2``)."""
    from scalinglab.sweep.designs import execution_config, expand
    from scalinglab.sweep.resources import available_cores, plan_slots
    from scalinglab.sweep.spec import parse_spec
    from scalinglab.train import TrainConfig, train

    spec = parse_spec(KILL_SPEC)
    threads = plan_slots(4, cores=available_cores(), workers=2).threads
    out = {}
    for run in expand(spec).runs:
        cfg = TrainConfig(**run.config, **execution_config(spec, run.config), threads=threads)
        res = train(cfg, folder / run.run_id, progress=False)
        out[run.run_id] = (res.final_val_loss, res.final_train_loss)
    return out


@pytest.mark.train
@pytest.mark.slow
def test_five_sigkills_at_random_moments_lose_and_duplicate_nothing(tmp_path) -> None:
    pytest.importorskip("torch")
    spec = tmp_path / "kill5.yaml"
    spec.write_text(yaml.safe_dump(KILL_SPEC))
    log = tmp_path / "driver.log"
    expected = _uninterrupted(tmp_path / "reference")
    assert len(expected) == 4
    store = tmp_path / "runs.db"
    seed = int(os.environ.get("SCALINGLAB_KILL_SEED", "17"))
    rng = random.Random(seed)
    for _ in range(5):
        proc = _driver(spec, store, log)
        deadline = time.monotonic() + 120  # a random moment once the driver trains
        while time.monotonic() < deadline and proc.poll() is None and not any(
                r.status == "running" for r in _runs(store)):
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        _end(proc)
    assert _end(_driver(spec, store, log)) == 0, log.read_text()[-3000:]
    with RunStore(store, readonly=True) as rs:
        runs = rs.runs(study="kill5")
        n_rows = rs._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        completions = {r.run_id: [a["outcome"] for a in rs.attempts(r.run_id)].count("completed")
                       for r in runs}
        curves = {r.run_id: len(rs.curve(r.run_id)) for r in runs}
    assert n_rows == 4 and [r.status for r in runs] == ["completed"] * 4
    assert all(n == 1 for n in completions.values()), completions  # exactly once
    assert all(n >= 2 for n in curves.values())
    assert _losses(store) == expected, f"kill seed {seed}"  # bit for bit


@pytest.mark.parametrize("key,value", [("points", 1e15), ("span", 1e300), ("min_steps", 1e15)])
def test_isoflop_profile_sizes_are_bounded(key: str, value: float) -> None:
    """Found by the fuzz run: ``points: 1e15`` was accepted and expanding it never ended (and
    ``context: 10**400`` overflowed in the shape search: next test)."""
    from scalinglab.errors import InputError
    from scalinglab.sweep.designs import expand
    from scalinglab.sweep.spec import parse_spec

    spec = {**BASE, "design": {"kind": "isoflop", "budgets": [1e12], "points": 3, key: value}}
    with pytest.raises(InputError, match=f"design.{key}"):
        expand(parse_spec(spec))


@pytest.mark.parametrize("key", ["context", "batch_size"])
def test_context_and_batch_are_bounded(key: str) -> None:
    from scalinglab.errors import InputError
    from scalinglab.sweep.designs import expand
    from scalinglab.sweep.spec import parse_spec

    spec = {**BASE, key: 10**400, "design": {"kind": "grid", "params": [1e4], "tokens": [2e4]}}
    with pytest.raises(InputError, match=key):
        expand(parse_spec(spec))

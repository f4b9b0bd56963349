"""The local executor: a pool of worker processes on this machine, one run per worker at once.

Workers are long-lived processes that each get their share of the CPU threads or one GPU. They
are started through a ``forkserver`` (``spawn`` where there is none) that has imported
scalinglab and the trainer once, so a worker starts in milliseconds with PyTorch loaded
(forked from a process that never computed anything: no thread pool or CUDA state to inherit).
Unlike ``concurrent.futures.ProcessPoolExecutor``, whose pool breaks as a whole when one worker
dies, this pool knows which run each worker holds: a worker that dies (a segfault, the OOM
killer) is reported as that run's failure and replaced, and the other runs go on.

Workers live in their own process group, so a Ctrl-C in the terminal reaches only the driver,
which forwards one SIGINT to each busy worker (the trainer then checkpoints and stops). A worker
whose driver disappears (SIGKILL) interrupts its run the same way and exits: it watches its
parent process (the driver, or the forkserver, which exits with the driver) and the driver.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from scalinglab.sweep.worker import Outcome, RunFn, RunTask, execute, train_run

#: seconds a worker whose driver died gives its run to checkpoint before exiting
ORPHAN_GRACE_S = 20.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch_driver(driver_pid: int) -> None:
    """In a worker: when the driver is gone, interrupt the run (SIGINT: the trainer
    checkpoints), and exit after a grace period whatever happens."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent and _alive(driver_pid):
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(ORPHAN_GRACE_S)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _worker_main(conn: Connection, driver_pid: int, run_fn: RunFn, gpu: str | None) -> None:
    """A worker process: receive tasks, execute them, send back outcomes, until told to stop."""
    with contextlib.suppress(OSError):
        os.setsid()
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    _watch_driver(driver_pid)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if task is None:
            return
        outcome = execute(task, run_fn)
        try:
            conn.send(outcome)
        except (OSError, KeyboardInterrupt):
            return


def _context(run_fn: RunFn) -> Any:
    """A ``forkserver`` context preloading scalinglab (and the trainer, for the real run
    function), or ``spawn`` where the platform has no forkserver."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    preload = ["scalinglab.sweep.local"]
    if run_fn is train_run:
        preload.append("scalinglab.train")
    ctx.set_forkserver_preload(preload)
    return ctx


@dataclass
class _Worker:
    process: Any  # multiprocessing.Process of the spawn context
    conn: Connection
    gpu: str | None
    task: RunTask | None = None


def _death(process: Any) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process running this run died ({name})"
    return f"the worker process running this run died (exit code {code})"


class LocalExecutor:
    """A pool of ``workers`` processes, ``threads`` CPU threads per run; ``gpus`` (one per
    worker) makes each worker see one GPU."""

    name = "local"

    def __init__(self, workers: int, run_fn: RunFn, gpus: tuple[str, ...] = (),
                 threads: int = 1) -> None:
        self.capacity = max(1, workers)
        self.threads = max(1, threads)
        self.run_fn = run_fn
        self._gpus = gpus
        self._ctx = _context(run_fn)
        self._workers: list[_Worker] = []
        self._interrupting = False

    def _spawn(self, gpu: str | None) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_worker_main, name="scalinglab-sweep-worker",
                                 args=(child, os.getpid(), self.run_fn, gpu), daemon=False)
        proc.start()
        child.close()
        return _Worker(proc, parent, gpu)

    def __enter__(self) -> LocalExecutor:
        for i in range(self.capacity):
            gpu = self._gpus[i] if self._gpus else None
            self._workers.append(self._spawn(gpu))
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ scheduling
    def busy(self) -> int:
        return sum(w.task is not None for w in self._workers)

    def submit(self, task: RunTask) -> str:
        """Hand ``task`` to an idle worker; returns a name for the worker (pid)."""
        for i, w in enumerate(self._workers):
            if w.task is not None:
                continue
            try:
                w.conn.send(task)
            except (OSError, ValueError):  # died while idle (OOM killer, ...): replace it
                w.conn.close()
                w.process.join(1)
                w = self._workers[i] = self._spawn(w.gpu)
                w.conn.send(task)
            w.task = task
            return f"local:{w.process.pid}"
        raise RuntimeError("no idle worker (submit at most `capacity` runs at once)")

    def wait(self, timeout: float) -> list[Outcome]:
        """Outcomes of runs that ended within ``timeout`` seconds (maybe none)."""
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            time.sleep(timeout)
            return []
        handles: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        wait(handles, timeout)
        out = []
        for i, w in enumerate(self._workers):
            if w.task is None:
                continue
            outcome: Outcome | None = None
            try:
                if w.conn.poll():
                    outcome = w.conn.recv()
            except (EOFError, OSError):
                outcome = None
            if outcome is None and not w.process.is_alive():
                # a worker that dies after being told to stop was stopping, not failing
                outcome = (Outcome(w.task.run_id, "interrupted") if self._interrupting
                           else Outcome(w.task.run_id, "failed", error=_death(w.process)))
                w.conn.close()
                self._workers[i] = self._spawn(w.gpu)
            elif outcome is not None:
                w.task = None
            if outcome is not None:
                out.append(outcome)
        return out

    def interrupt(self) -> None:
        """Ask every running run to checkpoint and stop (SIGINT to its worker)."""
        self._interrupting = True
        for w in self._workers:
            if w.task is not None and w.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.process.pid, signal.SIGINT)

    def close(self, timeout: float = 30.0) -> None:
        """Stop the workers (idle ones at once; busy ones should have been interrupted)."""
        for w in self._workers:
            with contextlib.suppress(OSError, BrokenPipeError):
                w.conn.send(None)
        deadline = time.monotonic() + timeout
        for w in self._workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(5)
            w.conn.close()
        self._workers = []

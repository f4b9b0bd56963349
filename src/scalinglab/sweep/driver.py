"""The sweep driver: a study's runs through an executor into the store, resumably.

:func:`run_sweep` registers the study's runs in the store (existing runs are found by their
config hash, never duplicated), puts back runs a killed driver left ``running``, and executes
what is left: pending runs, and failed runs with retries left (from their checkpoints). Each
outcome is written to the store in one transaction as soon as it arrives; a failed run is
retried up to the limit while the others go on. Ctrl-C (or SIGTERM) asks the running runs to
checkpoint and stop, records what finished, and leaves the rest to resume next time.

One driver at a time per store: the store's lock file (``<store>.lock``, an ``flock`` that the
kernel drops when the driver dies, even by SIGKILL) refuses a second one. The store's path is
resolved first (symlinks followed), so a link to a store is the same store, with the same lock
and run folders. A store that cannot be written (a read-only file or folder) is refused before
anything starts; a write that fails during the sweep (disk full) stops the runs in flight (they
checkpoint) and ends with a :class:`~scalinglab.store.StoreWriteError` that says how to resume.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Literal

from rich.console import Console

from scalinglab.console import err_console
from scalinglab.errors import InputError
from scalinglab.store import RunRecord, RunStore, StoreWriteError
from scalinglab.store.runstore import read_only_message
from scalinglab.sweep.designs import Expansion, execution_config, expand
from scalinglab.sweep.local import LocalExecutor
from scalinglab.sweep.progress import SweepView
from scalinglab.sweep.resources import available_cores, plan_slots, visible_gpus
from scalinglab.sweep.spec import StudySpec
from scalinglab.sweep.worker import Executor, Outcome, RunFn, RunTask, train_run

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]

#: seconds the runs get to checkpoint after Ctrl-C before their workers are stopped
INTERRUPT_GRACE_S = 60.0
#: while stopping, how often the runs still going are asked again (a worker that was just
#: starting may have missed the first request) [s]
REINTERRUPT_S = 5.0
#: how often the driver wakes to refresh the view when no run ends [s]
POLL_S = 0.5


@dataclass
class SweepSummary:
    """What a sweep did: the study's runs by status at the end, and this invocation's work."""

    study: str
    planned: int
    counts: dict[str, int]
    new_runs: int = 0
    finished: int = 0
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.counts.get("completed", 0) == self.planned


@contextlib.contextmanager
def store_lock(store_path: Path) -> Iterator[None]:
    """Hold ``<store>.lock`` exclusively, or fail at once naming the driver that has it. The
    lock is keyed on the real file (symlinks resolved), not on the path given."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    store_path = Path(os.path.realpath(store_path))
    lock_path = store_path.parent / (store_path.name + ".lock")
    try:
        fh = open(lock_path, "a+")  # closed by the with block below
    except OSError as exc:
        if not store_path.parent.is_dir():
            raise InputError("the folder of the run store does not exist",
                             source=str(store_path)) from None
        raise InputError(f"cannot create the sweep's lock file {lock_path} "
                         f"({exc.strerror or exc}): {read_only_message(store_path)}",
                         source=str(store_path)) from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise InputError(f"another sweep is running on this store ({holder}); wait for it "
                             "or stop it first", source=str(store_path)) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the sweep like Ctrl-C (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


class _Sweep:
    """One invocation of a sweep (state shared by the steps of :func:`run_sweep`)."""

    def __init__(self, spec: StudySpec, store: RunStore, view: SweepView, limit: int) -> None:
        self.spec, self.store, self.view, self.limit = spec, store, view, limit
        self.queue: deque[RunRecord] = deque()
        self.by_id: dict[str, RunRecord] = {}
        self.finished = 0
        self.failed: list[str] = []
        self.stopping = False
        #: called with (run, metrics, curve) after a run's result is in the store (--log-to)
        self.on_complete: Callable[..., None] | None = None

    def task(self, run: RunRecord, threads: int) -> RunTask:
        out_dir = self.store.runs_dir() / run.run_id
        config = {**run.config, **execution_config(self.spec, run.config)}
        return RunTask(run.run_id, config, str(out_dir), threads)

    def handle(self, outcome: Outcome) -> None:
        rid = outcome.run_id
        if outcome.status == "completed":
            assert outcome.result is not None
            self.store.complete_run(rid, outcome.result, outcome.curve)
            if self.on_complete is not None:  # mirror to a tracker; the store stays the truth
                self.on_complete(self.by_id[rid], outcome.result, outcome.curve)
            self.finished += 1
            self.view.ended(outcome, "completed")
        elif outcome.status == "interrupted" and self.stopping:
            self.store.reset_interrupted([rid])
            self.view.ended(outcome, "pending")
        else:
            error = outcome.error or "interrupted without being asked to stop"
            outcome.error = error
            failures = self.store.fail_run(rid, error)
            retry = failures <= self.limit and not self.stopping
            self.view.ended(outcome, "pending" if retry else "failed")
            if retry:
                self.queue.append(self.by_id[rid])
            else:
                self.failed.append(rid)

    def drive(self, executor: Executor) -> None:
        """Submit while there is room, record outcomes as they come, until nothing is left."""
        while self.queue or executor.busy():
            while self.queue and executor.busy() < executor.capacity:
                run = self.queue.popleft()
                task = self.task(run, executor.threads)
                attempt = self.store.start_run(run.run_id, out_dir=task.out_dir,
                                               worker=executor.name)
                executor.submit(task)
                self.view.started(run.run_id, attempt, Path(task.out_dir))
            for outcome in executor.wait(POLL_S):
                self.handle(outcome)
            self.view.refresh()

    def stop(self, executor: Executor, grace: float) -> None:
        """After Ctrl-C: interrupt the runs, record what ends within ``grace`` seconds, put
        the rest back to pending (they resume from their checkpoints next time)."""
        self.stopping = True
        self.queue.clear()
        deadline = time.monotonic() + grace
        asked = 0.0
        with contextlib.suppress(KeyboardInterrupt):
            while executor.busy() and time.monotonic() < deadline:
                if time.monotonic() - asked > REINTERRUPT_S:  # again, in case one was missed
                    executor.interrupt()
                    asked = time.monotonic()
                for outcome in executor.wait(POLL_S):
                    self.handle(outcome)
                self.view.refresh()
        self.store.reset_interrupted()


def _executor(kind: str, *, run_fn: RunFn, n_todo: int, workers: int | None,
              address: str | None, largest: int, spec: StudySpec,
              ray_num_cpus: int | None) -> Executor:
    device = spec.device
    if kind == "ray":  # the cluster's GPUs, not this machine's (cuda:N: any one of them)
        from scalinglab.sweep.ray_executor import RayExecutor

        return RayExecutor(run_fn, address=address, workers=workers, n_runs=n_todo,
                           largest_model=largest, gpus=device.startswith("cuda"),
                           num_cpus=ray_num_cpus)
    gpus = visible_gpus() if device.startswith("cuda") or device == "auto" else []
    if device.startswith("cuda") and not gpus:
        raise InputError(f"the spec asks for device {device} but no CUDA device is visible")
    if device.startswith("cuda:"):  # that GPU alone (execution_config: its runs use "cuda")
        index = int(device.removeprefix("cuda:"))
        if index >= len(gpus):
            raise InputError(f"the spec asks for device {device} but only {len(gpus)} CUDA "
                             "device(s) are visible")
        gpus = [gpus[index]]
    slots = plan_slots(n_todo, cores=available_cores(), workers=workers,
                       largest_model=largest, gpus=gpus)
    return LocalExecutor(slots.workers, run_fn, slots.gpus, slots.threads)


def run_sweep(spec: StudySpec, store_path: str | Path, *, spec_path: str | None = None,
              executor: Literal["local", "ray"] = "local", workers: int | None = None,
              address: str | None = None, max_retries: int | None = None,
              retry_failed: bool = False, run_fn: RunFn = train_run,
              console: Console | None = None, show_progress: bool = True,
              expansion: Expansion | None = None,
              ray_num_cpus: int | None = None,
              on_complete: Callable[..., None] | None = None) -> SweepSummary:
    """Run (or resume) a study into the store at ``store_path``; see the module docstring.

    ``run_fn`` trains one run (default: the real trainer); ``max_retries`` overrides the
    spec's; ``retry_failed`` gives runs that used up their retries a fresh budget;
    ``on_complete(run, metrics, curve)`` is called for each run as it completes (the
    ``--log-to`` tracker mirror of :mod:`scalinglab.importers.export`).
    """
    store_path = Path(os.path.realpath(store_path))  # a symlink is the store it points to
    expansion = expansion or expand(spec)
    console = console or err_console
    limit = spec.max_retries if max_retries is None else max_retries
    with store_lock(store_path), RunStore(store_path) as store:
        new, dropped = store.register_study(spec.name, spec.model_dump(mode="json"),
                                            expansion.runs, spec_path=spec_path)
        notes = list(expansion.notes)
        if dropped:
            notes.append(f"{dropped} run(s) of an earlier version of study {spec.name!r} are no "
                         "longer in its spec; they stay in the store")
        store.reset_interrupted()
        runs = store.runs(study=spec.name)
        if retry_failed:
            store.reset_failures([r.run_id for r in runs if r.status == "failed"])
            runs = store.runs(study=spec.name)
        todo = [r for r in runs if r.status == "pending"
                or (r.status == "failed" and r.failures <= limit)]
        summary = SweepSummary(spec.name, len(runs), store.counts(spec.name), new_runs=new,
                               notes=notes)
        if not todo:
            return summary
        largest = max(int(r.labels.get("N_planned", 0)) for r in todo)
        ex = _executor(executor, run_fn=run_fn, n_todo=len(todo), workers=workers,
                       address=address, largest=largest, spec=spec, ray_num_cpus=ray_num_cpus)
        view = SweepView(spec.name, runs, console, enabled=show_progress, executor=executor)
        sweep = _Sweep(spec, store, view, limit)
        sweep.by_id = {r.run_id: r for r in runs}
        sweep.on_complete = on_complete
        sweep.queue.extend(todo)
        with _sigterm_as_interrupt(), view:
            try:
                with ex:
                    try:
                        sweep.drive(ex)
                    except KeyboardInterrupt:
                        summary.interrupted = True
                        sweep.stop(ex, INTERRUPT_GRACE_S)
                    except StoreWriteError:  # the runs in flight checkpoint; resume later
                        ex.interrupt()
                        raise
            except KeyboardInterrupt:  # a second Ctrl-C while stopping: leave at once
                summary.interrupted = True
                store.reset_interrupted()
        summary.finished = sweep.finished
        summary.failed = sweep.failed
        summary.counts = store.counts(spec.name)
        return summary

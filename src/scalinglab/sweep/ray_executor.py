"""The Ray executor: the same sweep on a Ray cluster, one Ray task per run.

``--executor ray`` starts a local Ray instance (all cores of this machine) unless ``--address``
names a cluster (``auto``: the one ``ray start`` runs here). A local instance listens on the
loopback interface only (GCS, raylet, workers; no dashboard): its node address is 127.0.0.1 and
Ray's cluster mode is off for it, so nothing of it is reachable from other machines. Cluster use
goes through ``--address``. Each run is a task asking for its
threads as CPUs (and one GPU on CUDA); the task returns the run's outcome and the driver alone
writes the store. Ray's own retries are off: failed runs are retried by the sweep, from their
checkpoints, up to the spec's limit. Run folders live beside the store, so on a cluster of
several machines they must be on a shared filesystem for interrupted runs to resume (results
reach the store either way). Ctrl-C cancels the tasks gently (``ray.cancel`` raises
``KeyboardInterrupt`` in the task: the trainer checkpoints).

Requires the ``ray`` extra (``pip install 'scalinglab[ray]'``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from scalinglab.errors import ParameterError
from scalinglab.sweep.resources import plan_slots
from scalinglab.sweep.worker import Outcome, RunFn, RunTask, execute

#: the address a local Ray instance binds to
LOOPBACK = "127.0.0.1"
#: Ray's switch between a single-node instance on the loopback interface ("0") and a node that
#: other machines can join; read when Ray is imported (and by its child processes)
_RAY_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _loopback_only(ray: Any) -> Callable[[], None]:
    """Make the next local instance single-node on 127.0.0.1 (its processes inherit the
    environment; Ray's constant is set too, in case Ray was imported before). Returns what
    puts both back (once the instance has started)."""
    before = os.environ.get(_RAY_CLUSTER_ENV)
    os.environ[_RAY_CLUSTER_ENV] = "0"
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    flag = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    if flag is not None:
        constants.ENABLE_RAY_CLUSTER = False

    def restore() -> None:
        if before is None:
            os.environ.pop(_RAY_CLUSTER_ENV, None)
        else:
            os.environ[_RAY_CLUSTER_ENV] = before
        if flag is not None:
            constants.ENABLE_RAY_CLUSTER = flag

    return restore


def local_init_kwargs(num_cpus: int | None) -> dict[str, Any]:
    """What :func:`ray.init` gets for a new local instance: loopback only, no dashboard."""
    return {"num_cpus": num_cpus, "_node_ip_address": LOOPBACK, "include_dashboard": False}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ParameterError("executor", "the Ray executor needs Ray: "
                             f"pip install 'scalinglab[ray]' ({exc})") from None
    return ray


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a ``host:port`` that does not answer (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or address.startswith("ray://"):
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ParameterError("address", f"no Ray cluster answers at {address} ({exc}); "
                             "start one with `ray start --head`, or leave address unset for "
                             "a local instance") from None


def _task(task: RunTask, run_fn: RunFn) -> Outcome:
    """The body of a Ray task (the same :func:`execute` as a local worker)."""
    return execute(task, run_fn)


class RayExecutor:
    """Runs on Ray. Runs in flight and threads per run follow the same rule as the local
    executor (:func:`~scalinglab.sweep.resources.plan_slots`) applied to the cluster's CPUs;
    ``workers`` caps the runs in flight. ``num_cpus`` sizes a local instance (default: all
    cores)."""

    name = "ray"

    def __init__(self, run_fn: RunFn, *, address: str | None = None, workers: int | None = None,
                 n_runs: int = 1, largest_model: int = 0, gpus: bool = False,
                 num_cpus: int | None = None) -> None:
        self.run_fn = run_fn
        self.address = address
        self.gpus = gpus
        self._num_cpus = num_cpus
        self._requested = workers
        self._n_runs = n_runs
        self._largest = largest_model
        self.capacity = workers or 1
        self.threads = 1
        self._ray: Any = None
        self._started = False
        self._remote: Any = None
        self._refs: dict[Any, RunTask] = {}
        self._interrupting = False

    def __enter__(self) -> RayExecutor:
        ray = self._ray = _import_ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "logging_level": logging.ERROR}
            restore: Callable[[], None] = lambda: None  # noqa: E731
            if self.address is None:
                restore = _loopback_only(ray)
                kwargs.update(local_init_kwargs(self._num_cpus))
            else:
                _check_reachable(self.address)
            try:
                ray.init(address=self.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ParameterError("address", f"could not connect to Ray at "
                                     f"{self.address or 'a new local instance'}: {exc}"
                                     ) from None
            finally:
                restore()
            self._started = True
        resources = ray.cluster_resources()
        cpus = max(1, int(resources.get("CPU", 1)))
        if self.gpus:
            n_gpu = max(1, int(resources.get("GPU", 0)))
            slots = plan_slots(self._n_runs, cores=cpus, workers=self._requested,
                               gpus=[str(i) for i in range(n_gpu)])
        else:
            slots = plan_slots(self._n_runs, cores=cpus, workers=self._requested,
                               largest_model=self._largest)
        self.capacity, self.threads = slots.workers, slots.threads
        options: dict[str, Any] = {"num_cpus": self.threads, "max_retries": 0}
        if self.gpus:
            options["num_gpus"] = 1
        self._remote = ray.remote(_task).options(**options)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def busy(self) -> int:
        return len(self._refs)

    def submit(self, task: RunTask) -> str:
        ref = self._remote.remote(task, self.run_fn)
        self._refs[ref] = task
        return "ray"

    def wait(self, timeout: float) -> list[Outcome]:
        ray = self._ray
        if not self._refs:
            time.sleep(timeout)
            return []
        refs = list(self._refs)
        ready, rest = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        out = []
        for ref in ready:
            task = self._refs.pop(ref)
            try:
                out.append(ray.get(ref))
            except ray.exceptions.TaskCancelledError:
                out.append(Outcome(task.run_id, "interrupted"))
            except ray.exceptions.RayError as exc:  # the task's process died, or Ray failed
                if self._interrupting:
                    out.append(Outcome(task.run_id, "interrupted"))
                    continue
                text = "\n".join(f"{type(exc).__name__}: {exc}".splitlines()[-30:])
                out.append(Outcome(task.run_id, "failed", error=text))
        return out

    def interrupt(self) -> None:
        self._interrupting = True
        for ref in list(self._refs):
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=False)

    def close(self, timeout: float = 30.0) -> None:
        if self._ray is None:
            return
        if self._refs:  # give interrupted tasks the time to checkpoint
            with contextlib.suppress(Exception):
                self._ray.wait(list(self._refs), num_returns=len(self._refs), timeout=timeout)
        self._refs.clear()
        if self._started:
            self._ray.shutdown()
            self._started = False
        self._ray = None

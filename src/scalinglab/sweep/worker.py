"""What runs where the training happens (a pool process or a Ray task): one run, start to end.

:func:`execute` trains one run through a *run function* (the real trainer, :func:`train_run`,
or any picklable function with the same signature), turns every outcome into a
:class:`Outcome` (completed, failed with its error, interrupted), and never lets an exception
escape: a crashing run is recorded, the sweep goes on.

While a run trains, its folder is locked (``flock``), so that two processes never train the
same run at once, even when a killed driver's worker is still checkpointing. The trainer keeps
its checkpoints and, once done, its ``result.json`` in that folder; resuming a finished run
returns that result at once, so a driver killed between the end of a run and the write to the
store loses nothing.
"""

from __future__ import annotations

import contextlib
import math
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from scalinglab.errors import ScalingLabError

try:  # POSIX; elsewhere runs are not locked (one driver per store is still enforced)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"
#: how long a run waits for its folder's lock (a killed driver's worker checkpointing) [s]
LOCK_WAIT_S = 120.0

#: run function: (config, out_dir, threads) -> the trainer's result as a JSON-ready dict
RunFn = Callable[[dict[str, Any], Path, int], dict[str, Any]]


@dataclass(frozen=True)
class RunTask:
    """One run to execute: its id, the full trainer config, its folder and its CPU threads."""

    run_id: str
    config: dict[str, Any]
    out_dir: str
    threads: int


@dataclass
class Outcome:
    """How a run ended: ``completed`` (with ``result``), ``failed`` (with ``error``) or
    ``interrupted`` (Ctrl-C or shutdown; the run resumes from its checkpoint next time)."""

    run_id: str
    status: Literal["completed", "failed", "interrupted"]
    result: dict[str, Any] | None = None
    curve: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


class Executor(Protocol):
    """What the driver needs of an executor (:class:`~scalinglab.sweep.local.LocalExecutor`,
    :class:`~scalinglab.sweep.ray_executor.RayExecutor`); ``capacity`` and ``threads`` are
    final once the executor has been entered."""

    name: str
    capacity: int
    threads: int

    def __enter__(self) -> Executor: ...
    def __exit__(self, *exc: object) -> None: ...
    def busy(self) -> int: ...
    def submit(self, task: RunTask) -> str: ...
    def wait(self, timeout: float) -> list[Outcome]: ...
    def interrupt(self) -> None: ...


def train_run(config: dict[str, Any], out_dir: Path, threads: int) -> dict[str, Any]:
    """The real run function: ``scalinglab.train.train`` resuming from ``out_dir``'s latest
    checkpoint when there is one (or returning the stored result of a finished run)."""
    from scalinglab.train import TrainConfig, train

    cfg = TrainConfig(**{**config, "threads": threads})
    return train(cfg, out_dir, resume=True, progress=False).model_dump(mode="json")


def split_result(result: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Separate the curve from the metrics and add ``best_val_loss`` (the early-stopped loss:
    the lowest validation loss on the curve or at the end) and ``best_val_tokens``."""
    metrics = {k: v for k, v in result.items() if k != "curve"}
    curve = [dict(p) for p in result.get("curve") or []]
    points = [(p.get("val_loss"), p.get("tokens")) for p in curve]
    points.append((metrics.get("final_val_loss"), metrics.get("tokens")))
    finite = [(v, t) for v, t in points if isinstance(v, (int, float)) and math.isfinite(v)]
    if finite:
        best = min(finite, key=lambda p: p[0])
        metrics["best_val_loss"], metrics["best_val_tokens"] = best
    return metrics, curve


@contextlib.contextmanager
def run_lock(out_dir: Path, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold an exclusive lock on a run folder (waiting up to ``wait_s`` for it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(out_dir / LOCK_FILE, "a+") as fh:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"run folder {out_dir} is in use by another process "
                                       f"(waited {wait_s:.0f} s)") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def describe_error(exc: BaseException) -> str:
    """A user error's message alone; anything else with the last lines of its traceback."""
    if isinstance(exc, ScalingLabError):
        return f"{type(exc).__name__}: {exc}"
    lines = traceback.format_exception(exc)
    text = "".join(lines).rstrip()
    tail = text.splitlines()[-30:]
    return "\n".join(tail)


def execute(task: RunTask, run_fn: RunFn) -> Outcome:
    """Run ``task`` with ``run_fn``; every ending becomes an :class:`Outcome`."""
    t0 = time.monotonic()
    out_dir = Path(task.out_dir)
    try:
        with run_lock(out_dir):
            result = run_fn(dict(task.config), out_dir, task.threads)
            if not isinstance(result, dict):
                raise TypeError(f"the run function returned {type(result).__name__}, "
                                "expected a dict")
    except KeyboardInterrupt:
        return Outcome(task.run_id, "interrupted", seconds=time.monotonic() - t0)
    except BaseException as exc:  # a crashing run is recorded; the sweep goes on
        return Outcome(task.run_id, "failed", error=describe_error(exc),
                       seconds=time.monotonic() - t0)
    metrics, curve = split_result(result)
    return Outcome(task.run_id, "completed", result=metrics, curve=curve,
                   seconds=time.monotonic() - t0)

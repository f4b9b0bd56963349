"""The trainer's clock: wall and CPU time of a run, over all the sessions of a resumed run.

A run's speed (``tokens_per_second``) is measured over its training steps only: evaluations and
checkpoints are left out, and so is the first step of each session (allocation, torch.compile),
which is timed apart. The loop marks where timing starts (:meth:`Clock.mark`) and says when a
session's first step (:meth:`Clock.first_step_done`) or a stretch of steps
(:meth:`Clock.steps_done`) has ended; :meth:`Clock.rates` turns the totals into tokens per
second of wall time and of process CPU time.

The totals (the dataclass fields, in seconds) are what a checkpoint carries
(:meth:`Clock.totals`, :meth:`Clock.load`); the marks of the current session are not. Standard
library only.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


def _no_sync() -> None:
    """Nothing to wait for (CPU: every step has finished when the call returns)."""


@dataclass
class Clock:
    """Time totals of a run (seconds), and the marks of the session in progress.

    ``sync`` waits for the device to finish its queued work before a reading (CUDA kernels
    run asynchronously); on a CPU it does nothing.
    """

    #: wall time of the earlier sessions (the current one is added by :meth:`elapsed`)
    elapsed_s: float = 0.0
    #: wall time spent in training steps, all sessions, first steps included
    train_time_s: float = 0.0
    #: first steps of sessions (allocation, compilation), timed apart
    first_steps: int = 0
    #: their wall time
    first_steps_time_s: float = 0.0
    #: process CPU time (all threads) of the other training steps
    steady_cpu_time_s: float = 0.0

    def __post_init__(self) -> None:
        self.sync: Callable[[], None] = _no_sync
        self._session_start = time.perf_counter()
        self._before = self.elapsed_s
        self._session_train = self.train_time_s
        self.mark()

    # ------------------------------------------------------------------ checkpoints
    def totals(self) -> dict[str, float | int]:
        """The fields, with ``elapsed_s`` up to now (what a checkpoint stores)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["elapsed_s"] = self.elapsed()
        return out

    def load(self, totals: Mapping[str, float | int]) -> None:
        """Continue from the totals of a checkpoint (the session's start is kept)."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, type(f.default)(totals[f.name]))
        self._before = self.elapsed_s

    # ------------------------------------------------------------------ readings
    def elapsed(self) -> float:
        """Wall time of the run so far, all sessions."""
        return self._before + time.perf_counter() - self._session_start

    def mark(self) -> None:
        """Timing of training steps starts (again) here."""
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def start_training(self) -> None:
        """The session's training loop starts: mark, and remember the totals so far."""
        self._session_train = self.train_time_s
        self.mark()

    def first_step_done(self) -> None:
        """The session's first step has ended: its time counts apart; marks again."""
        self.sync()
        took = time.perf_counter() - self._wall
        self.train_time_s += took
        self.first_steps += 1
        self.first_steps_time_s += took
        self.mark()

    def steps_done(self) -> None:
        """The steps since the last mark have ended (an evaluation or a checkpoint follows,
        untimed; call :meth:`mark` after it)."""
        self.sync()
        self.train_time_s += time.perf_counter() - self._wall
        self.steady_cpu_time_s += time.process_time() - self._cpu

    def session_train_time(self) -> float:
        """Wall time in training steps in this session, up to now (for a live rate)."""
        return self.train_time_s - self._session_train + time.perf_counter() - self._wall

    def rates(self, tokens: int, tokens_per_step: int) -> tuple[float, float | None]:
        """``(tokens per second, tokens per CPU second)`` of a run that trained ``tokens``:
        over the steady steps (all but the sessions' first), or over every step when there
        are no steady steps to time; the CPU rate is None then."""
        steady_tokens = tokens - self.first_steps * tokens_per_step
        steady_time = self.train_time_s - self.first_steps_time_s
        if steady_tokens > 0 and steady_time > 0:
            tps = steady_tokens / steady_time
        else:
            tps = tokens / self.train_time_s if self.train_time_s > 0 else 0.0
        cpu = self.steady_cpu_time_s
        tpcs = steady_tokens / cpu if steady_tokens > 0 and cpu > 0 else None
        return tps, tpcs

"""Sweeps: study specs -> run configs -> training runs, resumably, into the run store.

* :func:`load_spec` / :func:`parse_spec`: a YAML study spec validated by pydantic
  (:class:`StudySpec`; designs ``grid``, ``isoflop``, ``kaplan-n``, ``kaplan-d``, ``batch``,
  ``shape``; optional learning-rate sweep).
* :func:`expand`: the runs a spec asks for (trainer configs, identified by their hash).
* :func:`run_sweep`: run or resume a study through the local process pool (default) or Ray,
  writing every result to the store in one transaction; crashes are recorded and retried, a
  killed driver loses nothing.

The command line is ``scalinglab sweep run|status`` and ``scalinglab runs list|show|export``.
Nothing here imports PyTorch or Ray until a sweep actually runs.
"""

from __future__ import annotations

from scalinglab.sweep.designs import Expansion, expand
from scalinglab.sweep.driver import SweepSummary, run_sweep
from scalinglab.sweep.spec import StudySpec, load_spec, parse_spec
from scalinglab.sweep.worker import Outcome, RunTask, train_run

__all__ = [
    "Expansion",
    "Outcome",
    "RunTask",
    "StudySpec",
    "SweepSummary",
    "expand",
    "load_spec",
    "parse_spec",
    "run_sweep",
    "train_run",
]

"""The run store: a SQLite file of studies, runs and learning curves (see ``schema``).

* :class:`RunStore`: open, register a study's runs, record each run's start, result (one
  transaction) or failure, and read them back.
* :func:`read_observations`: the completed runs as the observation table ``fit`` reads
  (``N``, ``D``, ``C``, ``loss``, ``run_id``, ``group`` and the config columns).
* :func:`export_runs`: every run, any status, to CSV or Parquet.
* :func:`run_id_for`: a run's identity, the hash of its config.
* :class:`StoreWriteError`: a write the disk refused (full, read-only); the store stays intact.

A store is checked before it is read: its schema version and the columns of its tables (a SQLite
file of someone else's with tables of the same names is refused, never read or changed).
Commands that only read open it read-only (SQLite ``mode=ro``), so a store on a read-only
filesystem or in a folder without write permission can be listed, exported and fitted.
"""

from __future__ import annotations

from scalinglab.store.observations import (
    C_CONVENTION,
    N_CONVENTIONS,
    export_runs,
    read_observations,
    runs_table,
)
from scalinglab.store.runstore import (
    PlannedRun,
    RunRecord,
    RunStore,
    StoreWriteError,
    StudyInfo,
    canonical_json,
    run_id_for,
)
from scalinglab.store.schema import STATUSES

__all__ = [
    "C_CONVENTION",
    "N_CONVENTIONS",
    "STATUSES",
    "PlannedRun",
    "RunRecord",
    "RunStore",
    "StoreWriteError",
    "StudyInfo",
    "canonical_json",
    "export_runs",
    "read_observations",
    "run_id_for",
    "runs_table",
]

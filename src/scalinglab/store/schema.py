"""The SQLite schema of the run store and how a connection to it is opened.

Tables:

* ``studies``: one row per study (its name, the validated spec as JSON, where it came from).
* ``runs``: one row per distinct training run, keyed by ``run_id``, a hash of its config (so
  the same run asked for twice is stored once). ``status`` is ``pending``, ``running``,
  ``completed`` or ``failed``; ``attempts`` counts starts, ``failures`` failed attempts,
  ``error`` keeps the last failure, ``metrics`` the trainer's result as JSON.
* ``study_runs``: which runs a study holds, in the order its design lists them, with the
  design's labels (group, FLOP budget, learning-rate tuning key, which loss to report).
* ``curves``: the learning curve of each completed run (step, tokens, FLOPs, train and
  validation loss, learning rate; any other column in ``extra`` as JSON).
* ``attempts``: the history of every attempt (start, end, outcome, error).

The database runs in WAL mode (readers never block the sweep writing to it) with
``synchronous=FULL``: a committed run result survives the process being killed, and the machine
losing power.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = 1

STATUSES: tuple[str, ...] = ("pending", "running", "completed", "failed")

DDL = """
CREATE TABLE IF NOT EXISTS studies (
    name        TEXT PRIMARY KEY,
    spec        TEXT NOT NULL,
    spec_path   TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    config      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    failures    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    metrics     TEXT,
    out_dir     TEXT,
    created_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS study_runs (
    study       TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
    run_id      TEXT NOT NULL REFERENCES runs(run_id),
    position    INTEGER NOT NULL,
    labels      TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (study, run_id)
);
CREATE TABLE IF NOT EXISTS curves (
    run_id      TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    row         INTEGER NOT NULL,
    step        INTEGER,
    tokens      REAL,
    flops       REAL,
    train_loss  REAL,
    val_loss    REAL,
    lr          REAL,
    extra       TEXT,
    PRIMARY KEY (run_id, row)
);
CREATE TABLE IF NOT EXISTS attempts (
    run_id      TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    started_at  REAL NOT NULL,
    finished_at REAL,
    outcome     TEXT,
    error       TEXT,
    worker      TEXT,
    PRIMARY KEY (run_id, attempt)
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE INDEX IF NOT EXISTS study_runs_run ON study_runs(run_id);
"""

#: curve columns kept as SQL columns; anything else the trainer writes goes to ``extra``
CURVE_COLUMNS: tuple[str, ...] = ("step", "tokens", "flops", "train_loss", "val_loss", "lr")


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (and on first use create) a run store at ``path``.

    Read-only connections never create or migrate anything, so ``runs list`` on a store that a
    sweep is writing is safe.
    """
    if readonly:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
    else:
        conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            conn.executescript("BEGIN;" + DDL + f"PRAGMA user_version = {SCHEMA_VERSION};COMMIT;")
    return conn

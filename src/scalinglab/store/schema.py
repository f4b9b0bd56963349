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
losing power. A new store is created whole (tables written to a temporary file, then linked into
place), so no reader ever sees a store without its tables.
"""

from __future__ import annotations

import contextlib
import os
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


#: the columns the store's code reads, per table (a file with these tables but other columns
#: is not a run store)
REQUIRED_COLUMNS: dict[str, frozenset[str]] = {
    "studies": frozenset({"name", "spec", "spec_path", "created_at", "updated_at"}),
    "runs": frozenset({"run_id", "config", "status", "attempts", "failures", "error", "metrics",
                       "out_dir", "created_at", "started_at", "finished_at"}),
    "study_runs": frozenset({"study", "run_id", "position", "labels"}),
    "curves": frozenset({"run_id", "row", *CURVE_COLUMNS, "extra"}),
    "attempts": frozenset({"run_id", "attempt", "started_at", "finished_at", "outcome", "error",
                           "worker"}),
}


def writable(path: str | Path) -> bool:
    """Whether a store at ``path`` can be written: the file (if it exists) and its folder (SQLite
    creates its ``-wal`` and ``-shm`` files there) are writable."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    return (not p.exists() or os.access(p, os.W_OK)) and os.access(folder, os.W_OK)


def _create(path: Path) -> None:
    """Create a store at ``path`` atomically: its tables are written to a temporary file in the
    same folder, which is then linked into place, so a reader (``runs list`` while a sweep
    starts) never finds the file without its tables. A store created meanwhile by another
    process is kept."""
    tmp = path.with_name(f".{path.name}.creating-{os.getpid()}")
    try:
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript("BEGIN;" + DDL + f"PRAGMA user_version = {SCHEMA_VERSION};COMMIT;")
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links
            if not path.exists():
                os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            with contextlib.suppress(OSError):
                leftover.unlink()


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (and on first use create) a run store at ``path``.

    Read-only connections (SQLite's ``mode=ro``) never create or migrate anything, so
    ``runs list`` on a store that a sweep is writing is safe. A store in a read-only folder (or
    on a read-only filesystem), where SQLite cannot create the shared-memory file that
    ``mode=ro`` needs for a WAL database, is opened ``immutable`` (nothing can write it there).
    A writable connection creates the tables only in an empty file: a file that already has
    tables of its own is left untouched (:class:`~scalinglab.store.RunStore` then refuses it).
    """
    if readonly:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            if writable(path):
                raise
            conn = sqlite3.connect(uri + "&immutable=1", uri=True, timeout=30.0,
                                   isolation_level=None)
    else:
        if not Path(path).exists():
            _create(Path(path))
        conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        empty = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
        if version == SCHEMA_VERSION or (version == 0 and empty):  # else: not ours, untouched
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            if version == 0:
                conn.executescript("BEGIN;" + DDL +
                                   f"PRAGMA user_version = {SCHEMA_VERSION};COMMIT;")
    return conn


def schema_problem(conn: sqlite3.Connection) -> str | None:
    """Why the database behind ``conn`` is not a run store this scalinglab reads, or None."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        return (f"the run store has schema version {version}; this scalinglab reads up to "
                f"{SCHEMA_VERSION} (upgrade scalinglab)")
    if version == 0 and not conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
        return "an empty database, not (yet) a scalinglab run store: it has no tables"
    if version != SCHEMA_VERSION:
        return f"not a scalinglab run store (schema version {version}, expected {SCHEMA_VERSION})"
    for table, needed in REQUIRED_COLUMNS.items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if not have:
            return f"not a scalinglab run store (no {table} table)"
        missing = sorted(needed - have)
        if missing:
            return (f"not a scalinglab run store (table {table} lacks the column(s) "
                    f"{', '.join(missing)})")
    return None

"""The run store: studies, runs and learning curves in one SQLite file.

:class:`RunStore` is the only code that writes the database. Every change of a run's state is
one transaction, and so is a run's whole result (status, metrics and curve) when it ends, so a
reader, or a driver restarted after being killed, sees a run either finished with all of its
data or not finished at all. A run is identified by :func:`run_id_for`, a hash of its config:
registering a study again adds only the runs it did not have.

A write the disk refuses (full, read-only filesystem, I/O error) is rolled back and raised as
:class:`StoreWriteError`, whose message says how to resume; a file that is not a run store of
this schema version is refused before anything is read or written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalinglab.errors import InputError, ScalingLabError
from scalinglab.store.schema import CURVE_COLUMNS, connect, schema_problem, writable


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal configs give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_id_for(config: Mapping[str, Any]) -> str:
    """The identity of a run: the first 16 hex digits of the sha256 of its canonical config."""
    return hashlib.sha256(canonical_json(dict(config)).encode()).hexdigest()[:16]


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become ``None`` (SQLite's JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class PlannedRun:
    """One run a study asks for: its config (what the trainer gets) and the design's labels."""

    config: dict[str, Any]
    labels: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return run_id_for(self.config)


@dataclass
class RunRecord:
    """One row of ``runs`` (with the study's labels when read through a study)."""

    run_id: str
    config: dict[str, Any]
    status: str
    attempts: int
    failures: int
    error: str | None
    metrics: dict[str, Any] | None
    out_dir: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    study: str | None = None
    labels: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row, store: Path | None = None) -> RunRecord:
        """The record of a row, its ``out_dir`` resolved for the store file ``store``
        (:func:`resolve_out_dir`)."""
        keys = row.keys()
        return cls(
            run_id=row["run_id"],
            config=json.loads(row["config"]),
            status=row["status"],
            attempts=row["attempts"],
            failures=row["failures"],
            error=row["error"],
            metrics=json.loads(row["metrics"]) if row["metrics"] else None,
            out_dir=resolve_out_dir(row["out_dir"], store),
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            study=row["study"] if "study" in keys else None,
            labels=json.loads(row["labels"]) if "labels" in keys and row["labels"] else {},
        )


def relative_out_dir(out_dir: str | Path, base: Path) -> str:
    """A run folder as the store records it: relative to the store's folder ``base`` (POSIX
    separators) when it lies inside it, so a store copied or moved with its folder still
    points to its runs; absolute otherwise."""
    p = Path(out_dir)
    try:
        return p.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(p.resolve())


def resolve_out_dir(stored: str | None, store: Path | None) -> str | None:
    """The run folder of a stored ``out_dir``, for the store file ``store``: a relative one
    against the store's folder. Paths older versions wrote (absolute, or relative to the
    working folder of the sweep) are kept as they are when they exist; when they do not and
    they name a folder ``<store>.runs/RUN`` (the store was copied or moved with its runs),
    the same run folder beside this store."""
    if stored is None or store is None:
        return stored
    p = Path(stored)
    here = p if p.is_absolute() else store.parent / p
    if here.exists() or p.parent.name != store.name + ".runs":
        return str(here)
    return str(store.parent / (store.name + ".runs") / p.name)


@dataclass(frozen=True)
class StudyInfo:
    """One row of ``studies`` with its spec decoded."""

    name: str
    spec: dict[str, Any]
    spec_path: str | None
    created_at: float
    updated_at: float


#: SQLite's words for a write that the disk or the filesystem refused
_WRITE_FAILURES = ("disk is full", "readonly database", "read-only", "disk i/o error",
                   "unable to open database file")


def is_write_failure(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLite failing to write (disk full, read-only, I/O error)."""
    name = str(getattr(exc, "sqlite_errorname", ""))
    if name.startswith(("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")):
        return True
    return any(w in str(exc).lower() for w in _WRITE_FAILURES)


def read_only_message(path: Path) -> str:
    """Why a store cannot be written, and what to do instead."""
    what = "file" if path.exists() and not os.access(path, os.W_OK) else "folder"
    return (f"the run store is read-only (no write permission on its {what}); a sweep writes "
            "its runs to the store: make it writable or copy it to a writable folder "
            "(runs list, runs export, fit and report read it where it is)")


class StoreWriteError(ScalingLabError):
    """A write to the run store that the disk refused (full, read-only, I/O error). The store
    is intact (the transaction was rolled back); the message says how to resume."""

    def __init__(self, path: Path, exc: sqlite3.Error) -> None:
        super().__init__(
            f"file {path}: could not write to the run store ({exc}). The runs recorded so "
            "far are intact and nothing half-written was kept; free some disk space (or make "
            "the store and its folder writable), then run the same command again to resume")
        self.path = path


_RUN_SELECT = """
SELECT r.*, sr.study AS study, sr.labels AS labels
FROM runs r JOIN study_runs sr ON sr.run_id = r.run_id
"""


class RunStore:
    """A run store (SQLite, WAL). Open with ``RunStore(path)``; use as a context manager.

    ``readonly=True`` opens an existing store without creating or changing anything (for
    listing and exporting while a sweep writes to it).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        src = str(self.path)
        if readonly and not self.path.exists():
            raise InputError("no such run store", source=src)
        if self.path.is_dir():
            raise InputError("is a folder, expected a run store (SQLite file)", source=src)
        if not readonly and not self.path.parent.exists():
            raise InputError("the folder of the run store does not exist", source=src)
        if not readonly and not writable(self.path):
            raise InputError(read_only_message(self.path), source=src)
        try:
            self._conn = connect(self.path, readonly=readonly)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a scalinglab run store: {exc}", source=src) from exc
        try:
            problem = schema_problem(self._conn)
        except sqlite3.DatabaseError as exc:
            problem = f"not a scalinglab run store: {exc}"
        if problem is not None:
            self._conn.close()
            raise InputError(problem, source=src)
        self.readonly = readonly

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on any exception). A write the disk
        or the filesystem refuses (full, read-only, I/O error) is a :class:`StoreWriteError`;
        nothing of the transaction is kept."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not is_write_failure(exc):
                raise
            raise StoreWriteError(self.path, exc) from None
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and is_write_failure(exc):
                raise StoreWriteError(self.path, exc) from None
            raise

    def runs_dir(self) -> Path:
        """Where run folders (checkpoints, curves) live: ``<store>.runs/`` beside the store."""
        return self.path.parent / (self.path.name + ".runs")

    # ------------------------------------------------------------------ studies
    def register_study(self, name: str, spec: Mapping[str, Any], runs: Sequence[PlannedRun],
                       *, spec_path: str | None = None) -> tuple[int, int]:
        """Record a study and the runs its design asks for, in one transaction.

        Runs already in the store (same config hash) are not added again; a run's results are
        never touched. The study then holds exactly ``runs`` (in their order); runs of an
        earlier version of its spec stay in the store but leave the study. Returns
        ``(new_runs, dropped_from_study)``.
        """
        now = time.time()
        ids = [r.run_id for r in runs]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"study {name!r} lists run {dup} twice")
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO studies (name, spec, spec_path, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "spec = excluded.spec, spec_path = excluded.spec_path, "
                "updated_at = excluded.updated_at",
                (name, canonical_json(_clean(spec)), spec_path, now, now))
            before = tx.total_changes
            tx.executemany(
                "INSERT OR IGNORE INTO runs (run_id, config, status, created_at) "
                "VALUES (?, ?, 'pending', ?)",
                [(r.run_id, canonical_json(r.config), now) for r in runs])
            new = tx.total_changes - before
            old = {row[0] for row in tx.execute(
                "SELECT run_id FROM study_runs WHERE study = ?", (name,))}
            dropped = old - set(ids)
            tx.executemany("DELETE FROM study_runs WHERE study = ? AND run_id = ?",
                           [(name, rid) for rid in dropped])
            tx.executemany(
                "INSERT INTO study_runs (study, run_id, position, labels) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(study, run_id) DO UPDATE SET position = excluded.position, "
                "labels = excluded.labels",
                [(name, r.run_id, i, canonical_json(_clean(r.labels)))
                 for i, r in enumerate(runs)])
        return new, len(dropped)

    def studies(self) -> list[StudyInfo]:
        rows = self._conn.execute("SELECT * FROM studies ORDER BY created_at, name").fetchall()
        return [StudyInfo(r["name"], json.loads(r["spec"]), r["spec_path"], r["created_at"],
                          r["updated_at"]) for r in rows]

    def study(self, name: str) -> StudyInfo:
        for s in self.studies():
            if s.name == name:
                return s
        names = ", ".join(s.name for s in self.studies()) or "none"
        raise InputError(f"no study named {name!r} (studies: {names})", source=str(self.path))

    # ------------------------------------------------------------------ reading runs
    def runs(self, *, study: str | None = None,
             statuses: Iterable[str] | None = None) -> list[RunRecord]:
        """Runs of one study (in design order) or of all studies (each run once, under the
        first study that holds it), optionally only those with the given statuses."""
        sql = _RUN_SELECT
        args: list[Any] = []
        where = []
        if study is not None:
            where.append("sr.study = ?")
            args.append(study)
        else:
            # each run once: under the earliest-created study holding it
            where.append("sr.study = (SELECT s2.study FROM study_runs s2 JOIN studies st "
                         "ON st.name = s2.study WHERE s2.run_id = r.run_id "
                         "ORDER BY st.created_at, st.name LIMIT 1)")
        if statuses is not None:
            st = list(statuses)
            where.append(f"r.status IN ({', '.join('?' * len(st))})")
            args.extend(st)
        sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY (SELECT created_at FROM studies WHERE name = sr.study), sr.position"
        return [RunRecord.from_row(r, self.path) for r in self._conn.execute(sql, args)]

    def get(self, run_id: str) -> RunRecord:
        """A run by its id or a unique prefix of it."""
        rows = self._conn.execute(
            "SELECT r.*, sr.study AS study, sr.labels AS labels FROM runs r "
            "LEFT JOIN study_runs sr ON sr.run_id = r.run_id "
            "LEFT JOIN studies st ON st.name = sr.study "
            "WHERE substr(r.run_id, 1, ?) = ? ORDER BY r.run_id, st.created_at",
            (len(run_id), run_id)).fetchall()
        ids = sorted({r["run_id"] for r in rows})
        if not ids:
            raise InputError(f"no run with id {run_id!r}", source=str(self.path))
        if len(ids) > 1:
            raise InputError(f"run id prefix {run_id!r} is ambiguous: {', '.join(ids[:5])}",
                             source=str(self.path))
        return RunRecord.from_row(rows[0], self.path)

    def curve(self, run_id: str) -> list[dict[str, Any]]:
        """The learning curve of a run, one dict per row (``extra`` columns merged in)."""
        out = []
        for r in self._conn.execute(
                "SELECT * FROM curves WHERE run_id = ? ORDER BY row", (run_id,)):
            d = {c: r[c] for c in CURVE_COLUMNS}
            if r["extra"]:
                d.update(json.loads(r["extra"]))
            out.append(d)
        return out

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self._conn.execute(
            "SELECT * FROM attempts WHERE run_id = ? ORDER BY attempt", (run_id,))]

    def counts(self, study: str | None = None) -> dict[str, int]:
        """Number of runs per status (of one study, or of the whole store)."""
        if study is None:
            rows = self._conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status")
        else:
            rows = self._conn.execute(
                "SELECT r.status, COUNT(*) FROM runs r JOIN study_runs sr "
                "ON sr.run_id = r.run_id WHERE sr.study = ? GROUP BY r.status", (study,))
        out = {s: 0 for s in ("pending", "running", "completed", "failed")}
        out.update({s: n for s, n in rows})
        return out

    # ------------------------------------------------------------------ state changes
    def reset_interrupted(self, run_ids: Iterable[str] | None = None) -> int:
        """Runs left ``running`` by a driver that died go back to ``pending`` (their attempt is
        closed as ``interrupted``; it does not count as a failure). Call only while holding
        the sweep lock of the store."""
        now = time.time()
        with self.transaction() as tx:
            if run_ids is None:
                ids = [r[0] for r in tx.execute("SELECT run_id FROM runs WHERE status='running'")]
            else:
                ids = list(run_ids)
            for rid in ids:
                tx.execute("UPDATE attempts SET finished_at = ?, outcome = 'interrupted' "
                           "WHERE run_id = ? AND finished_at IS NULL", (now, rid))
                tx.execute("UPDATE runs SET status = 'pending' WHERE run_id = ? "
                           "AND status = 'running'", (rid,))
        return len(ids)

    def reset_failures(self, run_ids: Iterable[str]) -> None:
        """Give failed runs a fresh retry budget (``--retry-failed``)."""
        with self.transaction() as tx:
            tx.executemany("UPDATE runs SET failures = 0, status = 'pending' "
                           "WHERE run_id = ? AND status = 'failed'",
                           [(rid,) for rid in run_ids])

    def start_run(self, run_id: str, *, out_dir: str, worker: str = "") -> int:
        """Mark a run ``running`` and open a new attempt; returns the attempt number."""
        now = time.time()
        with self.transaction() as tx:
            row = tx.execute("SELECT status, attempts FROM runs WHERE run_id = ?",
                             (run_id,)).fetchone()
            if row is None:
                raise KeyError(run_id)
            if row["status"] == "completed":
                raise RuntimeError(f"run {run_id} is already completed")
            attempt = row["attempts"] + 1
            tx.execute("UPDATE runs SET status = 'running', attempts = ?, started_at = ?, "
                       "out_dir = ? WHERE run_id = ?",
                       (attempt, now, relative_out_dir(out_dir, self.path.parent), run_id))
            tx.execute("INSERT OR REPLACE INTO attempts (run_id, attempt, started_at, worker) "
                       "VALUES (?, ?, ?, ?)", (run_id, attempt, now, worker))
        return attempt

    def complete_run(self, run_id: str, metrics: Mapping[str, Any],
                     curve: Sequence[Mapping[str, Any]] = ()) -> bool:
        """Write a finished run's result, in one transaction: status, metrics and the whole
        curve. Returns False (and changes nothing) when the run was already completed."""
        now = time.time()
        rows = []
        for i, point in enumerate(curve):
            point = _clean(dict(point))
            extra = {k: v for k, v in point.items() if k not in CURVE_COLUMNS}
            rows.append((run_id, i, *(point.get(c) for c in CURVE_COLUMNS),
                         canonical_json(extra) if extra else None))
        with self.transaction() as tx:
            cur = tx.execute(
                "UPDATE runs SET status = 'completed', metrics = ?, error = NULL, "
                "finished_at = ? WHERE run_id = ? AND status != 'completed'",
                (canonical_json(_clean(dict(metrics))), now, run_id))
            if cur.rowcount == 0:
                return False
            tx.execute("DELETE FROM curves WHERE run_id = ?", (run_id,))
            tx.executemany(f"INSERT INTO curves (run_id, row, {', '.join(CURVE_COLUMNS)}, extra)"
                           f" VALUES ({', '.join('?' * (len(CURVE_COLUMNS) + 3))})", rows)
            tx.execute("UPDATE attempts SET finished_at = ?, outcome = 'completed' "
                       "WHERE run_id = ? AND finished_at IS NULL", (now, run_id))
        return True

    def fail_run(self, run_id: str, error: str) -> int:
        """Record a failed attempt (status ``failed``, the error kept); returns the number of
        failures so far."""
        now = time.time()
        with self.transaction() as tx:
            tx.execute("UPDATE runs SET status = 'failed', failures = failures + 1, error = ?, "
                       "finished_at = ? WHERE run_id = ? AND status != 'completed'",
                       (error, now, run_id))
            tx.execute("UPDATE attempts SET finished_at = ?, outcome = 'failed', error = ? "
                       "WHERE run_id = ? AND finished_at IS NULL", (now, error, run_id))
            row = tx.execute("SELECT failures FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return int(row[0]) if row else 0

"""MLflow: runs of a tracking server, a SQLite backend or a ``mlruns/`` folder.

The source is a tracking URI (``http://host:5000``, ``sqlite:///mlflow.db``, ``file:///...``)
or a path (a ``mlruns/`` folder, or a ``*.db`` that is an MLflow backend). Runs are read with
:class:`mlflow.MlflowClient`: ``--experiment NAME`` (repeatable; default every experiment)
and ``--filter`` (MLflow's search syntax, e.g. ``"params.lr = '0.001'"``). A run's params and
tags are its config (tags without the ``mlflow.`` ones), its latest metric values the final
values, and the history of the metrics the mapping uses is read with ``get_metric_history``.
Runs written by ``scalinglab sweep run --log-to mlflow`` carry ``scalinglab.*`` tags that say
how to read them back (their run id, loss metric and N convention).

MLflow 3 refuses a file store unless ``MLFLOW_ALLOW_FILE_STORE`` is set; reading one, the
importer sets it for the process (reading changes nothing in the folder).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scalinglab.errors import InputError, ParameterError
from scalinglab.importers.mapping import (
    EXPORT_PREFIX,
    Imported,
    RawRun,
    build,
    number,
    require,
    take_export_keys,
)


def is_mlflow_dir(path: Path) -> bool:
    """A ``mlruns/``-like folder: experiment folders with a ``meta.yaml``."""
    if not path.is_dir():
        return False
    if path.name == "mlruns" or ((path / "models").is_dir() and (path / "0").is_dir()):
        return True
    return any((p / "meta.yaml").is_file() and p.name.isdigit() for p in path.iterdir()
               if p.is_dir())


def is_mlflow_db(path: Path) -> bool:
    """A SQLite file with MLflow's tables (``experiments``, ``runs``, ``metrics``)."""
    if not path.is_file() or path.suffix.lower() not in (".db", ".sqlite", ".sqlite3"):
        return False
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE "
                                               "type='table'")}
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return {"experiments", "runs", "metrics", "params"} <= names


def tracking_uri(source: str) -> str:
    """The tracking URI of a source string (a path becomes ``file://`` or ``sqlite:///``)."""
    if source.startswith(("http://", "https://", "sqlite:", "file:", "postgresql", "mysql",
                          "databricks")):
        return source
    p = Path(source).resolve()
    if p.is_file():
        return f"sqlite:///{p}"
    return p.as_uri()


def _client(uri: str) -> Any:
    mlflow = require("mlflow", "mlflow")
    if uri.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return mlflow.MlflowClient(tracking_uri=uri)


def _experiments(client: Any, names: Sequence[str] | None, source: str) -> list[Any]:
    exps = client.search_experiments()
    if not names:
        return list(exps)
    out = []
    for name in names:
        hit = [e for e in exps if e.name == name or e.experiment_id == name]
        if not hit:
            raise ParameterError("experiments", f"no experiment {name!r} in {source}; the "
                                 f"experiments are {', '.join(e.name for e in exps) or '(none)'}")
        out.extend(hit)
    return out


def _search(client: Any, exp_ids: list[str], filter_string: str | None) -> list[Any]:
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(exp_ids, filter_string=filter_string or "",
                                  max_results=1000, page_token=token)
        runs.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return runs


def read_mlflow(source: str, *, experiments: Sequence[str] | None = None,
                filter_string: str | None = None, mapping: Mapping[str, str] | None = None,
                constants: Mapping[str, Any] | None = None,
                include_unfinished: bool = False) -> Imported:
    """The runs of an MLflow tracking URI or folder (see the module docstring)."""
    uri = tracking_uri(source)
    client = _client(uri)
    mlflow = require("mlflow", "mlflow")
    try:
        exps = _experiments(client, experiments, source)
        runs = _search(client, [e.experiment_id for e in exps], filter_string)
    except mlflow.exceptions.MlflowException as exc:
        if "filter" in str(exc).lower() and filter_string:
            raise ParameterError("filter_string", f"{filter_string!r}: {exc}") from None
        raise InputError(f"MLflow could not read it: {exc}", source=source) from None
    exp_names = {e.experiment_id: e.name for e in exps}
    raw: list[RawRun] = []
    skipped = 0
    for run in runs:
        if not include_unfinished and run.info.status not in ("FINISHED",):
            skipped += 1
            continue
        tags = dict(run.data.tags)
        config: dict[str, Any] = {}
        for k, v in run.data.params.items():
            x = number(v)
            config[k] = v if x != x else x  # params are text: numbers where they parse
        for k, v in tags.items():
            if k.startswith(EXPORT_PREFIX):
                config[k] = v
            elif not k.startswith("mlflow."):
                config.setdefault(k, v)
        name = tags.get("mlflow.runName") or run.info.run_name or run.info.run_id
        run_uuid = run.info.run_id

        def fetch(key: str, _rid: str = run_uuid) -> list[tuple[float, float]]:
            return [(float(m.step), float(m.value))
                    for m in client.get_metric_history(_rid, key)]

        meta = {"mlflow_run_id": run_uuid,
                "experiment": exp_names.get(run.info.experiment_id, "")}
        raw.append(take_export_keys(RawRun(
            run_id=run_uuid, name=str(name), config=config,
            summary={k: float(v) for k, v in run.data.metrics.items()}, fetch=fetch,
            meta=meta)))
    if not raw:
        what = f" ({skipped} run(s) not FINISHED)" if skipped else ""
        raise InputError(f"no finished MLflow runs in experiment(s) "
                         f"{', '.join(e.name for e in exps) or '(none)'}{what}", source=source)
    imp = build(raw, source=source, importer="mlflow", mapping=mapping, constants=constants,
                extra_provenance={"tracking_uri": uri, "experiments": [e.name for e in exps],
                                  "filter": filter_string})
    if skipped:
        imp.notes.append(f"{skipped} run(s) not FINISHED left out")
    return imp

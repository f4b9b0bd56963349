"""Weights & Biases: offline run folders, the W&B API, and the CSV the W&B UI exports.

* Offline runs (``WANDB_MODE=offline`` writes ``wandb/offline-run-*/run-ID.wandb``; synced
  runs leave ``wandb/run-*/``): the source is the ``wandb/`` folder, one run folder or one
  ``.wandb`` file. The ``.wandb`` file is a LevelDB-style log of the SDK's protobuf records;
  each record is decoded with the SDK's own ``wandb.proto.wandb_internal_pb2.Record`` (run,
  config, history and summary records). Nothing is sent anywhere.
* ``--entity E --project P``: the runs of a project through ``wandb.Api()`` (needs network
  access and a login); ``--filter`` is a JSON MongoDB-style filter as the API takes it.
* A CSV exported from the W&B UI: the runs table (``Name``, ``State``, ... then config and
  summary columns: one run per row, no curves) or a line plot (``Step`` and ``RUN - METRIC``
  columns: the curves).
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglab.errors import InputError, ParameterError
from scalinglab.importers.mapping import (
    Imported,
    RawRun,
    build,
    flatten,
    number,
    require,
    take_export_keys,
)

_HEADER = b":W&B"
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def wandb_files(path: Path) -> list[Path]:
    """The ``.wandb`` files of a file, a run folder or a ``wandb/`` folder."""
    if path.is_file():
        return [path] if path.suffix == ".wandb" else []
    if not path.is_dir():
        return []
    found = sorted(path.glob("*.wandb"))
    if not found:
        found = sorted(path.glob("*/*.wandb"))
    if not found and (path / "wandb").is_dir():
        found = sorted((path / "wandb").glob("*/*.wandb"))
    seen: dict[Path, Path] = {}
    for f in found:  # latest-run is a link to one of the run folders
        if not f.parent.is_symlink():
            seen.setdefault(f.resolve(), f)
    return sorted(seen.values())


def _records(path: Path) -> Iterator[bytes]:
    """The records of a ``.wandb`` log (LevelDB log format: 32 KiB blocks of chunks, each
    with a 7-byte header: CRC-32, length, type), after the 7-byte W&B file header."""
    data = path.read_bytes()
    if data[:4] != _HEADER:
        raise InputError("not a W&B run log (.wandb): bad header", source=str(path))
    pos, buf = 7, b""
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        pos += 7
        chunk = data[pos:pos + length]
        pos += length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            buf = chunk
        elif kind == _MIDDLE:
            buf += chunk
        elif kind == _LAST:
            yield buf + chunk
            buf = b""
        elif kind == 0 and length == 0:  # block padding
            continue


def _item_key(item: Any) -> str:
    return item.key if item.key else "/".join(item.nested_key)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def read_wandb_file(path: Path) -> RawRun:
    """One offline run from its ``.wandb`` file (config, history by ``_step``, summary)."""
    pb = require("wandb.proto.wandb_internal_pb2", "wandb")
    run_id, name, config, meta = path.stem.removeprefix("run-"), "", {}, {}
    history: dict[str, list[tuple[float, float]]] = {}
    summary: dict[str, Any] = {}
    for chunk in _records(path):
        rec = pb.Record()
        try:
            rec.ParseFromString(chunk)
        except Exception:  # a torn record at the end of a crashed run's log
            continue
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            r = rec.run
            run_id, name = r.run_id or run_id, r.display_name or name
            meta.update({"project": r.project, "wandb_group": r.run_group})
            for item in r.config.update:
                config[_item_key(item)] = _json(item.value_json)
        elif kind == "config":
            for item in rec.config.update:
                config[_item_key(item)] = _json(item.value_json)
            for item in rec.config.remove:
                config.pop(_item_key(item), None)
        elif kind == "history":
            items = {_item_key(i): _json(i.value_json) for i in rec.history.item}
            step = number(items.get("_step", rec.history.step.num))
            for k, v in items.items():
                x = number(v)
                if not k.startswith("_") and math.isfinite(x):
                    history.setdefault(k, []).append((step, x))
        elif kind == "summary":
            for item in rec.summary.update:
                summary[_item_key(item)] = _json(item.value_json)
    config = {k: v for k, v in flatten({k: v for k, v in config.items()
                                        if not k.startswith("_")}).items()}
    final = {k: number(v) for k, v in summary.items()
             if not k.startswith("_") and math.isfinite(number(v))}
    return take_export_keys(RawRun(run_id=run_id, name=name or run_id, config=config,
                                   summary=final, history=history,
                                   meta={k: v for k, v in meta.items() if v}))


def read_wandb_offline(source: str, *, mapping: Mapping[str, str] | None = None,
                       constants: Mapping[str, Any] | None = None) -> Imported:
    """The runs of a ``wandb/`` folder, a run folder or a ``.wandb`` file."""
    files = wandb_files(Path(source))
    if not files:
        raise InputError("no W&B run log (run-*/*.wandb) found", source=source)
    raw = [read_wandb_file(f) for f in files]
    return build(raw, source=source, importer="wandb", mapping=mapping, constants=constants,
                 extra_provenance={"files": [str(f) for f in files]})


def read_wandb_api(entity: str | None, project: str, *, filters: str | None = None,
                   mapping: Mapping[str, str] | None = None,
                   constants: Mapping[str, Any] | None = None,
                   max_steps: int = 10_000) -> Imported:
    """The finished runs of ``entity/project`` through ``wandb.Api()`` (network, login)."""
    wandb = require("wandb", "wandb")
    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        raise ParameterError("project", "WANDB_MODE is offline/disabled: the W&B API needs "
                             "the network; read the offline run folders (wandb/) instead")
    path = f"{entity}/{project}" if entity else project
    try:
        flt = json.loads(filters) if filters else None
    except ValueError as exc:
        raise ParameterError("filters", f"with a project the filter is W&B's JSON filter "
                             f"({exc})") from None
    try:
        api = wandb.Api(timeout=30)
        runs = list(api.runs(path, filters=flt))
    except Exception as exc:  # the API raises its own error types (network, auth, 404)
        raise InputError(f"the W&B API could not list the runs: {exc}", source=path) from None
    raw: list[RawRun] = []
    for run in runs:
        if getattr(run, "state", "finished") != "finished":
            continue
        config = flatten({k: v for k, v in dict(run.config).items() if not k.startswith("_")})
        summary = {k: number(v) for k, v in dict(run.summary).items()
                   if not k.startswith("_") and math.isfinite(number(v))}

        def fetch(key: str, _run: Any = run) -> list[tuple[float, float]]:
            return [(number(row.get("_step")), number(row.get(key)))
                    for row in _run.scan_history(keys=["_step", key], page_size=1000)
                    if row.get(key) is not None][:max_steps]

        raw.append(take_export_keys(RawRun(
            run_id=str(run.id), name=str(run.name), config=config, summary=summary,
            fetch=fetch, meta={"project": project, "wandb_group": run.group or ""})))
    return build(raw, source=f"wandb:{path}", importer="wandb", mapping=mapping,
                 constants=constants)


def is_wandb_csv(path: Path) -> bool:
    """A CSV the W&B UI exported: its runs table or a line plot."""
    if not path.is_file() or path.suffix.lower() != ".csv":
        return False
    try:
        head = pd.read_csv(path, nrows=0).columns
    except (ValueError, OSError):
        return False
    cols = set(map(str, head))
    runs_table = {"Name", "State"} <= cols and bool(cols & {"Runtime", "Created", "User",
                                                            "Tags", "Notes", "Sweep"})
    plot = "Step" in cols and any(" - " in c for c in cols)
    return runs_table or plot


def read_wandb_csv(source: str, *, mapping: Mapping[str, str] | None = None,
                   constants: Mapping[str, Any] | None = None) -> Imported:
    """A W&B UI export: the runs table (a run per row) or a line plot's CSV (curves)."""
    df = pd.read_csv(source)
    cols = list(map(str, df.columns))
    raw: list[RawRun] = []
    if "Step" in cols and any(" - " in c for c in cols):
        by_run: dict[str, dict[str, list[tuple[float, float]]]] = {}
        for c in cols:
            if " - " not in c or c.endswith(("__MIN", "__MAX")):
                continue
            run, metric = c.rsplit(" - ", 1)
            pts = [(number(s), number(v)) for s, v in zip(df["Step"], df[c], strict=True)
                   if math.isfinite(number(v))]
            by_run.setdefault(run, {})[metric] = pts
        for run, hist in by_run.items():
            raw.append(RawRun(run_id=run, name=run, history=hist))
        kind = "W&B line-plot CSV"
    else:
        skip = {"State", "Notes", "User", "Tags", "Created", "Runtime", "Sweep"}
        for i, rec in enumerate(df.to_dict("records")):
            name = str(rec.get("Name") or f"row{i + 1}")
            rid = str(rec.get("ID") or rec.get("Run ID") or name)
            config: dict[str, Any] = {}
            summary: dict[str, float] = {}
            for k, v in rec.items():
                k = str(k)
                if k in skip or k in ("Name", "ID", "Run ID"):
                    continue
                x = number(v)
                if math.isfinite(x):
                    summary[k] = x
                    config[k] = x
                elif isinstance(v, str):
                    config[k] = v
            raw.append(RawRun(run_id=rid, name=name, config=config, summary=summary,
                              meta={"state": rec.get("State")}))
        kind = "W&B runs-table CSV"
    return build(raw, source=source, importer="wandb", mapping=mapping, constants=constants,
                 extra_provenance={"format": kind})

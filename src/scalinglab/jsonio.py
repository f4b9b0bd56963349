"""JSON shared by every command: NumPy values to Python, non-finite floats to null, atomic writes
(temp file + rename) whose failures name the option, a check that an output path can be written
before any work starts, and JSON parsing whose failures (bad syntax, nesting too deep for the
parser, duplicate keys) are one :class:`~scalinglab.errors.InputError` naming the file."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scalinglab.errors import InputError, argument_error


def to_jsonable(v: Any) -> Any:
    """Recursively: dict keys to str, tuples/arrays to lists, NumPy scalars to Python,
    NaN/inf to None."""
    if isinstance(v, dict):
        return {str(k): to_jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return to_jsonable(v.tolist())
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


def write_json(path: str | Path, doc: Any, option: str = "path") -> None:
    """Write ``doc`` to ``path`` atomically; an unwritable path is the error of ``option`` (a
    flag such as ``--json`` from the CLI, else the Python parameter that gave the path)."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(to_jsonable(doc), indent=2) + "\n", encoding="utf-8")
        tmp.replace(p)
    except OSError as exc:
        raise argument_error(option, f"cannot write {p}: {exc.strerror or exc}") from None


def check_writable(path: str | Path, option: str) -> None:
    """Fail now, naming ``option``, if a file cannot be written at ``path`` later (a folder
    there, no folder to create it in, no permission, a read-only or virtual filesystem): a
    probe file is created and removed in the nearest existing folder."""
    p = Path(path)
    if p.is_dir():
        raise argument_error(option, f"{p} is a folder, expected a file name")
    folder = p.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise argument_error(option, f"cannot write {p}: {folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".scalinglab-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise argument_error(option, f"cannot write {p}: {exc.strerror or exc} in "
                                  f"{folder}") from None


def _no_duplicate_keys(source: str | None) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise InputError(f"the key {k!r} appears twice in one JSON object",
                                 source=source)
            out[k] = v
        return out

    return hook


def parse_json(text: str | bytes, source: str | None = None, *,
               duplicate_keys: bool = False, **kwargs: Any) -> Any:
    """``json.loads`` with its failures as an :class:`InputError` naming ``source``: invalid
    JSON, nesting too deep to parse (Python's parser recurses; a crafted ``[[[[...`` would be a
    RecursionError) and, unless ``duplicate_keys``, a key given twice in one object."""
    if not duplicate_keys:
        kwargs.setdefault("object_pairs_hook", _no_duplicate_keys(source))
    try:
        return json.loads(text, **kwargs)
    except RecursionError:
        raise InputError("the JSON is nested too deeply to read", source=source) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc}", source=source) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", source=source) from None

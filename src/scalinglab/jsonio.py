"""JSON output shared by every command: NumPy values to Python, non-finite floats to null,
and atomic writes (temp file + rename) whose failures name the option."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from scalinglab.errors import OptionError


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


def write_json(path: str | Path, doc: Any, option: str = "--json") -> None:
    """Write ``doc`` to ``path`` atomically; an unwritable path is the option's error."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(to_jsonable(doc), indent=2) + "\n", encoding="utf-8")
        tmp.replace(p)
    except OSError as exc:
        raise OptionError(option, f"cannot write {p}: {exc.strerror or exc}") from None

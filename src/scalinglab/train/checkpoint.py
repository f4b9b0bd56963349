"""Checkpoints and other files of a run folder, written atomically (temp file + rename).

A run folder holds ``config.json`` (at start), ``checkpoint.pt`` (the latest checkpoint),
``curve.csv`` (rewritten at every evaluation) and ``result.json`` (when the run is done). A
checkpoint has everything a resumed run needs to continue bit for bit on the same device and
thread count: model and optimiser state, step, the torch (and CUDA) RNG states, and the
:class:`RunState` (the curve so far, the running sums, the :class:`~scalinglab.train.clock.Clock`
totals). :func:`make_checkpoint` lays a checkpoint out and :func:`restore_checkpoint` reads it
back, both from the fields of :class:`RunState`, so adding a field needs no other change (a
checkpoint without it is then reported as unreadable). The layout is the same as before the
state became a dataclass (format 1; one flat mapping), so older checkpoints resume. The data
position needs no state: batch ``s`` is a function of (seed, s), see
:func:`scalinglab.train.evaluate.train_batch`.

A checkpoint that cannot be read back (truncated, empty, random bytes, missing entries) is never
fatal: :func:`load_checkpoint` renames it aside (``checkpoint.pt.corrupt-<UTC time>``), says so
through its ``warn`` callback, and returns None, so the run restarts from scratch (a run folder
keeps one checkpoint, the last good one being the one that was overwritten). A resumed sweep or
``--retry-failed`` therefore recovers such a run without anyone deleting files by hand.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from scalinglab.train.clock import Clock

CHECKPOINT = "checkpoint.pt"
CURVE = "curve.csv"
RESULT = "result.json"
CONFIG = "config.json"
FORMAT = 1
CURVE_COLUMNS = ("step", "tokens", "flops", "train_loss", "val_loss", "lr", "noise_scale",
                 "elapsed_s")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(out_dir: Path, state: dict[str, Any]) -> Path:
    """Serialise ``state`` with :func:`torch.save` to ``out_dir/checkpoint.pt`` atomically."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buf)
    path = out_dir / CHECKPOINT
    atomic_write_bytes(path, buf.getvalue())
    return path


@dataclass
class RunState:
    """What a run accumulates as it trains and a checkpoint carries, besides the model, the
    optimiser and the RNG: the learning curve (rows of ``curve.csv``), the training losses
    summed since the last evaluation, the step-0 validation loss and the clock's totals."""

    curve: list[dict[str, Any]] = field(default_factory=list)
    loss_sum: float = 0.0
    loss_count: int = 0
    initial_val_loss: float = math.nan
    clock: Clock = field(default_factory=Clock)


#: the entries of a checkpoint outside :class:`RunState`
_TORCH_KEYS = ("config", "step", "model", "optimizer", "rng")
#: what :func:`load_checkpoint` needs in a checkpoint to resume from it
REQUIRED_KEYS = (*_TORCH_KEYS,
                 *(f.name for f in dataclasses.fields(RunState) if f.name != "clock"),
                 *(f.name for f in dataclasses.fields(Clock)))


def make_checkpoint(config: dict[str, Any], step: int, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, device: torch.device,
                    state: RunState) -> dict[str, Any]:
    """The checkpoint of a run after ``step`` steps (for :func:`save_checkpoint`): one flat
    mapping of :data:`REQUIRED_KEYS`, the clock's totals among them."""
    out: dict[str, Any] = {"config": config, "step": step, "model": model.state_dict(),
                           "optimizer": optimizer.state_dict(), "rng": rng_state(device)}
    for f in dataclasses.fields(state):
        if f.name == "clock":
            out.update(state.clock.totals())
        else:
            out[f.name] = getattr(state, f.name)
    return out


def restore_checkpoint(data: dict[str, Any], model: torch.nn.Module,
                       optimizer: torch.optim.Optimizer, device: torch.device,
                       state: RunState) -> int:
    """Load a checkpoint (of :func:`make_checkpoint`, or one written before :class:`RunState`
    existed: the same entries) into ``model``, ``optimizer``, torch's RNG and ``state``;
    returns its step."""
    model.load_state_dict(data["model"])
    optimizer.load_state_dict(data["optimizer"])
    for f in dataclasses.fields(state):
        if f.name == "clock":
            state.clock.load(data)
        elif f.name == "curve":
            state.curve = list(data["curve"])
        else:
            setattr(state, f.name, type(getattr(state, f.name))(data[f.name]))
    set_rng_state(data["rng"], device)
    return int(data["step"])


def quarantine(path: Path) -> Path:
    """Rename an unreadable file aside, to ``<name>.corrupt-<UTC time>``; returns the new
    path (kept for inspection, never read again)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, target)
    return target


def load_checkpoint(out_dir: Path, warn: Callable[[str], None] | None = None
                    ) -> dict[str, Any] | None:
    """The latest checkpoint in ``out_dir`` (on CPU), or None if there is none.

    A checkpoint that cannot be read (truncated, empty, not a checkpoint, entries missing) is
    renamed aside with :func:`quarantine` and reported through ``warn``; None is returned, so
    the caller starts afresh.
    """
    path = out_dir / CHECKPOINT
    if not path.exists():
        return None
    problem: str | None = None
    state: Any = None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError:
        raise
    except Exception as exc:  # EOFError, UnpicklingError, RuntimeError (zip), OSError, ...
        problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if problem is None:
        if not isinstance(state, dict):
            problem = f"holds a {type(state).__name__}, not a checkpoint"
        elif state.get("format") == FORMAT:
            missing = [k for k in REQUIRED_KEYS if k not in state]
            if missing:
                problem = f"entries missing: {', '.join(missing)}"
    if problem is not None:
        moved = quarantine(path)
        if warn is not None:
            warn(f"checkpoint {path} is unreadable ({problem}); moved it aside to {moved.name} "
                 "and the run starts again from scratch")
        return None
    if state.get("format") != FORMAT:
        return None
    return state


def rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def write_curve(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite the learning-curve CSV (columns :data:`CURVE_COLUMNS`) atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CURVE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in CURVE_COLUMNS})
    atomic_write_text(path, buf.getvalue())


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")

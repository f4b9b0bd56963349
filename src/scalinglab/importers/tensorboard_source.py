"""TensorBoard event files: every folder of a log directory that holds event files is a run.

Scalars are read with TensorBoard's own ``EventAccumulator`` (all points, no sampling);
``--tag`` limits the tags read (repeatable; shell patterns such as ``'val/*'`` work). A tag's
points are ``(step, value)``; its last value is the final value. Event files hold no run
config, so the config is read from the first of ``hparams.yaml`` (Lightning), ``config.json``,
``config.yaml``, ``hparams.json`` or ``params.json`` found in the run folder or a folder above
it (up to the log directory); a scalar tag with a single point (``model/params`` logged once)
is also usable as a constant. ``--set N=...`` fills in what is in neither.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scalinglab.errors import InputError
from scalinglab.importers.mapping import Imported, RawRun, build, flatten, require

CONFIG_FILES = ("hparams.yaml", "config.json", "config.yaml", "hparams.json", "params.json")


def event_dirs(root: Path) -> list[Path]:
    """The folders under ``root`` (itself included) that hold ``events.out.tfevents.*``."""
    if root.is_file() and root.name.startswith("events.out.tfevents"):
        return [root.parent]
    if not root.is_dir():
        return []
    return sorted({p.parent for p in root.rglob("events.out.tfevents.*") if p.is_file()})


def _config(run_dir: Path, root: Path) -> tuple[dict[str, Any], str | None]:
    d = run_dir
    while True:
        for name in CONFIG_FILES:
            p = d / name
            if p.is_file():
                try:
                    if p.suffix == ".json":
                        obj = json.loads(p.read_text(encoding="utf-8"))
                    else:
                        import yaml

                        obj = yaml.safe_load(p.read_text(encoding="utf-8"))
                except (ValueError, OSError) as exc:
                    raise InputError(f"could not read the run config: {exc}",
                                     source=str(p)) from None
                if isinstance(obj, dict):
                    return flatten(obj), str(p)
        if d == root or root not in d.parents:
            return {}, None
        d = d.parent


def read_tensorboard(source: str, *, tags: Sequence[str] | None = None,
                     mapping: Mapping[str, str] | None = None,
                     constants: Mapping[str, Any] | None = None) -> Imported:
    """The runs of a TensorBoard log directory (see the module docstring)."""
    require("tensorboard", "tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import (
        SCALARS,
        EventAccumulator,
    )

    root = Path(source).resolve()
    dirs = event_dirs(root)
    if not dirs:
        raise InputError("no TensorBoard event files (events.out.tfevents.*) found",
                         source=source)
    base = root if root.is_dir() else root.parent
    raw: list[RawRun] = []
    for d in dirs:
        acc = EventAccumulator(str(d), size_guidance={SCALARS: 0})
        acc.Reload()
        names = acc.Tags().get("scalars", [])
        if tags:
            names = [t for t in names if any(fnmatch.fnmatchcase(t, pat) for pat in tags)]
        history = {t: [(float(e.step), float(e.value)) for e in acc.Scalars(t)] for t in names}
        config, cfg_file = _config(d, base)
        rel = d.relative_to(base).as_posix() if d != base else d.name
        summary = {t: pts[-1][1] for t, pts in history.items() if pts}
        for t, pts in history.items():  # a tag logged once is a constant of the run
            if len(pts) == 1:
                config.setdefault(t, pts[0][1])
        raw.append(RawRun(run_id=rel, name=rel, config=config, summary=summary,
                          history=history,
                          meta={"config_file": cfg_file} if cfg_file else {}))
    if tags and not any(r.history for r in raw):
        raise InputError(f"no scalar tag matches --tag {', '.join(tags)}", source=source)
    return build(raw, source=source, importer="tensorboard", mapping=mapping,
                 constants=constants, extra_provenance={"tags": list(tags or [])})

"""Importers: observation tables from the places runs live (experiment trackers and logs).

:func:`read_source` reads a source into an :class:`~scalinglab.importers.mapping.Imported`
(a runs table, a curves table, conventions and provenance); :func:`detect` says which kind a
source is. Kinds (a ``KIND:`` prefix forces one, e.g. ``mlflow:runs/``, ``wandb:export.csv``):

=================  ============================================================================
``mlflow``         ``http(s)://`` tracking server, ``sqlite:///mlflow.db`` (or a ``.db`` with
                   MLflow's tables), ``file:`` URI or a ``mlruns/`` folder
``wandb``          a ``wandb/`` folder, an (offline-)run folder or ``.wandb`` file; ``wandb:``
                   with ``--project`` for the W&B API
``wandb-csv``      a CSV exported from the W&B UI (runs table or line plot)
``tensorboard``    a log directory with ``events.out.tfevents.*`` files
``hf``             a ``trainer_state.json`` or a Trainer output folder
``lightning``      Lightning's ``metrics.csv`` (or a folder of ``version_*/metrics.csv``)
``log``            nanoGPT / nanochat / litgpt text logs
=================  ============================================================================

The optional libraries (mlflow, wandb, tensorboard) are imported only when a source of theirs
is read; a missing one is an error naming the pip command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scalinglab.errors import InputError, ParameterError
from scalinglab.importers.mapping import Imported, describe, parse_map, parse_set

KINDS = ("mlflow", "wandb", "wandb-csv", "tensorboard", "hf", "lightning", "log")
_ALIASES = {"tb": "tensorboard", "trainer": "hf", "huggingface": "hf", "nanogpt": "log",
            "nanochat": "log", "litgpt": "log", "wandb_csv": "wandb-csv"}

__all__ = ["KINDS", "Imported", "describe", "detect", "is_source", "load_table", "parse_map",
           "parse_set", "read_source"]


def _split_kind(source: str) -> tuple[str | None, str]:
    head, sep, rest = source.partition(":")
    if sep and (head in KINDS or head in _ALIASES) and not rest.startswith("//"):
        return _ALIASES.get(head, head), rest
    return None, source


def detect(source: str | os.PathLike[str]) -> str | None:
    """The kind of a source (see the module docstring), or None for anything else (a plain
    table, a run store, a missing path)."""
    s = str(source)
    kind, _ = _split_kind(s)
    if kind is not None:
        return kind
    if s.startswith(("http://", "https://", "sqlite:", "file:")):
        return "mlflow"
    p = Path(s)
    if not p.exists():
        return None
    from scalinglab.importers import hf_trainer, mlflow_source, tensorboard_source, textlogs
    from scalinglab.importers import wandb_source as wb

    if p.is_file():
        name, suffix = p.name, p.suffix.lower()
        if suffix == ".wandb":
            return "wandb"
        if name.startswith("events.out.tfevents"):
            return "tensorboard"
        if suffix == ".json" and hf_trainer.is_trainer_state(p):
            return "hf"
        if suffix in (".db", ".sqlite", ".sqlite3") and mlflow_source.is_mlflow_db(p):
            return "mlflow"
        if name == "metrics.csv" and (p.parent / "hparams.yaml").is_file():
            return "lightning"
        if suffix == ".csv" and wb.is_wandb_csv(p):
            return "wandb-csv"
        if suffix in textlogs.LOG_SUFFIXES and textlogs.sniff(p):
            return "log"
        return None
    if mlflow_source.is_mlflow_dir(p):
        return "mlflow"
    if wb.wandb_files(p):
        return "wandb"
    if hf_trainer.state_files(p):
        return "hf"
    if tensorboard_source.event_dirs(p):
        return "tensorboard"
    if textlogs.metrics_files(p):
        return "lightning"
    if textlogs.log_files(p):
        return "log"
    return None


def is_source(data: object) -> bool:
    """True for a tracker/log source that :func:`read_source` reads (not a plain table)."""
    if not isinstance(data, (str, os.PathLike)):
        return False
    try:
        return detect(data) is not None
    except OSError:
        return False


def read_source(source: str | os.PathLike[str], *, kind: str | None = None,
                mapping: Mapping[str, str] | str | Sequence[str] | None = None,
                constants: Mapping[str, Any] | None = None,
                experiments: Sequence[str] | None = None, filter: str | None = None,
                tags: Sequence[str] | None = None, entity: str | None = None,
                project: str | None = None) -> Imported:
    """Read the runs of ``source`` (see the module docstring); ``mapping``: standard name ->
    metric or config key (a mapping, or ``"loss=val/loss,N=params"`` items as :func:`parse_map`
    reads them)."""
    s = str(source)
    forced, rest = _split_kind(s)
    kind = _ALIASES.get(kind, kind) if kind else forced
    if forced is not None:
        s = rest
    if project is not None:
        kind = kind or "wandb"
    if kind is None:
        kind = detect(s)
    if kind is None:
        why = "no such file or folder" if not s.startswith(("http", "sqlite")) and \
            not Path(s).exists() else "not a source scalinglab can import"
        raise InputError(f"{why}; import reads an MLflow URI or mlruns/ folder, a wandb/ "
                         "folder or W&B CSV export, a TensorBoard log directory, a "
                         "trainer_state.json, a Lightning metrics.csv or a nanoGPT/nanochat/"
                         "litgpt log (or prefix the source with its kind, e.g. mlflow:PATH)",
                         source=s)
    if kind not in KINDS:
        raise ParameterError("kind", f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if not isinstance(mapping, Mapping):
        mapping = parse_map(mapping, "mapping")
    if experiments and kind != "mlflow":
        raise ParameterError("experiments", f"only for MLflow sources (this is {kind})")
    if tags and kind != "tensorboard":
        raise ParameterError("tags", f"only for TensorBoard sources (this is {kind})")
    if (entity or project) and kind != "wandb":
        raise ParameterError("project", f"only for W&B (this is {kind})")
    if filter and kind not in ("mlflow", "wandb"):
        raise ParameterError("filter", f"only for MLflow and the W&B API (this is {kind})")
    kw: dict[str, Any] = {"mapping": mapping, "constants": constants}
    if kind == "mlflow":
        from scalinglab.importers.mlflow_source import read_mlflow

        return read_mlflow(s, experiments=experiments, filter_string=filter, **kw)
    if kind == "wandb":
        from scalinglab.importers import wandb_source

        if project is not None:
            return wandb_source.read_wandb_api(entity, project, filters=filter, **kw)
        if filter:
            raise ParameterError("filter", "offline W&B runs take no filter (give project= "
                                 "for the W&B API)")
        return wandb_source.read_wandb_offline(s, **kw)
    if kind == "wandb-csv":
        from scalinglab.importers.wandb_source import read_wandb_csv

        return read_wandb_csv(s, **kw)
    if kind == "tensorboard":
        from scalinglab.importers.tensorboard_source import read_tensorboard

        return read_tensorboard(s, tags=tags, **kw)
    if kind == "hf":
        from scalinglab.importers.hf_trainer import read_hf

        return read_hf(s, **kw)
    if kind == "lightning":
        from scalinglab.importers.textlogs import read_lightning

        return read_lightning(s, **kw)
    from scalinglab.importers.textlogs import read_logs

    return read_logs(s, **kw)


def load_table(data: str | os.PathLike[str], columns: Mapping[str, str] | None = None,
               *, curves: bool = False) -> Any:
    """What :func:`scalinglab.observations.load_observations` returns for a source: the runs
    table, or with ``curves=True`` the curves table (when the source has curves). ``columns``
    (``--column loss=KEY``) is the same mapping as ``--map``."""
    imp = read_source(data, mapping=dict(columns or {}))
    return imp.table(curves=curves)

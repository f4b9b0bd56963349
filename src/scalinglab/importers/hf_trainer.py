"""Hugging Face Trainer: ``trainer_state.json`` (its ``log_history``) and the run's
``config.json``.

The source is a ``trainer_state.json``, a run's output folder (its own ``trainer_state.json``,
else that of its last ``checkpoint-*``), or a folder of such run folders. For each run:

* ``loss``: the last ``eval_loss`` of ``log_history`` (else the training ``loss``, said so);
  the curve is every logged ``eval_loss`` (else ``loss``) by step;
* ``N``: total parameters (incl. embeddings) of the model in ``config.json`` (next to the state,
  or in the folder above a checkpoint), through :mod:`scalinglab.accounting.hf_config`;
* ``C``: the Trainer's ``total_flos``: ``6 x`` non-embedding parameters ``x`` input tokens
  (``PreTrainedModel.floating_point_ops``; the embedding matrices are left out, an untied output
  head is counted);
* ``D``: ``num_input_tokens_seen`` when the Trainer tracked it (``include_num_input_tokens_seen``),
  else inferred from ``total_flos / (6 x`` those non-embedding parameters) — the number of input
  tokens the Trainer counted, padding included. Tokens at each logged step: the tracked count,
  else proportional to the step.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalinglab.errors import InputError
from scalinglab.importers.mapping import Imported, RawRun, build, number

STATE = "trainer_state.json"


def _step_of(p: Path) -> int:
    try:
        return int(p.name.rsplit("-", 1)[-1])
    except ValueError:
        return -1


def state_files(path: Path) -> list[Path]:
    """The ``trainer_state.json`` of each run under ``path`` (the latest checkpoint's when the
    run folder has none of its own)."""
    if path.is_file():
        return [path] if path.name.endswith(".json") else []
    if not path.is_dir():
        return []

    def of_run(d: Path) -> Path | None:
        if (d / STATE).is_file():
            return d / STATE
        ckpts = sorted((c for c in d.glob("checkpoint-*") if (c / STATE).is_file()),
                       key=_step_of)
        return ckpts[-1] / STATE if ckpts else None

    own = of_run(path)
    if own is not None:
        return [own]
    return [f for d in sorted(p for p in path.iterdir() if p.is_dir())
            if (f := of_run(d)) is not None]


def is_trainer_state(path: Path) -> bool:
    return bool(state_files(path)) and (path.is_dir() or path.name == STATE or _has_history(path))


def _has_history(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    return '"log_history"' in head


def _model_config(state: Path) -> tuple[dict[str, Any] | None, Path | None]:
    for d in (state.parent, state.parent.parent):
        p = d / "config.json"
        if p.is_file():
            from scalinglab.accounting.hf_config import load_hf_config

            return load_hf_config(p), p
    return None, None


def read_state(path: Path) -> RawRun:
    """One run from its ``trainer_state.json`` (see the module docstring)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"could not be read as a Trainer state: {exc}",
                         source=str(path)) from None
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise InputError("no log_history: not a Hugging Face trainer_state.json",
                         source=str(path))
    history: dict[str, list[tuple[float, float]]] = {}
    summary: dict[str, float] = {}
    for entry in state["log_history"]:
        if not isinstance(entry, dict):
            continue
        step = number(entry.get("step"))
        for k, v in entry.items():
            x = number(v)
            if k in ("step",) or not math.isfinite(x):
                continue
            if k in ("total_flos", "train_runtime", "train_loss", "train_samples_per_second",
                     "train_steps_per_second"):
                summary[k] = x
            else:
                history.setdefault(k, []).append((step, x))
    for k, pts in history.items():
        summary[k] = pts[-1][1]
    flos = number(state.get("total_flos", summary.get("total_flos")))
    if math.isfinite(flos) and flos > 0:
        summary["total_flos"] = flos
    seen = number(state.get("num_input_tokens_seen"))
    if math.isfinite(seen) and seen > 0:
        summary["num_input_tokens_seen"] = seen
    elif "num_input_tokens_seen" in history and not any(v > 0 for _, v in
                                                        history["num_input_tokens_seen"]):
        del history["num_input_tokens_seen"]
        summary.pop("num_input_tokens_seen", None)
    config: dict[str, Any] = {k: state[k] for k in ("global_step", "max_steps", "train_batch_size",
                                                    "num_train_epochs", "logging_steps")
                              if k in state}
    derived: dict[str, tuple[float, str]] = {}
    model_cfg, cfg_path = _model_config(path)
    if model_cfg is not None:
        from scalinglab.accounting import count_params
        from scalinglab.accounting.hf_config import shape_from_hf_config

        shape = shape_from_hf_config(model_cfg if cfg_path is None else cfg_path)
        pc = count_params(shape)
        n_hf = pc.nonembedding + (0 if shape.tied else pc.head)
        derived["N"] = (float(pc.total), f"N inferred from {cfg_path.name} "
                        f"({model_cfg.get('model_type')}: {shape.describe()}), total "
                        "parameters incl. embeddings")
        config.update({f"model.{k}": v for k, v in model_cfg.items()
                       if isinstance(v, (int, float, str, bool))})
        config["params_hf_nonembedding"] = n_hf
        if "num_input_tokens_seen" not in summary and "total_flos" in summary:
            derived["D"] = (summary["total_flos"] / (6.0 * n_hf),
                            "D inferred as total_flos / (6 x the Trainer's non-embedding "
                            "parameters): the input tokens the Trainer counted, padding "
                            "included")
    gs = number(state.get("global_step"))
    if math.isfinite(gs):
        derived["S"] = (gs, "global_step")
    hints = {"loss": "eval_loss"} if "eval_loss" in history else {"train_loss": "loss"}
    hints["C"] = "total_flos" if "total_flos" in summary else ""
    run_dir = path.parent.parent if path.parent.name.startswith("checkpoint-") else path.parent
    return RawRun(run_id=run_dir.name or str(path), name=run_dir.name, config=config,
                  summary=summary, history=history, hints=hints, derived=derived,
                  meta={"trainer_state": str(path),
                        **({"model_config": str(cfg_path)} if cfg_path else {})})


def read_hf(source: str, *, mapping: Mapping[str, str] | None = None,
            constants: Mapping[str, Any] | None = None) -> Imported:
    """The runs of a Trainer state file, run folder or folder of run folders."""
    files = state_files(Path(source))
    if not files:
        raise InputError(f"no {STATE} found", source=source)
    raw = [read_state(f) for f in files]
    conv = {}
    if any("total_flos" in r.summary for r in raw):
        conv["C_convention"] = ("the Trainer's total_flos: 6 x non-embedding parameters x input "
                                "tokens")
    return build(raw, source=source, importer="hf-trainer", mapping=mapping,
                 constants=constants, conventions=conv)

"""Shared mapping and inference of the importers: tracker runs -> the observation table.

Every source module (MLflow, W&B, TensorBoard, the Hugging Face Trainer, text logs) reads its
runs into :class:`RawRun` objects (a run's config, its final metric values, and the history of
each metric by step); :func:`build` turns them into an :class:`Imported` result:

* ``runs``: one row per run, the standard columns ``run_id``, ``N``, ``D``, ``C``, ``loss``,
  ``S`` (last step) and the run's scalar config and final metrics (as in the run store's table);
* ``curves``: one row per logged step of the loss metric, with ``run_id``, ``S``, ``N``, ``D``
  (tokens seen by then), ``C`` and ``loss``, plus the run's config columns;
* ``conventions`` and ``provenance`` (also in each table's ``attrs``): where each column came
  from and what was inferred.

Mapping: ``--map loss=val/loss,N=model/params`` names the metric or config key of a standard
column; otherwise the first key (metric, then config) among common names is used (``val/loss``,
``eval_loss``, ``n_params``, ``tokens_seen``, ``total_flos`` ...). Inference, always stated:

* ``N`` from a model config (a Hugging Face ``config.json``-like mapping, or a nanoGPT config
  with ``n_layer``/``n_embd``/``n_head``/``vocab_size``/``block_size``) through
  :mod:`scalinglab.accounting` (total parameters incl. embeddings);
* ``D`` from a tokens metric, else steps x tokens per step (a ``tokens_per_step`` key, or batch
  size x context length);
* ``C`` from a FLOP metric (``total_flos`` ...), else ``6 N D``; ``D = C / (6 N)`` when only C
  is known (as :func:`scalinglab.observations.complete`).

A source none of whose runs gives a loss and an N (and D or C) is an :class:`InputError` that
lists the metric and config keys found, so the user can write the ``--map``.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import InputError, OptionError, ParameterError, argument_error

#: standard columns a ``--map`` may name, and what they mean
TARGETS: dict[str, str] = {
    "loss": "the loss to fit (nats/token unless the source says otherwise)",
    "N": "parameters",
    "D": "tokens seen",
    "C": "training FLOPs",
    "S": "optimizer step",
    "run_id": "run identifier",
    "group": "group of the run",
    "batch_size": "sequences per optimizer step",
    "context": "tokens per sequence",
    "tokens_per_step": "tokens per optimizer step",
}

#: candidate keys per target, most specific first (compared after :func:`norm_key`)
CANDIDATES: dict[str, tuple[str, ...]] = {
    "loss": ("val/loss", "val_loss", "eval/loss", "eval_loss", "validation/loss",
             "validation_loss", "valid/loss", "valid_loss", "loss/val", "loss/valid",
             "val/lm_loss", "val_lm_loss", "eval/lm_loss", "test/loss", "test_loss",
             "final_val_loss", "final_loss", "loss"),
    "N": ("N", "n_params", "num_params", "nparams", "params", "params_total", "param_count",
          "num_parameters", "n_parameters", "parameters", "model/params", "model/num_params",
          "model/n_params", "model_params", "model_size", "total_params"),
    "D": ("D", "tokens", "tokens_seen", "train/tokens", "train/tokens_seen", "num_tokens",
          "n_tokens", "tokens_trained", "total_tokens", "num_input_tokens_seen",
          "train/num_input_tokens_seen", "consumed_tokens"),
    "C": ("C", "flops", "total_flos", "train/total_flos", "compute", "train_flops",
          "training_flops", "total_flops"),
    "S": ("S",),
    "run_id": ("run_id",),
    "group": ("group",),
    "batch_size": ("batch_size", "global_batch_size", "train_batch_size", "total_batch_size_seqs"),
    "context": ("context", "block_size", "seq_len", "sequence_length", "context_length",
                "max_seq_length", "max_seq_len", "seq_length"),
    "tokens_per_step": ("tokens_per_step", "tokens_per_iter", "total_batch_size",
                        "batch_tokens"),
}
#: training-loss keys, used only when no validation loss is found (the table says so)
TRAIN_LOSS = ("train/loss", "train_loss", "loss/train", "train/lm_loss", "training_loss")

INSTALL = {
    "mlflow": "pip install 'scalinglab[mlflow]'",
    "wandb": "pip install 'scalinglab[wandb]'",
    "tensorboard": "pip install 'scalinglab[tensorboard]'",
}


def require(module: str, extra: str) -> Any:
    """Import an optional library, or an error naming the pip command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ParameterError("source", f"reading or writing {extra} runs needs the {extra} "
                             f"extra ({INSTALL[extra]}): {exc}") from None


def norm_key(key: str) -> str:
    """Lower case, ``.``/``-``/spaces as ``_`` except the ``/`` of namespaces."""
    return re.sub(r"[\s.\-]+", "_", str(key).strip().lower())


def number(value: Any) -> float:
    """A float, or NaN for anything that is not a finite-or-infinite number."""
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        return math.nan


def flatten(obj: Mapping[str, Any], prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Nested mappings as one level (``{"model": {"n_layer": 2}}`` -> ``model.n_layer``);
    a W&B-style ``{"value": x}`` wrapper is unwrapped."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if isinstance(v, Mapping) and set(v) == {"value"}:
            v = v["value"]
        key = f"{prefix}{sep}{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(flatten(v, key, sep))
        else:
            out[key] = v
    return out


def parse_map(items: Iterable[str] | str | None, option: str = "items") -> dict[str, str]:
    """``"loss=val/loss,N=model/params"`` (or a list of such) -> ``{"loss": "val/loss", ...}``."""
    if items is None:
        return {}
    if isinstance(items, str):
        items = [items]
    out: dict[str, str] = {}
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise argument_error(option, f"expected COLUMN=KEY (e.g. loss=val/loss), got "
                                  f"{part!r}")
            k, v = (s.strip() for s in part.split("=", 1))
            if k not in TARGETS:
                raise argument_error(option, f"unknown column {k!r}; map one of "
                                     f"{', '.join(TARGETS)}")
            if not v:
                raise argument_error(option, f"{k}= names no key")
            out[k] = v
    return out


def parse_set(items: Iterable[str] | None, option: str = "items") -> dict[str, Any]:
    """``--set batch_size=8`` -> ``{"batch_size": 8.0}`` (numbers where they parse)."""
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise argument_error(option, f"expected KEY=VALUE, got {item!r}")
        k, v = (s.strip() for s in item.split("=", 1))
        x = number(v)
        out[k] = v if math.isnan(x) else x
    return out


Series = list[tuple[float, float]]

#: prefix of the keys (MLflow tags, W&B config) by which runs that scalinglab exported say how
#: to read them back; ``scalinglab.map.C = 6ND`` says C is 6 N D (no FLOP metric)
EXPORT_PREFIX = "scalinglab."
SIX_ND = "6ND"


@dataclass
class RawRun:
    """One run as a source gives it (before mapping).

    ``history`` holds metric -> [(step, value)] where the source already has it; ``fetch``
    reads one metric's history on demand (MLflow), and ``summary`` holds the final values.
    ``hints`` are mapping defaults the run itself declares (runs exported by scalinglab).
    ``derived`` holds values a source computed and their notes (``{"N": (value, note)}``).
    """

    run_id: str
    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, float] = field(default_factory=dict)
    history: dict[str, Series] = field(default_factory=dict)
    fetch: Callable[[str], Series] | None = None
    hints: dict[str, str] = field(default_factory=dict)
    derived: dict[str, tuple[float, str]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def metric_keys(self) -> list[str]:
        return list(dict.fromkeys([*self.history, *self.summary]))

    def series(self, key: str) -> Series:
        """The history of ``key`` sorted by step (the last value per step kept)."""
        if key not in self.history and self.fetch is not None and key in self.summary:
            self.history[key] = self.fetch(key)
        pts = self.history.get(key) or []
        by_step: dict[float, float] = {}
        for s, v in pts:
            x = number(v)
            if math.isfinite(number(s)) and math.isfinite(x):
                by_step[float(s)] = x
        return sorted(by_step.items())

    def final(self, key: str) -> float:
        if key in self.summary and math.isfinite(number(self.summary[key])):
            return number(self.summary[key])
        pts = self.series(key)
        return pts[-1][1] if pts else math.nan


@dataclass
class Imported:
    """What an importer gives: the runs table, the curves table and how they were made."""

    runs: pd.DataFrame
    curves: pd.DataFrame | None
    conventions: dict[str, str]
    provenance: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def table(self, curves: bool = False) -> pd.DataFrame:
        """The runs table, or (``curves=True``, when there are curves) the curves table."""
        return self.curves if curves and self.curves is not None else self.runs


def take_export_keys(run: RawRun) -> RawRun:
    """Move a run's ``scalinglab.*`` config keys (written by scalinglab's exporters) into
    its id (``scalinglab.run_id``), mapping hints (``scalinglab.map.loss``) and meta."""
    for key in [k for k in run.config if str(k).startswith(EXPORT_PREFIX)]:
        value = run.config.pop(key)
        sub = str(key)[len(EXPORT_PREFIX):]
        if sub.startswith("map."):
            run.hints[sub[4:]] = str(value)
        elif sub == "run_id":
            run.run_id = str(value)
        else:
            run.meta[sub] = value
    return run


def _find(keys: Iterable[str], candidates: Sequence[str]) -> str | None:
    by_norm: dict[str, str] = {}
    keys = list(keys)
    for k in keys:
        by_norm.setdefault(norm_key(k), k)
    for k in keys:  # a nested config key by its last part (model.block_size -> block_size)
        if "." in str(k):
            by_norm.setdefault(norm_key(str(k).rsplit(".", 1)[-1]), k)
    for c in candidates:
        hit = by_norm.get(norm_key(c))
        if hit is not None:
            return hit
    return None


def n_from_model_config(config: Mapping[str, Any]) -> tuple[float, str] | None:
    """Total parameters of the model a config describes (HF ``config.json`` keys with a
    ``model_type``, or nanoGPT's ``n_layer``/``n_embd``/``n_head``/``vocab_size``/
    ``block_size``), with a note; None when the config describes no model we can count."""
    from scalinglab.accounting import count_params
    from scalinglab.accounting.hf_config import SUPPORTED_MODEL_TYPES, shape_from_hf_config

    flat = {k.split(".")[-1]: v for k, v in flatten(config).items()}
    cfg: dict[str, Any] | None = None
    if str(flat.get("model_type")) in SUPPORTED_MODEL_TYPES:
        cfg = dict(flat)
    elif all(k in flat for k in ("n_layer", "n_embd", "n_head", "vocab_size")) and (
            "block_size" in flat or "n_positions" in flat):
        cfg = {"model_type": "gpt2", "n_layer": flat["n_layer"], "n_embd": flat["n_embd"],
               "n_head": flat["n_head"], "vocab_size": flat["vocab_size"],
               "n_positions": flat.get("n_positions", flat.get("block_size"))}
    if cfg is None:
        return None
    for k, v in list(cfg.items()):  # trackers store params as text
        if isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):
            cfg[k] = int(v)
        elif isinstance(v, float) and v.is_integer():
            cfg[k] = int(v)
        elif isinstance(v, str) and v.lower() in ("true", "false"):
            cfg[k] = v.lower() == "true"
    try:
        shape = shape_from_hf_config(cfg)
    except (InputError, OptionError):
        return None
    n = count_params(shape).total
    return float(n), (f"N inferred from the model config ({cfg['model_type']} shape "
                      f"{shape.describe()}): total parameters incl. embeddings")


def _mapped_key(target: str, run: RawRun, mapping: Mapping[str, str]) -> tuple[str, str] | None:
    """``(where, key)`` with where in metric/config: the mapped or recognised key of a run."""
    metrics = run.metric_keys()
    if target in mapping:
        key = mapping[target]
        if key in metrics:
            return "metric", key
        if key in run.config:
            return "config", key
        return None
    if target in run.hints:
        key = run.hints[target]
        if not key or key == SIX_ND:  # the run says: no such key (C is 6 N D by convention)
            return None
        if key in metrics:
            return "metric", key
        if key in run.config:
            return "config", key
    cands = CANDIDATES[target]
    hit = _find(metrics, cands)
    if hit is not None:
        return "metric", hit
    hit = _find(run.config, cands)
    if hit is not None:
        return "config", hit
    return None


def _interp(series: Series, steps: np.ndarray) -> np.ndarray:
    if not series:
        return np.full(len(steps), np.nan)
    xs = np.array([s for s, _ in series], float)
    ys = np.array([v for _, v in series], float)
    out = np.interp(steps, xs, ys, left=np.nan, right=np.nan)
    if len(xs) == 1:
        out = np.where(steps == xs[0], ys[0], np.nan)
    return out


def _scalar(run: RawRun, where_key: tuple[str, str] | None) -> float:
    if where_key is None:
        return math.nan
    where, key = where_key
    return run.final(key) if where == "metric" else number(run.config.get(key))


class _Notes:
    """Per-column notes, counted over runs (``"D: steps x batch x context (4 runs)"``)."""

    def __init__(self) -> None:
        self.by_col: dict[str, dict[str, int]] = {}

    def add(self, col: str, note: str) -> None:
        self.by_col.setdefault(col, {})
        self.by_col[col][note] = self.by_col[col].get(note, 0) + 1

    def conventions(self, n_runs: int) -> dict[str, str]:
        out = {}
        for col, notes in self.by_col.items():
            parts = [note if n == n_runs else f"{note} ({n} of {n_runs} runs)"
                     for note, n in notes.items()]
            out[col] = "; ".join(parts)
        return out


def _source_of(col: str, wk: tuple[str, str] | None, mapped: bool) -> str:
    assert wk is not None
    how = "mapped" if mapped else "recognised"
    return f"{col} from {wk[0]} {wk[1]!r} ({how})"


def _run_rows(run: RawRun, mapping: Mapping[str, str], notes: _Notes
              ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str | None]:
    """The run's observation row and curve rows, or ``(None, [], why)``."""
    keys = {t: _mapped_key(t, run, mapping) for t in ("loss", "N", "D", "C", "S", "group",
                                                      "batch_size", "context",
                                                      "tokens_per_step", "run_id")}
    # loss
    lk = keys["loss"]
    train_loss = False
    if lk is None and "loss" not in mapping:
        hit = _find(run.metric_keys(), TRAIN_LOSS)
        if hit is not None:
            lk, train_loss = ("metric", hit), True
    if lk is None:
        return None, [], "no loss"
    train_loss = train_loss or run.hints.get("train_loss") == lk[1] or norm_key(lk[1]) in {
        norm_key(k) for k in TRAIN_LOSS}
    loss = _scalar(run, lk)
    # N
    if keys["N"] is not None:
        n = _scalar(run, keys["N"])
        n_note = _source_of("N", keys["N"], "N" in mapping)
    elif "N" in run.derived:
        n, n_note = run.derived["N"]
    else:
        found = n_from_model_config(run.config)
        if found is None:
            return None, [], "no N"
        n, n_note = found
    # steps, tokens per step
    curve_key = lk[1] if "loss" in mapping else run.hints.get("loss_curve", lk[1])
    loss_hist = run.series(curve_key) if lk[0] == "metric" else []
    tps, tps_note = math.nan, ""
    if keys["tokens_per_step"] is not None:
        tps = _scalar(run, keys["tokens_per_step"])
        tps_note = f"tokens per step from {keys['tokens_per_step'][1]!r}"
    elif keys["batch_size"] is not None and keys["context"] is not None:
        b, t = _scalar(run, keys["batch_size"]), _scalar(run, keys["context"])
        tps = b * t
        tps_note = (f"tokens per step = {keys['batch_size'][1]!r} x {keys['context'][1]!r} "
                    f"({b:g} x {t:g})")
    last_step = math.nan
    if keys["S"] is not None:
        last_step = _scalar(run, keys["S"])
    elif loss_hist:
        last_step = loss_hist[-1][0]
    elif "S" in run.derived:
        last_step = run.derived["S"][0]
    # D
    dk = keys["D"]
    d_hist: Series = []
    if dk is not None:
        d = _scalar(run, dk)
        d_note = _source_of("D", dk, "D" in mapping)
        if dk[0] == "metric":
            d_hist = run.series(dk[1])
    elif "D" in run.derived:
        d, d_note = run.derived["D"]
    elif math.isfinite(tps) and math.isfinite(last_step):
        d = last_step * tps
        d_note = f"D inferred as steps x tokens per step ({tps_note})"
    else:
        d, d_note = math.nan, ""
    # C
    ck = keys["C"]
    if ck is not None:
        c = _scalar(run, ck)
        c_note = _source_of("C", ck, "C" in mapping)
    elif "C" in run.derived:
        c, c_note = run.derived["C"]
    else:
        c, c_note = math.nan, ""
    if not math.isfinite(d) and math.isfinite(c) and n > 0:
        d = c / (6.0 * n)
        d_note = "D inferred as C / (6 N)"
    if not math.isfinite(c) and math.isfinite(d):
        c = 6.0 * n * d
        c_note = "C inferred as 6 N D"
    if not math.isfinite(d):
        return None, [], "no D (no tokens metric, no steps x batch x context, no C)"
    notes.add("N", n_note)
    notes.add("D", d_note)
    notes.add("C", c_note)
    notes.add("loss", f"loss from {lk[0]} {lk[1]!r}" + (
        " (a training loss: no validation loss was found)" if train_loss else ""))
    rid_key = keys["run_id"]
    rid = str(run.config.get(rid_key[1])) if rid_key and rid_key[0] == "config" else run.run_id
    row: dict[str, Any] = {"run_id": rid, "name": run.name or rid, "N": n, "D": d, "C": c,
                           "loss": loss, "S": last_step}
    if keys["group"] is not None:
        row["group"] = (run.config.get(keys["group"][1]) if keys["group"][0] == "config"
                        else run.final(keys["group"][1]))
    const: dict[str, Any] = {}
    for k, v in flatten(run.config).items():
        if isinstance(v, (str, int, float, bool, np.integer, np.floating)) or v is None:
            const.setdefault(str(k), v)
    for k, v in run.summary.items():
        const.setdefault(str(k), v)
    for k, v in {**const, **run.meta}.items():
        if k not in row and k not in ("N", "D", "C", "loss", "S"):
            row[k] = v
    # the curve: one row per logged step of the loss metric
    curve: list[dict[str, Any]] = []
    if len(loss_hist) >= 2:
        steps = np.array([s for s, _ in loss_hist], float)
        if d_hist:
            ds = _interp(d_hist, steps)
            if math.isfinite(last_step) and last_step > 0:  # before the first logged tokens
                ds = np.where(np.isnan(ds) & (steps <= d_hist[0][0]),
                              steps * d_hist[0][1] / max(d_hist[0][0], 1.0), ds)
        elif math.isfinite(tps):
            ds = steps * tps
        elif math.isfinite(last_step) and last_step > 0:
            ds = d * steps / last_step
            notes.add("curves", "tokens at each step taken proportional to the step (a "
                      "constant batch)")
        else:
            ds = np.full(len(steps), np.nan)
        cs = c * ds / d if d > 0 else np.full(len(steps), np.nan)
        for (s, v), dd, cc in zip(loss_hist, ds, cs, strict=True):
            if math.isfinite(dd):
                curve.append({"run_id": rid, "S": s, "N": n, "D": float(dd), "C": float(cc),
                              "loss": v, "name": row["name"]})
        if curve and keys["S"] is None:
            row["S"] = curve[-1]["S"]
    return row, curve, None


def keys_found(runs: Sequence[RawRun]) -> tuple[list[str], list[str]]:
    metrics: dict[str, None] = {}
    config: dict[str, None] = {}
    for r in runs:
        metrics.update(dict.fromkeys(r.metric_keys()))
        config.update(dict.fromkeys(flatten(r.config)))
    return list(metrics), list(config)


def _listing(keys: list[str], limit: int = 40) -> str:
    if not keys:
        return "(none)"
    more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def build(raw: Sequence[RawRun], *, source: str, importer: str,
          mapping: Mapping[str, str] | None = None, constants: Mapping[str, Any] | None = None,
          extra_provenance: Mapping[str, Any] | None = None,
          conventions: Mapping[str, str] | None = None) -> Imported:
    """Map ``raw`` runs onto the standard columns (see the module docstring)."""
    mapping = dict(mapping or {})
    if not raw:
        raise InputError(f"no runs found ({importer})", source=source)
    for r in raw:
        for k, v in (constants or {}).items():
            r.config[k] = v
    for target, key in mapping.items():
        if target in ("S",):
            continue
        if not any(key in r.metric_keys() or key in r.config for r in raw):
            metrics, config = keys_found(raw)
            raise ParameterError("mapping", f"{target}={key}: no run of {source} has a metric "
                                 f"or config key {key!r}; metric keys: {_listing(metrics)}; "
                                 f"config keys: {_listing(config)}")
    notes = _Notes()
    rows: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    skipped: dict[str, list[str]] = {}
    for r in raw:
        row, curve, why = _run_rows(r, mapping, notes)
        if row is None:
            skipped.setdefault(str(why), []).append(r.name or r.run_id)
            continue
        rows.append(row)
        curves.extend(curve)
    if not rows:
        metrics, config = keys_found(raw)
        reasons = "; ".join(f"{why}: {len(ids)} run(s)" for why, ids in skipped.items())
        raise InputError(
            f"cannot map the {len(raw)} run(s) of this {importer} source onto N, D, C and loss "
            f"({reasons}). Metric keys found: {_listing(metrics)}. Config keys found: "
            f"{_listing(config)}. Name them with a mapping (scalinglab import --map "
            "loss=KEY,N=KEY,D=KEY (or C=KEY); Python: mapping={'loss': KEY, ...}), or give "
            "constants (--set KEY=VALUE; constants={KEY: VALUE})", source=source)
    out_notes = [f"{len(ids)} run(s) left out ({why}): {', '.join(ids[:5])}"
                 + (" ..." if len(ids) > 5 else "") for why, ids in skipped.items()]
    conv = {**notes.conventions(len(rows)), **dict(conventions or {})}
    prov: dict[str, Any] = {"importer": importer, "source": source, "mapping": mapping,
                            "runs": len(rows), "inferred": {k: v for k, v in conv.items()
                                                            if "inferred" in v},
                            **dict(extra_provenance or {})}
    if out_notes:
        prov["notes"] = out_notes
    runs_df = pd.DataFrame(rows)
    lead = [c for c in ("run_id", "name", "group", "N", "D", "C", "loss", "S")
            if c in runs_df.columns]
    runs_df = runs_df[[*lead, *[c for c in runs_df.columns if c not in lead]]]
    curves_df = None
    if curves:
        curves_df = pd.DataFrame(curves)
        consts = runs_df.drop(columns=[c for c in ("N", "D", "C", "loss", "S", "name")
                                       if c in runs_df.columns])
        curves_df = curves_df.merge(consts, on="run_id", how="left")
        curves_df = curves_df.sort_values(["run_id", "S"], kind="stable").reset_index(drop=True)
    for df in (runs_df, curves_df):
        if df is not None:
            df.attrs = {"source": source, "conventions": dict(conv), "provenance": dict(prov)}
    return Imported(runs_df, curves_df, conv, prov, out_notes)


def describe(imp: Imported) -> list[str]:
    """Lines that say what was imported and inferred (for the CLI)."""
    n_curve = 0 if imp.curves is None else imp.curves["run_id"].nunique()
    lines = [f"{len(imp.runs)} run(s) from {imp.provenance.get('importer')} "
             f"{imp.provenance.get('source')}; learning curves for {n_curve} of them"]
    for col in ("N", "D", "C", "loss", "curves"):
        if col in imp.conventions:
            lines.append(f"  {col}: {imp.conventions[col]}")
    lines.extend(f"  note: {n}" for n in imp.notes)
    return lines

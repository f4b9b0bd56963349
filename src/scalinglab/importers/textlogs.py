"""Text logs of nanoGPT, nanochat and litgpt, and Lightning's ``metrics.csv``.

One log file is one run (a folder of ``*.log``/``*.txt``/``*.out`` files: one run each). The
lines each trainer prints are recognised:

* **nanoGPT** (``train.py``): ``number of parameters: 123.65M`` (nanoGPT's count: every
  parameter but the position embeddings, to 0.01M), ``tokens per iteration will be: 491,520``,
  ``Overriding: key = value``, ``step 2000: train loss 2.91, val loss 2.95`` (the curve; val
  loss) and ``iter 2010: loss 2.93, ...`` (training loss). D = step x tokens per iteration.
* **nanochat** (``base_train.py``): ``Number of parameters: 560,988,160``, ``Total batch size
  524,288 => ...`` (tokens per step), ``Estimated FLOPs per token: 3.49e+09``, ``Step 00250 |
  Validation bpb: 1.02`` (the curve: validation bits per byte, not nats per token; the table
  says so) and ``step 00250/21400 (...) | loss: 3.1`` (training loss). D = step x total batch
  size; C = step x total batch size x FLOPs per token when printed.
* **litgpt** (``pretrain``): ``Total parameters: 1,100,048,384``, ``... iter 400 step 100 |
  loss train: 3.2, val: 3.4 | ...``, ``iter 400: val loss 3.4`` / ``val loss: 3.4`` lines.
  Tokens per step come from ``hyperparameters.yaml`` next to the log (``train.global_batch_size``
  x ``model_config.block_size``) or ``--set tokens_per_step=...``.

Lightning's ``CSVLogger`` (and litgpt with ``--logger_name csv``) writes ``metrics.csv`` (a
``step`` column, one column per logged metric, sparse rows) and ``hparams.yaml`` next to it:
each folder with a ``metrics.csv`` is a run, its ``hparams.yaml`` the config.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglab.errors import InputError
from scalinglab.importers.mapping import Imported, RawRun, build, flatten, number

_NUM = r"([-+]?[\d,]*\.?\d+(?:[eE][-+]?\d+)?)"
LOG_SUFFIXES = (".log", ".txt", ".out")

PATTERNS: dict[str, dict[str, re.Pattern[str]]] = {
    "nanogpt": {
        "N_M": re.compile(r"number of parameters: " + _NUM + r"M"),
        "tokens_per_step": re.compile(r"tokens per iteration will be: " + _NUM),
        "eval": re.compile(r"^step (\d+): train loss " + _NUM + r", val loss " + _NUM),
        "train": re.compile(r"^iter (\d+): loss " + _NUM),
        "override": re.compile(r"^Overriding: (\w+) = (.+)$"),
    },
    "nanochat": {
        "N": re.compile(r"Number of parameters: " + _NUM),
        "tokens_per_step": re.compile(r"Total batch size " + _NUM),
        "flops_per_token": re.compile(r"Estimated FLOPs per token: " + _NUM),
        "eval": re.compile(r"Step (\d+) \| Validation bpb: " + _NUM),
        "train": re.compile(r"^step (\d+)/\d+ .*\| loss: " + _NUM),
    },
    "litgpt": {
        "N": re.compile(r"Total parameters: " + _NUM),
        "train": re.compile(r"iter (\d+) step (\d+) \| loss train: " + _NUM
                            + r", val: (" + _NUM[1:-1] + r"|n/a)"),
        "eval": re.compile(r"iter (\d+): val loss " + _NUM),
        "final": re.compile(r"Final evaluation \| val loss: " + _NUM),
    },
}


def sniff(path: Path, limit: int = 200_000) -> str | None:
    """The trainer whose lines a text log holds (nanogpt, nanochat, litgpt), or None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(limit)
    except OSError:
        return None
    if re.search(r"Validation bpb: |^step \d+/\d+ .*\| loss: ", text, re.M):
        return "nanochat"
    if re.search(r"loss train: |Total parameters: ", text):
        return "litgpt"
    if re.search(r"^step \d+: train loss .*val loss|^iter \d+: loss ", text, re.M):
        return "nanogpt"
    return None


def log_files(path: Path) -> list[tuple[Path, str]]:
    """``(file, flavour)`` of the recognisable text logs at ``path`` (a file or a folder)."""
    if path.is_file():
        flavour = sniff(path)
        return [(path, flavour)] if flavour else []
    if not path.is_dir():
        return []
    out = []
    for p in sorted(path.iterdir()):
        if p.is_file() and p.suffix.lower() in LOG_SUFFIXES:
            flavour = sniff(p)
            if flavour:
                out.append((p, flavour))
    return out


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        obj = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"could not be read as YAML: {exc}", source=str(path)) from None
    return flatten(obj) if isinstance(obj, dict) else {}


def read_log(path: Path, flavour: str) -> RawRun:
    """One run from a text log (see the module docstring)."""
    pats = PATTERNS[flavour]
    config: dict[str, Any] = {}
    history: dict[str, list[tuple[float, float]]] = {}
    derived: dict[str, tuple[float, str]] = {}
    hints: dict[str, str] = {}
    by_iter: list[tuple[float, float]] = []
    iters_per_step = 1.0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\n")
            for key, pat in pats.items():
                m = pat.search(line)
                if m is None:
                    continue
                g = m.groups()
                if key == "override":
                    x = number(g[1])
                    config[g[0]] = g[1].strip().strip("'\"") if math.isnan(x) else x
                elif key == "N_M":
                    derived["N"] = (number(g[0]) * 1e6, "N from nanoGPT's 'number of "
                                    "parameters' line (all but the position embeddings, "
                                    "printed to 0.01M)")
                elif key == "N":
                    derived["N"] = (number(g[0]), f"N from {flavour}'s parameter count line")
                elif key in ("tokens_per_step", "flops_per_token"):
                    config[key] = number(g[0])
                elif key == "eval" and flavour == "nanogpt":
                    history.setdefault("train_loss", []).append((number(g[0]), number(g[1])))
                    history.setdefault("val_loss", []).append((number(g[0]), number(g[2])))
                elif key == "eval" and flavour == "nanochat":
                    history.setdefault("val_bpb", []).append((number(g[0]), number(g[1])))
                elif key == "eval":  # litgpt: by iteration (micro-batch), not step
                    by_iter.append((number(g[0]), number(g[1])))
                elif key == "train" and flavour == "litgpt":
                    step, val = number(g[1]), number(g[3])
                    if step > 0:
                        iters_per_step = number(g[0]) / step
                    history.setdefault("train_loss", []).append((step, number(g[2])))
                    if math.isfinite(val):
                        history.setdefault("val_loss", []).append((step, val))
                elif key == "train":
                    name = "iter_loss" if flavour == "nanogpt" else "train_loss"
                    history.setdefault(name, []).append((number(g[0]), number(g[1])))
                elif key == "final":
                    config["final_val_loss"] = number(g[0])
    if by_iter:
        history.setdefault("val_loss", []).extend((i / iters_per_step, v) for i, v in by_iter)
    if flavour == "nanochat":
        hints["loss"] = "val_bpb" if "val_bpb" in history else "train_loss"
    if flavour == "litgpt" and "tokens_per_step" not in config:
        hp = path.parent / "hyperparameters.yaml"
        if hp.is_file():
            h = _yaml(hp)
            gbs = number(h.get("train.global_batch_size"))
            ctx = number(h.get("model_config.block_size", h.get("train.max_seq_length")))
            if math.isfinite(gbs) and math.isfinite(ctx):
                config["tokens_per_step"] = gbs * ctx
    summary = {k: max(pts, key=lambda p: p[0])[1] for k, pts in history.items() if pts}
    fpt = number(config.get("flops_per_token"))
    if math.isfinite(fpt) and "tokens_per_step" in config:
        steps = max((pts[-1][0] for pts in history.values() if pts), default=math.nan)
        if math.isfinite(steps):
            derived["C"] = (steps * number(config["tokens_per_step"]) * fpt,
                            "C = steps x tokens per step x nanochat's estimated FLOPs per "
                            "token")
    return RawRun(run_id=path.stem, name=path.stem, config=config, summary=summary,
                  history=history, hints=hints, derived=derived,
                  meta={"log": str(path), "trainer": flavour})


def read_logs(source: str, *, mapping: Mapping[str, str] | None = None,
              constants: Mapping[str, Any] | None = None) -> Imported:
    """The runs of a text log or a folder of them."""
    files = log_files(Path(source))
    if not files:
        raise InputError("no nanoGPT, nanochat or litgpt log lines found", source=source)
    raw = [read_log(p, flavour) for p, flavour in files]
    conv = {}
    if any(f == "nanochat" for _, f in files):
        conv["loss_unit"] = "nanochat runs: validation bits per byte (val bpb), not nats/token"
    return build(raw, source=source, importer="/".join(sorted({f for _, f in files})),
                 mapping=mapping, constants=constants, conventions=conv)


# --------------------------------------------------------------------------- Lightning
def metrics_files(path: Path) -> list[Path]:
    """The Lightning ``metrics.csv`` files at ``path`` (the file, or under the folder)."""
    if path.is_file():
        return [path] if path.name == "metrics.csv" else []
    if not path.is_dir():
        return []
    return sorted(path.rglob("metrics.csv"))


def read_lightning(source: str, *, mapping: Mapping[str, str] | None = None,
                   constants: Mapping[str, Any] | None = None) -> Imported:
    """The runs of Lightning ``metrics.csv`` files (each with its ``hparams.yaml``)."""
    root = Path(source)
    files = metrics_files(root)
    if not files:
        raise InputError("no Lightning metrics.csv found", source=source)
    base = root if root.is_dir() else root.parent.parent
    raw = []
    for f in files:
        try:
            df = pd.read_csv(f)
        except (ValueError, OSError) as exc:
            raise InputError(f"could not be read: {exc}", source=str(f)) from None
        if "step" not in df.columns:
            raise InputError("no 'step' column: not a Lightning metrics.csv", source=str(f))
        steps = pd.to_numeric(df["step"], errors="coerce")
        history: dict[str, list[tuple[float, float]]] = {}
        for col in df.columns:
            if col in ("step",):
                continue
            vals = pd.to_numeric(df[col], errors="coerce")
            ok = vals.notna() & steps.notna()
            if ok.any():
                history[str(col)] = list(zip(steps[ok].astype(float), vals[ok].astype(float),
                                             strict=True))
        hp = f.parent / "hparams.yaml"
        config = _yaml(hp) if hp.is_file() else {}
        try:
            rid = f.parent.relative_to(base).as_posix() or f.parent.name
        except ValueError:
            rid = f.parent.name
        summary = {k: max(pts, key=lambda p: p[0])[1] for k, pts in history.items() if pts}
        raw.append(RawRun(run_id=rid, name=rid, config=config, summary=summary,
                          history=history, meta={"metrics_csv": str(f)}))
    return build(raw, source=source, importer="lightning", mapping=mapping,
                 constants=constants)

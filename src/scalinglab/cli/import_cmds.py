"""CLI: ``scalinglab import SOURCE --out runs.csv|runs.parquet|runs.db``.

Reads runs from an experiment tracker or training logs (:mod:`scalinglab.importers`: MLflow,
W&B, TensorBoard, the Hugging Face Trainer, nanoGPT/nanochat/litgpt logs, Lightning's
``metrics.csv``) and writes the observation table ``fit`` reads, saying what it inferred.

* ``.csv`` / ``.parquet``: one row per run; the learning curves (one row per logged step) go
  beside it, to ``NAME.curves.csv`` / ``NAME.curves.parquet``; the conventions are columns
  (``N_convention``, ``D_convention``, ``C_convention``, ``loss_convention``) and, with the
  provenance, ``NAME.import.json``.
* ``.db``: a scalinglab run store (a study named by ``--study``, default ``import``), curves
  included, which ``fit``, ``report`` and ``runs`` read like a sweep's. A run store's C is
  6 N D; the source's own C is kept in the ``flops`` column.

The tracker libraries are imported only inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from scalinglab.cli.options import Command
from scalinglab.errors import OptionError


def _write_table(df: Any, out: Path) -> None:
    if out.suffix.lower() == ".csv":
        df.to_csv(out, index=False)
        return
    try:
        df.to_parquet(out, index=False)
    except ImportError as exc:
        raise OptionError("--out", f"writing Parquet needs pyarrow (pip install "
                          f"'scalinglab[parquet]'): {exc}") from None


def _with_conventions(df: Any, conventions: dict[str, str]) -> Any:
    out = df.copy()
    for col in ("N", "D", "C", "loss"):
        if col in conventions:
            out[f"{col}_convention"] = conventions[col]
    out.attrs = dict(df.attrs)
    return out


def write_store(imp: Any, out: Path, study: str) -> int:
    """Write an import to a run store (one study); returns the number of runs written."""
    import math

    from scalinglab.store import PlannedRun, RunStore

    runs_df = imp.runs
    curves = imp.curves
    planned, results = [], []
    for row in runs_df.to_dict("records"):
        config = {k: v for k, v in row.items() if k not in ("N", "D", "C", "loss", "S", "name")
                  and isinstance(v, (str, int, float, bool)) and not (
                      isinstance(v, float) and not math.isfinite(v))}
        config["import_run_id"] = str(row["run_id"])
        config["import_source"] = str(imp.provenance.get("source"))
        labels = {"group": str(row.get("group", "") or ""), "n_convention": "total",
                  "loss_metric": "final_val_loss", "N_planned": row["N"]}
        p = PlannedRun(config=config, labels=labels)
        metrics = {"params_total": row["N"], "tokens": row["D"], "flops": row["C"],
                   "final_val_loss": row["loss"], "steps": row.get("S")}
        curve: list[dict[str, Any]] = []
        if curves is not None:
            for c in curves[curves["run_id"] == row["run_id"]].to_dict("records"):
                curve.append({"step": c["S"], "tokens": c["D"], "flops": c["C"],
                              "val_loss": c["loss"]})
        planned.append(p)
        results.append((p.run_id, metrics, curve))
    with RunStore(out) as rs:
        rs.register_study(study, {"name": study, "import": imp.provenance}, planned)
        for rid, metrics, curve in results:
            rs.start_run(rid, out_dir="")
            rs.complete_run(rid, metrics, curve)
    return len(results)


def import_cmd(
    source: Annotated[str, typer.Argument(
        metavar="SOURCE", help="an MLflow URI or mlruns/ folder, a wandb/ folder or W&B CSV "
        "export, a TensorBoard log dir, a trainer_state.json or Trainer output folder, a "
        "Lightning metrics.csv, a nanoGPT/nanochat/litgpt log (KIND:PATH forces a kind)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="runs.csv, runs.parquet or runs.db "
                                      "(a run store)")],
    mapping: Annotated[list[str] | None, typer.Option(
        "--map", help="COLUMN=KEY[,COLUMN=KEY...]: the metric or config key of loss, N, D, C "
        "(also batch_size, context, tokens_per_step, run_id, group)")] = None,
    experiment: Annotated[list[str] | None, typer.Option(
        "--experiment", help="MLflow experiment name (repeatable; default: all)")] = None,
    filter_: Annotated[str | None, typer.Option(
        "--filter", help="MLflow search filter (\"params.lr = '0.001'\") or, with --project, "
        "a W&B API filter (JSON)")] = None,
    tag: Annotated[list[str] | None, typer.Option(
        "--tag", help="TensorBoard scalar tags to read (repeatable; patterns like 'val/*')")
                   ] = None,
    entity: Annotated[str | None, typer.Option("--entity", help="W&B entity (with --project)")
                      ] = None,
    project: Annotated[str | None, typer.Option(
        "--project", help="W&B project: read it through wandb.Api() (needs the network)")
                       ] = None,
    kind: Annotated[str | None, typer.Option(
        "--kind", help="mlflow | wandb | wandb-csv | tensorboard | hf | lightning | log "
        "(default: recognised from the source)")] = None,
    constant: Annotated[list[str] | None, typer.Option(
        "--set", help="KEY=VALUE added to every run's config (e.g. N=1.2e8, batch_size=8)")
                        ] = None,
    study: Annotated[str, typer.Option("--study", help="study name in a .db output")
                     ] = "import",
) -> None:
    """Build the observation table (N, D, C, loss, run_id, learning curves) from runs in an
    experiment tracker or training logs; says what it inferred."""
    from scalinglab.console import console, err_console
    from scalinglab.importers import describe, parse_map, parse_set, read_source

    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq", ".db", ".sqlite", ".sqlite3"):
        raise OptionError("--out", f"{out}: write .csv, .parquet or .db, got "
                          f"{suffix or 'no suffix'}")
    if Path(source).exists() and out.resolve() == Path(source).resolve():
        raise OptionError("--out", "is the source itself")
    imp = read_source(source, kind=kind, mapping=parse_map(mapping, "--map"),
                      constants=parse_set(constant, "--set"), experiments=experiment,
                      filter=filter_,
                      tags=tag, entity=entity, project=project)
    for line in describe(imp):
        err_console.print(line, highlight=False, markup=False)
    if suffix in (".db", ".sqlite", ".sqlite3"):
        n = write_store(imp, out, study)
        console.print(f"wrote {n} runs to the run store {out} (study {study})",
                      highlight=False)
        return
    _write_table(_with_conventions(imp.runs, imp.conventions), out)
    wrote = [f"wrote {len(imp.runs)} runs to {out}"]
    if imp.curves is not None:
        cpath = out.with_name(out.stem + ".curves" + out.suffix)
        _write_table(imp.curves, cpath)
        wrote.append(f"{len(imp.curves)} curve points to {cpath}")
    meta = out.with_name(out.stem + ".import.json")
    meta.write_text(json.dumps({"conventions": imp.conventions, "provenance": imp.provenance,
                                "notes": imp.notes}, indent=1, default=str) + "\n")
    console.print("; ".join(wrote) + f"; conventions and provenance in {meta}",
                  highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``import`` to ``app``."""
    app.command("import", cls=Command)(import_cmd)

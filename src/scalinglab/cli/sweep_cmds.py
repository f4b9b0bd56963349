"""CLI: ``scalinglab sweep run|status`` and ``scalinglab runs list|show|export``.

``sweep run SPEC.yaml --store runs.db`` runs (or resumes) a study; the run store is a SQLite
file, readable while a sweep writes to it. torch and Ray are imported inside the commands that
train, so the other commands work on the core install.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box

from scalinglab.cli.options import Command, Group, JsonOpt, emit_json, start_json
from scalinglab.console import Table, console, err_console
from scalinglab.errors import InputError, OptionError

StoreOpt = Annotated[Path, typer.Option("--store", help="the run store (SQLite file)")]
StudyOpt = Annotated[str | None, typer.Option("--study", help="only this study")]


def _fmt(value: Any, spec: str = ".4g") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec) if isinstance(value, (int, float)) else str(value)


def _num(value: Any) -> str:
    """Short number: ``7.92e3``, ``2.27e5``, ``512``."""
    return _fmt(value, ".3g").replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _shape(config: dict[str, Any]) -> str:
    return f"{config.get('n_layer')}Lx{config.get('d_model')}d/{config.get('n_head')}h"


def _table(title: str, names: tuple[str, ...], right: tuple[str, ...]) -> Table:
    """A compact table (fits 80 columns); run ids are never wrapped or cut (users copy them)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, padding=(0, 1), collapse_padding=True)
    for col in names:
        table.add_column(col, justify="right" if col in right else "left", no_wrap=True,
                         min_width=16 if col == "run" else None)
    return table


def _require_train_extra() -> None:
    """Training needs torch (the ``train`` extra): say so before anything starts."""
    try:
        import scalinglab.train.loop  # noqa: F401  (imports torch)
    except ImportError as exc:
        raise OptionError("sweep run", f"training needs the train extra "
                          f"(pip install 'scalinglab[train]'): {exc}") from None


def _check_with_trainer(spec: Any, expansion: Any, source: str) -> None:
    """Validate every run config with the trainer's ``TrainConfig`` before anything starts
    (a bad ``train:`` option or a shape that does not divide is reported with the spec file;
    ``TrainConfig`` needs pydantic only, so a dry run checks without torch too)."""
    from pydantic import ValidationError

    from scalinglab.sweep.designs import execution_config
    from scalinglab.train.config import TrainConfig

    for run in expansion.runs:
        try:
            TrainConfig(**run.config, **execution_config(spec, run.config))
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"]) or "config"
            if key in spec.train:
                key = f"train.{key}"
            raise InputError(f"key {key}: {err['msg']} (got {err.get('input')!r}) in run "
                             f"{_shape(run.config)}", source=source) from None
        except OptionError as exc:
            raise InputError(f"run {_shape(run.config)}: {exc}", source=source) from None


def _plan_table(spec: Any, expansion: Any, store: Path) -> Table:
    status: dict[str, str] = {}
    if store.exists():
        from scalinglab.store import RunStore

        with RunStore(store, readonly=True) as rs:
            status = {r.run_id: r.status for r in rs.runs()}
    with_lr = any(r.config.get("lr") is not None for r in expansion.runs)
    cols = ("run", "group", "model", "N", "D", *(("lr",) if with_lr else ()), "seed", "stored")
    t = _table(f"study {spec.name}: {len(expansion.runs)} runs ({spec.design.kind})", cols,
               right=("N", "D", "lr", "seed"))
    for r in expansion.runs:
        row = [r.run_id, str(r.labels.get("group", "")), _shape(r.config),
               _num(r.labels.get("N_planned")), _num(r.config["tokens"])]
        if with_lr:
            row.append(_fmt(r.config.get("lr")))
        t.add_row(*row, str(r.config.get("seed")), status.get(r.run_id, "new"))
    return t


def _counts_line(counts: dict[str, int], total: int) -> str:
    return (f"{counts.get('completed', 0)}/{total} completed, {counts.get('failed', 0)} failed, "
            f"{counts.get('pending', 0)} pending, {counts.get('running', 0)} running")


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` and ``runs`` command groups to ``app``."""
    sweep_app = typer.Typer(help="Run scaling studies (sweeps of training runs) into a run "
                            "store.", no_args_is_help=True, cls=Group)
    runs_app = typer.Typer(help="Inspect and export the runs of a run store.",
                           no_args_is_help=True, cls=Group)
    app.add_typer(sweep_app, name="sweep")
    app.add_typer(runs_app, name="runs")

    @sweep_app.command("run", cls=Command)
    def sweep_run(
        spec_path: Annotated[Path, typer.Argument(metavar="SPEC.yaml", help="study spec")],
        store: StoreOpt,
        workers: Annotated[int | None, typer.Option(
            "--workers", min=1, help="runs side by side (default: one per core for small "
            "models, one per GPU on CUDA)")] = None,
        executor: Annotated[str, typer.Option(help="local | ray")] = "local",
        address: Annotated[str | None, typer.Option(
            help="Ray cluster address (auto: the local `ray start` cluster); default: a new "
            "local Ray instance")] = None,
        max_retries: Annotated[int | None, typer.Option(
            min=0, help="retries of a failed run (default: the spec's max_retries, 2)")] = None,
        retry_failed: Annotated[bool, typer.Option(
            "--retry-failed", help="give runs that used up their retries a new budget")
                                ] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="list the runs, train none")
                           ] = False,
        quiet: Annotated[bool, typer.Option("--quiet", help="no progress table")] = False,
        log_to: Annotated[str | None, typer.Option(
            "--log-to", help="also log each run as it completes to mlflow[:URI] or "
            "wandb[:PROJECT] (the run store stays the source of truth)")] = None,
    ) -> None:
        """Run (or resume) the study in SPEC.yaml: completed runs are skipped, interrupted
        ones resume from their checkpoints, failed ones are retried up to the limit."""
        from scalinglab.sweep.designs import expand
        from scalinglab.sweep.spec import load_spec

        if executor not in ("local", "ray"):
            raise OptionError("--executor", f"use local or ray, got {executor!r}")
        if address is not None and executor != "ray":
            raise OptionError("--address", "only with --executor ray")
        spec = load_spec(spec_path)
        expansion = expand(spec)
        for note in expansion.notes:
            err_console.print(f"note: {note}", highlight=False, markup=False)
        from scalinglab.sweep.spec import check_data

        check_data(spec, str(spec_path))  # a missing data file: refused before any run
        _check_with_trainer(spec, expansion, str(spec_path))  # bad `train:` values too
        if dry_run:
            console.print(_plan_table(spec, expansion, store))
            return
        _require_train_extra()
        if executor == "ray":
            from scalinglab.sweep.ray_executor import _import_ray

            _import_ray()
        from scalinglab.sweep.driver import run_sweep

        mirror = None
        if log_to is not None:
            from scalinglab.importers.export import mirror_for

            mirror = mirror_for(log_to)
        summary = run_sweep(spec, store, spec_path=str(spec_path.resolve()), executor=executor,
                            workers=workers, address=address, max_retries=max_retries,
                            retry_failed=retry_failed, show_progress=not quiet,
                            expansion=expansion, on_complete=mirror)
        for note in summary.notes[len(expansion.notes):]:
            err_console.print(f"note: {note}", highlight=False, markup=False)
        line = f"study {summary.study}: {_counts_line(summary.counts, summary.planned)}"
        console.print(line, highlight=False)
        if summary.interrupted:
            err_console.print("interrupted: run the same command again to resume",
                              highlight=False)
            raise typer.Exit(130)
        if summary.counts.get("failed", 0):
            err_console.print(f"some runs failed: scalinglab runs list --store {store} "
                              "--status failed", highlight=False, markup=False)
            raise typer.Exit(1)

    @sweep_app.command("status", cls=Command)
    def sweep_status(store: StoreOpt, study: StudyOpt = None) -> None:
        """Progress of the studies in a store: runs by status, running and failed runs."""
        from scalinglab.store import RunStore

        with RunStore(store, readonly=True) as rs:
            studies = [rs.study(study)] if study else rs.studies()
            if not studies:
                console.print(f"{store}: no studies yet", highlight=False)
                return
            t = Table(title=f"run store {store}", title_justify="left")
            for col in ("study", "design", "runs", "completed", "running", "pending", "failed"):
                t.add_column(col, justify="left" if col in ("study", "design") else "right")
            for s in studies:
                c = rs.counts(s.name)
                t.add_row(s.name, str(s.spec.get("design", {}).get("kind", "")),
                          str(sum(c.values())), str(c["completed"]), str(c["running"]),
                          str(c["pending"]), str(c["failed"]))
            console.print(t)
            for s in studies:
                for r in rs.runs(study=s.name, statuses=("running", "failed")):
                    last = (r.error or "").strip().splitlines()[-1:] or [""]
                    console.print(f"{s.name} {r.run_id} {r.status} (attempt {r.attempts}) "
                                  f"{last[0]}", highlight=False, markup=False)

    @runs_app.command("list", cls=Command)
    def runs_list(store: StoreOpt, study: StudyOpt = None,
                  status: Annotated[str | None, typer.Option(
                      help="pending | running | completed | failed")] = None,
                  json_out: JsonOpt = None) -> None:
        """One line per run: id, study, group, model, N, D, status, attempts, loss."""
        from scalinglab.store import STATUSES, RunStore, runs_table

        start_json(json_out)
        if status is not None and status not in STATUSES:
            raise OptionError("--status", f"use one of {', '.join(STATUSES)}, got {status!r}")
        with RunStore(store, readonly=True) as rs:
            if study:
                rs.study(study)
            df = runs_table(rs, study)
        if status is not None and not df.empty:
            df = df[df["status"] == status]
        several = df["study"].nunique() > 1 if not df.empty else False
        cols = ("run", *(("study",) if several else ()), "group", "model", "N", "D", "status",
                "tries", "loss")
        t = _table(f"{len(df)} runs in {store}", cols, right=("N", "D", "tries", "loss"))
        for row in df.to_dict("records"):
            t.add_row(row["run_id"], *((str(row["study"]),) if several else ()),
                      str(row["group"]), _shape(row), _num(row["N"]), _num(row["D"]),
                      row["status"], str(row["attempts"]), _fmt(row["loss"], ".4f"))
        console.print(t)
        emit_json(json_out, df.to_dict("records"))

    @runs_app.command("show", cls=Command)
    def runs_show(
        run_id: Annotated[str, typer.Argument(metavar="ID", help="run id (or a unique prefix)")],
        store: StoreOpt,
        as_json: JsonOpt = None,
    ) -> None:
        """A run's config, status, attempts, metrics and learning curve."""
        from scalinglab.store import RunStore

        with RunStore(store, readonly=True) as rs:
            run = rs.get(run_id)
            curve = rs.curve(run.run_id)
            attempts = rs.attempts(run.run_id)
        if as_json is not None:
            start_json(as_json)
            payload = {"run_id": run.run_id, "study": run.study, "labels": run.labels,
                       "status": run.status, "attempts": attempts, "error": run.error,
                       "config": run.config, "metrics": run.metrics, "curve": curve,
                       "out_dir": run.out_dir}
            emit_json(as_json, payload)
            if as_json == "-":
                return
        console.print(f"[bold]run {run.run_id}[/] ({run.study}, {run.labels.get('group', '')})"
                      f": {run.status}, {run.attempts} attempt(s), folder {run.out_dir}",
                      highlight=False)
        console.print_json(json.dumps(run.config))
        if run.error:
            console.print("[red]last error:[/]", highlight=False)
            console.print(run.error, highlight=False, markup=False)
        m = run.metrics or {}
        if m:
            t = Table(title="result", title_justify="left")
            t.add_column("quantity")
            t.add_column("value", justify="right")
            for key in ("initial_val_loss", "final_val_loss", "best_val_loss",
                        "final_train_loss", "ood_val_loss", "params_total",
                        "params_nonembedding", "tokens", "steps", "flops", "lr",
                        "tokens_per_second", "mfu", "wall_time_s", "device", "threads"):
                if key in m:
                    t.add_row(key, _fmt(m[key], ".6g"))
            console.print(t)
        if curve:
            t = Table(title=f"learning curve ({len(curve)} points)", title_justify="left")
            for col in ("step", "tokens", "train_loss", "val_loss", "lr"):
                t.add_column(col, justify="right")
            for p in curve:
                t.add_row(*(_fmt(p.get(c), ".5g") for c in ("step", "tokens", "train_loss",
                                                             "val_loss", "lr")))
            console.print(t)

    @runs_app.command("export", cls=Command)
    def runs_export(
        store: StoreOpt,
        out: Annotated[Path | None, typer.Option("--out", help="runs.csv or runs.parquet")
                       ] = None,
        study: StudyOpt = None,
        to: Annotated[str | None, typer.Option(
            "--to", help="log the completed runs to mlflow[:URI] or wandb[:PROJECT] instead "
            "(runs already in the MLflow experiment are skipped)")] = None,
    ) -> None:
        """Every run (any status) as an observation table: status, N, D, C, loss, config
        (--out), or the completed runs logged to a tracker (--to mlflow)."""
        from scalinglab.store import export_runs

        if (out is None) == (to is None):
            raise OptionError("--out", "give --out FILE or --to mlflow[:URI]|wandb (one)")
        if to is not None:
            from scalinglab.importers.export import export_store

            logged, skipped = export_store(store, to, study)
            console.print(f"logged {logged} completed runs to {to}"
                          + (f" ({skipped} already there)" if skipped else ""), highlight=False)
            return
        assert out is not None
        df = export_runs(store, out, study)
        console.print(f"wrote {len(df)} runs to {out}", highlight=False)

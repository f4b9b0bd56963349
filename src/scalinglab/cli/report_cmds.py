"""CLI: ``scalinglab report`` — one self-contained HTML report with figures.

``scalinglab report (--store runs.db | --fit FIT.json | DATA) --out report.html [--law L]
[--bootstrap R] [--compute C ...] [--figures DIR]``: fits the law (unless ``--fit`` gives one),
backtests it on the largest budget, runs Approach 2 on IsoFLOP-shaped data, plans the
compute-optimal model (default: 100x the largest budget) and writes the report.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from scalinglab.console import console, progress
from scalinglab.errors import OptionError
from scalinglab.report import build_report
from scalinglab.report.html import num

_APPROACH2 = {"auto": None, "yes": True, "no": False}


def _plain(value: float) -> str:
    """A number for the terminal (``num`` without the HTML)."""
    return num(value).replace("×10<sup>", "e").replace("</sup>", "")


def _command(parts: list[tuple[str, object]], data: str | None) -> str:
    words = ["scalinglab", "report"] + ([data] if data else [])
    for flag, value in parts:
        if value is None or value is False:
            continue
        if isinstance(value, list):
            for v in value:
                words += [flag, str(v)]
        elif value is True:
            words.append(flag)
        else:
            words += [flag, str(value)]
    return shlex.join(words)


def report_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="the HTML file to write")],
    data: Annotated[str | None, typer.Argument(
        help="observation table (CSV/Parquet/JSON(L)), a run store (.db) or example:NAME")
    ] = None,
    store: Annotated[Path | None, typer.Option(
        help="a run store (scalinglab sweep): its completed runs and learning curves")] = None,
    fit: Annotated[Path | None, typer.Option(
        "--fit", help="a saved fit (scalinglab fit --json) to report instead of fitting")
    ] = None,
    law: Annotated[str | None, typer.Option(
        help="law to fit (default chinchilla; with --fit, the fit's law)")] = None,
    bootstrap: Annotated[int, typer.Option(
        help="bootstrap resamples for the intervals (0 = none)")] = 100,
    compute: Annotated[list[float] | None, typer.Option(
        help="budget (FLOPs) to plan, repeatable (default 100x the largest C in the data)")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
    confidence: Annotated[float, typer.Option(help="interval level")] = 0.95,
    backtest: Annotated[bool, typer.Option(
        "--backtest/--no-backtest", help="refit without the largest budget and predict it")
    ] = True,
    approach2: Annotated[str, typer.Option(
        help="IsoFLOP profiles (Approach 2): auto (when the data has IsoFLOP structure), "
             "yes, no")] = "auto",
    study: Annotated[str | None, typer.Option(help="only this study of the run store")] = None,
    figures: Annotated[Path | None, typer.Option(
        help="also save every figure in this folder as PNG and SVG")] = None,
    title: Annotated[str | None, typer.Option(help="title of the report")] = None,
    jobs: Annotated[int | None, typer.Option(help="processes for the bootstrap")] = None,
) -> None:
    """Write a self-contained HTML report: fitted law with intervals, plan, backtest, figures."""
    if approach2 not in _APPROACH2:
        raise OptionError("--approach2", f"expected auto, yes or no, got {approach2!r}")
    if data is not None and store is not None:
        raise OptionError("--store", "give either DATA or --store, not both")
    if data is None and store is None and fit is None:
        raise OptionError("DATA", "give the runs (DATA or --store runs.db) and/or a fit "
                          "(--fit FIT.json)")
    command = _command([("--store", store), ("--fit", fit), ("--out", out), ("--law", law),
                        ("--bootstrap", bootstrap), ("--compute", compute), ("--seed", seed),
                        ("--confidence", confidence), ("--no-backtest", not backtest),
                        ("--approach2", None if approach2 == "auto" else approach2),
                        ("--study", study), ("--figures", figures)], data)
    total = bootstrap * ((0 if fit else 1) + (1 if backtest else 0))
    with progress(disable=total == 0) as bar:
        task = bar.add_task("bootstrap", total=total or 1)
        rep = build_report(data, store=store, fit=fit, out=out, law=law, bootstrap=bootstrap,
                           seed=seed, confidence=confidence, compute=compute, backtest=backtest,
                           approach2=_APPROACH2[approach2], study=study, figures_dir=figures,
                           title=title, command=command, n_jobs=jobs,
                           on_progress=lambda k: bar.advance(task, k))
    a = rep.analysis
    console.print(f"wrote {rep.path} ({len(rep.figure_names)} figures"
                  + (f", {len(rep.figure_files)} figure files in {figures}" if figures else "")
                  + ")", highlight=False, soft_wrap=True)
    if a.fit is not None:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in a.fit.params.items())
        console.print(f"law {a.fit.law.name}: {ps}", highlight=False, soft_wrap=True)
    h = rep.headline()
    if h:
        console.print(f"plan at C = {_plain(h['compute'])} FLOPs: N_opt = {_plain(h['N_opt'])}, "
                      f"D_opt = {_plain(h['D_opt'])}, loss = {h['loss']:.4f} nats/token",
                      highlight=False, soft_wrap=True)
    for name, why in rep.omitted.items():
        console.print(f"[dim]left out {name}: {why}[/]", highlight=False, soft_wrap=True)
    n_warn = len(a.warnings) + (len(a.fit.warnings) if a.fit is not None else 0)
    if n_warn:
        console.print(f"[yellow]{n_warn} warning(s): see the report[/]", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)

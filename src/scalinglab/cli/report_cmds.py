"""CLI: ``scalinglab report`` — one self-contained HTML report with figures.

``scalinglab report (--store runs.db | --fit FIT.json | DATA) --out report.html [--law L]
[--bootstrap R] [--compute C ...] [--figures DIR]``: fits the law (unless ``--fit`` gives one),
backtests it on the largest budget, runs Approach 2 on IsoFLOP-shaped data, plans the
compute-optimal model (default: 100x the largest budget) and writes the report.

Every option is checked before any work; the summary goes to stdout (or, with ``--json``, as
JSON), the fit's and the analysis' warnings to stderr, each on its own line. The report
machinery (pandas, SciPy, matplotlib) is imported inside the command.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer

from scalinglab.cli.options import (
    BOOTSTRAP_REPORT,
    BootstrapOpt,
    Command,
    ComputeOpt,
    ConfidenceOpt,
    JsonOpt,
    check_choice,
    check_confidence,
    check_json_dest,
    emit_json,
    parse_compute,
    start_json,
)
from scalinglab.console import console, note, progress, warn
from scalinglab.errors import OptionError

_APPROACH2 = {"auto": None, "yes": True, "no": False}


def _plain(value: float) -> str:
    """A number for the terminal (``num`` without the HTML)."""
    from scalinglab.report.html import num

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
    bootstrap: BootstrapOpt = BOOTSTRAP_REPORT,
    compute: ComputeOpt = None,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
    confidence: ConfidenceOpt = 0.95,
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
    interactive: Annotated[bool, typer.Option(
        "--interactive", help="add interactive Plotly figures (plotly.js inlined; still one "
        "file; needs pip install 'scalinglab[interactive]')")] = False,
    jobs: Annotated[int | None, typer.Option(help="processes for the bootstrap")] = None,
    json_out: JsonOpt = None,
) -> None:
    """Write a self-contained HTML report: fitted law with intervals, plan, backtest, figures.

    The budgets to plan default to 100x the largest C in the data.
    """
    start_json(json_out)
    check_choice(approach2, tuple(_APPROACH2), "--approach2", "choice")
    check_confidence(confidence)
    budgets = parse_compute(compute) or None
    check_json_dest(json_out)
    if interactive:
        from scalinglab.report.interactive import require_plotly

        require_plotly("--interactive")
    if data is not None and store is not None:
        raise OptionError("--store", "give either DATA or --store, not both")
    if data is None and store is None and fit is None:
        raise OptionError("DATA", "give the runs (DATA or --store runs.db) and/or a fit "
                          "(--fit FIT.json)")
    command = _command([("--store", store), ("--fit", fit), ("--out", out), ("--law", law),
                        ("--bootstrap", bootstrap), ("--compute", budgets), ("--seed", seed),
                        ("--confidence", confidence), ("--no-backtest", not backtest),
                        ("--approach2", None if approach2 == "auto" else approach2),
                        ("--study", study), ("--figures", figures),
                        ("--interactive", interactive)], data)
    from scalinglab.report import build_report

    total = bootstrap * ((0 if fit else 1) + (1 if backtest else 0))
    with progress(disable=total == 0) as bar:
        task = bar.add_task("bootstrap", total=total or 1)
        rep = build_report(data, store=store, fit=fit, out=out, law=law, bootstrap=bootstrap,
                           seed=seed, confidence=confidence, compute=budgets, backtest=backtest,
                           approach2=_APPROACH2[approach2], study=study, figures_dir=figures,
                           title=title, command=command, n_jobs=jobs,
                           on_progress=lambda k: bar.advance(task, k), interactive=interactive)
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
        note(f"left out {name}: {why}")
    warnings = [*(a.fit.warnings if a.fit is not None else []), *a.warnings]
    for w in warnings:
        warn(w)
    doc: dict[str, Any] = {
        "report": str(rep.path), "figures": list(rep.figure_names),
        "figure_files": [str(f) for f in rep.figure_files],
        "law": a.fit.law.name if a.fit is not None else None,
        "params": dict(a.fit.params) if a.fit is not None else None,
        "plan": h or None, "omitted": dict(rep.omitted), "warnings": warnings}
    emit_json(json_out, doc)


def register(app: typer.Typer) -> None:
    """Add ``report`` to the app."""
    app.command("report", cls=Command)(report_cmd)

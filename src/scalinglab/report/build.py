"""``build_report``: from runs (a table, a run store) and/or a saved fit to ``report.html``.

One call reads the inputs (:func:`~scalinglab.report.inputs.load_inputs`), runs the analyses
(:func:`~scalinglab.report.analysis.analyse`), draws the figures
(:func:`~scalinglab.report.figures.make_figures`), optionally saves them as PNG and SVG, and
writes the self-contained HTML (:func:`~scalinglab.report.html.render_html`) atomically. It
raises :class:`~scalinglab.errors.InputError` when not a single figure can be drawn. With
``interactive=True`` the page also holds Plotly figures (:mod:`scalinglab.report.interactive`;
the ``interactive`` extra, checked before any work starts).
:func:`write_report` does the last two steps for an analysis made beforehand.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from scalinglab.errors import InputError, ParameterError
from scalinglab.fit.result import FitResult
from scalinglab.report.analysis import Analysis, analyse
from scalinglab.report.figures import figure_bytes, make_figures, save_figures
from scalinglab.report.html import render_html
from scalinglab.report.inputs import load_inputs


@dataclass
class Report:
    """What :func:`build_report` made."""

    path: Path
    analysis: Analysis
    figure_names: list[str]
    omitted: dict[str, str]
    figure_files: list[Path] = field(default_factory=list)

    @property
    def fit(self) -> FitResult | None:
        return self.analysis.fit

    def headline(self) -> dict[str, float]:
        """The plan's headline numbers at the first budget: ``compute``, ``N_opt``,
        ``D_opt``, ``loss`` (empty without a plan)."""
        if not self.analysis.plans:
            return {}
        p = self.analysis.plans[0]
        return {"compute": p.compute, "N_opt": p.N_opt, "D_opt": p.D_opt, "loss": p.loss}


def build_report(
    data: pd.DataFrame | str | os.PathLike[str] | None = None,
    *,
    store: str | os.PathLike[str] | None = None,
    fit: FitResult | str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] = "report.html",
    law: str | None = None,
    bootstrap: int = 100,
    seed: int = 0,
    confidence: float = 0.95,
    compute: Sequence[float] | None = None,
    backtest: bool = True,
    approach2: bool | None = None,
    curves: pd.DataFrame | None = None,
    study: str | None = None,
    figures_dir: str | os.PathLike[str] | None = None,
    figure_formats: Sequence[str] = ("png", "svg"),
    title: str | None = None,
    command: str | None = None,
    n_jobs: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    design: Sequence[tuple[str, str]] = (),
    interactive: bool = False,
) -> Report:
    """Write a self-contained HTML report of a scaling study to ``out``.

    ``data`` (an observation table, a path, ``example:NAME`` or a run store ``*.db``) or
    ``store`` gives the runs; ``fit`` (a :class:`FitResult` or its JSON path) a saved fit, else
    ``law`` (default ``chinchilla``) is fitted with ``bootstrap`` resamples. ``compute``: the
    budgets to plan (default 100x the largest C in the data). ``backtest``: fit again without
    the largest budget and predict it (unless the fit has a backtest). ``approach2``: IsoFLOP
    profiles always (True), never (False) or when the data has IsoFLOP structure (None).
    ``figures_dir``: also save every figure there as PNG and SVG. ``command``: the command
    line, recorded in the provenance. ``design``: (what, how) rows that describe the study's
    design, shown first. ``interactive``: add Plotly figures (plotly.js inlined; needs
    ``pip install 'scalinglab[interactive]'``).
    """
    target = _check_out(out)
    if interactive:
        from scalinglab.report.interactive import plotly_script

        plotly_script()  # a missing extra is said before the fit, not after
    inputs = load_inputs(data, store=store, fit=fit, curves=curves, study=study)
    analysis = analyse(inputs, law=law, bootstrap=bootstrap, seed=seed, confidence=confidence,
                       compute=compute, backtest=backtest, approach2=approach2, n_jobs=n_jobs,
                       on_progress=on_progress)
    analysis.design = list(design)
    return write_report(analysis, target, figures_dir=figures_dir,
                        figure_formats=figure_formats, title=title, command=command,
                        interactive=interactive)


def _check_out(out: str | os.PathLike[str]) -> Path:
    target = Path(out)
    if target.suffix.lower() not in (".html", ".htm"):
        raise ParameterError("out", f"{target}: the report is an HTML file (name it *.html)")
    if target.is_dir():
        raise ParameterError("out", f"{target} is a folder")
    return target


def write_report(analysis: Analysis, out: str | os.PathLike[str], *,
                 figures_dir: str | os.PathLike[str] | None = None,
                 figure_formats: Sequence[str] = ("png", "svg"), title: str | None = None,
                 command: str | None = None, interactive: bool = False) -> Report:
    """Draw the figures of an :class:`Analysis` and write the HTML report to ``out`` (and the
    figures to ``figures_dir``); :class:`InputError` when no figure can be drawn.
    ``interactive``: Plotly figures too (see :func:`build_report`)."""
    target = _check_out(out)
    figs, omitted = make_figures(analysis)
    if not figs:
        why = "; ".join(f"{k}: {v}" for k, v in omitted.items())
        raise InputError(f"no figure can be drawn from this input ({why})",
                         source=analysis.inputs.source or None)
    files: list[Path] = []
    if figures_dir is not None:
        files = save_figures(figs, figures_dir, formats=figure_formats)
        if analysis.conventions is not None:  # drawn inline in its own section of the page
            from scalinglab.report.convention_figures import conventions_figure

            files += save_figures({"conventions": conventions_figure(analysis.conventions)},
                                  figures_dir, formats=figure_formats)
    pngs = {k: figure_bytes(f) for k, f in figs.items()}
    page = render_html(analysis, pngs, omitted, title=title, command=command,
                       interactive=interactive)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return Report(path=target, analysis=analysis, figure_names=list(figs), omitted=omitted,
                  figure_files=files)

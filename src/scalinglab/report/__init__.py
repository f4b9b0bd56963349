"""Reports: figures (matplotlib) and a one-file HTML report of a scaling study.

``build_report(data_or_store, fit=..., out="report.html")`` does everything: it reads the runs
(an observation table, ``example:NAME``, or a run store with its learning curves) and/or a
saved fit, fits the law (Approach 3, bootstrap intervals) unless given one, backtests it on the
largest budget, runs Approach 2 when the data has IsoFLOP structure (and Approach 1 when there
are curves), plans the compute-optimal model at 100x the largest budget, draws the figures and
writes one self-contained HTML file (figures embedded as PNG, no remote resources).

The parts are public too:

* :mod:`~scalinglab.report.inputs`: :func:`load_inputs` -> :class:`ReportInputs`;
* :mod:`~scalinglab.report.analysis`: :func:`analyse` -> :class:`Analysis`;
* :mod:`~scalinglab.report.figures`: one function per figure, each returning a
  ``matplotlib.figure.Figure``; :func:`make_figures`, :func:`save_figures` (PNG + SVG);
* :mod:`~scalinglab.report.html`: :func:`render_html`;
* :func:`write_report`: figures + HTML for an analysis made beforehand.
"""

from scalinglab.report.analysis import Analysis, analyse, holdout_threshold
from scalinglab.report.build import Report, build_report, write_report
from scalinglab.report.figures import (
    FIGURES,
    NoFigure,
    allocation_figure,
    axis_label,
    backtest_figure,
    contour_figure,
    curves_figure,
    isoflop_figure,
    loss_compute_figure,
    make_figures,
    pareto_frontier,
    residual_figure,
    save_figures,
)
from scalinglab.report.html import render_html
from scalinglab.report.inputs import ReportInputs, load_inputs

__all__ = [
    "FIGURES",
    "Analysis",
    "NoFigure",
    "Report",
    "ReportInputs",
    "allocation_figure",
    "analyse",
    "axis_label",
    "backtest_figure",
    "build_report",
    "contour_figure",
    "curves_figure",
    "holdout_threshold",
    "isoflop_figure",
    "load_inputs",
    "loss_compute_figure",
    "make_figures",
    "pareto_frontier",
    "render_html",
    "residual_figure",
    "save_figures",
    "write_report",
]

"""The convention-sensitivity figure (matplotlib object API, Agg; no pyplot).

:func:`conventions_figure` draws a :class:`~scalinglab.plan.conventions.ConventionReport`:

* left: N_opt against C for every convention combination, each in its own conventions (the
  frontier points or the Approach-3 optimum over the compute range) with its fitted power law;
* middle: the exponent a of N_opt ∝ C^a per combination, with its interval where there is one
  (hollow markers: not identified);
* right: N_opt at the target budget per combination, in total parameters so that the rows
  compare.

Artists carry a ``gid`` (``"frontier"``, ``"exponent"``, ``"n-opt"``) for tests and readers.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from scalinglab.plan.conventions import ConventionReport, ConventionRow
from scalinglab.report.figures import _figure, _tidy

_COLOURS = {("total", "6ND"): "#1f77b4", ("total", "full"): "#17becf",
            ("nonembedding", "6ND"): "#d62728", ("nonembedding", "full"): "#ff7f0e"}
_MARKERS = {"approach3": "o", "frontier": "s"}


def row_label(r: ConventionRow) -> str:
    """``N total · C 6ND · approach3``."""
    n = "N total" if r.n_convention == "total" else "N non-emb."
    return f"{n} · C {r.c_convention} · {r.allocation}"


def conventions_figure(report: ConventionReport) -> Figure:
    """The three panels described in the module docstring."""
    fig, (ax_f, ax_a, ax_n) = _figure(3, width=15.0, height=5.4)
    rows = report.rows
    for r in rows:
        colour = _COLOURS.get((r.n_convention, r.c_convention), "grey")
        C, N = report.frontier_points.get(r.key, (np.array([]), np.array([])))
        style = "-" if r.allocation == "approach3" else "none"
        if len(C):
            ax_f.plot(C, N, linestyle=style, marker=None if style == "-" else
                      _MARKERS[r.allocation], markersize=3, color=colour, alpha=0.8,
                      label=row_label(r), gid="frontier")
    ax_f.set_xscale("log")
    ax_f.set_yscale("log")
    ax_f.set_xlabel("C (FLOPs), in each row's C convention")
    ax_f.set_ylabel("N_opt (parameters), in each row's N convention")
    ax_f.set_title("compute-optimal N against C")
    ax_f.legend(fontsize=7, loc="upper left")

    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows, strict=True):
        colour = _COLOURS.get((r.n_convention, r.c_convention), "grey")
        face = colour if r.identified else "none"
        if math.isfinite(r.a):
            if r.a_interval is not None:
                lo, hi = r.a_interval
                ax_a.errorbar([r.a], [yi], xerr=[[r.a - lo], [hi - r.a]], fmt="none",
                              ecolor=colour, capsize=3)
            ax_a.plot([r.a], [yi], _MARKERS[r.allocation], color=colour,
                      markerfacecolor=face, gid="exponent")
            ax_a.annotate(f"{r.a:.3f}" + ("" if r.identified else " (not identified)"),
                          (r.a, yi), textcoords="offset points", xytext=(6, 4), fontsize=7)
        if math.isfinite(r.n_opt_total) and r.n_opt_total > 0:
            ax_n.plot([r.n_opt_total], [yi], _MARKERS[r.allocation], color=colour,
                      markerfacecolor=face, gid="n-opt")
            ax_n.annotate(f"{r.n_opt_total:.3g}", (r.n_opt_total, yi),
                          textcoords="offset points", xytext=(6, 4), fontsize=7)
    labels = [row_label(r) for r in rows]
    for ax in (ax_a, ax_n):
        ax.set_yticks(y)
        ax.set_ylim(-0.8, len(rows) - 0.2)
    ax_a.set_yticklabels(labels, fontsize=8)
    ax_n.set_yticklabels([])
    ax_a.set_xlabel("a in N_opt ∝ C^a (over the compute range)")
    ax_a.set_title("allocation exponent")
    ax_n.set_xscale("log")
    ax_n.margins(x=0.2)
    ax_n.set_xlabel(f"N_opt at C = {report.target_compute:.3g} FLOPs (total parameters)")
    ax_n.set_title("compute-optimal size at the target")
    return _tidy(fig)

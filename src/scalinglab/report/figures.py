"""The report's figures (matplotlib, Agg): each function returns a ``matplotlib.figure.Figure``.

Figures are built with the object API (``Figure`` on an Agg canvas, never ``pyplot``), so
nothing is kept in global state, no display is needed, and the process-wide backend of a caller
(a notebook, say) is left alone. Every axis states its unit and convention
(taken from the observation table's, or the fit's, ``conventions``); loss is in nats/token.

* :func:`loss_compute_figure`: loss vs compute, runs coloured by N, the compute-efficient
  frontier (Kaplan et al. Fig. 1 style) and the fitted law's compute-optimal loss;
* :func:`isoflop_figure`: IsoFLOP profiles with their minima and the parabolas over the
  windows they were fitted to (Approach 2);
* :func:`allocation_figure`: N_opt and D_opt vs C (Approaches 1, 2, 3) with intervals, and the
  plan (its error bar always holds its value: :func:`plan_error_bar`);
* :func:`contour_figure`: the fitted L(N, D) with the compute-optimal allocation line;
* :func:`residual_figure`: log residuals of the fit vs C and vs N;
* :func:`curves_figure`: learning curves (loss vs tokens or FLOPs per run);
* :func:`backtest_figure`: predicted vs observed loss on held-out scale, with intervals.

:func:`make_figures` draws every figure an :class:`~scalinglab.report.analysis.Analysis`
allows (and says why the others are left out); :func:`save_figures` writes PNG and SVG files.
Artists that tests and readers look for carry a ``gid`` (``"runs"``, ``"frontier"``,
``"minima"``, ``"parabola"``, ``"optimal-allocation"``, ...).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, NullLocator

from scalinglab.errors import ScalingLabError
from scalinglab.fit.approaches import EnvelopeResult, IsoFLOPResult
from scalinglab.fit.result import FitResult
from scalinglab.laws import chinchilla_allocation
from scalinglab.plan import ComputePlan, optimal_allocation
from scalinglab.report.analysis import Analysis, isoflop_members, plan_law_of

CMAP = "viridis"
_UNITS = {"N": "parameters", "D": "tokens", "C": "FLOPs"}
_DEFAULT_CONV = {"N": "as recorded", "D": "as recorded", "C": "as recorded"}

#: name -> (title, caption) of each figure, in report order
FIGURES: dict[str, tuple[str, str]] = {
    "loss_vs_compute": (
        "Loss vs compute",
        "Final loss of every run against its training compute, coloured by model size "
        "(Kaplan et al. 2020, Fig. 1 style). The black line is the compute-efficient frontier: "
        "the lowest loss reached with at most that compute (the lower envelope of the learning "
        "curves when there are curves). The dotted line is the fitted law at the "
        "compute-optimal allocation."),
    "isoflop": (
        "IsoFLOP profiles (Approach 2)",
        "Runs grouped by FLOP budget (and by unique tokens U where the budgets are split by "
        "U); each budget's minimum (star) is its compute-optimal model size (Hoffmann et al. "
        "2022, Sec. 3.2, Fig. 3). Each curve is a parabola in ln N fitted to the sizes in a "
        "window around the budget's lowest loss, drawn over those sizes only (hollow runs lie "
        "outside them; with the Akima method only the minima are drawn); the method and window "
        "used are stated under Approach 2."),
    "allocation": (
        "Compute-optimal N and D vs compute",
        "N_opt(C) and D_opt(C) from the fitted law (Approach 3, shaded: bootstrap interval), "
        "from the IsoFLOP minima (Approach 2) and the envelope of the curves (Approach 1) "
        "where available; the diamond is the plan, with its interval."),
    "contours": (
        "Fitted L(N, D)",
        "Contours of the fitted law's predicted loss over model size and training tokens, the "
        "runs (white), iso-FLOP lines C = 6ND (grey, one per decade) and the compute-optimal "
        "allocation (red), along which each iso-FLOP line meets its lowest loss."),
    "residuals": (
        "Residuals",
        "Log residuals of the fit, ln(predicted / observed), against compute and model size; "
        "the dotted lines are ± the root mean square residual. Structure here (a trend with "
        "scale) means the law misses something the extrapolation will inherit."),
    "learning_curves": (
        "Learning curves",
        "Loss against tokens seen for every run, coloured by model size."),
    "backtest": (
        "Backtest on held-out scale",
        "The law fitted without the largest compute budget, predicting the runs held out. "
        "Left: predicted vs observed loss (bars: the bootstrap interval of the prediction); "
        "right: the relative error against compute (against model size when the held-out "
        "runs share one budget)."),
}


class NoFigure(ScalingLabError):
    """A figure that the material at hand cannot make (the message says why)."""


# ============================================================================ helpers
def axis_label(var: str, conventions: Mapping[str, str] | None = None, width: int = 58) -> str:
    """``"N (parameters): total parameters incl. embeddings"``, wrapped; loss in nats/token."""
    if var == "loss":
        return "loss (nats/token)"
    conv = dict(conventions or {}).get(var) or _DEFAULT_CONV.get(var, "")
    text = f"{var} ({_UNITS.get(var, '')}): {conv}" if var in _UNITS else var
    return "\n".join(textwrap.wrap(text, width))


def _figure(ncols: int = 1, width: float = 7.6, height: float = 5.2) -> tuple[Figure,
                                                                              list[Axes]]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # render with Agg; the process-wide backend is left alone
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    for ax in axes:
        ax.grid(True, which="major", alpha=0.3)
    return fig, axes


def _lognorm(values: np.ndarray) -> LogNorm:
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    lo, hi = (float(v.min()), float(v.max())) if len(v) else (1.0, 10.0)
    if hi <= lo:
        lo, hi = lo / 1.5, hi * 1.5
    return LogNorm(vmin=lo, vmax=hi)


def _log_loss_axis(ax: Axes) -> None:
    """A log loss axis with plain-number ticks (2.2, 2.4, ...): a loss range rarely spans a
    decade, where powers of ten would leave it without labels."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())


def _tidy(fig: Figure) -> Figure:
    """On log axes spanning more than a decade, label the decades only (minor labels such as
    3x10^6 next to 4x10^6 collide)."""
    for ax in fig.axes:
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if axis.get_scale() == "log" and min(lim) > 0 and np.log10(max(lim) / min(lim)) > 1:
                axis.set_minor_formatter(NullFormatter())
    return fig


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(df[name], errors="coerce").to_numpy(float)


def _fmt(v: float) -> str:
    a = abs(v)
    return f"{v:.3g}" if (a == 0 or 1e-2 <= a < 1e4) else f"{v:.2e}"


def _interval_text(v: float | None, iv: Sequence[float] | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    s = f"{v:.{digits}f}"
    if iv is not None and len(iv) == 2 and all(np.isfinite(iv)):
        s += f" [{iv[0]:.{digits}f}, {iv[1]:.{digits}f}]"
    return s


def pareto_frontier(C: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Indices of the runs on the compute-efficient frontier: each has a lower loss than every
    run with less compute (sorted by C)."""
    order = np.argsort(np.asarray(C, float), kind="stable")
    best = np.inf
    keep = []
    for i in order:
        if loss[i] < best:
            best = loss[i]
            keep.append(i)
    return np.array(keep, int)


def _is_nd(res: FitResult | None) -> bool:
    return res is not None and tuple(res.law.variables) == ("N", "D")


def _optimal_line(res: FitResult, C: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point estimates ``(N_opt, D_opt, loss)`` of a fitted law of N and D along ``C``."""
    N, D, L = optimal_allocation(plan_law_of(res), C)
    return np.asarray(N, float), np.asarray(D, float), np.asarray(L, float)


def _allocation_band(res: FitResult, C: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Percentile band of N_opt and D_opt over the bootstrap draws (closed form, chinchilla)."""
    if res.law.name != "chinchilla" or res.draws is None or len(res.draws) < 2:
        return None
    d = res.draws[np.all(np.isfinite(res.draws), axis=1)]
    if len(d) < 2:
        return None
    p = {n: d[:, i][:, None] for i, n in enumerate(res.law.param_names)}
    with np.errstate(all="ignore"):
        N, D = chinchilla_allocation(p, C[None, :])
    a = (1 - res.confidence) / 2
    q = [a, 1 - a]
    nlo, nhi = np.nanquantile(N, q, axis=0)
    dlo, dhi = np.nanquantile(D, q, axis=0)
    return nlo, nhi, dlo, dhi


# ============================================================================ figures
def loss_compute_figure(observations: pd.DataFrame, *, curves: pd.DataFrame | None = None,
                        fit: FitResult | None = None, envelope: EnvelopeResult | None = None,
                        conventions: Mapping[str, str] | None = None) -> Figure:
    """Loss vs compute (log-log), runs coloured by N, with the compute-efficient frontier."""
    if not {"C", "loss", "N"} <= set(observations.columns) or observations.empty:
        raise NoFigure("loss vs compute needs runs with N, C and loss")
    N, C, L = (_col(observations, c) for c in ("N", "C", "loss"))
    fig, (ax,) = _figure()
    norm = _lognorm(N)
    cmap = matplotlib.colormaps[CMAP]
    if curves is not None and len(curves):
        for _, g in curves.groupby("run_id", sort=False):
            ax.plot(_col(g, "C"), _col(g, "loss"), color=cmap(norm(float(g["N"].iloc[0]))),
                    lw=0.8, alpha=0.55, gid="curve")
    sc = ax.scatter(C, L, c=N, cmap=cmap, norm=norm, s=22, edgecolors="black", linewidths=0.3,
                    zorder=3, gid="runs", label=f"final loss of each run ({len(C)})")
    if envelope is not None and curves is not None and len(curves):
        # the running minimum over C: the lowest loss reached with at most that compute (the
        # pointwise envelope rises where only the largest runs' early steps reach)
        ax.plot(envelope.compute, np.fmin.accumulate(np.asarray(envelope.loss, float)),
                color="black", lw=2.2, zorder=4, gid="frontier",
                label="compute-efficient frontier (envelope of the curves)")
        cg = np.geomspace(envelope.compute.min(), envelope.compute.max(), 50)
        ax.plot(cg, envelope.L_fit(cg), "--", color="tab:red", lw=1.2, zorder=4,
                gid="frontier-fit", label=f"Kaplan fit L = (C_c/C)^{-envelope.L_fit.exponent:.3f}")
    else:
        idx = pareto_frontier(C, L)
        xs = np.append(C[idx], C.max()) if C[idx][-1] < C.max() else C[idx]
        ys = np.append(L[idx], L[idx][-1]) if len(xs) > len(idx) else L[idx]
        ax.plot(xs, ys, drawstyle="steps-post", color="black", lw=2.0, zorder=4,
                gid="frontier", label="compute-efficient frontier (lowest loss at ≤ C)")
    if _is_nd(fit):
        assert fit is not None
        cg = np.geomspace(C.min(), C.max(), 60)
        try:
            _, _, lopt = _optimal_line(fit, cg)
            ax.plot(cg, lopt, ":", color="tab:red", lw=2.0, zorder=5, gid="fit-optimal",
                    label=f"fitted {fit.law.name}, compute-optimal")
        except ScalingLabError:
            pass
    ax.set_xscale("log")
    _log_loss_axis(ax)
    ax.set_xlabel(axis_label("C", conventions))
    ax.set_ylabel(axis_label("loss", conventions))
    ax.set_title("Loss vs compute, with the compute-efficient frontier")
    fig.colorbar(sc, ax=ax, label=axis_label("N", conventions, 40))
    ax.legend(loc="upper right", fontsize=8)
    return _tidy(fig)


_U_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
_U_STYLES = ("-", "--", "-.", ":")


def _same_u(a: float, b: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or bool(np.isclose(a, b, rtol=1e-9, atol=0))


def isoflop_figure(observations: pd.DataFrame, iso: IsoFLOPResult, *,
                   conventions: Mapping[str, str] | None = None) -> Figure:
    """IsoFLOP profiles: runs per budget (loss vs N), fitted parabolas and their minima.

    Each budget's parabola (gid ``"parabola"``) is drawn over the sizes it was fitted to
    (``iso.windows[k]``: its window, or the 3 sizes around the lowest loss where the window's
    vertex fell outside it), so its minimum (star, gid ``"minima"``) lies on it; runs outside
    those sizes are drawn hollow. With ``method="akima"`` the result holds no curve through the
    minimum (its parabola only judged the fit): only the minima are drawn. When budgets are
    split by unique tokens (``iso.U``), runs belong to a budget by (C, U), each budget is
    labelled with its U, and each U has its own marker and line style.
    """
    if len(iso.budgets) == 0:
        raise NoFigure("no IsoFLOP profile")
    N, L = _col(observations, "N"), _col(observations, "loss")
    member = isoflop_members(observations, iso)
    fig, (ax,) = _figure()
    norm = _lognorm(iso.budgets)
    cmap = matplotlib.colormaps["plasma"]
    akima = iso.method == "akima"
    has_windows = len(iso.windows) == len(iso.budgets)
    us: list[float] = []
    if iso.U is not None:  # distinct U values, NaN last
        for u in sorted(np.asarray(iso.U, float), key=lambda v: (np.isnan(v), v)):
            if not any(_same_u(u, v) for v in us):
                us.append(float(u))
    hollow = False
    for k, (b, p) in enumerate(zip(iso.budgets, iso.parabolas, strict=True)):
        col = cmap(0.85 * norm(b))
        m = member == k
        marker, style, label = "o", "-", None
        if iso.U is not None:
            u = float(iso.U[k])
            j = next(i for i, v in enumerate(us) if _same_u(u, v))
            marker, style = _U_MARKERS[j % len(_U_MARKERS)], _U_STYLES[j % len(_U_STYLES)]
            label = f"C = {_fmt(b)}, U = {'missing' if np.isnan(u) else _fmt(u)}"
        if has_windows:
            lo, hi = (float(v) for v in iso.windows[k])
            inside = (N[m] >= lo * (1 - 1e-6)) & (N[m] <= hi * (1 + 1e-6))
        else:  # a result without windows: the whole profile, as before
            inside = np.ones(int(m.sum()), bool)
            lx = np.log(N[m]) if m.any() else np.log([iso.n_opt[k] / 3, iso.n_opt[k] * 3])
            pad = 0.08 * (lx.max() - lx.min() + 1e-9)
            lo, hi = float(np.exp(lx.min() - pad)), float(np.exp(lx.max() + pad))
        hollow |= bool((~inside).any())
        face = np.array([col if i else (1.0, 1.0, 1.0, 0.0) for i in inside]).reshape(-1, 4)
        edge = np.array([(0.0, 0.0, 0.0, 1.0) if i else col for i in inside]).reshape(-1, 4)
        ax.scatter(N[m], L[m], marker=marker, facecolors=face, edgecolors=edge, s=18,
                   linewidths=np.where(inside, 0.25, 0.9), zorder=3, gid="isoflop-runs",
                   label=label)
        if akima:
            continue
        x = np.geomspace(lo, hi, 80)
        if lo < iso.n_opt[k] < hi:  # the minimum itself is a point of the curve
            x = np.insert(x, int(np.searchsorted(x, iso.n_opt[k])), iso.n_opt[k])
        ax.plot(x, np.polyval(p, np.log(x)), color=col, lw=1.3, ls=style, gid="parabola")
    how = ("the minimum of an Akima interpolant (not drawn)" if akima
           else "the vertex of the parabola over its window")
    ax.plot(iso.n_opt, iso.loss_opt, linestyle="none", marker="*", ms=13, color="tab:red",
            markeredgecolor="black", markeredgewidth=0.6, zorder=5, gid="minima",
            label=f"minimum of each profile ({len(iso.budgets)} budgets): {how}")
    if hollow:
        ax.scatter([], [], marker="o", facecolors="none", edgecolors="0.3", s=18,
                   linewidths=0.9, label="hollow: runs outside the window (whose parabola "
                   "judges the fit)" if akima else "hollow: runs outside the sizes fitted")
    ax.set_xscale("log")
    ax.set_xlabel(axis_label("N", conventions))
    ax.set_ylabel(axis_label("loss", conventions))
    ax.set_title("IsoFLOP profiles (Approach 2" + (", budgets split by U)" if iso.U is not None
                                                   else ")"))
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax,
                 label=axis_label("C", conventions, 40).replace("C (", "budget C (", 1))
    n_entries = len(ax.get_legend_handles_labels()[1])
    ax.legend(loc="upper right", fontsize=7 if n_entries > 6 else 8,
              ncols=2 if n_entries > 10 else 1)
    return _tidy(fig)


def _compute_range(fit: FitResult | None, iso: IsoFLOPResult | None,
                   envelope: EnvelopeResult | None, plans: Sequence[ComputePlan],
                   observations: pd.DataFrame | None) -> tuple[float, float] | None:
    cs: list[float] = []
    if observations is not None and "C" in observations.columns:
        cs += [float(np.min(_col(observations, "C"))), float(np.max(_col(observations, "C")))]
    if iso is not None:
        cs += [float(iso.budgets.min()), float(iso.budgets.max())]
    if envelope is not None:
        cs += [float(envelope.compute.min()), float(envelope.compute.max())]
    cs += [p.compute for p in plans]
    if fit is not None and fit.backtest:
        cs += [float(p["C"]) for p in fit.backtest.get("points", []) if p.get("C")]
    if not cs:
        return None
    return min(cs) / 2, max(cs) * 2


def plan_error_bar(value: float, interval: Sequence[float] | None
                   ) -> list[list[float]] | None:
    """Error-bar lengths ``[[below], [above]]`` of a plan's value for its interval, drawn as
    the smallest range holding both the interval and the value: a percentile interval of a few
    bootstrap draws can miss its own estimate (the bar then starts at the value, never at a
    negative length). None without a finite interval."""
    if interval is None or len(interval) != 2:
        return None
    lo, hi = float(interval[0]), float(interval[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(value)):
        return None
    lo, hi = min(lo, hi, value), max(lo, hi, value)
    return [[value - lo], [hi - value]]


def allocation_figure(*, fit: FitResult | None = None, isoflop: IsoFLOPResult | None = None,
                      envelope: EnvelopeResult | None = None,
                      plans: Sequence[ComputePlan] = (),
                      observations: pd.DataFrame | None = None,
                      compute_range: tuple[float, float] | None = None,
                      conventions: Mapping[str, str] | None = None) -> Figure:
    """N_opt and D_opt vs C: Approach 3 (with its bootstrap band), 2 and 1, and the plans."""
    nd = _is_nd(fit)
    if not nd and isoflop is None and envelope is None:
        raise NoFigure("N_opt and D_opt need a fitted law of N and D, IsoFLOP profiles or "
                       "learning curves")
    rng = compute_range or _compute_range(fit, isoflop, envelope, plans, observations)
    if rng is None:
        raise NoFigure("no compute range to draw N_opt and D_opt over (give --compute)")
    cg = np.geomspace(rng[0], rng[1], 80)
    fig, (axn, axd) = _figure(2, width=11.5, height=5.0)
    if nd:
        assert fit is not None
        nopt, dopt, _ = _optimal_line(fit, cg)
        der, dint = fit.derived, fit.derived_intervals
        lvl = f"{fit.confidence:.0%}"
        for ax, y, key in ((axn, nopt, "a"), (axd, dopt, "b")):
            ax.plot(cg, y, color="tab:blue", lw=2, gid="approach3",
                    label=f"Approach 3 (fit): {key} = "
                          f"{_interval_text(der.get(key), dint.get(key))}")
        band = _allocation_band(fit, cg)
        if band is not None:
            axn.fill_between(cg, band[0], band[1], color="tab:blue", alpha=0.2, lw=0,
                             gid="approach3-band", label=f"Approach 3, {lvl} bootstrap interval")
            axd.fill_between(cg, band[2], band[3], color="tab:blue", alpha=0.2, lw=0,
                             gid="approach3-band", label=f"Approach 3, {lvl} bootstrap interval")
    if isoflop is not None:
        for ax, pts, pw, key in ((axn, isoflop.n_opt, isoflop.N_fit, "a"),
                                 (axd, isoflop.d_opt, isoflop.D_fit, "b")):
            ax.scatter(isoflop.budgets, pts, color="tab:orange", edgecolors="black",
                       linewidths=0.4, s=28, zorder=4, gid="approach2-minima",
                       label="IsoFLOP minima")
            ax.plot(cg, pw(cg), "--", color="tab:orange", lw=1.5, gid="approach2",
                    label=f"Approach 2: {key} = "
                          f"{_interval_text(pw.exponent, pw.exponent_interval)}")
    if envelope is not None:
        for ax, pw, key in ((axn, envelope.N_fit, "a"), (axd, envelope.D_fit, "b")):
            ax.plot(cg, pw(cg), "-.", color="tab:green", lw=1.5, gid="approach1",
                    label=f"Approach 1 (envelope): {key} = {pw.exponent:.3f}")
    for p in plans:
        for ax, key in ((axn, "N_opt"), (axd, "D_opt")):
            v = getattr(p, key)
            yerr = plan_error_bar(v, p.intervals.get(key))
            ax.errorbar([p.compute], [v], yerr=yerr, fmt="D", color="tab:red", ms=7,
                        capsize=4, zorder=6, gid="plan",
                        label=f"plan at C = {_fmt(p.compute)}: {key} = {_fmt(v)}")
    for ax, var, name in ((axn, "N", "N_opt"), (axd, "D", "D_opt")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(axis_label("C", conventions, 48))
        ax.set_ylabel(axis_label(var, conventions, 48).replace(f"{var} (", f"{name} (", 1))
        ax.set_title(f"Compute-optimal {var} vs compute")
        ax.legend(loc="upper left", fontsize=7.5)
    return _tidy(fig)


def contour_figure(fit: FitResult, *, observations: pd.DataFrame | None = None,
                   plans: Sequence[ComputePlan] = (),
                   conventions: Mapping[str, str] | None = None) -> Figure:
    """Contours of the fitted L(N, D) (x: D, y: N) with the compute-optimal allocation line."""
    if not _is_nd(fit):
        raise NoFigure(f"law {fit.law.name!r} is not a function of N and D alone")
    ns: list[float] = []
    ds: list[float] = []
    if observations is not None and {"N", "D"} <= set(observations.columns):
        ns += list(_col(observations, "N"))
        ds += list(_col(observations, "D"))
    for p in plans:
        ns.append(p.N_opt)
        ds.append(p.D_opt)
    if not ns:
        raise NoFigure("no runs or plan to set the range of N and D")
    nlo, nhi = min(ns) / 3, max(ns) * 3
    dlo, dhi = min(ds) / 3, max(ds) * 3
    Ng = np.geomspace(nlo, nhi, 160)
    Dg = np.geomspace(dlo, dhi, 160)
    DD, NN = np.meshgrid(Dg, Ng)
    with np.errstate(all="ignore"):
        LL = np.asarray(fit.predict(N=NN, D=DD), float)
    finite = LL[np.isfinite(LL)]
    if finite.size == 0:
        raise NoFigure("the fitted law is not finite over the range of the runs")
    lo, hi = float(finite.min()), float(np.quantile(finite, 0.92))
    levels = np.geomspace(lo, hi, 14) if hi > lo else np.linspace(lo, lo * 1.01, 3)
    fig, (ax,) = _figure(width=8.0, height=6.0)
    cf = ax.contourf(DD, NN, LL, levels=levels, cmap="viridis_r", extend="max", alpha=0.9)
    cl = ax.contour(DD, NN, LL, levels=levels[::2], colors="black", linewidths=0.5,
                    alpha=0.7)
    ax.clabel(cl, fmt=lambda v: f"{v:.2f}", fontsize=7)
    cmin, cmax = 6 * nlo * dlo, 6 * nhi * dhi
    for e in range(int(np.ceil(np.log10(cmin))), int(np.floor(np.log10(cmax))) + 1):
        c = 10.0**e
        ax.plot(Dg, c / (6 * Dg), color="0.45", lw=0.7, ls=(0, (4, 3)), gid="isoflop-line")
    cg = np.geomspace(cmin, cmax, 120)
    nopt, dopt, _ = _optimal_line(fit, cg)
    ax.plot(dopt, nopt, color="tab:red", lw=2.2, gid="optimal-allocation",
            label="compute-optimal allocation")
    if observations is not None and {"N", "D"} <= set(observations.columns):
        ax.scatter(_col(observations, "D"), _col(observations, "N"), s=12, color="white",
                   edgecolors="black", linewidths=0.4, zorder=4, gid="runs", label="runs")
    for p in plans:
        ax.plot([p.D_opt], [p.N_opt], marker="D", ms=8, color="tab:red",
                markeredgecolor="black", zorder=5, linestyle="none", gid="plan",
                label=f"plan at C = {_fmt(p.compute)}")
    ax.plot([], [], color="0.45", lw=0.7, ls=(0, (4, 3)), label="iso-FLOP lines (per decade)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(dlo, dhi)
    ax.set_ylim(nlo, nhi)
    ax.set_xlabel(axis_label("D", conventions))
    ax.set_ylabel(axis_label("N", conventions))
    ax.set_title(f"Fitted {fit.law.formula}")
    fig.colorbar(cf, ax=ax, label="predicted loss (nats/token)", format="%.2f")
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    return _tidy(fig)


def residual_figure(fit: FitResult, observations: pd.DataFrame, *,
                    conventions: Mapping[str, str] | None = None) -> Figure:
    """Log residuals ln(predicted/observed) of the fit against C and against N."""
    y = str((fit.provenance.get("options") or {}).get("y") or "loss")
    need = [*fit.law.variables, y]
    if any(c not in observations.columns for c in need):
        raise NoFigure(f"residuals need the columns {', '.join(need)}")
    with np.errstate(all="ignore"):
        pred = np.asarray(fit.predict(**{v: _col(observations, v) for v in fit.law.variables}),
                          float)
        r = np.log(pred) - np.log(_col(observations, y))
    ok = np.isfinite(r)
    if not ok.any():
        raise NoFigure("no finite residual")
    xs = [v for v in ("C", "N") if v in observations.columns]
    if not xs:
        raise NoFigure("residuals are drawn against C or N; the table has neither")
    fig, axes = _figure(len(xs), width=5.8 * len(xs), height=4.6)
    rms = float(np.sqrt(np.mean(r[ok] ** 2)))
    for ax, var in zip(axes, xs, strict=True):
        ax.scatter(_col(observations, var)[ok], r[ok], s=14, color="tab:blue",
                   edgecolors="black", linewidths=0.25, gid="residuals")
        ax.axhline(0.0, color="black", lw=1)
        for s in (rms, -rms):
            ax.axhline(s, color="black", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel(axis_label(var, conventions, 48))
        ax.set_ylabel("ln(predicted / observed loss)")
        ax.set_title(f"Residuals vs {var} (RMS {rms:.4f})")
    return _tidy(fig)


def curves_figure(curves: pd.DataFrame, *, x: str = "D",
                  conventions: Mapping[str, str] | None = None) -> Figure:
    """Learning curves, loss vs tokens (``x="D"``) or vs FLOPs (``x="C"``), coloured by N."""
    if x not in ("D", "C"):
        raise ValueError(f"x must be 'D' or 'C', got {x!r}")
    if curves is None or len(curves) == 0:
        raise NoFigure("no learning curves (a run store or a table with a step column)")
    fig, (ax,) = _figure()
    norm = _lognorm(_col(curves, "N"))
    cmap = matplotlib.colormaps[CMAP]
    n_runs = 0
    for _, g in curves.groupby("run_id", sort=False):
        n_runs += 1
        ax.plot(_col(g, x), _col(g, "loss"), color=cmap(norm(float(g["N"].iloc[0]))), lw=1.2,
                marker="." if len(g) < 4 else None, gid="curve")
    ax.set_xscale("log")
    _log_loss_axis(ax)
    conv = dict(conventions or {})
    if x == "D":
        ax.set_xlabel("D (tokens): tokens seen so far")
    else:
        ax.set_xlabel(axis_label("C", {"C": "6 N D, D = tokens seen so far"}))
    ax.set_ylabel(axis_label("loss", conv))
    ax.set_title(f"Learning curves ({n_runs} runs)")
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax,
                 label=axis_label("N", conventions, 40))
    return _tidy(fig)


def backtest_figure(fit: FitResult, *, conventions: Mapping[str, str] | None = None) -> Figure:
    """Predicted vs observed loss on the held-out points (with intervals when present), and
    the relative error against compute."""
    bt = fit.backtest or {}
    pts = bt.get("points") or []
    if not pts:
        raise NoFigure("the fit has no backtest (no held-out points)")
    obs = np.array([p["observed"] for p in pts], float)
    pred = np.array([p["predicted"] for p in pts], float)
    has_iv = all(p.get("lo") is not None and p.get("hi") is not None for p in pts)
    lo = np.array([p["lo"] for p in pts], float) if has_iv else None
    hi = np.array([p["hi"] for p in pts], float) if has_iv else None
    # the error against C, or against N when the held-out runs share one budget
    xvar = None
    if all(p.get("C") is not None for p in pts):
        xvar = "C"
        cs = np.array([p["C"] for p in pts], float)
        if cs.max() < 1.5 * cs.min() and all(p.get("N") is not None for p in pts):
            xvar = "N"
    fig, axes = _figure(2 if xvar else 1, width=11.5 if xvar else 6.2, height=5.0)
    ax = axes[0]
    yerr = None
    if lo is not None and hi is not None:
        yerr = np.vstack([np.maximum(pred - lo, 0), np.maximum(hi - pred, 0)])
    ax.errorbar(obs, pred, yerr=yerr, fmt="o", ms=5, color="tab:purple", ecolor="0.4",
                capsize=3, gid="backtest-points",
                label="held-out runs" + (f" ({fit.confidence:.0%} interval)" if has_iv else ""))
    both = np.concatenate([obs, pred] + ([lo, hi] if lo is not None and hi is not None
                                         else []))
    a, b = float(np.nanmin(both)), float(np.nanmax(both))
    pad = 0.05 * (b - a + 1e-9)
    ax.plot([a - pad, b + pad], [a - pad, b + pad], color="black", lw=1, ls="--",
            gid="identity", label="predicted = observed")
    ax.set_xlim(a - pad, b + pad)
    ax.set_ylim(a - pad, b + pad)
    ax.set_xlabel("observed loss (nats/token)")
    ax.set_ylabel("predicted loss (nats/token)")
    ax.set_title("Predicted vs observed")
    ax.legend(loc="upper left", fontsize=8)
    if xvar:
        ax2 = axes[1]
        c = np.array([p[xvar] for p in pts], float)
        rel = 100 * (pred / obs - 1)
        rerr = None
        if lo is not None and hi is not None:
            rerr = np.vstack([np.maximum(rel - 100 * (lo / obs - 1), 0),
                              np.maximum(100 * (hi / obs - 1) - rel, 0)])
        ax2.errorbar(c, rel, yerr=rerr, fmt="o", ms=5, color="tab:purple", ecolor="0.4",
                     capsize=3, gid="backtest-errors")
        ax2.axhline(0, color="black", lw=1)
        ax2.set_xscale("log")
        ax2.set_xlabel(axis_label(xvar, conventions, 48))
        ax2.set_ylabel("relative error of the prediction (%)")
        ax2.set_title("Error vs compute" if xvar == "C" else
                      f"Error vs model size (held-out budget C = {_fmt(float(cs.mean()))})")
    thr = bt.get("threshold_C")
    head = "Backtest"
    if thr is not None:
        head += (f": fitted on {bt.get('n_train')} runs with C ≤ {_fmt(float(thr))}, "
                 f"predicting {bt.get('n_test')} held-out runs")
    stats = []
    if "mean_abs_rel_error" in bt:
        stats.append(f"mean |error| {100 * bt['mean_abs_rel_error']:.2f}%")
    if "interval_coverage" in bt:
        stats.append(f"interval coverage {bt['interval_coverage']:.0%}")
    if stats:
        head += "\n" + ", ".join(stats)
    fig.suptitle(head, fontsize=10)
    return _tidy(fig)


# ============================================================================ all of them
def make_figures(analysis: Analysis) -> tuple[dict[str, Figure], dict[str, str]]:
    """Every figure the analysis allows, in report order, and ``{name: why}`` for the rest."""
    inp = analysis.inputs
    obs, conv, res = inp.observations, inp.conventions, analysis.fit
    makers: dict[str, Callable[[], Figure]] = {}

    def need_obs() -> pd.DataFrame:
        if obs is None:
            raise NoFigure("no data (only a fit)")
        return obs

    def need_fit() -> FitResult:
        if res is None:
            raise NoFigure("no fit")
        return res

    def iso_fig() -> Figure:
        if analysis.isoflop is None:
            raise NoFigure("no IsoFLOP structure in the data (see the notes)")
        return isoflop_figure(need_obs(), analysis.isoflop, conventions=conv)

    def backtest_fig() -> Figure:
        if analysis.backtest_fit is None:
            raise NoFigure("no backtest (see the notes)")
        return backtest_figure(analysis.backtest_fit, conventions=conv)

    def curves_fig() -> Figure:
        if inp.curves is None:
            raise NoFigure("no learning curves (a run store or a table of curves gives them)")
        return curves_figure(inp.curves, conventions=conv)

    makers["loss_vs_compute"] = lambda: loss_compute_figure(
        need_obs(), curves=inp.curves, fit=res, envelope=analysis.envelope, conventions=conv)
    makers["isoflop"] = iso_fig
    makers["allocation"] = lambda: allocation_figure(
        fit=res, isoflop=analysis.isoflop, envelope=analysis.envelope, plans=analysis.plans,
        observations=obs, conventions=conv)
    makers["contours"] = lambda: contour_figure(need_fit(), observations=obs,
                                                plans=analysis.plans, conventions=conv)
    makers["residuals"] = lambda: residual_figure(need_fit(), need_obs(), conventions=conv)
    makers["learning_curves"] = curves_fig
    makers["backtest"] = backtest_fig
    figs: dict[str, Figure] = {}
    omitted: dict[str, str] = {}
    for name, make in makers.items():
        try:
            figs[name] = make()
        except NoFigure as exc:
            omitted[name] = str(exc)
    return figs, omitted


def save_figures(figs: Mapping[str, Figure], directory: str | Path,
                 formats: Sequence[str] = ("png", "svg"), dpi: int = 150) -> list[Path]:
    """Write each figure as ``DIR/NAME.png`` and ``DIR/NAME.svg`` (``formats``); the paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, fig in figs.items():
        for fmt in formats:
            p = out / f"{name}.{fmt}"
            tmp = p.with_name(p.name + ".tmp")
            fig.savefig(tmp, format=fmt, dpi=dpi)
            tmp.replace(p)
            paths.append(p)
    return paths


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 110) -> bytes:
    """A figure rendered to PNG (or SVG) bytes."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()


__all__: list[str] = [
    "FIGURES", "NoFigure", "allocation_figure", "axis_label", "backtest_figure",
    "contour_figure", "curves_figure", "figure_bytes", "isoflop_figure",
    "loss_compute_figure", "make_figures", "pareto_frontier", "residual_figure",
    "save_figures",
]

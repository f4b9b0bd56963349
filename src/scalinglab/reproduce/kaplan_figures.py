"""Figures of ``scalinglab reproduce kaplan``, one per finding, in the style of the paper's
(Kaplan et al. 2020: Figures 1, 5, 6, 8, 9, 10, 14, 20). Each function takes the measured
tables and returns a Matplotlib figure; :func:`kaplan_figures` draws them all, leaving out (with
the reason) those the runs cannot make.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from scalinglab.report.figures import _figure, _log_loss_axis, _tidy
from scalinglab.reproduce.kaplan_analysis import (
    KaplanData,
    _longest,
    early_stopped,
    envelope_switches,
    frontier_points,
    per_position_exponent,
)

LOSS = "loss (nats/byte)"
N_NE = "N: non-embedding parameters"


def _cmap(n: int) -> list[Any]:
    from matplotlib import colormaps

    cm = colormaps["viridis"]
    return [cm(x) for x in np.linspace(0.05, 0.9, max(n, 1))]


def _power_line(ax: Any, x: np.ndarray, y: np.ndarray, label: str, color: str = "#c62828",
                style: str = "--", pad: float = 1.0, **kw: Any) -> float:
    """Draw the least-squares power law through ``(x, y)`` (log-log) over the range of ``x``
    widened by ``pad``; its exponent (the slope) goes into ``label`` via ``{slope}``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    slope, icpt = np.polyfit(np.log(x), np.log(y), 1)
    xs = np.geomspace(x.min() / pad, x.max() * pad, 50)
    ax.plot(xs, np.exp(icpt) * xs ** slope, style, color=color,
            label=label.format(slope=slope, alpha=-slope), **kw)
    return float(slope)


def figure_ln(data: KaplanData) -> Figure:
    """Figure 6 style: L(N) against non-embedding and against total parameters."""
    runs = _longest(data.study("ladder"))
    fig, (a, b) = _figure(2, width=11, height=4.6)
    y = runs["loss"].to_numpy(float)
    for ax, col, label in ((a, "N", N_NE), (b, "N_total", "N: total parameters (with "
                                                          "embeddings)")):
        x = runs[col].to_numpy(float)
        ax.scatter(x, y, color="#1f5fa8", zorder=3)
        _power_line(ax, x, y, "power law, alpha = {alpha:.3f}", pad=1.3)
        ax.set_xscale("log")
        _log_loss_axis(ax)
        ax.set_xlabel(label)
        ax.set_ylabel(LOSS)
        ax.legend()
    a.set_title("N without embeddings (Kaplan's count)")
    b.set_title("N with embeddings (Figure 6's comparison)")
    return _tidy(fig)


def figure_ld(data: KaplanData) -> Figure:
    """Figure 1 (middle) / 9 style: early-stopped loss against unique data, per model."""
    runs = data.data_runs()
    fig, (ax,) = _figure(1)
    sizes = sorted(runs["N"].unique())
    for color, n in zip(_cmap(len(sizes)), sizes, strict=True):
        g = runs[runs["N"] == n].sort_values("U")
        ax.plot(g["U"], g["best_loss"], "o-", color=color, label=f"N = {n:.3g}")
    best = early_stopped(data)
    if len(best) >= 2:
        _power_line(ax, best["U"], best["best_loss"], "best over N: alpha_D = {alpha:.3f}")
    ax.set_xscale("log")
    _log_loss_axis(ax)
    ax.set_xlabel("D: unique training tokens (bytes), repeated; early-stopped loss")
    ax.set_ylabel(LOSS)
    ax.legend(fontsize=8)
    return _tidy(fig)


def figure_lc(curves: pd.DataFrame) -> Figure:
    """Figure 1 (left) style: learning curves against compute and their frontier."""
    fig, (ax,) = _figure(1)
    ids = list(dict.fromkeys(curves.sort_values("N")["run_id"]))
    for color, rid in zip(_cmap(len(ids)), ids, strict=True):
        g = curves[curves["run_id"] == rid]
        ax.plot(g["C"], g["loss"], color=color, alpha=0.8, lw=1.2,
                label=f"N = {g['N'].iloc[0]:.3g}")
    for col, style, name in (("C", "#c62828", "L(C)"), ("C_min", "#6a1b9a", "L(C_min)")):
        if col not in curves.columns:
            continue
        idx = frontier_points(curves[col].to_numpy(float), curves["loss"].to_numpy(float))
        x, y = curves[col].to_numpy(float)[idx], curves["loss"].to_numpy(float)[idx]
        if len(x) >= 2:
            _power_line(ax, x, y, name + " frontier: alpha = {alpha:.3f}", color=style, lw=2)
    ax.set_xscale("log")
    _log_loss_axis(ax)
    ax.set_xlabel("C = 6 N D (FLOPs; non-embedding N)")
    ax.set_ylabel(LOSS)
    ax.legend(fontsize=8)
    return _tidy(fig)


def figure_lns(curves: pd.DataFrame, fit: Any | None) -> Figure:
    """Figure 4 (right) style: learning curves against steps with the L(N, S) fit."""
    fig, (ax,) = _figure(1)
    s_col = "S_min" if "S_min" in curves.columns else "S"
    ids = list(dict.fromkeys(curves.sort_values("N")["run_id"]))
    for color, rid in zip(_cmap(len(ids)), ids, strict=True):
        g = curves[curves["run_id"] == rid]
        ax.plot(g[s_col], g["loss"], "o", ms=3, color=color, label=f"N = {g['N'].iloc[0]:.3g}")
        if fit is not None:
            s = np.geomspace(float(g[s_col].min()), float(g[s_col].max()), 50)
            pred = fit.predict(pd.DataFrame({"N": float(g["N"].iloc[0]), "S": s}))
            ax.plot(s, pred, "-", color=color, lw=1)
    ax.set_xscale("log")
    _log_loss_axis(ax)
    ax.set_xlabel(f"{s_col}: optimiser steps" + (" adjusted to B >> B_crit (Eq. 5.4)"
                                                  if s_col == "S_min" else ""))
    ax.set_ylabel(LOSS)
    ax.set_title("points: runs; lines: L(N, S) fit")
    ax.legend(fontsize=8)
    return _tidy(fig)


def figure_bcrit(data: KaplanData, law: dict[str, Any] | None) -> Figure:
    """Figure 10 / 11 style: the batch sweep's learning curves in steps (left) and the critical
    batch against loss with the gradient noise scale (right, when it could be measured)."""
    runs = data.batch_runs().sort_values("B")
    if runs.empty:
        from scalinglab.report.figures import NoFigure

        raise NoFigure("no batch sweep")
    fig, (a, b) = _figure(2, width=11, height=4.6)
    for color, r in zip(_cmap(len(runs)), runs.itertuples(), strict=True):
        c = data.curve(r.run_id)
        c = c[c["step"] > 0]
        a.plot(c["step"], c["loss"], "-", color=color, label=f"B = {r.B:.0f} tokens")
    a.set_xscale("log")
    _log_loss_axis(a)
    a.set_xlabel("S: optimiser steps")
    a.set_ylabel(LOSS)
    a.legend(fontsize=8)
    a.set_title("same model, several batch sizes")
    if law and "result" in law:
        cb = law["result"]
        b.plot(cb.losses, cb.b_crit, "o", color="#1f5fa8", label="B_crit from the sweep")
        xs = np.geomspace(cb.losses.min(), cb.losses.max(), 50)
        b.plot(xs, law["fit"](xs), "--", color="#c62828",
               label=f"B_* L^(-1/alpha_B), alpha_B = {law['alpha_B']:.3g}")
    else:
        b.text(0.5, 0.5, "B_crit not measurable\n(see the finding)", ha="center",
               va="center", transform=b.transAxes, color="#5b6673")
    noise = (law or {}).get("noise")
    if noise is None:
        noise = data.curves[data.curves["run_id"].isin(runs["run_id"])].dropna(
            subset=["noise_scale", "loss"])
        noise = noise[(noise["noise_scale"] > 0) & (noise["step"] > 0)]
    if len(noise):
        b.plot(noise["loss"], noise["noise_scale"], "x", color="#8a4b00", alpha=0.6,
               label="gradient noise scale B_simple")
    b.axhspan(float(runs["B"].min()), float(runs["B"].max()), color="#e3e7ec", alpha=0.5,
              label="batch sizes tried")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel(LOSS)
    b.set_ylabel("B: tokens per batch")
    b.legend(fontsize=8)
    return _tidy(fig)


def figure_lnd(data: KaplanData, fit: Any | None) -> Figure:
    """Figure 9 (left) style: early-stopped loss against unique data per size, with L(N, D)."""
    runs = data.data_runs()
    fig, (ax,) = _figure(1)
    sizes = sorted(runs["N"].unique())
    for color, n in zip(_cmap(len(sizes)), sizes, strict=True):
        g = runs[runs["N"] == n].sort_values("U")
        ax.plot(g["U"], g["best_loss"], "o", color=color, label=f"N = {n:.3g}")
        if fit is not None:
            u = np.geomspace(float(runs["U"].min()) / 1.5, float(runs["U"].max()) * 1.5, 50)
            ax.plot(u, fit.predict(pd.DataFrame({"N": n, "D": u})), "-", color=color, lw=1)
    ax.set_xscale("log")
    _log_loss_axis(ax)
    ax.set_xlabel("D: unique training tokens (bytes), repeated")
    ax.set_ylabel("early-stopped " + LOSS)
    ax.set_title("points: runs; lines: L(N, D) = [(N_c/N)^(a_N/a_D) + D_c/D]^a_D")
    ax.legend(fontsize=8)
    return _tidy(fig)


def figure_shape(data: KaplanData, alpha_n: float) -> Figure:
    """Figure 5 style: loss at fixed N against the aspect ratio."""
    runs = data.study("shape").sort_values("n_layer")
    fig, (ax,) = _figure(1)
    n_ref = float(np.median(runs["N"]))
    adj = runs["loss"].to_numpy(float) * (runs["N"].to_numpy(float) / n_ref) ** alpha_n
    ar = runs["d_model"].to_numpy(float) / runs["n_layer"].to_numpy(float)
    base = float(adj[runs["n_layer"].to_numpy() >= 2].min())
    ax.plot(ar, 100 * (adj / base - 1), "o-", color="#1f5fa8")
    for x, y, L in zip(ar, 100 * (adj / base - 1), runs["n_layer"], strict=True):
        ax.annotate(f"{L} layer{'s' if L > 1 else ''}", (x, y), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    ax.axhline(5, ls=":", color="#8a4b00", label="5% ('a few percent')")
    ax.set_xscale("log")
    ax.set_xlabel("aspect ratio d_model / n_layer")
    ax.set_ylabel(f"loss increase over the best (%), at N = {n_ref:.3g}")
    ax.legend(fontsize=8)
    return _tidy(fig)


def figure_position(data: KaplanData) -> Figure:
    """Figure 20 style: per-position loss with the L_inf + b T^-c fits."""
    runs = _longest(data.study("ladder"))
    fig, (ax,) = _figure(1)
    for color, r in zip(_cmap(len(runs)), runs.itertuples(), strict=True):
        pp = data.per_position.get(r.run_id)
        if pp is None:
            continue
        T = np.arange(1, len(pp) + 1)
        ax.plot(T, pp, ".", ms=3, color=color)
        try:
            linf, b, c, _ = per_position_exponent(pp)
        except (RuntimeError, ValueError):
            continue
        ax.plot(T, linf + b * T ** (-c), "-", color=color, lw=1,
                label=f"N = {r.N:.3g}: {linf:.2f} + {b:.2f} T^-{c:.2f}")
    ax.set_xscale("log")
    _log_loss_axis(ax)
    ax.set_xlabel("T: position in the context")
    ax.set_ylabel(LOSS)
    ax.legend(fontsize=7)
    return _tidy(fig)


def figure_transfer(data: KaplanData) -> Figure:
    """Figure 8 (right) style: out-of-distribution against in-distribution loss."""
    runs = data.runs[np.isfinite(data.runs["ood_loss"])]
    fig, (ax,) = _figure(1)
    sc = ax.scatter(runs["loss"], runs["ood_loss"], c=np.log10(runs["N"]), cmap="viridis")
    fig.colorbar(sc, ax=ax, label="log10 N (non-embedding)")
    x = runs["loss"].to_numpy(float)
    y = runs["ood_loss"].to_numpy(float)
    if len(x) >= 2:
        _power_line(ax, x, y, "fit: L_ood ∝ L_train^{slope:.2f}")
        xs = np.geomspace(x.min(), x.max(), 50)
        ax.plot(xs, xs * float(np.median(y / x)), ":", color="#5b6673",
                label="slope 1 in log-log (the paper)")
    ax.set_xscale("log")
    _log_loss_axis(ax)
    ax.set_xlabel("in-distribution " + LOSS)
    ax.set_ylabel("out-of-distribution " + LOSS)
    ax.legend(fontsize=8)
    return _tidy(fig)


def figure_allocation(curves: pd.DataFrame, chinchilla_fit: Any | None) -> Figure:
    """Figure 14 style: compute-optimal N against compute, under both conventions."""
    fig, (ax,) = _figure(1)
    col = "C_min" if "C_min" in curves.columns else "C"
    drew = False
    if not curves.empty and curves["run_id"].nunique() >= 2:
        sw = envelope_switches(curves, col)
        if len(sw):
            ax.plot(sw["C"], sw["N"], "o", color="#1f5fa8",
                    label=f"Kaplan: frontier hand-overs (non-embedding N, {col})")
            drew = True
            if len(sw) >= 2:
                _power_line(ax, sw["C"], sw["N"], "N_opt ∝ C^{slope:.2f}", color="#1f5fa8")
    if chinchilla_fit is not None:
        from scalinglab.laws.chinchilla import chinchilla_allocation

        p = {k: float(v) for k, v in chinchilla_fit.params.items()}
        lo = float(curves["C"].min()) if not curves.empty else 1e9
        hi = float(curves["C"].max()) if not curves.empty else 1e12
        cs = np.geomspace(lo, hi, 40)
        n_opt = np.array([chinchilla_allocation(p, c)[0] for c in cs])
        bad = bool(chinchilla_fit.unidentified())
        ax.plot(cs, n_opt, ":" if bad else "-", color="#9e9e9e" if bad else "#c62828",
                label=f"Chinchilla: total N, C = 6 N_total D, a = "
                      f"{chinchilla_fit.derived.get('a', float('nan')):.2f}"
                      + (" (NOT IDENTIFIED: not a result)" if bad else ""))
        drew = True
    if not drew:
        from scalinglab.report.figures import NoFigure

        raise NoFigure("no frontier hand-over and no Chinchilla fit")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("C (FLOPs)")
    ax.set_ylabel("compute-optimal N")
    ax.legend(fontsize=8)
    return _tidy(fig)


def kaplan_figures(makers: dict[str, Callable[[], Figure]]) -> tuple[dict[str, Figure],
                                                                      dict[str, str]]:
    """Call every figure maker; ``(figures, omitted: name -> why)``."""
    from scalinglab.errors import ScalingLabError

    figs: dict[str, Figure] = {}
    omitted: dict[str, str] = {}
    for name, make in makers.items():
        try:
            figs[name] = make()
        except (ScalingLabError, ValueError, KeyError, IndexError) as exc:
            omitted[name] = str(exc) or type(exc).__name__
    return figs, omitted

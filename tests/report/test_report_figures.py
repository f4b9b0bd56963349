"""The report's figures: the artists they draw say what the analysis found (no rendering,
except for the files that save_figures writes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from scalinglab.fit.approaches import isoflop
from scalinglab.laws import get_law
from scalinglab.report import (
    Analysis,
    NoFigure,
    allocation_figure,
    analyse,
    backtest_figure,
    contour_figure,
    curves_figure,
    isoflop_figure,
    load_inputs,
    loss_compute_figure,
    make_figures,
    pareto_frontier,
    residual_figure,
    save_figures,
)
from scalinglab.report.analysis import assign_budgets, isoflop_members


def by_gid(fig: Figure, gid: str) -> list:
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


def one_line(fig: Figure, gid: str) -> Line2D:
    lines = [a for a in by_gid(fig, gid) if isinstance(a, Line2D)]
    assert len(lines) == 1, f"{len(lines)} lines with gid {gid!r}"
    return lines[0]


# ---------------------------------------------------------------- loss vs compute
def test_frontier_is_the_lower_envelope_of_the_runs(chin_df: pd.DataFrame) -> None:
    inp = load_inputs(chin_df)
    obs = inp.observations
    fig = loss_compute_figure(obs, conventions=inp.conventions)
    C, L = obs["C"].to_numpy(float), obs["loss"].to_numpy(float)
    runs = by_gid(fig, "runs")
    assert len(runs) == 1 and len(runs[0].get_offsets()) == len(obs) == 240
    front = one_line(fig, "frontier")
    fx, fy = np.asarray(front.get_xdata(), float), np.asarray(front.get_ydata(), float)
    assert np.all(np.diff(fx) >= 0) and np.all(np.diff(fy) <= 0)  # a falling staircase
    # every run lies on or above the frontier's value at its compute (steps-post) ...
    level = fy[np.searchsorted(fx, C, side="right") - 1]
    assert np.all(L >= level - 1e-12)
    # ... which is exactly the lowest loss reached with at most that compute
    order = np.argsort(C, kind="stable")
    best = np.minimum.accumulate(L[order])
    assert np.allclose(level[order], best)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "FLOPs" in ax.get_xlabel() and "Hoffmann" in ax.get_xlabel()
    assert ax.get_ylabel() == "loss (nats/token)"
    assert "embeddings" in fig.axes[1].get_ylabel()  # the colour bar names N's convention


def test_pareto_frontier_keeps_strict_improvements() -> None:
    C = np.array([4.0, 1.0, 2.0, 3.0, 2.0])
    L = np.array([1.0, 3.0, 3.5, 2.0, 2.5])
    assert list(pareto_frontier(C, L)) == [1, 4, 3, 0]


def test_frontier_from_learning_curves_is_their_envelope(store_path: Path) -> None:
    inp = load_inputs(store=store_path)
    a = analyse(inp, bootstrap=0, backtest=False)
    assert a.envelope is not None and inp.curves is not None
    fig = loss_compute_figure(inp.observations, curves=inp.curves, envelope=a.envelope,
                              fit=a.fit, conventions=inp.conventions)
    assert len(by_gid(fig, "curve")) == inp.curves["run_id"].nunique() == 15
    front = one_line(fig, "frontier")
    fx, fy = np.asarray(front.get_xdata(), float), np.asarray(front.get_ydata(), float)
    for _, g in inp.curves.groupby("run_id"):
        c, loss = g["C"].to_numpy(float), g["loss"].to_numpy(float)
        inside = (fx >= c.min()) & (fx <= c.max())
        run_at = np.interp(np.log(fx[inside]), np.log(c), loss)
        assert np.all(run_at >= fy[inside] - 1e-9)
    one_line(fig, "fit-optimal")


# ---------------------------------------------------------------- IsoFLOP
def test_isoflop_figure_has_one_minimum_and_parabola_per_budget(iso_analysis: Analysis) -> None:
    iso = iso_analysis.isoflop
    assert iso is not None and len(iso.budgets) == 5
    fig = isoflop_figure(iso_analysis.inputs.observations, iso)
    minima = one_line(fig, "minima")
    assert len(minima.get_xdata()) == len(iso.budgets)
    assert np.allclose(minima.get_xdata(), iso.n_opt)
    assert np.allclose(minima.get_ydata(), iso.loss_opt)
    parabolas = [a for a in by_gid(fig, "parabola") if isinstance(a, Line2D)]
    assert len(parabolas) == len(iso.budgets)
    for p, line in zip(iso.parabolas, parabolas, strict=True):
        x = np.log(line.get_xdata())
        assert np.allclose(line.get_ydata(), np.polyval(p, x))
    runs = by_gid(fig, "isoflop-runs")
    assert sum(len(r.get_offsets()) for r in runs) == 35  # every run sits in its budget
    assert fig.axes[0].get_xscale() == "log"


def _default_window(N: np.ndarray, L: np.ndarray) -> tuple[float, float]:
    """The sizes ``window="auto"`` fits, from the runs themselves: those within a factor 10 of
    the lowest-loss size (at least one neighbour each side), as (smallest, largest)."""
    sizes = np.unique(N)
    mean = np.array([L[N == n].mean() for n in sizes])
    i = int(np.argmin(mean))
    near = np.flatnonzero(np.abs(np.log(sizes / sizes[i])) <= np.log(10) + 1e-9)
    return float(sizes[min(near[0], i - 1)]), float(sizes[max(near[-1], i + 1)])


def test_isoflop_parabola_is_drawn_over_its_window_only(wide_iso_df: pd.DataFrame) -> None:
    df = wide_iso_df
    iso = isoflop(df)
    assert iso.method == "parabola" and iso.window == "auto" and len(iso.budgets) == 3
    # no three-size fallback here: each parabola is the window's
    assert not [w for w in iso.warnings if "no minimum inside its window" in w]
    fig = isoflop_figure(df, iso)
    parabolas = [a for a in by_gid(fig, "parabola") if isinstance(a, Line2D)]
    assert len(parabolas) == 3
    star = one_line(fig, "minima")
    runs = by_gid(fig, "isoflop-runs")
    for k, (c, line) in enumerate(zip(iso.budgets, parabolas, strict=True)):
        at = np.isclose(df["C"], c)
        N, L = df["N"].to_numpy(float)[at], df["loss"].to_numpy(float)[at]
        lo, hi = _default_window(N, L)
        assert N.min() < lo / 4 and hi * 4 < N.max()  # the window is well inside the profile
        x = np.asarray(line.get_xdata(), float)
        assert x.min() == pytest.approx(lo, rel=1e-9) and x.max() == pytest.approx(hi, rel=1e-9)
        assert iso.windows[k] == pytest.approx((lo, hi), rel=1e-9)
        assert np.allclose(line.get_ydata(), np.polyval(iso.parabolas[k], np.log(x)))
        # the star is a point of its budget's curve
        j = int(np.argmin(np.abs(np.log(x / star.get_xdata()[k]))))
        assert x[j] == pytest.approx(iso.n_opt[k], rel=1e-12)
        assert line.get_ydata()[j] == pytest.approx(star.get_ydata()[k], rel=1e-12)
        # runs outside the window are hollow (transparent face), those inside filled
        face = runs[k].get_facecolors()
        inside = (N >= lo * (1 - 1e-9)) & (N <= hi * (1 + 1e-9))
        assert len(face) == len(N) and inside.sum() == 7
        assert np.array_equal(face[:, 3] > 0, inside)


@pytest.mark.parametrize("window", ["all", 2])
def test_isoflop_parabola_follows_the_window_rule(wide_iso_df: pd.DataFrame, window) -> None:
    iso = isoflop(wide_iso_df, window=window)
    assert not [w for w in iso.warnings if "no minimum inside its window" in w]
    lines = [a for a in by_gid(isoflop_figure(wide_iso_df, iso), "parabola")
             if isinstance(a, Line2D)]
    for c, line in zip(iso.budgets, lines, strict=True):
        at = np.isclose(wide_iso_df["C"], c)
        N, L = wide_iso_df["N"].to_numpy(float)[at], wide_iso_df["loss"].to_numpy(float)[at]
        sizes = np.sort(N)
        i = int(np.argmin(L[np.argsort(N)]))
        lo, hi = (sizes[0], sizes[-1]) if window == "all" else (sizes[i - 2], sizes[i + 2])
        x = np.asarray(line.get_xdata(), float)
        assert (x.min(), x.max()) == pytest.approx((lo, hi), rel=1e-9)


def test_isoflop_akima_draws_only_the_minima(wide_iso_df: pd.DataFrame) -> None:
    iso = isoflop(wide_iso_df, method="akima")
    fig = isoflop_figure(wide_iso_df, iso)
    # the result's parabolas only judged the fit: their vertices are not the minima
    assert not [a for a in by_gid(fig, "parabola") if isinstance(a, Line2D)]
    star = one_line(fig, "minima")
    assert np.allclose(star.get_xdata(), iso.n_opt) and np.allclose(star.get_ydata(),
                                                                     iso.loss_opt)
    assert "Akima" in star.get_label()
    assert sum(len(r.get_offsets()) for r in by_gid(fig, "isoflop-runs")) == len(wide_iso_df)


def test_isoflop_budgets_split_by_u_keep_their_own_runs(u_iso_df: pd.DataFrame) -> None:
    df = u_iso_df
    iso = isoflop(df)
    assert iso.U is not None and len(iso.budgets) == 6
    assert len(np.unique(iso.budgets)) == 3  # two budgets at each C
    members = isoflop_members(df, iso)
    assert (members >= 0).all()
    assert np.array_equal(iso.U[members], df["U"].to_numpy(float))
    assert np.allclose(iso.budgets[members], df["C"].to_numpy(float))
    # by C alone (as before U), both U's runs land on the first budget of their C
    by_c = assign_budgets(df["C"].to_numpy(float), iso.budgets)
    assert np.array_equal(by_c, assign_budgets(df["C"].to_numpy(float), iso.budgets,
                                               budget_U=None, U=df["U"].to_numpy(float)))
    assert len(np.unique(by_c)) == 3
    fig = isoflop_figure(df, iso)
    runs = by_gid(fig, "isoflop-runs")
    assert len(runs) == 6
    assert len([a for a in by_gid(fig, "parabola") if isinstance(a, Line2D)]) == 6
    for k, r in enumerate(runs):
        mine = df[np.isclose(df["C"], iso.budgets[k]) & (df["U"] == iso.U[k])]
        got = np.asarray(r.get_offsets())
        assert len(got) == len(mine) == 9
        assert np.allclose(np.sort(got[:, 1]), np.sort(mine["loss"].to_numpy(float)))
        assert r.get_label() == f"C = {iso.budgets[k]:.2e}, U = {iso.U[k]:.2e}"
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sum("U = " in t for t in labels) == 6
    # without U the same runs make three budgets, and no budget is labelled with a U
    plain = isoflop(df.drop(columns="U"))
    assert plain.U is None and len(plain.budgets) == 3
    fig = isoflop_figure(df.drop(columns="U"), plain)
    assert [len(r.get_offsets()) for r in by_gid(fig, "isoflop-runs")] == [18, 18, 18]
    assert not [r for r in by_gid(fig, "isoflop-runs") if "U =" in r.get_label()]


# ---------------------------------------------------------------- allocation
def test_allocation_figure_shows_approaches_2_and_3_and_the_plan(iso_analysis: Analysis
                                                                 ) -> None:
    a = iso_analysis
    fig = allocation_figure(fit=a.fit, isoflop=a.isoflop, plans=a.plans,
                            observations=a.inputs.observations)
    axn, axd = fig.axes[:2]
    assert [ax.get_yscale() for ax in (axn, axd)] == ["log", "log"]
    assert axn.get_ylabel().startswith("N_opt") and axd.get_ylabel().startswith("D_opt")
    mins = [c for c in by_gid(fig, "approach2-minima") if isinstance(c, PathCollection)]
    assert [len(m.get_offsets()) for m in mins] == [5, 5]
    bands = [c for c in by_gid(fig, "approach3-band") if isinstance(c, PolyCollection)]
    assert len(bands) == 2  # the bootstrap band, N and D
    line = next(c for c in by_gid(fig, "approach3") if isinstance(c, Line2D))
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    path = bands[0].get_paths()[0].vertices
    mid = len(x) // 2
    near = np.isclose(path[:, 0], x[mid])
    assert path[near, 1].min() <= y[mid] <= path[near, 1].max()
    plan = a.plans[0]
    assert plan.compute == pytest.approx(100 * 1e19)
    labels = [t.get_text() for t in axn.get_legend().get_texts()]
    assert any(s.startswith("Approach 3 (fit): a = ") for s in labels)
    assert any(s.startswith("Approach 2: a = ") for s in labels)
    assert any("plan at C = 1.00e+21" in s for s in labels)


def test_allocation_needs_something_to_show() -> None:
    with pytest.raises(NoFigure):
        allocation_figure()


# ---------------------------------------------------------------- contours
def test_contours_and_the_optimal_allocation_line(iso_analysis: Analysis) -> None:
    a = iso_analysis
    assert a.fit is not None
    fig = contour_figure(a.fit, observations=a.inputs.observations, plans=a.plans)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("D (tokens)") and ax.get_ylabel().startswith("N (")
    line = one_line(fig, "optimal-allocation")
    D, N = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    C = 6 * N * D
    assert np.all(np.diff(C) > 0)
    law = get_law("chinchilla")
    for i in (10, 60, 110):  # along each iso-FLOP line the allocation is the minimum
        at = law.predict(a.fit.params, N=N[i], D=D[i])
        for f in (0.8, 1.25):
            assert law.predict(a.fit.params, N=N[i] * f, D=D[i] / f) > at
    assert len(by_gid(fig, "runs")[0].get_offsets()) == 35
    assert len([p for p in by_gid(fig, "plan") if isinstance(p, Line2D)]) == 1


def test_contours_need_a_law_of_n_and_d(iso_df: pd.DataFrame) -> None:
    a = analyse(load_inputs(iso_df.drop(columns=["D"])), law="kaplan-nd", bootstrap=0,
                backtest=False, approach2=False)
    assert a.fit is not None  # kaplan-nd is a law of N and D: it draws
    contour_figure(a.fit, observations=a.inputs.observations)
    from scalinglab import fit

    one_var = fit(iso_df, "power", x="C")
    with pytest.raises(NoFigure, match="not a function of N and D"):
        contour_figure(one_var)


# ---------------------------------------------------------------- residuals, backtest
def test_residuals_are_those_of_the_fit(chin_analysis: Analysis) -> None:
    a = chin_analysis
    assert a.fit is not None
    fig = residual_figure(a.fit, a.inputs.observations)
    pts = by_gid(fig, "residuals")
    assert len(pts) == 2  # vs C and vs N
    r = np.asarray(pts[0].get_offsets())[:, 1]
    assert len(r) == 240
    assert np.allclose(r, a.fit.residuals, atol=1e-12)
    assert [ax.get_xlabel().split(" ")[0] for ax in fig.axes] == ["C", "N"]


def test_backtest_figure_with_intervals(iso_analysis: Analysis) -> None:
    bt_fit = iso_analysis.backtest_fit
    assert bt_fit is not None and bt_fit is not iso_analysis.fit
    bt = bt_fit.backtest
    assert bt["n_test"] == 7 and bt["threshold_C"] == pytest.approx(3e18)
    fig = backtest_figure(bt_fit)
    (bars,) = fig.axes[0].containers
    assert bars.has_yerr  # the bootstrap interval of each prediction
    assert np.allclose(bars.lines[0].get_xdata(), [p["observed"] for p in bt["points"]])
    assert np.allclose(bars.lines[0].get_ydata(), [p["predicted"] for p in bt["points"]])
    # the held-out runs share one budget: the error is drawn against model size
    assert fig.axes[1].get_xlabel().startswith("N (")
    assert "interval coverage" in fig.get_suptitle()


def test_backtest_needs_held_out_points(chin_analysis: Analysis) -> None:
    with pytest.raises(NoFigure):
        backtest_figure(chin_analysis.fit)


# ---------------------------------------------------------------- curves
def test_learning_curves_one_line_per_run(store_path: Path) -> None:
    inp = load_inputs(store=store_path)
    curves = inp.curves
    assert curves is not None and (curves["D"] > 0).all()
    assert curves.groupby("run_id").size().eq(7).all()  # the zero-token row is left out
    fig = curves_figure(curves, conventions=inp.conventions)
    lines = [a for a in by_gid(fig, "curve") if isinstance(a, Line2D)]
    assert len(lines) == 15
    assert fig.axes[0].get_xscale() == "log"
    fig_c = curves_figure(curves, x="C")
    assert "6 N D" in fig_c.axes[0].get_xlabel()
    with pytest.raises(NoFigure):
        curves_figure(curves.iloc[0:0])


# ---------------------------------------------------------------- all, and files
def test_make_figures_says_what_it_left_out(chin_analysis: Analysis) -> None:
    figs, omitted = make_figures(chin_analysis)
    assert list(figs) == ["loss_vs_compute", "isoflop", "allocation", "contours", "residuals",
                          "backtest"]
    assert set(omitted) == {"learning_curves"}
    assert all(isinstance(f, Figure) and f.axes[0].get_title() for f in figs.values())


def test_save_figures_writes_png_and_svg(tmp_path: Path) -> None:
    fig = curves_figure(pd.DataFrame({"run_id": ["a", "a", "b", "b"], "N": [1e6] * 2 + [4e6] * 2,
                                      "D": [1e6, 1e7, 1e6, 1e7], "C": 6e12,
                                      "loss": [5.0, 4.0, 4.8, 3.7]}))
    paths = save_figures({"curves": fig}, tmp_path / "figs")
    assert [p.name for p in paths] == ["curves.png", "curves.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in paths[1].read_text()[:500]

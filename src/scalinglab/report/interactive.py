"""Interactive (Plotly) figures for the HTML report: ``report --interactive``.

Plotly is optional (the ``interactive`` extra: ``pip install 'scalinglab[interactive]'``);
without it :func:`plotly_script` raises a :class:`~scalinglab.errors.ParameterError` that names
the pip command. The page stays one self-contained file: :func:`plotly_script` returns
plotly.js itself, inlined once in the page's head, and each figure is a ``<div>`` drawn by it
(no CDN, nothing fetched).

* ``loss_vs_compute``: every run's loss against its compute (hover: run id, N, D, C, loss),
  the compute-efficient frontier (the running minimum of loss over compute, as in the static
  figure) and the fitted law at the compute-optimal allocation;
* ``isoflop``: loss against N for each FLOP budget (Approach 2), with each budget's minimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import argument_error
from scalinglab.report.analysis import Analysis, isoflop_members, plan_law_of

PIP = "pip install 'scalinglab[interactive]'"


def require_plotly(name: str = "interactive") -> Any:
    """The plotly module; when it is not installed, the error for ``name`` (a
    :class:`~scalinglab.errors.ParameterError`, or an OptionError for a flag such as
    ``--interactive``) naming the pip command."""
    try:
        import plotly
        import plotly.graph_objects
    except ImportError:
        raise argument_error(name, "interactive figures need plotly, which is not installed: "
                             f"{PIP} (or pip install plotly)") from None
    return plotly




def plotly_script() -> str:
    """plotly.js, to inline once in the page (an OptionError naming the pip command when
    plotly is not installed)."""
    require_plotly()
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs()).replace("</script", "<\\/script")


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(df[name], errors="coerce").to_numpy(float)


def running_minimum(C: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The compute-efficient frontier: runs sorted by C and the lowest loss reached at or
    below each C (never rising)."""
    order = np.argsort(C, kind="stable")
    return C[order], np.fmin.accumulate(loss[order])


def _div(fig: Any, name: str) -> str:
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"plotly-{name}",
                           config={"displaylogo": False, "responsive": True}))


def _loss_compute(a: Analysis) -> Any:
    import plotly.graph_objects as go

    obs = a.inputs.observations
    assert obs is not None
    N, D, C, L = (_col(obs, c) for c in ("N", "D", "C", "loss"))
    ids = (obs["run_id"].astype(str).to_numpy() if "run_id" in obs.columns
           else np.array([str(i) for i in range(len(obs))]))
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=C, y=L, mode="markers", name=f"runs ({len(C)})",
        marker={"color": np.log10(N), "colorscale": "Viridis", "size": 7,
                "colorbar": {"title": "log10 N"}, "line": {"width": 0.5, "color": "black"}},
        customdata=np.stack([ids, N, D], axis=1),
        hovertemplate="run %{customdata[0]}<br>N = %{customdata[1]:.4g}<br>"
                      "D = %{customdata[2]:.4g}<br>C = %{x:.4g}<br>loss = %{y:.4f}"
                      "<extra></extra>"))
    fx, fy = running_minimum(C, L)
    fig.add_trace(go.Scatter(x=fx, y=fy, mode="lines", line={"shape": "hv", "color": "black"},
                             name="compute-efficient frontier (lowest loss at ≤ C)"))
    if a.fit is not None and tuple(a.fit.law.variables) == ("N", "D"):
        from scalinglab.errors import ScalingLabError
        from scalinglab.plan import optimal_allocation

        cg = np.geomspace(np.nanmin(C), np.nanmax(C), 60)
        try:
            _, _, lopt = optimal_allocation(plan_law_of(a.fit), cg)
            fig.add_trace(go.Scatter(x=cg, y=lopt, mode="lines",
                                     line={"dash": "dot", "color": "firebrick"},
                                     name=f"fitted {a.fit.law.name}, compute-optimal"))
        except ScalingLabError:
            pass
    fig.update_xaxes(type="log", title="C (FLOPs)")
    fig.update_yaxes(type="log", title="loss (nats/token)")
    fig.update_layout(title="Loss vs compute", height=520, template="plotly_white")
    return fig


def _isoflop(a: Analysis) -> Any:
    import plotly.graph_objects as go

    obs, iso = a.inputs.observations, a.isoflop
    assert obs is not None and iso is not None
    N, L = _col(obs, "N"), _col(obs, "loss")
    member = isoflop_members(obs, iso)
    fig = go.Figure()
    for k, b in enumerate(iso.budgets):
        m = member == k
        label = f"C = {b:.3g}" + ("" if iso.U is None else f", U = {float(iso.U[k]):.3g}")
        fig.add_trace(go.Scatter(x=N[m], y=L[m], mode="markers+lines", name=label,
                                 hovertemplate="N = %{x:.4g}<br>loss = %{y:.4f}"))
    fig.add_trace(go.Scatter(x=iso.n_opt, y=iso.loss_opt, mode="markers",
                             marker={"symbol": "star", "size": 13, "color": "red"},
                             name="minimum of each profile"))
    fig.update_xaxes(type="log", title="N (parameters)")
    fig.update_yaxes(title="loss (nats/token)")
    fig.update_layout(title="IsoFLOP profiles", height=520, template="plotly_white")
    return fig


def interactive_figures(a: Analysis) -> dict[str, str]:
    """``{name: <div>}`` of the interactive figures this analysis allows (plotly.js not
    included: inline :func:`plotly_script` once)."""
    require_plotly()
    out: dict[str, str] = {}
    obs = a.inputs.observations
    if obs is not None and {"N", "D", "C", "loss"} <= set(obs.columns) and len(obs):
        out["loss_vs_compute"] = _div(_loss_compute(a), "loss_vs_compute")
    if a.isoflop is not None and obs is not None and len(a.isoflop.budgets):
        out["isoflop"] = _div(_isoflop(a), "isoflop")
    return out

"""The convention-sensitivity report (``scalinglab.plan.conventions``, ``scalinglab
conventions``): Pearce & Song's simulated finding reproduced through it, its Approach-3 optimum
against the closed form, the CLI on the shipped Chinchilla runs, the JSON round trip, bad input,
and its section in the HTML report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fixtures import published as F
from scalinglab.errors import OptionError, ParameterError
from scalinglab.jsonio import to_jsonable
from scalinglab.laws import chinchilla_allocation, get_law
from scalinglab.laws import published as pub
from scalinglab.plan.conventions import (
    ConventionReport,
    ShapeRule,
    convention_report,
    law_optimum,
)

# Pearce & Song 2024, "Reconciling Kaplan and Chinchilla Scaling Laws" (arXiv 2406.12907,
# TMLR), simulation of the Chinchilla law in Kaplan's conventions. Procedure and constants from
# their analysis script: repository TeaPearce/Reconciling_Kaplan_Chinchilla_Scaling_Laws, file
# script_analysis_kaplan_chinchilla.py, commit b97a454bf360d81a3f87f10de8ccc5cf22b6e026:
#   coeffs 'epoch': Nc=482.01, Dc=2085.43, alpha=0.3478, beta=0.3658, E=1.8172
#   coeffs 'chin':  Nc=406.4,  Dc=410.7,   alpha=0.3392, beta=0.2849, E=1.6934
#   vocab_size=32e3, aspect_ratio=39.2; N_nonemb_all = logspace(2.9, 9.2, 20);
#   d = (N_E / (12 / aspect_ratio))^(1/3); N_T = N_E + vocab d; D_all = logspace(6, 25, 1000);
#   non-embedding frontier over C_E = 6 N_E D in 10^12.95 .. 10^20.7 (c_range_bounds),
#   total-parameter frontier over C_T = 6 N_T D in 10^13.4 .. 10^20.7, 100 budgets each,
#   local exponent = np.polyfit(log C, log N*, 1) slope.
# (the values, with these sources, are in tests/fixtures/published.py)
PS_EPOCH = F.PEARCE_SONG_EPOCH
PS_CHINCHILLA = F.PEARCE_SONG_CHINCHILLA
PS_VOCAB, PS_ASPECT = F.PEARCE_SONG_VOCAB, F.PEARCE_SONG_ASPECT
PS_RANGE_NONEMBEDDING = F.PEARCE_SONG_RANGE_NONEMBEDDING
PS_RANGE_TOTAL = F.PEARCE_SONG_RANGE_TOTAL
# The local exponents of that simulation (Pearce & Song 2024, Sec. 3's simulated frontier,
# obtained by re-running their script): N*_E ∝ C_E^0.78 (Epoch's constants) / ^0.74
# (Chinchilla's), and in total parameters N*_T ∝ C_T^0.515 / ^0.458.
PS_A_NONEMBEDDING = F.PEARCE_SONG_A_NONEMBEDDING
PS_A_TOTAL = F.PEARCE_SONG_A_TOTAL
# The frontier is a staircase of 20 model sizes, so its local slope depends on where the budgets
# fall at the +-0.005 level (the published values carry 2-3 digits).
TOL = 0.006


def ps_runs(params: dict[str, float], n_tokens: int = 1000, exact_counts: bool = False
            ) -> pd.DataFrame:
    """Pearce & Song's simulated runs as learning curves: 20 Chinchilla-like models, each
    'trained' over D = 1e6 .. 1e25 tokens, loss from the Chinchilla law in total parameters."""
    n_e = np.logspace(2.9, 9.2, 20)
    d = (n_e / (12 / PS_ASPECT)) ** (1 / 3)
    n_t = n_e + PS_VOCAB * d
    D = np.logspace(6, 25, n_tokens)
    frames = []
    for i in range(len(n_e)):
        loss = params["E"] + params["A"] / n_t[i] ** params["alpha"] + params["B"] / D ** params[
            "beta"]
        f = pd.DataFrame({"run_id": f"m{i:02d}", "N": n_t[i], "D": D, "loss": loss})
        if exact_counts:
            f["params_total"] = n_t[i]
            f["params_nonembedding"] = n_e[i]
            # the script's C_accurate: 6 N_T D + 12 ctx / aspect d^2 D, ctx = 2048
            f["flops_palm"] = (6 * n_t[i] + 12 * 2048 / PS_ASPECT * d[i] ** 2) * D
        frames.append(f)
    df = pd.concat(frames, ignore_index=True)
    df.attrs["conventions"] = {"N": "total parameters", "D": "tokens", "loss": "nats/token"}
    return df


@pytest.mark.parametrize("name,params", [("epoch", PS_EPOCH), ("chin", PS_CHINCHILLA)])
def test_pearce_song_local_exponents_through_the_report(name: str, params: dict) -> None:
    """The Chinchilla law read in Kaplan's conventions over Kaplan's budgets gives Kaplan-like
    exponents; in total parameters it gives Chinchilla's."""
    df = ps_runs(params)
    kw = dict(c_conventions=("6ND",), allocations=("frontier",))
    rep_e = convention_report(df, 1e21, compute_range=PS_RANGE_NONEMBEDDING, **kw)
    rep_t = convention_report(df, 1e21, compute_range=PS_RANGE_TOTAL, **kw)
    assert rep_e.frontier_kind == "envelope" and rep_e.data_convention == "total"
    a_e = rep_e.row("nonembedding", "6ND", "frontier")
    a_t = rep_t.row("total", "6ND", "frontier")
    assert a_e.identified and a_t.identified and a_e.n_points >= 100
    assert a_e.a == pytest.approx(PS_A_NONEMBEDDING[name], abs=TOL)
    assert a_t.a == pytest.approx(PS_A_TOTAL[name], abs=TOL)
    # second truth for the total-parameter slope: beta / (alpha + beta) (Hoffmann et al. 2022,
    # Eq. 4: N_opt = G (C/6)^(beta/(alpha+beta)))
    assert a_t.a == pytest.approx(params["beta"] / (params["alpha"] + params["beta"]), abs=TOL)
    assert a_e.a - a_t.a > 0.2  # the Kaplan/Chinchilla gap is the counting
    # the same finding when the table carries each run's exact counts instead of the shape rule
    exact = convention_report(ps_runs(params, exact_counts=True), 1e21,
                              compute_range=PS_RANGE_NONEMBEDDING, **kw)
    assert exact.row("nonembedding", "6ND", "frontier").a == pytest.approx(a_e.a, abs=2e-3)
    assert "params_nonembedding" in exact.counts


def test_shape_rule_tabulated_from_exact_counts() -> None:
    """From exact counts of a fixed-aspect family the tabulated rule is the closed form:
    embedding V (a/12)^(1/3) N_E^(1/3); full FLOPs per token 6 N_E + 6 V d + 12 ctx d^2 / a."""
    df = ps_runs(PS_EPOCH, n_tokens=5, exact_counts=True)
    rule = ShapeRule.from_table(df)
    assert rule is not None and "tabulated" in rule.source
    assert rule.embedding_power == pytest.approx(1 / 3, abs=1e-9)
    closed = ShapeRule.fixed_aspect(32000, PS_ASPECT, 2048, gamma=None)
    n = np.logspace(2, 11, 10)  # inside and beyond the 20 sizes (10^2.9 .. 10^9.2)
    assert rule.embedding(n) == pytest.approx(PS_VOCAB * (PS_ASPECT / 12) ** (1 / 3)
                                              * n ** (1 / 3), rel=1e-6)
    assert rule.total(n) == pytest.approx(closed.total(n), rel=1e-6)
    assert rule.nonembedding(rule.total(n)) == pytest.approx(n, rel=1e-6)
    inside = np.logspace(3, 9, 13)
    assert rule.flops_per_token(inside) == pytest.approx(closed.flops_per_token(inside),
                                                         rel=2e-3)
    back = ShapeRule.from_dict(json.loads(json.dumps(to_jsonable(rule.to_dict()))))
    assert back.flops_per_token(n) == pytest.approx(rule.flops_per_token(n), rel=1e-12)
    assert ShapeRule.from_table(df.drop(columns="flops_palm")) is None


def test_run_store_table_uses_each_runs_exact_counts() -> None:
    """A run-store-like table (a fixed-depth family, width the only knob, as the demo's): each
    run's N_E and full FLOPs are the trainer's own counts (params_nonembedding, flops_palm =
    flops_per_token(shape, 'palm') x D), and the tabulated rule passes through them."""
    from scalinglab.accounting import ModelShape, count_params
    from scalinglab.accounting.flops import flops_per_token

    law = get_law("chinchilla")
    truth = pub.CHINCHILLA_EPOCH
    rows = []
    for C in (1e15, 1e16, 1e17):
        for width in (128, 192, 256, 384, 512, 768):
            shape = ModelShape(n_layer=4, d_model=width, n_head=4, vocab=4096, context=256)
            pc = count_params(shape)
            D = C / (6 * pc.total)
            rows.append({"run_id": f"w{width}-{C:g}", "N": pc.total, "D": D, "C": C,
                         "loss": float(law.predict(truth, N=pc.total, D=D)),
                         "params_total": pc.total, "params_nonembedding": pc.nonembedding,
                         "flops_palm": flops_per_token(shape, "palm") * D,
                         "N_convention": "total parameters incl. embeddings"})
    df = pd.DataFrame(rows)
    rep = convention_report(df, 1e19)
    assert rep.data_convention == "total" and "tabulated" in rep.shape_rule.source
    assert "params_nonembedding" in rep.counts and "flops_palm" in rep.counts
    rule = rep.shape_rule
    assert rule.nonembedding(df["params_total"]) == pytest.approx(df["params_nonembedding"],
                                                                  rel=1e-6)
    per_token = df["flops_palm"] / df["D"]
    assert rule.flops_per_token(df["params_nonembedding"]) == pytest.approx(per_token, rel=1e-6)
    # fixed depth: the embedding grows as d ∝ N_E^(1/2), not as N_E^(1/3)
    assert rule.embedding_power == pytest.approx(0.5, abs=0.02)
    assert len(rep.rows) == 8
    a_true = truth["beta"] / (truth["alpha"] + truth["beta"])
    assert rep.row("total", "6ND", "approach3").a == pytest.approx(a_true, abs=2e-3)
    for r in rep.rows:  # a frontier these few sizes do not bracket is flagged, not shown
        assert math.isfinite(r.a) == r.identified
        assert r.identified or any(n.startswith("not identified") for n in r.notes)


def test_numeric_optimum_matches_the_closed_form() -> None:
    """Under C = 6ND the numeric optimum is Hoffmann et al.'s closed form (Eq. 4), for one
    parameter set and for a batch of draws."""
    p = pub.CHINCHILLA_HOFFMANN
    C = np.array([1e18, 1e21, 5.76e23, 1e25])
    n, d, loss = law_optimum(p, C, lambda x: 6.0 * x)
    n0, d0 = chinchilla_allocation(p, C)
    assert n == pytest.approx(n0, rel=1e-4) and d == pytest.approx(d0, rel=1e-4)
    law = get_law("chinchilla")
    assert loss == pytest.approx(law.predict(p, N=n0, D=d0), rel=1e-9)
    draws = {k: np.array([v, v * 1.01]) for k, v in pub.CHINCHILLA_EPOCH.items()}
    nd, _, _ = law_optimum(draws, C, lambda x: 6.0 * x)
    assert nd.shape == (2, 4)
    assert nd[0] == pytest.approx(chinchilla_allocation(pub.CHINCHILLA_EPOCH, C)[0], rel=1e-4)


def isoflop_runs(params: dict[str, float], budgets=(1e17, 1e18, 1e19, 1e20), sizes: int = 9,
                 noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Final losses at IsoFLOP budgets (C = 6 N D, N total) from a known law."""
    law = get_law("chinchilla")
    rng = np.random.default_rng(seed)
    rows = []
    for C in budgets:
        n0, _ = chinchilla_allocation(params, C)
        for f in np.geomspace(1 / 6, 6, sizes):
            N = float(n0 * f)
            D = C / (6 * N)
            loss = float(law.predict(params, N=N, D=D)) * (1 + rng.normal(0, noise))
            rows.append({"run_id": f"r{len(rows)}", "N": N, "D": D, "C": C, "loss": loss})
    df = pd.DataFrame(rows)
    df.attrs["conventions"] = {"N": "total parameters incl. embeddings", "C": "6 N D"}
    return df


def test_approach3_and_frontier_recover_a_known_law() -> None:
    """Runs from a known law in total parameters: the (total, 6ND) rows recover its exponent
    beta/(alpha+beta) and its N_opt at the target (closed form); the other rows re-express
    the same runs and say how."""
    truth = pub.CHINCHILLA_EPOCH
    df = isoflop_runs(truth)
    rep = convention_report(df, 1e22)
    assert rep.frontier_kind == "isoflop" and len(rep.rows) == 8
    r3 = rep.row("total", "6ND", "approach3")
    a_true = truth["beta"] / (truth["alpha"] + truth["beta"])
    assert r3.a == pytest.approx(a_true, abs=2e-3)
    n_true, d_true = chinchilla_allocation(truth, 1e22)
    assert r3.n_opt == pytest.approx(float(n_true), rel=0.02)
    assert r3.loss == pytest.approx(float(get_law("chinchilla").predict(truth, N=n_true,
                                                                          D=d_true)), rel=1e-3)
    r2 = rep.row("total", "6ND", "frontier")
    assert r2.a == pytest.approx(a_true, abs=0.02) and r2.a_interval is not None
    assert r2.a_interval[0] < r2.a < r2.a_interval[1]
    for r in rep.rows:
        assert r.identified, r
        # N_opt in total parameters is the row's N_opt converted by the shape rule
        conv = r.n_opt if r.n_convention == "total" else float(rep.shape_rule.total(r.n_opt))
        assert r.n_opt_total == pytest.approx(conv, rel=1e-9)
        # the target is read in the row's own C convention
        fpt = (6 * r.n_opt if r.c_convention == "6ND" else
               float(rep.shape_rule.flops_per_token(
                   r.n_opt if r.n_convention == "nonembedding"
                   else rep.shape_rule.nonembedding(r.n_opt))))
        assert fpt * r.d_opt == pytest.approx(1e22, rel=1e-6)
    # counting N without the embedding makes the small runs look smaller: a larger exponent
    assert rep.row("nonembedding", "6ND", "approach3").a > r3.a + 0.01
    frame = rep.to_frame()
    assert list(frame["allocation"]).count("frontier") == 4 and frame["a"].notna().all()


def test_too_few_frontier_points_are_flagged_not_identified() -> None:
    df = isoflop_runs(pub.CHINCHILLA_EPOCH)
    rep = convention_report(df, 1e22, compute_range=(5e16, 2e18), allocations=("frontier",))
    r = rep.row("total", "6ND", "frontier")
    assert not r.identified and math.isnan(r.a)
    assert any(n.startswith("not identified") for n in r.notes)


def test_bad_arguments_name_the_parameter() -> None:
    df = isoflop_runs(pub.CHINCHILLA_EPOCH)
    with pytest.raises(ParameterError, match="target_compute"):
        convention_report(df, -1.0)
    with pytest.raises(ParameterError, match="compute_range"):
        convention_report(df, 1e22, compute_range=(1e20, 1e18))
    with pytest.raises(ParameterError, match="n_convention"):
        convention_report(df, 1e22, n_convention="kaplan")
    with pytest.raises(ParameterError, match="allocations"):
        convention_report(df, 1e22, allocations=("approach4",))
    with pytest.raises(ParameterError, match="shape_rule"):
        ShapeRule.fixed_aspect(aspect_ratio=-1.0)


# ---------------------------------------------------------------------------- CLI
def test_cli_on_chinchilla_240_prints_the_table_and_round_trips(cli, tmp_path: Path) -> None:
    out, fig = tmp_path / "conv.json", tmp_path / "conv.png"
    code, stdout, stderr = cli("conventions", "example:chinchilla-240", "--target-compute",
                               "5.76e23", "--json", str(out), "--figure", str(fig))
    assert code == 0, stderr
    for word in ("approach3", "frontier", "nonembedding", "total", "6ND", "full",
                 "N_opt (total)", "loss (nats/token)", "shape rule"):
        assert word in stdout, word
    assert "…" not in stdout  # no number cut off
    doc = json.loads(out.read_text())
    assert len(doc["rows"]) == 8 and doc["target_compute"] == 5.76e23
    rep = ConventionReport.from_dict(doc)
    assert to_jsonable(rep.to_dict()) == doc
    assert len(rep.frontier_points) == 8
    from scalinglab.report.convention_figures import conventions_figure

    fig_back = conventions_figure(rep)  # the figure can be redrawn from the JSON alone
    assert len(fig_back.axes) == 3 and fig_back.axes[0].get_lines()
    # the (total, 6ND) frontier is Approach 2 on the table as it is (`scalinglab isoflop`)
    from scalinglab import datasets
    from scalinglab.fit.approaches import isoflop

    a2 = isoflop(datasets.load("chinchilla-240")).N_fit.exponent
    assert rep.row("total", "6ND", "frontier").a == pytest.approx(a2, rel=1e-9)
    for r in rep.rows:
        assert f"{r.a:.4g}" in stdout
    from PIL import Image

    with Image.open(fig) as im:
        assert im.format == "PNG" and im.width > 1000
    code, stdout, _ = cli("conventions", "example:chinchilla-240", "--target-compute", "1e22",
                          "--json", "-", "--no-figure")
    assert code == 0 and json.loads(stdout)["target_compute"] == 1e22
    # the bare command: no target given -> 100x the table's largest 6ND compute
    code, stdout, _ = cli("conventions", "example:chinchilla-240", "--json", "-", "--no-figure")
    doc = json.loads(stdout)
    runs = datasets.load("chinchilla-240")
    c_max = float((6 * runs["N"] * runs["D"]).max())
    assert code == 0 and doc["target_compute"] == pytest.approx(100 * c_max, rel=1e-12)
    assert any("100x the largest run's compute" in n for n in doc["notes"]), doc["notes"]


def test_cli_errors_name_the_flag(cli, tmp_path: Path) -> None:
    code, _, stderr = cli("conventions", "example:chinchilla-240", "--target-compute", "-5",
                          "--no-figure")
    assert code == 2 and "--target-compute" in stderr
    code, _, stderr = cli("conventions", "example:chinchilla-240", "--target-compute", "1e22",
                          "--n-convention", "kaplan", "--no-figure")
    assert code == 2 and "--n-convention" in stderr
    code, _, stderr = cli("conventions", "example:chinchilla-240", "--target-compute", "1e22",
                          "--compute-range", "1e20", "--no-figure")
    assert code == 2 and "--compute-range" in stderr
    with pytest.raises(OptionError):
        from scalinglab.cli.conventions_cmds import _range

        _range("1e20,1e18")


# ---------------------------------------------------------------------------- report
def test_report_has_the_convention_section(tmp_path: Path) -> None:
    from scalinglab.report import build_report

    df = isoflop_runs(pub.CHINCHILLA_EPOCH, noise=0.002)
    rep = build_report(df, out=tmp_path / "r.html", bootstrap=0, backtest=False,
                       figures_dir=tmp_path / "figs", figure_formats=("png",))
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    conv = rep.analysis.conventions
    assert conv is not None and conv.target_compute == rep.analysis.plans[0].compute
    sec = page[page.index("id='sensitivity'"):page.index("id='conventions'")]
    assert "Convention sensitivity" in sec and "<svg" in sec
    for r in conv.rows:
        assert r.allocation in sec
    assert (tmp_path / "figs" / "conventions.png").exists()
    # the page's PNG figures are still one per figure named
    assert page.count('<img src="data:image/png;base64,') == len(rep.figure_names)

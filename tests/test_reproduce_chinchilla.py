"""``scalinglab reproduce chinchilla``: the command end to end on the shipped data, its numbers
against the published ones (each with its source), and its approaches and verdict rule on
synthetic runs from known laws.

Conventions: N total parameters incl. embeddings, C FLOPs, D = C / (6N), loss nats/token.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import scalinglab as sl
from fixtures import published as F
from scalinglab.cli import main
from scalinglab.fit.approaches import budget_groups
from scalinglab.laws import chinchilla_allocation, get_law
from scalinglab.laws import published as pub
from scalinglab.plan.optimal import Objective
from scalinglab.plan.source import PlanLaw
from scalinglab.reproduce import chinchilla as ch
from scalinglab.reproduce.findings import Finding, judge

# Published values (each with its source in tests/fixtures/published.py):
# Hoffmann et al. 2022, Table 2: Approach 2 exponent a = 0.49.
HOFFMANN_A2_A = F.HOFFMANN_APPROACH2_A
# Besiroglu et al. 2024 (Epoch's notebook): the Hoffmann-style grid + L-BFGS-B fit of the
# summed Huber loss on 240 runs, and its a = beta / (alpha + beta) = 0.513.
EPOCH_GRID = F.CHINCHILLA_EPOCH_GRID
EPOCH_A = F.EPOCH_A
# Eq. 4 with Besiroglu et al.'s constants at Gopher's budget (Hoffmann Table 3): 7.2249e10.
EPOCH_N_OPT_GOPHER = F.CHINCHILLA_ALLOCATIONS[("epoch", F.GOPHER_FLOPS)][0]
# Hoffmann et al. 2022, Table A3, Approach 3 column: (params, FLOPs); the 175B row is printed
# 1.26e24, a typo for 6 N D = 1.26e25, used here.
TABLE_A3_APPROACH3 = [(n, F.TABLE_A3_175B_FLOPS_6ND if n == 175e9 else c)
                      for n, c, _ in F.TABLE_A3_APPROACH3]
# Hoffmann et al. 2022, Sec. 3.2: nine IsoFLOP budgets from 6e18 to 3e21 FLOPs.
N_ISOFLOP_BUDGETS = F.HOFFMANN_N_ISOFLOP_BUDGETS

FIELDS = {f.name for f in dataclasses.fields(Finding)}


# ============================================================================ end to end
@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The command run once (small bootstrap and design check, to keep the tests quick)."""
    out = tmp_path_factory.mktemp("chinchilla")
    code = 0
    try:
        main(["reproduce", "chinchilla", "--out", str(out), "--bootstrap", "24",
              "--design-reps", "40", "--jobs", "1"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    doc = json.loads((out / "findings.json").read_text()) if (
        out / "findings.json").exists() else {}
    return {"code": code, "out": out, "doc": doc,
            "by_id": {f["id"]: f for f in doc.get("findings", [])}}


def test_command_writes_report_and_findings(study: dict[str, Any]) -> None:
    assert study["code"] == 0
    out: Path = study["out"]
    page = (out / "report.html").read_text()
    doc = study["doc"]
    assert len(doc["findings"]) >= 6
    for f in doc["findings"]:
        assert set(f) == FIELDS, f["id"]
        assert f["verdict"] in ("reproduced", "differs", "not measurable")
        assert f["paper_source"] and f["rule"] and f["detail"] and f["figure"]
        assert f"id='{f['id']}'" in page
    # every figure a finding names is in the page once, and the shared ones are linked
    assert page.count("data:image/png;base64,") == len({f["figure"] for f in doc["findings"]}
                                                         ) + 1  # + the design check's
    assert doc["counts"] == {v: sum(f["verdict"] == v for f in doc["findings"])
                             for v in ("reproduced", "differs", "not measurable")}
    assert doc["data"] == "example:chinchilla-240" and doc["n_runs"] == 240
    assert set(doc["conventions"]) == {"N", "C", "D", "loss"}


def test_each_verdict_follows_the_rule(study: dict[str, Any]) -> None:
    for f in study["doc"]["findings"]:
        if f["measured"] is None:
            assert f["verdict"] == "not measurable", f["id"]
            continue
        verdict, detail = judge(f["measured"], f["interval"], f["paper"],
                                tolerance=f["tolerance"],
                                max_rel_width=f["extra"]["max_rel_width"])
        assert (verdict, detail) == (f["verdict"], f["detail"]), f["id"]


def test_approach3_matches_besiroglu_and_differs_from_hoffmann(study: dict[str, Any]) -> None:
    a3 = study["doc"]["approach3"]["params"]
    for k in ("E", "alpha", "beta"):
        assert a3[k] == pytest.approx(EPOCH_GRID[k], abs=1e-3), k
    for k in ("A", "B"):
        assert a3[k] == pytest.approx(EPOCH_GRID[k], rel=0.01), k
    by = study["by_id"]
    assert by["approach3-a"]["measured"] == pytest.approx(EPOCH_A, abs=0.003)
    for fid in ("besiroglu-beta", "besiroglu-E", "besiroglu-a"):
        assert by[fid]["verdict"] == "reproduced", fid
    # Besiroglu et al. 2024 (Sec. 3; chi-square 238.4, p = 1.7e-49 in the notebook):
    # Hoffmann's printed beta = 0.28 and E = 1.69 are far outside what these runs allow
    for fid in ("approach3-beta", "approach3-E"):
        assert by[fid]["verdict"] == "differs", fid
    gopher = by["gopher-n-approach3"]
    assert gopher["extra"]["Besiroglu et al.'s constants give N_opt"] == pytest.approx(
        EPOCH_N_OPT_GOPHER, rel=1e-3)
    assert gopher["measured"] == pytest.approx(EPOCH_N_OPT_GOPHER, rel=0.05)
    assert gopher["verdict"] == "differs"  # Hoffmann Figure 4: 40B; ours ~73B


def test_approach2_and_approach1_on_the_shipped_runs(study: dict[str, Any]) -> None:
    by = study["by_id"]
    a2 = by["approach2-a"]
    # the same runs (undigitised) gave Hoffmann a = 0.49; ours differs by what the finding says
    assert abs(a2["measured"] - HOFFMANN_A2_A) < 0.06
    assert a2["measured"] + by["approach2-b"]["measured"] == pytest.approx(1.0, abs=1e-9)
    a1 = by["approach1-a"]
    assert a1["verdict"] == "not measurable" and a1["measured"] is None
    assert "final losses only" in a1["detail"] and a1["needed_scale"]
    design = study["doc"]["design_check"]
    assert design["measurable"] == {k: v >= ch.MIN_SENSITIVITY
                                    for k, v in design["sensitivity"].items()}


def test_isoflop_runs_are_the_nine_budgets() -> None:
    df = sl.datasets.load("chinchilla-240")
    sub = ch.isoflop_runs(df)
    labels = budget_groups(sub["C"].to_numpy(float), ch.group_tolerance())
    assert len(np.unique(labels)) == N_ISOFLOP_BUDGETS
    for g in np.unique(labels):
        c = sub["C"].to_numpy(float)[labels == g]
        ratio = c[:, None] / np.array(ch.ISOFLOP_BUDGETS)[None, :]
        assert np.all(np.abs(np.log(ratio)).min(axis=1) <= math.log(ch.ISOFLOP_FACTOR) + 1e-12)
    ties = ch.quantisation_ties(df, ch.approach2(df))
    assert len(ties) == 1 and "2.94e+21" in ties[0]  # the 3e21 profile's minimum is a tie


# ============================================================================ projections
def test_projection_reproduces_table_a3_from_hoffmann_constants() -> None:
    obj = Objective(PlanLaw(get_law("chinchilla"), dict(pub.CHINCHILLA_HOFFMANN)))
    for n, flops in TABLE_A3_APPROACH3:
        # Eq. 4 at the printed budget gives the printed size to within about 3-8 %
        n_opt, _ = chinchilla_allocation(pub.CHINCHILLA_HOFFMANN, flops)
        assert float(n_opt) == pytest.approx(n, rel=0.08), n
        # our inverse (size -> budget) is the plan module's, and inverts Eq. 4
        ours = float(ch.approach3_flops_for(pub.CHINCHILLA_HOFFMANN, n))
        assert ours == pytest.approx(obj.compute_for_params(pub.CHINCHILLA_HOFFMANN, n),
                                     rel=1e-9)
        back, _ = chinchilla_allocation(pub.CHINCHILLA_HOFFMANN, ours)
        assert float(back) == pytest.approx(n, rel=1e-9)
    n_opt, _ = chinchilla_allocation(pub.CHINCHILLA_EPOCH, 5.76e23)
    assert float(n_opt) == pytest.approx(EPOCH_N_OPT_GOPHER, rel=1e-3)


# ============================================================================ synthetic truth
TRUTH = {"E": 1.7, "A": 420.0, "B": 1500.0, "alpha": 0.30, "beta": 0.36}  # chosen here
A_TRUE = TRUTH["beta"] / (TRUTH["alpha"] + TRUTH["beta"])


def _isoflop_runs(truth: dict[str, float], noise: float, seed: int) -> pd.DataFrame:
    """Hoffmann-style IsoFLOP profiles: at each of the nine budgets, 9 sizes over a factor
    16 around the true optimum (shifted at random by up to 25 %), loss from the law."""
    rng = np.random.default_rng(seed)
    law = get_law("chinchilla")
    rows = []
    for c in ch.ISOFLOP_BUDGETS:
        n0, _ = chinchilla_allocation(truth, c)
        n = float(n0) * np.geomspace(0.25, 4.0, 9) * math.exp(rng.uniform(-0.22, 0.22))
        rows.append(pd.DataFrame({"N": n, "C": c, "D": c / (6 * n)}))
    df = pd.concat(rows, ignore_index=True)
    clean = law.predict(truth, N=df["N"].to_numpy(), D=df["D"].to_numpy())
    df["loss"] = clean * np.exp(rng.normal(0.0, noise, len(df)))
    return df


def test_approaches_recover_a_known_law() -> None:
    df = _isoflop_runs(TRUTH, 0.002, seed=3)
    iso = ch.approach2(df, bootstrap=40, seed=1)
    assert len(iso.budgets) == N_ISOFLOP_BUDGETS
    assert iso.N_fit.exponent == pytest.approx(A_TRUE, abs=0.015)
    assert iso.D_fit.exponent == pytest.approx(1 - A_TRUE, abs=0.015)
    res = sl.fit(df, "chinchilla")
    assert res.params["alpha"] == pytest.approx(TRUTH["alpha"], abs=0.03)
    assert res.params["beta"] == pytest.approx(TRUTH["beta"], abs=0.03)
    assert res.derived["a"] == pytest.approx(A_TRUE, abs=0.015)
    # the verdict rule on these estimates: the truth is reproduced, a value 20 % off is not
    verdict, _ = judge(iso.N_fit.exponent, iso.N_fit.exponent_interval, A_TRUE,
                       tolerance=ch.TOL_EXPONENT)
    assert verdict == "reproduced"
    verdict, detail = judge(iso.N_fit.exponent, iso.N_fit.exponent_interval, 1.2 * A_TRUE,
                            tolerance=ch.TOL_EXPONENT)
    assert verdict == "differs" and "misses" in detail
    verdict, _ = judge(iso.N_fit.exponent, (0.1, 0.9), A_TRUE, tolerance=ch.TOL_EXPONENT,
                       max_rel_width=1.0)
    assert verdict == "not measurable"  # the interval is 0.8 / 0.545 = 147 % of a wide


def test_envelope_of_final_losses_tracks_a_on_a_dense_design() -> None:
    """On a dense grid of (N, C) the final-loss envelope does measure a (so its failure on the
    shipped runs is their design, not the estimator)."""
    law = get_law("chinchilla")
    truth = dict(pub.CHINCHILLA_HOFFMANN_ROUNDED)  # Hoffmann Eq. 10: a = 0.28/0.62 = 0.4516
    a_true = truth["beta"] / (truth["alpha"] + truth["beta"])
    NN, CC = np.meshgrid(np.geomspace(3e7, 3e10, 40), np.geomspace(1e18, 1e22, 40))
    N, C = NN.ravel(), CC.ravel()
    loss = law.predict(truth, N=N, D=C / (6 * N)) * np.exp(
        np.random.default_rng(0).normal(0, 0.001, N.size))
    a, n_runs = ch.envelope_exponent(C, N, loss)
    assert n_runs > 50
    assert a == pytest.approx(a_true, abs=0.01)


def test_design_check_separates_the_estimators_on_the_shipped_design() -> None:
    df = sl.datasets.load("chinchilla-240")
    check = ch.design_check(df["N"].to_numpy(float), df["C"].to_numpy(float), noise=0.006,
                            reps=40, seed=2)
    names = list(ch.ESTIMATORS)
    headline, proxy = names[0], names[2]
    assert check.measurable(headline) and check.sensitivity[headline] > 0.7
    assert not check.measurable(proxy) and check.sensitivity[proxy] < 0.5
    # a design-blind estimator (a constant) has sensitivity 0
    blind = ch.design_check(df["N"].to_numpy(float)[:40], df["C"].to_numpy(float)[:40],
                            noise=0.006, reps=3, estimators={"constant": lambda t: 0.5})
    assert blind.sensitivity["constant"] == 0.0 and not blind.measurable("constant")


def test_quantise_snaps_to_the_colour_bar() -> None:
    lo, hi, rows = ch.COLOUR_BAR  # data README: 342 rows, log scale, 5.01 down to 1.80
    grid = np.geomspace(lo, hi, rows)
    x = np.geomspace(2.0, 4.9, 500)
    q = ch.quantise(x)
    nearest = grid[np.abs(np.log(q[:, None] / grid[None, :])).argmin(axis=1)]
    np.testing.assert_allclose(q, nearest, rtol=1e-12)
    assert np.max(np.abs(np.log(q / x))) <= 0.5 * math.log(hi / lo) / (rows - 1) + 1e-12


def test_reproduce_group_help(cli: Any) -> None:
    code, out, _ = cli("reproduce", "--help")
    assert code == 0 and "chinchilla" in out and "kaplan (trained here)" in out

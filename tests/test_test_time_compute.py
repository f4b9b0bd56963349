"""Inference-time compute: the ``train-test`` law (Jones 2021), the ``coverage`` law (Brown et
al. 2024) and the planner :mod:`scalinglab.plan.testtime`.

Published values, each with its source next to it. Truth elsewhere is synthetic data from known
parameters, closed forms, or a second method (OLS in Jones's own regression form; a dense grid
search for the planner).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import scalinglab as sl
from fixtures import published as F
from scalinglab.errors import ParameterError
from scalinglab.laws import get_law, numeric_jacobian
from scalinglab.laws.testtime import samples_for_coverage, trade_off
from scalinglab.plan import PlanLaw, plan_samples, plan_test_compute

# synthetic truth for the train-test law (score: Elo above random play, > 0 on the data)
TT_TRUE = {"s0": -3000.0, "u_train": 300.0, "u_test": 250.0}
COV_TRUE = {"a": -2.2, "b": -0.35}


def _train_test_runs(params: dict[str, float], n: int = 80, noise: float = 0.01,
                     seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ct = 10 ** rng.uniform(9, 13, n)  # training FLOPs
    ce = 10 ** rng.uniform(3, 7, n)  # inference FLOPs per query
    s = get_law("train-test").predict(params, C_train=ct, C_test=ce)
    return pd.DataFrame({"C_train": ct, "C_test": ce,
                         "score": s * np.exp(rng.normal(0.0, noise, n))})


def _coverage_runs(params: dict[str, float], noise: float = 0.01, seed: int = 0) -> pd.DataFrame:
    # 40 log-spaced sample counts in [1, 10,000], as Brown et al. fit (App. C.1)
    k = np.unique(np.round(np.logspace(0, 4, 40)))
    c = get_law("coverage").predict(params, k=k)
    c = c * np.exp(np.random.default_rng(seed).normal(0.0, noise, len(k)))
    return pd.DataFrame({"k": k, "coverage": np.minimum(c, 1.0)})


@pytest.fixture(scope="module")
def tt_fit() -> sl.FitResult:
    return sl.fit(_train_test_runs(TT_TRUE), "train-test", y="score", bootstrap=40, n_jobs=1)


# ------------------------------------------------------------------------------ the laws
@pytest.mark.parametrize(("name", "params", "X"), [
    ("train-test", TT_TRUE, np.array([[1e9, 3e11, 1e13], [1e3, 1e5, 1e7]])),
    ("coverage", COV_TRUE, np.array([[1.0, 7.0, 250.0, 1e4]])),
])
def test_analytic_jacobians_match_central_differences(name, params, X) -> None:
    law = get_law(name)
    z = law.to_internal(params)[None, :]
    analytic = law.log_value_and_jac(z, X)[1]
    assert np.allclose(analytic, numeric_jacobian(law, z, X), rtol=1e-6, atol=1e-8)


def test_laws_command_lists_both_laws_with_formula_and_source(cli, tmp_path) -> None:
    out = tmp_path / "laws.json"
    code, _, stderr = cli("laws", "--json", str(out))
    assert code == 0, stderr
    rows = {r["name"]: r for r in json.loads(out.read_text())}
    assert rows["train-test"]["formula"] == ("score = s0 + u_train log10(C_train) "
                                             "+ u_test log10(C_test)")
    assert "2104.03113" in rows["train-test"]["reference"]  # Jones 2021
    assert rows["train-test"]["variables"] == ["C_train", "C_test"]
    assert rows["coverage"]["formula"].startswith("coverage = exp(a k^b)")
    assert "2407.21787" in rows["coverage"]["reference"]  # Brown et al. 2024
    assert "Eq. 2-3" in rows["coverage"]["reference"]


# ------------------------------------------------------------------------------ published
@pytest.mark.parametrize("curve", sorted(F.BROWN_COVERAGE_POINTS))
def test_coverage_law_reproduces_brown_et_al_printed_coverage(curve) -> None:
    """Brown et al. 2024 (arXiv 2407.21787) print coverage at two sample counts per curve:
    SWE-bench Lite, DeepSeek-Coder-V2-Instruct, 15.9% at k=1 and 56% at k=250 (abstract);
    MATH, Llama-3-8B-Instruct, 82.9% at k=100 and 98.44% at k=10,000 (Sec. 1); CodeContests,
    Gemma-2B, 0.02% at k=1 and 7.1% at k=10,000 (Sec. 1, Sec. 2.2) (values in
    ``BROWN_COVERAGE_POINTS`` in ``tests/fixtures/published.py``). Their Eq. 3 through both
    points, fitted by the engine, gives both back to the printed precision, with (a, b) equal
    to the two-point closed form."""
    (k1, c1), (k2, c2) = F.BROWN_COVERAGE_POINTS[curve]
    res = sl.fit(pd.DataFrame({"k": [k1, k2], "coverage": [c1, c2]}), "coverage",
                 y="coverage", n_jobs=1)
    pred = get_law("coverage").predict(res.params, k=np.array([k1, k2], float))
    for printed, got in zip((c1, c2), pred, strict=True):
        decimals = len(str(printed).split(".")[1])  # as printed: 15.9% -> 0.159
        assert round(float(got), decimals) == printed, curve
    b = math.log(math.log(c2) / math.log(c1)) / math.log(k2 / k1)
    a = math.log(c1) / k1**b
    assert res.params["a"] == pytest.approx(a, rel=1e-4)
    assert res.params["b"] == pytest.approx(b, rel=1e-4)
    if k1 == 1:  # one sample's coverage is exp(a)
        assert res.derived["coverage_at_1"] == pytest.approx(c1, rel=1e-4)


def test_train_test_measures_jones_10x_train_for_15x_test() -> None:
    """Jones 2021 (arXiv 2104.03113), train-test trade-off section, Fig. 9: "for each
    additional 10x of train-time compute, about 15x of test-time compute can be eliminated"
    (``JONES_TEST_PER_10X_TRAIN`` in ``tests/fixtures/published.py``). Runs generated in
    Jones's own regression form
    (andyljones/boardlaw, analysis/data.py ``train_test_model`` at commit
    0667a3888fc7e6bd68c04f9307fbce7a3e130d29: OLS of log10 test FLOPs on log10 train FLOPs and
    Elo) with that trade-off; the law, fitted in the other direction (score on both
    log-computes), measures 15x to the printed precision."""
    rng = np.random.default_rng(3)
    slope = -math.log10(F.JONES_TEST_PER_10X_TRAIN)  # d log10 C_test / d log10 C_train
    log_train = rng.uniform(9.0, 13.0, 120)
    elo = rng.uniform(600.0, 2400.0, 120)  # Elo above random play (> 0)
    log_test = slope * log_train + elo / 200.0 + 6.0  # 200 Elo per decade of test compute
    keep = (log_test > 1.0) & (log_test < 12.0)
    df = pd.DataFrame({"C_train": 10 ** log_train[keep], "C_test": 10 ** log_test[keep],
                       "score": elo[keep] * np.exp(rng.normal(0.0, 0.003, keep.sum()))})
    res = sl.fit(df, "train-test", y="score", n_jobs=1)
    assert round(res.derived["test_per_10x_train"]) == F.JONES_TEST_PER_10X_TRAIN
    assert res.derived["exchange_rate"] == pytest.approx(-slope, rel=0.01)
    # reading the rate the wrong way round (u_test / u_train) would give ~1/1.18 decades
    assert res.params["u_test"] == pytest.approx(200.0, rel=0.02)


# ------------------------------------------------------------------------------ recovery
def test_train_test_recovers_its_parameters_and_exchange_rate(tt_fit) -> None:
    """1% multiplicative noise: each parameter within 5% of the truth; the exchange rate is
    the closed form u_train/u_test of the truth (1.2) within 5%, with a bootstrap interval
    around the estimate, and agrees with a second method: Jones's own OLS of log10 C_test on
    log10 C_train and the score (its log10 C_train coefficient is minus the rate)."""
    for k, v in TT_TRUE.items():
        assert tt_fit.params[k] == pytest.approx(v, rel=0.05), k
    r_true = TT_TRUE["u_train"] / TT_TRUE["u_test"]
    r = tt_fit.derived["exchange_rate"]
    assert r == pytest.approx(r_true, rel=0.05)
    lo, hi = tt_fit.derived_intervals["exchange_rate"]
    assert lo <= r <= hi and hi - lo < 0.1 * r_true
    assert tt_fit.derived["train_share"] == pytest.approx(r / (1 + r))
    df = _train_test_runs(TT_TRUE)
    A = np.column_stack([np.ones(len(df)), np.log10(df["C_train"]), df["score"]])
    coef = np.linalg.lstsq(A, np.log10(df["C_test"]), rcond=None)[0]
    assert -coef[1] == pytest.approx(r, rel=0.03)
    assert 1 / coef[2] == pytest.approx(tt_fit.params["u_test"], rel=0.03)


def test_coverage_recovers_its_parameters() -> None:
    res = sl.fit(_coverage_runs(COV_TRUE), "coverage", y="coverage", bootstrap=40, n_jobs=1)
    for k, v in COV_TRUE.items():
        assert res.params[k] == pytest.approx(v, rel=0.05), k
        lo, hi = res.intervals[k]
        assert lo <= v <= hi, k
    assert "bound" not in res.warning_codes


def test_coverage_fit_on_a_file_from_the_command_line(cli, tmp_path) -> None:
    path = tmp_path / "coverage.csv"
    _coverage_runs(COV_TRUE).to_csv(path, index=False)
    out = tmp_path / "fit.json"
    # no --y: the coverage law fits its own column (Law.target), not the default loss
    code, _, stderr = cli("fit", str(path), "--law", "coverage", "--json", str(out))
    assert code == 0, stderr
    doc = json.loads(out.read_text())
    assert doc["provenance"]["options"]["y"] == "coverage"
    params = doc["params"]
    assert params["a"] == pytest.approx(COV_TRUE["a"], rel=0.05)
    assert params["b"] == pytest.approx(COV_TRUE["b"], rel=0.05)


# ------------------------------------------------------------------------------ the planner
def _grid_split(params: dict[str, float], target: float, queries: float,
                lo: float = 0.0, hi: float = 30.0) -> tuple[float, float]:
    """Brute force: the cheapest point of a dense grid on log10 C_test in [lo, hi] along the
    iso-score line."""
    e = np.linspace(lo, hi, 300_001)
    t = (target - params["s0"] - params["u_test"] * e) / params["u_train"]
    cost = 10.0**t + queries * 10.0**e
    i = int(np.argmin(cost))
    return float(10.0 ** t[i]), float(10.0 ** e[i])


@pytest.mark.parametrize(("target", "queries"), [(1500.0, 1.0), (2500.0, 1.0),
                                                 (2500.0, 1e6), (4000.0, 1e9)])
def test_planner_matches_a_grid_search(target, queries) -> None:
    pl = PlanLaw(law=get_law("train-test"), params=dict(TT_TRUE))
    plan = plan_test_compute(pl, target, queries=queries)
    assert plan.reachable and plan.binding is None
    ct, ce = _grid_split(TT_TRUE, target, queries)
    assert plan.C_train == pytest.approx(ct, rel=2e-3)
    assert plan.C_test == pytest.approx(ce, rel=2e-3)
    assert plan.total_compute == pytest.approx(ct + queries * ce, rel=1e-6)
    # the split reaches the target, and training gets r/(1+r) of the total
    got = get_law("train-test").predict(TT_TRUE, C_train=plan.C_train, C_test=plan.C_test)
    assert float(got) == pytest.approx(target, rel=1e-9)
    r = TT_TRUE["u_train"] / TT_TRUE["u_test"]
    assert plan.train_share == pytest.approx(r / (1 + r), rel=1e-9)


def test_planner_limits_clip_the_optimum_like_a_restricted_grid_search() -> None:
    pl = PlanLaw(law=get_law("train-test"), params=dict(TT_TRUE))
    free = plan_test_compute(pl, 2500.0)
    floor = free.C_test * 100  # a floor above the free optimum binds
    plan = plan_test_compute(pl, 2500.0, c_test_min=floor)
    assert plan.reachable and plan.binding == "c_test_min"
    ct, ce = _grid_split(TT_TRUE, 2500.0, 1.0, lo=math.log10(floor))
    assert plan.C_test == pytest.approx(ce, rel=2e-3)
    assert plan.C_train == pytest.approx(ct, rel=2e-3)
    assert plan.total_compute > free.total_compute
    cap = free.C_train / 10  # a training cap below the free optimum binds
    plan = plan_test_compute(pl, 2500.0, c_train_max=cap)
    assert plan.reachable and plan.binding == "c_train_max"
    assert plan.C_train == pytest.approx(cap, rel=1e-9)


def test_planner_says_not_reachable_and_why() -> None:
    pl = PlanLaw(law=get_law("train-test"), params=dict(TT_TRUE))
    plan = plan_test_compute(pl, 5000.0, c_train_max=1e12, c_test_max=1e6)
    # the best score within the caps: -3000 + 300*12 + 250*6 = 2100 < 5000
    assert not plan.reachable and plan.C_train is None
    assert "C_train <= 1e+12" in plan.reason and "C_test <= 1e+06" in plan.reason
    free = plan_test_compute(pl, 2500.0)
    plan = plan_test_compute(pl, 2500.0, budget=free.total_compute * 0.99)
    assert not plan.reachable and "budget" in plan.reason
    assert plan_test_compute(pl, 2500.0, budget=free.total_compute * 1.01).reachable


def test_planner_intervals_come_from_the_fit_draws(tt_fit) -> None:
    plan = plan_test_compute(tt_fit, 2500.0, queries=1e4, level=0.9)
    assert plan.reachable and plan.n_draws == 40 and plan.level == 0.9
    assert plan.reachable_fraction == 1.0
    for k in ("C_train", "C_test", "total_compute", "exchange_rate"):
        lo, hi = plan.intervals[k]
        assert lo < hi, k
    lo, hi = plan.intervals["total_compute"]
    assert lo <= plan.total_compute <= hi
    # the draws' own cheapest totals: recomputed one by one
    totals = [plan_test_compute(PlanLaw(law=tt_fit.law, params=d), 2500.0,
                                queries=1e4).total_compute for d in
              (dict(zip(tt_fit.law.param_names, row, strict=True)) for row in tt_fit.draws)]
    q = np.quantile(totals, [0.05, 0.95])
    assert lo == pytest.approx(q[0]) and hi == pytest.approx(q[1])
    # far beyond the fitted range: a warning says so
    plan = plan_test_compute(tt_fit, 6000.0)
    assert any(w.startswith("extrapolation: C_train") for w in plan.warnings)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"target": float("nan")}, "target"),
    ({"target": 2500.0, "queries": 0}, "queries"),
    ({"target": 2500.0, "c_test_min": -1}, "c_test_min"),
    ({"target": 2500.0, "c_test_min": 10.0, "c_test_max": 1.0}, "c_test_min"),
    ({"target": 2500.0, "budget": "lots"}, "budget"),
    ({"target": 2500.0, "level": 1.5}, "level"),
])
def test_planner_rejects_bad_values_naming_the_parameter(kwargs, name) -> None:
    pl = PlanLaw(law=get_law("train-test"), params=dict(TT_TRUE))
    with pytest.raises(ParameterError) as err:
        plan_test_compute(pl, **kwargs)
    assert err.value.parameter == name


def test_planner_needs_the_right_law() -> None:
    with pytest.raises(ParameterError) as err:
        plan_test_compute(PlanLaw(law=get_law("coverage"), params=COV_TRUE), 0.5)
    assert err.value.parameter == "pl"
    with pytest.raises(ParameterError) as err:
        plan_samples(PlanLaw(law=get_law("train-test"), params=TT_TRUE), 0.5)
    assert err.value.parameter == "pl"


def test_samples_for_a_target_coverage() -> None:
    pl = PlanLaw(law=get_law("coverage"), params=dict(COV_TRUE))
    plan = plan_samples(pl, 0.8, flops_per_sample=2e9, queries=500)
    k = plan.samples
    # the closed form and the law agree: coverage(k) is the target
    assert float(get_law("coverage").predict(COV_TRUE, k=k)) == pytest.approx(0.8, rel=1e-12)
    assert plan.samples_whole == math.ceil(k)
    assert plan.coverage_at_whole >= 0.8
    assert plan.C_test == plan.samples_whole * 2e9
    assert plan.inference_compute == 500 * plan.C_test
    with pytest.raises(ParameterError) as err:
        plan_samples(pl, 1.0)
    assert err.value.parameter == "target"
    # a flat curve (b = 0) never gets past its one-sample coverage
    flat = PlanLaw(law=get_law("coverage"), params={"a": -1.0, "b": 0.0})
    assert not plan_samples(flat, 0.5).reachable
    assert samples_for_coverage({"a": -1.0, "b": 0.0}, 0.3) == 0.0


def test_trade_off_of_jones_like_constants() -> None:
    """The closed forms: r = u_train/u_test, 10^r, and the training share r/(1+r)."""
    d = trade_off({"u_train": 300.0, "u_test": 250.0})
    assert d["exchange_rate"] == pytest.approx(1.2)
    assert d["test_per_10x_train"] == pytest.approx(10**1.2)
    assert d["train_share"] == pytest.approx(1.2 / 2.2)


# ------------------------------------------------------------------------------ the command
@pytest.fixture(scope="module")
def tt_fit_json(tmp_path_factory, tt_fit) -> str:
    path = tmp_path_factory.mktemp("tt") / "fit.json"
    tt_fit.save(path)
    return str(path)


def test_plan_test_compute_command(cli, tt_fit_json, tmp_path) -> None:
    out = tmp_path / "plan.json"
    code, stdout, stderr = cli("plan", "--test-compute", "--fit", tt_fit_json,
                               "--target-score", "2500", "--queries", "1e4",
                               "--json", str(out))
    assert code == 0, stderr
    assert "Jones 2021" in stdout
    doc = json.loads(out.read_text())
    assert doc["kind"] == "test-compute" and doc["reachable"]
    plan = plan_test_compute(sl.FitResult.load(tt_fit_json), 2500.0, queries=1e4)
    assert doc["total_compute"] == pytest.approx(plan.total_compute)
    assert doc["intervals"]["total_compute"] == pytest.approx(plan.intervals["total_compute"])
    assert doc["conventions"]["C_test"].startswith("inference FLOPs per query")
    # not reachable is an answer, not an error
    code, stdout, stderr = cli("plan", "--test-compute", "--fit", tt_fit_json,
                               "--target-score", "5000", "--c-train-max", "1e12",
                               "--c-test-max", "1e6", "--json", str(out))
    assert code == 0, stderr
    assert "not reachable" in stdout and json.loads(out.read_text())["reachable"] is False
    # a law given by its parameters
    code, stdout, stderr = cli("plan", "--test-compute", "--law", "train-test", "--params",
                               "s0=-3000,u_train=300,u_test=250", "--target-score", "2500",
                               "--json", str(out))
    assert code == 0, stderr
    assert json.loads(out.read_text())["train_share"] == pytest.approx(1.2 / 2.2)


def test_plan_samples_command(cli, tmp_path) -> None:
    out = tmp_path / "plan.json"
    code, _, stderr = cli("plan", "--test-compute", "--law", "coverage", "--params",
                          "a=-2.2,b=-0.35", "--target-score", "0.8",
                          "--flops-per-sample", "1e12", "--json", str(out))
    assert code == 0, stderr
    doc = json.loads(out.read_text())
    assert doc["samples"] == pytest.approx(samples_for_coverage(COV_TRUE, 0.8))
    assert doc["C_test"] == doc["samples_whole"] * 1e12


@pytest.mark.parametrize(("args", "flag"), [
    (["--target-score", "2500"], "--target-score"),  # without --test-compute
    (["--test-compute"], "--target-score"),  # without a target
    (["--test-compute", "--target-score", "2500", "--queries", "0"], "--queries"),
    (["--test-compute", "--target-score", "2500", "--c-test-min", "-1"], "--c-test-min"),
    (["--test-compute", "--target-score", "2500", "--compute", "1e21"], "--compute"),
    (["--test-compute", "--target-score", "2500", "--target-loss", "2"], "--target-loss"),
    (["--test-compute", "--target-score", "2500", "--flops-per-sample", "1e9"],
     "--flops-per-sample"),
    (["--test-compute", "--target-score", "2500", "--c-test-min", "10", "--c-test-max", "1"],
     "--c-test-min"),
    (["--test-compute", "--target-score", "2500", "--confidence", "2"], "--confidence"),
])
def test_plan_test_compute_errors_name_the_option(cli, tt_fit_json, args, flag) -> None:
    code, _, stderr = cli("plan", "--fit", tt_fit_json, *args)
    assert code == 2
    assert flag in stderr, stderr


def test_plan_test_compute_needs_a_test_time_law(cli, tmp_path) -> None:
    code, _, stderr = cli("plan", "--test-compute", "--law", "chinchilla", "--target-score",
                          "2.0")
    assert code == 2 and "--law" in stderr and "train-test or coverage" in stderr
    code, _, stderr = cli("plan", "--test-compute", "--law", "coverage", "--params",
                          "a=-2.2,b=-0.35", "--target-score", "1.5")
    assert code == 2 and "--target-score" in stderr

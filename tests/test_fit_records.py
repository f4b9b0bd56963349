"""The fitting package's insides (issue 15): the objective's per-point functions against closed
forms and finite differences, the fit problem, the typed records and their JSON, diagnostic
codes, and the bootstrap and backtest on the new API.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglab as sl
from fixtures import published as F
from scalinglab.errors import InputError, ParameterError
from scalinglab.fit import FitResult, backtest, run_bootstrap
from scalinglab.fit.objectives import DEFAULT_DELTA, Objective, huber, weighted_huber_loss
from scalinglab.fit.optimize import multistart
from scalinglab.fit.problem import FitProblem, Held
from scalinglab.fit.records import (
    CODES,
    BacktestRecord,
    BootstrapRecord,
    Diagnostic,
    OptimizerRecord,
)
from scalinglab.laws import get_law

# Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", Sec. 3.3 / App. D.2
# (Eq. 3 and Eq. 11): the Huber threshold on log residuals, delta = 10^-3
HOFFMANN_DELTA = F.HUBER_DELTA

R = np.array([-0.05, -3e-3, -1e-3 - 1e-5, -4e-4, 0.0, 2.5e-4, 9e-4, 1.1e-3, 7e-3, 0.2])


def _fd(f, r: np.ndarray, h: float = 1e-7) -> np.ndarray:
    """Central finite difference of ``f`` at ``r``."""
    return (f(r + h) - f(r - h)) / (2 * h)


# ---------------------------------------------------------------- Objective


def test_default_delta_is_hoffmanns() -> None:
    assert DEFAULT_DELTA == HOFFMANN_DELTA
    assert Objective().delta == HOFFMANN_DELTA and Objective().kind == "huber"


def test_huber_loss_closed_form() -> None:
    # Huber_delta(r) = r^2/2 for |r| <= delta, delta (|r| - delta/2) beyond (Hoffmann Eq. 11)
    ob = Objective("huber", 1e-3)
    got = ob.loss(np.array([5e-4, -5e-4, 3e-3, -3e-3]))
    want = np.array([1.25e-7, 1.25e-7, 1e-3 * (3e-3 - 5e-4), 1e-3 * (3e-3 - 5e-4)])
    np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(Objective("mse").loss(np.array([0.1, -2.0])), [0.01, 4.0])


@pytest.mark.parametrize("kind", ["huber", "mse", "huber-likelihood"])
def test_psi_is_the_derivative_of_the_loss(kind: str) -> None:
    ob = Objective(kind, 1e-3)
    np.testing.assert_allclose(ob.psi(R), _fd(ob.loss, R, 1e-9), rtol=1e-6, atol=1e-12)


def test_psi_closed_forms() -> None:
    np.testing.assert_array_equal(Objective("huber", 1e-3).psi(R), np.clip(R, -1e-3, 1e-3))
    np.testing.assert_array_equal(Objective("mse").psi(R), 2 * R)


@pytest.mark.parametrize("kind", ["huber", "mse"])
def test_curvature_is_the_second_derivative_away_from_the_kink(kind: str) -> None:
    ob = Objective(kind, 1e-3)
    away = R[np.abs(np.abs(R) - 1e-3) > 1e-5]
    np.testing.assert_allclose(ob.curvature(away), _fd(ob.psi, away, 1e-7), atol=1e-6)


@pytest.mark.parametrize("kind", ["huber", "mse"])
def test_irls_weight_gives_a_quadratic_majoriser(kind: str) -> None:
    # q(r) = rho(r0) + psi(r0)(r - r0) + c(r0)(r - r0)^2 / 2 touches rho at r0 and lies above it
    ob = Objective(kind, 1e-3)
    r = np.linspace(-0.02, 0.02, 4001)
    for r0 in R:
        c = float(ob.irls_weight(np.array([r0]))[0])
        q = ob.loss(np.array([r0]))[0] + ob.psi(np.array([r0]))[0] * (r - r0) + 0.5 * c * (
            r - r0) ** 2
        assert np.all(q >= ob.loss(r) - 1e-15), r0
    np.testing.assert_allclose(Objective("huber", 1e-3).irls_weight(np.array([5e-4, -4e-3])),
                               [1.0, 0.25])
    np.testing.assert_array_equal(Objective("mse").irls_weight(R), np.full(R.shape, 2.0))


def test_value_sums_the_weighted_loss_and_marks_non_finite() -> None:
    ob = Objective("huber", 1e-3)
    w = np.array([1.0, 2.0, 0.5])
    rows = np.array([[1e-4, -2e-3, 5e-2], [0.0, np.nan, 0.0]])
    got = ob.value(rows, w)
    assert got[0] == pytest.approx(0.5e-8 + 2 * 1e-3 * 1.5e-3 + 0.5 * 1e-3 * (5e-2 - 5e-4),
                                   rel=1e-13)
    assert got[1] == np.inf


def test_likelihood_steps_use_the_plain_huber_loss() -> None:
    ob = Objective("huber-likelihood", 1e-3)
    assert ob.base == Objective("huber", 1e-3) and ob.likelihood and not ob.base.likelihood
    assert ob.scaled(0.01) == Objective("huber", 1e-5)
    np.testing.assert_array_equal(ob.psi(R), ob.base.psi(R))


def test_weighted_huber_loss_is_scipys_form_of_the_weighted_sum() -> None:
    # least_squares minimises 0.5 sum rho(f^2); with the weighted loss that is sum w Huber(f)
    w = np.array([0.3, 1.0, 2.5, 4.0])
    f = np.array([2e-4, -3e-3, 8e-4, 0.05])
    rho = weighted_huber_loss(w, 1e-3)(f * f)
    assert 0.5 * rho[0].sum() == pytest.approx(float(np.sum(w * huber(f, 1e-3))), rel=1e-13)
    z = f * f
    fd = (weighted_huber_loss(w, 1e-3)(z * (1 + 1e-7))[0]
          - weighted_huber_loss(w, 1e-3)(z * (1 - 1e-7))[0]) / (2e-7 * z)
    np.testing.assert_allclose(rho[1], fd, rtol=1e-6)
    scale, loss, f_scale = Objective("huber").least_squares_loss(w)
    assert callable(loss) and f_scale == 1.0 and np.all(scale == 1.0)
    assert Objective("huber").least_squares_loss(np.ones(3))[1:] == ("huber", 1e-3)
    scale, loss, _ = Objective("mse").least_squares_loss(w)
    assert loss == "linear" and np.allclose(scale**2, w)


def test_objective_errors_name_the_parameter() -> None:
    with pytest.raises(ParameterError, match="objective 'hubr'") as e:
        Objective("hubr")
    assert e.value.parameter == "loss"
    with pytest.raises(ParameterError) as e:
        Objective("huber", 0.0)
    assert e.value.parameter == "delta"


# ---------------------------------------------------------------- FitProblem


def _synthetic(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Runs from a known Chinchilla-form law (E 1.8, A 400, B 2000, alpha 0.34, beta 0.37)
    with 0.5% log-normal noise."""
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), n))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), n))
    loss = (1.8 + 400 / N**0.34 + 2000 / D**0.37) * np.exp(0.005 * rng.standard_normal(n))
    return pd.DataFrame({"N": N, "D": D, "C": 6 * N * D, "loss": loss})


def test_fit_problem_from_a_table_and_its_subsets() -> None:
    df = _synthetic(20).assign(weight=np.linspace(1, 2, 20))
    law = get_law("chinchilla")
    pr = FitProblem.from_frame(df, law, "loss", {"E": 1.8})
    assert pr.X.shape == (2, 20) and pr.n == 20 and pr.n_free == 4
    np.testing.assert_array_equal(pr.logy, np.log(df["loss"]))
    np.testing.assert_array_equal(pr.w, df["weight"])
    assert isinstance(pr.free_law, Held) and pr.free_law.param_names == ("A", "B", "alpha",
                                                                         "beta")
    sub = pr.subset(np.array([3, 3, 7]))
    assert sub.n == 3 and sub.fixed == {"E": 1.8}
    np.testing.assert_array_equal(sub.w, df["weight"].to_numpy()[[3, 3, 7]])
    full = pr.full(np.zeros(4))
    assert full.shape == (5,) and law.from_internal(full)["E"] == pytest.approx(1.8)
    assert FitProblem.from_frame(df, law).free_law is law  # nothing held
    with pytest.raises(ParameterError):
        FitProblem(law, pr.X, pr.logy[:5], pr.w)


def test_multistart_on_a_problem_recovers_the_generating_law() -> None:
    df = _synthetic(80, seed=1)
    law = get_law("chinchilla")
    info = multistart(FitProblem.from_frame(df, law), Objective())
    p = law.from_internal(info.z)
    assert p["alpha"] == pytest.approx(0.34, abs=0.05) and p["E"] == pytest.approx(1.8, abs=0.1)
    assert info.converged and info.n_scan_points == 80


# ---------------------------------------------------------------- Diagnostic


def test_diagnostic_is_its_message_with_a_code() -> None:
    d = Diagnostic("few-points", "few points: 4 points for 5 parameters; intervals will be wide")
    assert d == "few points: 4 points for 5 parameters; intervals will be wide"
    assert d.code == "few-points" and d.startswith("few points") and "4 points" in d
    back = pickle.loads(pickle.dumps(d))
    assert back == d and back.code == "few-points" and isinstance(back, Diagnostic)
    assert json.loads(json.dumps([d])) == [str(d)]
    assert d.to_dict() == {"code": "few-points", "message": str(d)}
    assert Diagnostic.of(d.to_dict()).code == "few-points"


def test_plain_messages_get_the_code_their_prefix_spells() -> None:
    assert Diagnostic.of("lack of fit: RMS log residual 0.2").code == "lack-of-fit"
    assert Diagnostic.of("not identified: parameter RD: ...").code == "not-identified"
    assert Diagnostic.of("misfit: budget 1e+20 (3 points)").code == "misfit"
    assert Diagnostic.of("something else: entirely").code == "note"
    assert Diagnostic.of("no colon at all").code == "note"
    assert set(CODES) >= {"outliers", "misfit", "bound", "not-identified", "few-points",
                          "ill-conditioned", "levels", "collapsed", "fragile-optimum"}


def test_fit_warnings_carry_codes() -> None:
    # 8 points at 2 distinct N for 5 parameters: few points and too few N levels
    df = _synthetic(8, seed=2)
    df["N"] = np.where(np.arange(8) % 2 == 0, 1e8, 1e9)
    df["loss"] = 1.8 + 400 / df["N"] ** 0.34 + 2000 / df["D"] ** 0.37
    res = sl.fit(df, "chinchilla")
    assert all(isinstance(w, Diagnostic) and w.code in CODES for w in res.warnings)
    assert {"few-points", "levels"} <= set(res.warning_codes)
    levels = next(w for w in res.warnings if w.code == "levels")
    assert "only 2 distinct N level(s)" in levels  # the message users see is unchanged


# ---------------------------------------------------------------- records


def test_records_round_trip_and_read_as_mappings() -> None:
    opt = OptimizerRecord(n_starts=4500, n_refined=16, n_at_best=6, converged=True,
                          grad_norm=1.5e-9, seconds=0.25)
    d = opt.to_dict()
    assert list(d) == ["n_starts", "n_refined", "n_at_best", "converged", "grad_norm",
                       "seconds"]
    assert OptimizerRecord.from_dict(json.loads(json.dumps(d))) == opt
    assert opt["n_starts"] == 4500 and opt.get("n_at_best") == 6 and opt.get("x") is None
    assert dict(opt) == d and "converged" in opt
    empty = BootstrapRecord.from_dict({})
    assert not empty and empty.to_dict() == {} and empty.resamples is None
    assert BootstrapRecord.from_dict(None) == empty
    kept = BootstrapRecord.from_dict({"resamples": "10", "unit": "points", "future": [1, 2]})
    assert kept.resamples == 10 and kept.extra == {"future": [1, 2]}
    assert kept.to_dict() == {"resamples": 10, "unit": "points", "future": [1, 2]}
    bt = BacktestRecord(threshold_C=1e20, n_train=10, n_test=2, points=[{"observed": 3.0}])
    assert list(bt.to_dict())[-1] == "points"
    assert BacktestRecord.from_dict(bt.to_dict()) == bt
    with pytest.raises(TypeError):
        OptimizerRecord.from_dict({"converged": "yes"})
    assert str(opt) == str(d)  # text written from the former dicts reads the same


def _fit_with_everything() -> FitResult:
    df = _synthetic(60, seed=3)
    thr = float(np.quantile(df["C"], 0.85))
    return sl.fit(df, "chinchilla", bootstrap=4, n_jobs=1, holdout_above=thr, seed=5)


def test_fit_result_json_round_trip_keeps_records_and_codes(tmp_path: Path) -> None:
    res = _fit_with_everything()
    assert isinstance(res.optimizer, OptimizerRecord) and res.optimizer.n_starts
    assert isinstance(res.bootstrap, BootstrapRecord) and res.bootstrap.resamples == 4
    assert res.bootstrap.seed == 5 and res.bootstrap.unit == "points"
    assert isinstance(res.backtest, BacktestRecord) and res.backtest.n_test == len(
        res.backtest.points)
    res.warnings.append(Diagnostic("fixed", "fixed: a note"))
    path = tmp_path / "fit.json"
    res.save(path)
    d = json.loads(path.read_text())
    assert d["warning_codes"] == res.warning_codes and d["warnings"] == list(res.warnings)
    assert d["optimizer"] == json.loads(json.dumps(res.optimizer.to_dict()))
    back = FitResult.load(path)
    assert back.optimizer == res.optimizer and back.bootstrap == res.bootstrap
    assert back.backtest is not None and back.backtest.to_dict().keys() == \
        res.backtest.to_dict().keys()
    assert back.backtest.mean_abs_rel_error == res.backtest.mean_abs_rel_error
    assert back.warnings == res.warnings and back.warning_codes == res.warning_codes
    assert back.to_json() == res.to_json()


def test_older_json_without_codes_or_records_loads(tmp_path: Path) -> None:
    res = sl.fit(_synthetic(12, seed=4), "chinchilla")
    d = res.to_json()
    del d["warning_codes"]
    d.pop("optimizer"), d.pop("bootstrap"), d.pop("backtest")
    d["warnings"] = ["few points: 12 points for 5 parameters; intervals will be wide",
                     "a free note"]
    back = FitResult.from_json(d)
    assert back.warning_codes == ["few-points", "note"]
    assert not back.optimizer and not back.bootstrap and back.backtest is None
    assert "optimiser:" not in back.summary()
    d["warning_codes"] = ["few-points"]  # not one per warning
    with pytest.raises(InputError, match="warning_codes"):
        FitResult.from_json(d)
    d["warning_codes"], d["optimizer"] = ["few-points", "note"], {"n_starts": "many"}
    with pytest.raises(InputError, match="optimizer"):
        FitResult.from_json(d)


def test_fit_result_accepts_plain_dict_records() -> None:
    res = FitResult(law=get_law("chinchilla"), params=dict.fromkeys(
        ("E", "A", "B", "alpha", "beta"), 1.0), objective=0.0, optimizer={"n_starts": 3},
        warnings=["bound: parameter E is at its bound 0"])
    assert isinstance(res.optimizer, OptimizerRecord) and res.optimizer.n_starts == 3
    assert res.warning_codes == ["bound"] and res.unidentified() == res.warnings


# ---------------------------------------------------------------- bootstrap and backtest


def test_run_bootstrap_on_a_problem_matches_the_fits_draws() -> None:
    df = _synthetic(40, seed=6)
    res = sl.fit(df, "chinchilla", bootstrap=3, seed=11, n_jobs=1)
    pr = FitProblem.from_frame(df, get_law("chinchilla"))
    draws = run_bootstrap(pr, Objective(), 3, seed=11, n_jobs=1)
    np.testing.assert_array_equal(draws, res.draws)
    other = run_bootstrap(pr, Objective(), 3, seed=12, n_jobs=1)
    assert not np.array_equal(other, draws)


def test_backtest_resamples_the_scatter_with_the_given_seed() -> None:
    df = _synthetic(40, seed=7)
    law = get_law("chinchilla")
    params = {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.37}
    draws = np.array([[1.8, 400.0, 2000.0, 0.34, 0.37], [1.75, 420.0, 1900.0, 0.35, 0.36]])
    resid = np.random.default_rng(0).normal(0, 0.01, 50)
    test = df.iloc[:10]

    def lo(seed: int) -> np.ndarray:
        bt = backtest(law, params, test, "loss", 1e20, 30, draws, 0.95, resid, seed=seed)
        return np.array([p["lo"] for p in bt.points])

    np.testing.assert_array_equal(lo(3), lo(3))
    assert not np.array_equal(lo(3), lo(4))

"""The notebook API of a fit: a one-screen ``repr``, ``summary()``, ``to_frame()``,
``_repr_html_``, ``predict`` on DataFrames and arrays, and plans made from the
:class:`FitResult` in memory (no JSON round trip).

Issue examples: ``repr(FitResult)`` was 12,000 characters; ``res.predict(df)`` raised
TypeError; ``plan_compute(res, 1e23)`` failed on an in-memory FitResult.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglab as sl
from scalinglab.errors import ParameterError
from scalinglab.fit import FitResult
from scalinglab.laws import chinchilla_allocation, get_law
from scalinglab.laws import published as pub
from scalinglab.plan import (
    allocation_table,
    load_fit,
    optimal_allocation,
    plan_compute,
    plan_for_loss,
    plan_for_params,
    plan_inference,
)

TRUE = dict(pub.CHINCHILLA_HOFFMANN)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """Runs at 5 budgets, 7 sizes each, loss from Hoffmann et al.'s law with 0.3% noise."""
    law = get_law("chinchilla")
    rng = np.random.default_rng(0)
    rows = []
    for C in (1e18, 3e18, 1e19, 3e19, 1e20):
        n0, _ = chinchilla_allocation(TRUE, C)
        for f in np.geomspace(1 / 8, 8, 7):
            N = float(n0 * f)
            D = C / (6 * N)
            loss = float(law.predict(TRUE, N=N, D=D)) * (1 + rng.normal(0, 0.003))
            rows.append({"N": N, "D": D, "C": C, "loss": loss})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def res(data: pd.DataFrame) -> FitResult:
    return sl.fit(data, "chinchilla", bootstrap=30, seed=0, n_jobs=1)


# ---------------------------------------------------------------------------- display
def test_repr_is_one_screen(res: FitResult) -> None:
    text = repr(res)
    lines = text.splitlines()
    assert lines[0] == (f"FitResult(law='chinchilla', n_points=35, loss='huber', "
                        f"objective={res.objective:.6g})")
    assert len(lines) <= 25 and len(text) < 2500
    assert all(len(line) <= 110 for line in lines)
    for name, value in res.params.items():  # each estimate with its interval
        lo, hi = res.intervals[name]
        line = next(ln for ln in lines if ln.strip().startswith(f"{name} "))
        assert f"{value:.5g}" in line and f"95% [{lo:.5g}, {hi:.5g}]" in line
    assert "identified: no warning says otherwise" in text
    assert "30 resamples" in text


def test_repr_clips_many_long_warnings_and_flags_an_unidentified_fit(res: FitResult) -> None:
    long = [f"outliers: warning {i} " + "x" * 300 for i in range(10)]
    noisy = replace(res, warnings=["bound: parameter beta at its upper bound", *long])
    text = repr(noisy)
    assert len(text) < 2500 and len(text.splitlines()) <= 25
    assert "NOT IDENTIFIED" in text and "... 8 more" in text
    assert "x" * 300 not in text
    assert "x" * 300 in noisy.summary()  # summary() has them in full
    html = replace(res, warnings=["misfit: <script>alert(1)</script>"])._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_summary_and_html(res: FitResult) -> None:
    s = res.summary()
    assert s.startswith("Fit of law chinchilla: L = E + A/N^alpha + B/D^beta")
    for name in res.params:
        assert f"\n{name} " in s
    assert "objective (huber, delta = 0.001)" in s and "30 resamples" in s
    html = res._repr_html_()
    assert html.startswith("<div>") and html.count("<tr>") == 1 + 5 + len(res.derived)
    assert "95% interval" in html


def test_to_frame(res: FitResult) -> None:
    df = res.to_frame()
    assert list(df.index) == [*res.law.param_names, *res.derived]
    assert list(df.columns) == ["kind", "estimate", "lower", "upper"]
    for name, value in res.params.items():
        assert df.loc[name, "estimate"] == value
        assert (df.loc[name, "lower"], df.loc[name, "upper"]) == res.intervals[name]
    # the derived exponents: a = beta/(alpha+beta) (Hoffmann et al. Eq. 4)
    al, be = res.params["alpha"], res.params["beta"]
    assert df.loc["a", "estimate"] == pytest.approx(be / (al + be))
    assert df.attrs == {"law": "chinchilla", "confidence": 0.95}
    assert list(res.to_frame(derived=False).index) == list(res.law.param_names)


def test_to_frame_with_a_profile_and_held_parameters(data: pd.DataFrame) -> None:
    r = sl.fit(data, "chinchilla", fixed={"E": TRUE["E"]}, profile=["alpha"])
    df = r.to_frame()
    assert bool(df.loc["E", "held"]) and not bool(df.loc["alpha", "held"])
    assert df.loc["alpha", "status"] == "identified"
    lo, hi = r.profile_intervals["alpha"]
    assert (df.loc["alpha", "profile_lower"], df.loc["alpha", "profile_upper"]) == (lo, hi)
    assert lo < TRUE["alpha"] < hi
    assert "(held)" in repr(r) and f"profile [{lo:.5g}, {hi:.5g}]" in repr(r)


# ---------------------------------------------------------------------------- predict
def test_predict_accepts_frames_dicts_arrays_and_keywords(res: FitResult,
                                                          data: pd.DataFrame) -> None:
    p = res.params
    expect = p["E"] + p["A"] / data["N"] ** p["alpha"] + p["B"] / data["D"] ** p["beta"]
    np.testing.assert_allclose(res.predict(data), expect, rtol=1e-12)
    np.testing.assert_allclose(res.predict(data[["D", "N"]]), expect, rtol=1e-12)
    np.testing.assert_allclose(res.predict({"N": data["N"].to_numpy(),
                                            "D": data["D"].to_numpy()}), expect, rtol=1e-12)
    np.testing.assert_allclose(res.predict(data[["N", "D"]].to_numpy()), expect, rtol=1e-12)
    np.testing.assert_allclose(res.predict(N=data["N"], D=data["D"]), expect, rtol=1e-12)


def test_predict_says_what_is_missing(res: FitResult, data: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match=r"no column D \(columns: N, C\)") as exc:
        res.predict(data[["N", "C"]])
    assert exc.value.parameter == "data"
    with pytest.raises(ParameterError, match=r"shape \(n, 2\), got \(3, 3\)"):
        res.predict(np.ones((3, 3)))
    with pytest.raises(ParameterError, match="not both"):
        res.predict(data, N=1.0)


def test_predict_one_variable_law_from_a_1d_array() -> None:
    N = np.geomspace(1e6, 1e9, 12)
    df = pd.DataFrame({"N": N, "loss": 2.0 + 400.0 * N ** -0.3})
    r = sl.fit(df, "saturating-power")
    np.testing.assert_allclose(r.predict(N), r.predict(df), rtol=1e-12)
    np.testing.assert_allclose(r.predict(df), df["loss"], rtol=1e-3)


# ---------------------------------------------------------------------------- plans
def test_plan_compute_takes_the_fit_in_memory(res: FitResult, tmp_path: Path) -> None:
    p = plan_compute(res, 1e23)
    res.save(tmp_path / "fit.json")
    q = plan_compute(load_fit(tmp_path / "fit.json"), 1e23)  # the JSON round trip
    assert (p.N_opt, p.D_opt, p.loss) == (q.N_opt, q.D_opt, q.loss)
    assert p.intervals == q.intervals and p.level == 0.95 and p.n_draws == 30
    assert p.warnings == q.warnings
    n, d = chinchilla_allocation(res.params, 1e23)
    assert (p.N_opt, p.D_opt) == pytest.approx((float(n), float(d)), rel=1e-12)


def test_every_plan_function_takes_the_fit(res: FitResult) -> None:
    target = plan_for_loss(res, 2.2)
    assert plan_compute(res, target.compute).loss == pytest.approx(2.2, rel=1e-9)
    assert plan_for_params(res, 1e10).N_opt == pytest.approx(1e10, rel=1e-9)
    N, D, L = optimal_allocation(res, [1e21, 1e22])
    assert np.all(np.diff(L) < 0)  # more compute, lower optimal loss
    assert np.allclose(6 * N * D, [1e21, 1e22])
    rows = allocation_table(res, [1e21])
    assert rows[0]["N_opt"] == pytest.approx(float(N[0]))
    inf = plan_inference(res, 1e12, compute=1e22)
    assert inf.saving > 0 and inf.N_opt < inf.chinchilla["N_opt"]


def test_plan_rejects_other_things_by_parameter_name() -> None:
    with pytest.raises(ParameterError, match=r"expected a FitResult .* got str") as exc:
        plan_compute("fit.json", 1e23)  # type: ignore[arg-type]
    assert exc.value.parameter == "pl"

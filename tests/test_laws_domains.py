"""The densing law and the vision / translation laws (issue 16 parts 3-4).

Published values carry their source next to them. None of the fitted constants of Zhai et al.,
Ghorbani et al. or Gordon et al. could be traced to a printed table or a repository file, so
those laws are tested on closed forms, a second fitting method on the published runs
(Gordon et al.'s own ``curve_fit`` call) and synthetic recovery.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from cli_checks import one_error
from fixtures import published as F
from scalinglab import datasets
from scalinglab.cli import main
from scalinglab.errors import InputError, ParameterError
from scalinglab.fit import fit
from scalinglab.laws import get_law, numeric_jacobian
from scalinglab.laws import published as pub
from scalinglab.laws.densing import (
    DAYS_PER_MONTH,
    ReferenceFamily,
    doubling_time,
    envelope_mask,
    fit_densing,
)
from scalinglab.laws.domains import encdec_split, gordon_bleu, gordon_param_count
from scalinglab.observations import map_columns

# ----------------------------------------------------------------------------- densing law


def test_densing_published_doubling_times() -> None:
    x = F.DENSING_XIAO
    # Xiao et al. 2024 (arXiv 2412.04315v2), Sec. 3.3: "A ~= 0.0073, which implies that the
    # density ... doubles approximately every ln(2)/A ~= 95 days".
    assert round(doubling_time(x["A_per_day"])) == x["doubling_days"]
    assert pub.DENSING_XIAO_DOUBLING_DAYS == round(doubling_time(pub.DENSING_XIAO_A_PER_DAY))
    # Same paper, Figure 1 caption: "A ~= 0.007 ... doubles approximately every 3.3 months".
    assert round(doubling_time(x["fig1_A_per_day"], unit="month"), 1) == x[
        "fig1_doubling_months"]
    # Sec. 3.4 / Fig. 4: A ~= 0.0048 before ChatGPT, 0.0073 after: "increased by 50%".
    assert round(x["A_per_day"] / x["pre_chatgpt_A_per_day"] - 1, 1) == 0.5
    # The Nature Machine Intelligence version's 3.5 months corresponds to A ~= 0.0065 per day.
    assert round(math.log(2) / (x["nmi_doubling_months"] * DAYS_PER_MONTH), 4) == 0.0065
    assert doubling_time(-0.001) == math.inf


def _synthetic_densities(A: float, B: float, noise: float, seed: int) -> pd.DataFrame:
    """Record-setting models on the trend (multiplicative noise ``noise``) and the rest well
    below it; dates are days since 2023-02-24 (Llama-1's release, the paper's t = 0)."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.choice(np.arange(0, 720), size=60, replace=False)).astype(float)
    frontier = np.zeros(t.size, bool)
    frontier[::3] = True
    rho = np.exp(A * t + B) * np.exp(rng.normal(0.0, noise, t.size))
    rho[~frontier] *= rng.uniform(0.05, 0.6, (~frontier).sum())
    dates = pd.Timestamp("2023-02-24") + pd.to_timedelta(t, unit="D")
    return pd.DataFrame({"model": [f"m{i}" for i in range(t.size)],
                         "date": dates.strftime("%Y-%m-%d"), "density": rho,
                         "frontier": frontier})


def test_densing_recovers_trend_from_envelope() -> None:
    df = _synthetic_densities(A=0.0073, B=-2.3, noise=0.01, seed=3)
    res = fit_densing(df, origin="2023-02-24")
    assert set(res.envelope) == set(df.loc[df["frontier"], "model"])
    assert res.A == pytest.approx(0.0073, rel=0.05)
    assert res.B == pytest.approx(-2.3, rel=0.05)
    assert res.doubling_days == pytest.approx(math.log(2) / 0.0073, rel=0.05)
    lo, hi = res.doubling_days_ci
    assert lo < math.log(2) / 0.0073 < hi
    assert res.identified and res.r2 > 0.99
    assert res.conventions["A"] == "per day"
    json.dumps(res.to_json())
    # all models instead of the envelope: the laggards pull the fit down and scatter it
    every = fit_densing(df, origin="2023-02-24", envelope=False)
    assert every.r2 < res.r2


def test_densing_reference_family_two_step() -> None:
    ref = ReferenceFamily(a=2.0, alpha=0.3, b=5.0, beta=0.25, c=80.0, gamma=-12.0, l=0.6,
                          d=10.0)
    N = np.array([1e8, 1e9, 7e9, 7e10])
    S = ref.score(ref.loss(N))
    # the inversion (Eq. 4) gives back the size that produced the score (Eqs. 2-3)
    np.testing.assert_allclose(ref.effective_params(S), N, rtol=1e-9)
    np.testing.assert_allclose(ref.density(S, N / 2), 2.0, rtol=1e-9)
    assert np.isnan(ref.effective_params(95.0))  # above the sigmoid's ceiling c + d = 90
    # a table of (date, N, score): a model half the size reaching the same score is twice as
    # dense, so scores from ever-smaller models doubling every 100 days give A = ln 2 / 100
    t = np.arange(0, 500, 50.0)
    N_model = 7e9 * 2.0 ** (-t / 100.0)
    table = pd.DataFrame({"date": (pd.Timestamp("2024-01-01")
                                   + pd.to_timedelta(t, unit="D")).strftime("%Y-%m-%d"),
                          "N": N_model, "score": np.full(t.size, float(ref.score(ref.loss(7e9))))})
    res = fit_densing(table, reference=ref)
    assert res.doubling_days == pytest.approx(100.0, rel=1e-6)


def test_densing_errors_name_the_problem() -> None:
    df = _synthetic_densities(A=0.0073, B=-2.3, noise=0.01, seed=3)
    bad = df.copy()
    bad.loc[4, "date"] = "spring"
    with pytest.raises(InputError, match=r"row 5.*'date'.*not a date"):
        fit_densing(bad)
    bad = df.copy()
    bad.loc[2, "density"] = -1.0
    with pytest.raises(InputError, match=r"row 3.*'density'"):
        fit_densing(bad)
    with pytest.raises(InputError, match="no density column"):
        fit_densing(df.drop(columns="density"))
    with pytest.raises(ParameterError, match="confidence"):
        fit_densing(df, confidence=1.5)
    with pytest.raises(ParameterError, match="origin"):
        fit_densing(df, origin="someday")
    with pytest.raises(ParameterError, match="alpha"):
        ReferenceFamily(a=1, alpha=-1, b=1, beta=1, c=1, gamma=1, l=0, d=0)
    two = df.iloc[[0, 3]]
    res = fit_densing(two)
    assert not res.identified and "not identified" in res.warnings[0]


def test_envelope_mask_running_maximum() -> None:
    t = np.array([0.0, 10, 20, 30, 40])
    y = np.array([1.0, 0.5, 2.0, 1.9, 3.0])
    assert envelope_mask(t, y).tolist() == [True, False, True, False, True]


# ----------------------------------------------------------------------------- laws


@pytest.mark.parametrize("name,params,X", [
    ("zhai", {"a": 0.26, "b": 0.35, "c": 0.09, "d": 0.01},
     np.geomspace(1e-3, 1e4, 9)[None, :]),
    ("nmt-encdec", {"alpha": 0.8, "p_enc": 0.25, "p_dec": 0.45, "L_inf": 1.2},
     np.array([np.geomspace(1e7, 1e9, 6), np.geomspace(1e9, 1e7, 6)])),
    ("gordon-nmt", {"Nc": 8.8e10, "Dc": 5e6, "alphaN": 0.07, "alphaD": 0.3},
     np.array([np.geomspace(1e6, 1e8, 6), np.geomspace(1e6, 1e9, 6)])),
])
def test_jacobians_match_finite_differences(name: str, params: dict[str, float],
                                            X: np.ndarray) -> None:
    law = get_law(name)
    z = law.to_internal(params)[None, :]
    _, jac = law.log_value_and_jac(z, X)
    np.testing.assert_allclose(jac, numeric_jacobian(law, z, X), atol=1e-6)


def test_zhai_closed_form_and_limits() -> None:
    law = get_law("zhai")
    p = {"a": 0.26, "b": 0.35, "c": 0.09, "d": 0.01}
    C = np.array([0.0, 1.0, 1e12])
    E = law.predict(p, C=C)
    assert E[0] == pytest.approx(0.09 + 0.26 * 0.01 ** -0.35, rel=1e-12)
    assert E[1] == pytest.approx(0.09 + 0.26 * 1.01 ** -0.35, rel=1e-12)
    assert E[2] == pytest.approx(0.09, rel=1e-3)  # saturates at the floor c
    assert law.derived(p)["E_at_zero_compute"] == pytest.approx(E[0])


def test_encdec_optimal_split_matches_numeric_minimum() -> None:
    p = {"alpha": 0.8, "p_enc": 0.25, "p_dec": 0.45, "L_inf": 1.2}
    law = get_law("nmt-encdec")
    total = 4e8
    res = optimize.minimize_scalar(
        lambda f: float(law.predict(p, N_enc=f * total, N_dec=(1 - f) * total)),
        bounds=(1e-3, 1 - 1e-3), method="bounded", options={"xatol": 1e-10})
    ne, nd = encdec_split(total, p["p_enc"], p["p_dec"])
    assert ne / total == pytest.approx(res.x, abs=1e-6)
    assert ne + nd == pytest.approx(total)
    assert law.derived(p) == {"encoder_share_opt": pytest.approx(0.25 / 0.7),
                              "p_total": pytest.approx(0.7)}
    # scaling both sides by k scales the reducible loss by k^-(p_enc + p_dec)
    r1 = float(law.predict(p, N_enc=1e8, N_dec=2e8)) - 1.2
    r2 = float(law.predict(p, N_enc=1e9, N_dec=2e9)) - 1.2
    assert r2 / r1 == pytest.approx(10 ** -0.7)
    with pytest.raises(ParameterError, match="N_enc_ref"):
        type(law)(N_enc_ref=0.0)


def test_gordon_helpers() -> None:
    # mitchellgordon95/mt-scaling plots/main.py @15e80fe: params = 2 L (4 d^2 + 2 d ff)
    assert float(gordon_param_count(6, 512, 2048)) == 2 * 6 * (4 * 512**2 + 2 * 512 * 2048)
    assert float(gordon_bleu(0.0, C=50.0, k=-0.5)) == 50.0
    df = datasets.load("gordon2021")
    assert len(df) == 240 and set(df["group"]) == {"deen", "ruen", "zhen"}
    assert df["N"].iloc[1] == pytest.approx(gordon_param_count(6, 624, 2496))


def test_column_synonyms_for_encoder_and_decoder() -> None:
    df = map_columns(pd.DataFrame({"encoder_params": [1.0], "dec_params": [2.0], "loss": [3.0]}))
    assert {"N_enc", "N_dec"} <= set(df.columns)


# ----------------------------------------------------------------------------- fits


def _noisy(y: np.ndarray, seed: int, sd: float = 0.01) -> np.ndarray:
    return y * np.exp(np.random.default_rng(seed).normal(0.0, sd, y.shape))


def test_zhai_synthetic_recovery() -> None:
    true = {"a": 0.26, "b": 0.35, "c": 0.09, "d": 0.01}
    C = np.geomspace(1e-3, 1e4, 120)
    E = _noisy(get_law("zhai").predict(true, C=C), seed=0)
    res = fit(pd.DataFrame({"C": C, "error": E}), "zhai", y="error", bootstrap=0)
    for k, v in true.items():
        assert res.params[k] == pytest.approx(v, rel=0.05), k


def test_nmt_encdec_synthetic_recovery() -> None:
    true = {"alpha": 0.8, "p_enc": 0.25, "p_dec": 0.45, "L_inf": 1.2}
    g = np.geomspace(1e7, 1e9, 8)
    NE, ND = (a.ravel() for a in np.meshgrid(g, g))
    L = _noisy(get_law("nmt-encdec").predict(true, N_enc=NE, N_dec=ND), seed=1)
    res = fit(pd.DataFrame({"N_enc": NE, "N_dec": ND, "loss": L}), "nmt-encdec", bootstrap=0)
    for k, v in true.items():
        assert res.params[k] == pytest.approx(v, rel=0.05), k


def test_gordon_synthetic_recovery() -> None:
    true = {"Nc": 8.8e10, "Dc": 5e6, "alphaN": 0.07, "alphaD": 0.3}
    # Nc sits under a small exponent (alphaN/alphaD ~ 0.23 inside, 0.07 overall): it needs
    # a wide N range and many points to be pinned within 5% at 1% noise. On a 12 x 16 grid one
    # seed in four missed (Nc -9.4%); on this 36 x 48 grid 12 seeds of 12 came within 2.5%, and
    # the test holds for several seeds, not one chosen
    g_n, g_d = np.geomspace(1e5, 1e9, 36), np.geomspace(1e4, 1e10, 48)
    N, D = (a.ravel() for a in np.meshgrid(g_n, g_d))
    for seed in range(4):
        L = _noisy(get_law("gordon-nmt").predict(true, N=N, D=D), seed=seed)
        res = fit(pd.DataFrame({"N": N, "D": D, "loss": L}), "gordon-nmt", bootstrap=0)
        for k, v in true.items():
            assert res.params[k] == pytest.approx(v, rel=0.05), (seed, k)


def test_gordon_runs_agree_with_the_papers_own_fit() -> None:
    """On Gordon et al.'s German-English runs (> 5 MiB of data, as their script keeps), our
    fit and their script's least-squares ``curve_fit`` (same start p0) agree."""
    df = datasets.load("gordon2021")
    df = df[(df["group"] == "deen") & (df["D"] > 5242880)].reset_index(drop=True)

    def joint(x: tuple[np.ndarray, np.ndarray], aN: float, lNC: float, aD: float,
              lDC: float) -> np.ndarray:
        d, n = x
        return ((np.exp(lNC) / n) ** (aN / aD) + np.exp(lDC) / d) ** aD

    p, _ = optimize.curve_fit(joint, (df["D"].to_numpy(), df["N"].to_numpy()),
                              df["loss"].to_numpy(), maxfev=5000,
                              p0=[0.071, math.log(8.8e10), 0.3, math.log(5e6)])
    res = fit(df, "gordon-nmt", loss="mse", bootstrap=0)
    # different objectives (log vs linear residuals); measured: 0.1217 vs 0.1222, 0.4229 vs
    # 0.4204
    assert res.params["alphaN"] == pytest.approx(p[0], rel=0.03)
    assert res.params["alphaD"] == pytest.approx(p[2], rel=0.03)
    pred = get_law("gordon-nmt").predict(res.params, N=df["N"], D=df["D"])
    assert np.max(np.abs(pred / df["loss"] - 1)) < 0.1


# ----------------------------------------------------------------------------- CLI


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return (0 if exc.value.code is None else int(exc.value.code)), out, err


def test_laws_command_lists_the_new_laws(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["laws", "--json", "-"], capsys)
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out[out.index("["):])}
    assert rows["zhai"]["formula"] == "E = c + a (C + d)^(-b)"
    assert "2106.04560" in rows["zhai"]["reference"]
    assert rows["nmt-encdec"]["variables"] == ["N_enc", "N_dec"]
    assert "2109.07740" in rows["nmt-encdec"]["reference"]
    assert "Gordon" in rows["gordon-nmt"]["reference"]


def test_densing_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = _synthetic_densities(A=0.0073, B=-2.3, noise=0.01, seed=3)
    path = tmp_path / "models.csv"
    df.to_csv(path, index=False)
    code, out, err = _run(["densing", str(path), "--origin", "2023-02-24", "--json", "-"],
                          capsys)
    assert code == 0, err
    res = json.loads(out[out.index('{\n'):])
    assert res["A"] == pytest.approx(0.0073, rel=0.05)
    assert res["n_envelope"] == int(df["frontier"].sum())
    one_error(*_run(["densing", str(path), "--reference", "a=1,zeta=2"], capsys)[::2],
              "--reference", "zeta")
    one_error(*_run(["densing", str(path), "--date", "when"], capsys)[::2], "when")
    one_error(*_run(["densing", str(path), "--origin", "someday"], capsys)[::2], "--origin")


def test_zhai_takes_another_compute_variable(capsys: pytest.CaptureFixture[str]) -> None:
    law = get_law("zhai", x="D")
    assert law.variables == ("D",) and law.formula == "E = c + a (D + d)^(-b)"
    # the bundled translation runs through `scalinglab fit` (all three pairs at once: the
    # lack-of-fit warning is expected; Gordon et al. fit each pair on > 5 MiB of data)
    code, out, err = _run(["fit", "example:gordon2021", "--law", "gordon-nmt",
                           "--bootstrap", "0"], capsys)
    assert code == 0, err
    assert "alphaD" in out

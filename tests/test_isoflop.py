"""Approach 2 (IsoFLOP profiles) against known truth (issue 11, items 1 and 3): the window
parabola's minimum, interior minima kept and edge minima left out, the lack-of-fit warning,
the run bootstrap's coverage and the (C, U) budgets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalinglab.errors import FitError, ParameterError
from scalinglab.fit import isoflop
from scalinglab.laws import chinchilla_allocation, get_law
from scalinglab.laws.published import CHINCHILLA_HOFFMANN as TRUTH

A_TRUE = TRUTH["beta"] / (TRUTH["alpha"] + TRUTH["beta"])
BUDGETS = np.logspace(18, 22, 9)


def _sweep(budgets=BUDGETS, sizes: int = 11, span: float = 1000.0, drift: float = 0.0,
           noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Runs of the Chinchilla law (Hoffmann's constants) at each budget, ``sizes`` sizes
    log-spaced over a factor ``span`` around a centre ``drift`` decades below the optimum at
    the smallest budget, above it at the largest (linear in between); loss x exp(noise)."""
    law = get_law("chinchilla")
    rng = np.random.default_rng(seed)
    rows = []
    for j, C in enumerate(budgets):
        n_star, _ = chinchilla_allocation(TRUTH, C)
        shift = drift * (2 * j / max(len(budgets) - 1, 1) - 1)
        N = n_star * 10**shift * np.geomspace(span**-0.5, span**0.5, sizes)
        L = law.predict(TRUTH, N=N, D=C / (6 * N)) * np.exp(rng.normal(0, noise, sizes))
        rows += [{"N": n, "C": C, "D": C / (6 * n), "loss": v} for n, v in zip(N, L)]
    return pd.DataFrame(rows)


def _with_optimum_at(k: int, C: float = 1e20, sizes: int = 11, step: float = 2.0
                     ) -> pd.DataFrame:
    """One budget whose true optimum is its k-th size (0-based) of ``sizes`` spaced ``step``."""
    n_star, _ = chinchilla_allocation(TRUTH, C)
    N = n_star * step ** (np.arange(sizes) - k)
    L = get_law("chinchilla").predict(TRUTH, N=N, D=C / (6 * N))
    return pd.DataFrame({"N": N, "C": C, "D": C / (6 * N), "loss": L})


# ---------------------------------------------------------------- the minimum of each profile


@pytest.mark.parametrize("drift", [0.0, 1.2])
def test_default_window_recovers_a_where_the_whole_profile_parabola_is_biased(drift) -> None:
    # sizes over a factor 1000: centred on the optimum (wide), or drifting from 1.2 decades
    # below it to 1.2 above across the budgets (asymmetric: the optimum at the 10th size of 11
    # at 1e18 and at the 2nd at 1e22)
    df = _sweep(drift=drift)
    auto = isoflop(df)
    assert auto.N_fit.exponent == pytest.approx(A_TRUE, abs=0.01)
    assert auto.D_fit.exponent == pytest.approx(1 - A_TRUE, abs=0.01)
    assert len(auto.budgets) == len(BUDGETS)
    n_closed, _ = chinchilla_allocation(TRUTH, auto.budgets)
    np.testing.assert_allclose(auto.n_opt, n_closed, rtol=0.05)
    assert auto.method == "parabola" and auto.window == "auto"
    # the window: sizes within a factor 10 of the lowest (here 7 of 11, a factor 64)
    lo, hi = np.array(auto.windows).T
    assert np.all(hi / lo <= 100 * 1.001) and np.all(lo <= auto.n_opt) and np.all(
        auto.n_opt <= hi)
    akima = isoflop(df, method="akima")
    assert akima.N_fit.exponent == pytest.approx(A_TRUE, abs=0.01)
    whole = isoflop(df, window="all")
    if drift:  # the whole-profile parabola is biased upwards on the asymmetric profiles
        assert whole.N_fit.exponent - A_TRUE > 0.05
    else:
        assert whole.N_fit.exponent == pytest.approx(A_TRUE, abs=0.005)


def test_default_window_is_unbiased_over_noisy_draws() -> None:
    a = [isoflop(_sweep(drift=1.2, noise=0.005, seed=s)).N_fit.exponent for s in range(50)]
    assert np.mean(a) == pytest.approx(A_TRUE, abs=0.01)
    assert np.std(a) < 0.03


WINDOWS = [("auto", "parabola"), ("all", "parabola"), (2, "parabola"), (1, "parabola"),
           ("auto", "akima")]


@pytest.mark.parametrize(("window", "method"), WINDOWS)
def test_a_budget_lowest_at_the_second_of_11_sizes_is_kept(window, method) -> None:
    # lowest loss at the 2nd of 11 sizes, the loss rising nearly linearly in ln N beyond: the
    # whole profile's parabola has its vertex 6 sizes below the smallest, and such budgets
    # were left out as "minimum outside the sizes tried"
    N = 1e8 * 2.0 ** np.arange(11)
    L = 2.5 + 0.01 * np.array([0.3, 0, 1.2, 2.6, 4, 5.5, 7, 8.6, 10.2, 12, 14])
    df = pd.DataFrame({"N": np.r_[N, 10 * N], "C": np.repeat([1e19, 1e21], 11),
                       "loss": np.r_[L, L - 0.3]})
    r = isoflop(df, window=window, method=method)
    assert len(r.budgets) == 2, r.warnings
    assert not any("outside the sizes tried" in w for w in r.warnings), r.warnings
    assert N[0] < r.n_opt[0] < N[2] and 10 * N[0] < r.n_opt[1] < 10 * N[2]
    fallback = [w for w in r.warnings if "has no minimum inside its window" in w]
    if window == "all":  # the whole parabola's vertex is outside: the 3 sizes around are used
        assert len(fallback) == 2 and fallback[0].startswith("budget 1e+19: the window")
        assert r.windows[0] == pytest.approx((N[0], N[2]))
    else:
        assert not fallback


@pytest.mark.parametrize(("window", "method"), WINDOWS)
def test_an_optimum_at_the_second_size_is_found(window, method) -> None:
    df = pd.concat([_with_optimum_at(1, 1e20), _with_optimum_at(5, 1e21)], ignore_index=True)
    r = isoflop(df, window=window, method=method)
    n_star, _ = chinchilla_allocation(TRUTH, r.budgets)
    # the whole profile's parabola is off by half a size step (a factor 1.41); a window cut
    # off by the end of the sweep (sizes 1-5 of 11 around the 2nd) by 3%
    np.testing.assert_allclose(r.n_opt, n_star, rtol=0.5 if window == "all" else 0.04)


def test_an_interior_minimum_is_kept_whatever_the_noise() -> None:
    # noise that makes window parabolas misbehave: every budget whose lowest observed loss is
    # interior still gives a minimum between the sizes tried
    for seed in range(20):
        df = _sweep(drift=1.2, noise=0.02, seed=seed)
        r = isoflop(df)
        for C, g in df.groupby("C"):
            g = g.sort_values("N")
            interior = 0 < int(np.argmin(g["loss"].to_numpy())) < len(g) - 1
            k = np.flatnonzero(np.isclose(r.budgets, C, rtol=1e-9))
            assert len(k) == int(interior), (seed, C)
            if interior:
                assert g["N"].min() < r.n_opt[k[0]] < g["N"].max()


def test_an_edge_lowest_profile_is_left_out_with_the_reason() -> None:
    # the 1e19 budget's sizes all lie above its optimum: its lowest loss is at the smallest
    df = pd.concat([_with_optimum_at(-2, 1e19), _with_optimum_at(5, 1e20),
                    _with_optimum_at(4, 1e21)], ignore_index=True)
    r = isoflop(df)
    assert len(r.budgets) == 2 and r.budgets.min() == pytest.approx(1e20)
    msg = [w for w in r.warnings if w.startswith("budget 1e+19")]
    assert len(msg) == 1 and "lowest loss is at the smallest size" in msg[0]
    assert "minimum lies outside the sizes tried" in msg[0] and "left out" in msg[0]
    with pytest.raises(FitError, match=r"found 1.*budget 1e\+19: the lowest loss is at the "
                                       r"smallest size.*outside the sizes tried"):
        isoflop(df[df["C"] < 5e20])


def test_replicate_runs_are_averaged_to_find_the_lowest_size() -> None:
    df = _with_optimum_at(5, 1e20)
    twin = df.copy()
    twin.loc[0, "loss"] -= 1.0  # one seed far low at the smallest size, its twin far high
    df.loc[0, "loss"] += 1.0
    both = pd.concat([df, twin, _with_optimum_at(5, 1e21)], ignore_index=True)
    r = isoflop(both)
    assert len(r.budgets) == 2  # the mean at the smallest size is not the lowest


# ---------------------------------------------------------------- lack of fit


def test_a_bad_profile_triggers_the_lack_of_fit_warning() -> None:
    df = _sweep(noise=0.003, seed=3)
    clean = isoflop(df)
    assert not any("lack of fit" in w for w in clean.warnings), clean.warnings
    assert clean.noise == pytest.approx(0.003 * 2.5, rel=0.5)  # ~0.3% of a loss of ~2.5
    # one budget's losses zig-zag by +-0.07 nats: its window parabola's RMS is ~0.07 nats
    top = df["C"] == BUDGETS[4]
    df.loc[top, "loss"] += 0.07 * np.resize([1.0, -1.0], int(top.sum()))
    r = isoflop(df)
    bad = [w for w in r.warnings if "lack of fit" in w]
    assert len(bad) == 1 and bad[0].startswith(f"budget {BUDGETS[4]:.3g}: lack of fit"), bad
    assert r.rms_residual[4] > 0.06 and np.nanmax(np.delete(r.rms_residual, 4)) < 0.02
    assert "x the noise" in bad[0] and "estimated" in bad[0]
    # the same with the noise given
    given = [w for w in isoflop(df, noise=0.008).warnings if "lack of fit" in w]
    assert len(given) == 1 and "(0.008 nats, given)" in given[0]


def test_the_whole_profile_parabola_warns_on_wide_asymmetric_profiles() -> None:
    df = _sweep(drift=1.2, noise=0.005, seed=1)
    assert not any("lack of fit" in w for w in isoflop(df).warnings)
    r = isoflop(df, window="all")
    bad = [w for w in r.warnings if "lack of fit" in w]
    assert bad and all("default window (auto)" in w for w in bad)
    # the noise is estimated from the default window's residuals, not the misfitting parabolas
    assert r.noise == pytest.approx(isoflop(df).noise)
    assert r.noise < 0.02 < np.nanmax(r.rms_residual)


# ---------------------------------------------------------------- bootstrap


@pytest.mark.parametrize(("drift", "noise"), [(1.2, 0.01), (0.0, 0.005)])
def test_bootstrap_intervals_cover_the_true_exponent(drift, noise) -> None:
    # 60 noisy draws (asymmetric at 1% noise, wide at 0.5%), 40 resamples of the runs each
    # (measured: 100% and 95% of draws covered, the intervals 1.3-1.4x as wide as the spread)
    draws = 60
    covered = 0
    for s in range(draws):
        r = isoflop(_sweep(drift=drift, noise=noise, seed=100 + s), bootstrap=40, seed=s)
        lo, hi = r.N_fit.exponent_interval
        covered += lo <= A_TRUE <= hi
    assert covered / draws >= 0.85


def test_bootstrap_keeps_its_seed_and_resamples_runs() -> None:
    df = _sweep(noise=0.005, seed=2)
    a, b = isoflop(df, bootstrap=20, seed=7), isoflop(df, bootstrap=20, seed=7)
    np.testing.assert_array_equal(a.draws, b.draws)
    assert not np.array_equal(a.draws, isoflop(df, bootstrap=20, seed=8).draws)
    assert a.draws.shape == (20, 2)
    np.testing.assert_allclose(a.draws.sum(axis=1), 1.0)  # b = 1 - a (D = C / 6N)
    assert a.to_json()["conventions"]["bootstrap"] == "runs resampled within each budget"


# ---------------------------------------------------------------- (C, U) budgets


def test_budgets_with_two_unique_token_counts_are_split() -> None:
    df = _sweep(BUDGETS[:4], noise=0.002, seed=4)
    df["U"] = 1e12
    # a second sweep at 1e19 over other sizes with fewer unique tokens (a higher loss)
    extra = _with_optimum_at(7, 1e19).assign(U=1e9)
    extra["loss"] += 0.05
    both = pd.concat([df, extra], ignore_index=True)
    r = isoflop(both)
    assert len(r.budgets) == 5 and r.U is not None
    at = np.flatnonzero(np.isclose(r.budgets, 1e19))
    assert len(at) == 2 and sorted(r.U[at]) == [1e9, 1e12]
    n_star, _ = chinchilla_allocation(TRUTH, 1e19)
    low_u = at[np.argmin(r.U[at])]
    assert r.n_opt[low_u] == pytest.approx(n_star, rel=0.05)
    assert any(w.startswith("budgets are split by unique tokens U (2 values)")
               for w in r.warnings)
    assert r.to_json()["U"] == r.U.tolist()
    # lumped (today's behaviour) without the U column: one profile of 22 runs at 1e19
    lumped = isoflop(both.drop(columns="U"))
    assert len(lumped.budgets) == 4 and lumped.U is None


def test_a_table_without_U_or_with_one_U_behaves_as_before() -> None:
    df = _sweep(noise=0.004, seed=5)
    plain = isoflop(df, bootstrap=10)
    one_u = isoflop(df.assign(U=3e11), bootstrap=10)
    assert plain.U is None and one_u.U is None and plain.to_json()["U"] is None
    np.testing.assert_array_equal(plain.n_opt, one_u.n_opt)
    np.testing.assert_array_equal(plain.draws, one_u.draws)
    assert plain.warnings == one_u.warnings


def test_a_split_budget_is_named_with_its_U() -> None:
    df = pd.concat([_with_optimum_at(5, 1e20).assign(U=1e10),
                    _with_optimum_at(0, 1e20).assign(U=1e11),
                    _with_optimum_at(5, 1e21).assign(U=1e10)], ignore_index=True)
    r = isoflop(df)
    assert any(w.startswith("budget 1e+20 (U 1e+11): the lowest loss is at the smallest size")
               for w in r.warnings), r.warnings


# ---------------------------------------------------------------- options and command line


def test_options_are_checked() -> None:
    df = _sweep(BUDGETS[:3])
    with pytest.raises(ParameterError, match="argument window"):
        isoflop(df, window="wide")
    with pytest.raises(ParameterError, match="argument window"):
        isoflop(df, window=0)
    with pytest.raises(ParameterError, match="argument method"):
        isoflop(df, method="spline")
    with pytest.raises(ParameterError, match="argument noise"):
        isoflop(df, noise=-1.0)
    assert isoflop(df, window="3").window == 3


def test_isoflop_command_window_method_and_U(cli, tmp_path) -> None:
    df = pd.concat([_sweep(BUDGETS[:3], noise=0.002).assign(U=1e12),
                    _with_optimum_at(5, 1e19).assign(U=1e9)], ignore_index=True)
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "iso.json"
    code, stdout, stderr = cli("isoflop", str(path), "--window", "2", "--method", "akima",
                               "--json", str(out))
    assert code == 0, stderr
    j = json.loads(out.read_text())
    assert j["method"] == "akima" and j["window"] == 2 and len(j["U"]) == 4
    assert "┃     U ┃" in stdout and "(method akima)" in stdout
    code, stdout, stderr = cli("isoflop", str(path), "--window", "all", "--noise", "0.01")
    assert code == 0, stderr
    assert "whole profile" in stdout and "0.01 nats, given" in stdout
    code, _, stderr = cli("isoflop", str(path), "--window", "wide")
    assert code == 2 and "--window" in stderr

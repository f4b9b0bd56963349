"""Kaplan-style fits: L(N) from converged losses, L(D), the L(C) envelope, and the critical
batch size from a synthetic batch sweep built from McCandlish et al.'s relation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fixtures import published as F
from scalinglab.errors import FitError
from scalinglab.fit.approaches import envelope
from scalinglab.fit.kaplan import critical_batch, kaplan_fit, steps_to_reach
from scalinglab.laws import chinchilla_allocation, get_law
from scalinglab.laws import published as P


def _grid_runs() -> pd.DataFrame:
    law = get_law("kaplan-nd")
    rows = []
    for n_layer, N in [(1, 3e5), (2, 1e6), (4, 1e7), (8, 1e8), (16, 1e9), (24, 1e10)]:
        for D in (1e9, 1e11, 1e14):
            rows.append({"n_layer": n_layer, "N": N, "D": D,
                         "loss": float(law.predict(P.KAPLAN_ND, N=N, D=D))})
    df = pd.DataFrame(rows)
    df.loc[df["n_layer"] == 1, "loss"] *= 1.2  # the 1-layer lump Kaplan excluded
    return df


def test_kaplan_LN_uses_converged_losses_and_drops_one_layer_models() -> None:
    res = kaplan_fit(_grid_runs(), "N")
    # at D = 1e14 the Table 2 joint law is within 0.2% of its D -> inf limit (Nc/N)^alphaN
    assert res.params["alpha"] == pytest.approx(P.KAPLAN_ND["alphaN"], rel=0.02)
    assert res.n_points == 5  # one point per model, the 1-layer model left out


def test_kaplan_LD_uses_the_best_model_per_data_size() -> None:
    law = get_law("kaplan-nd")
    rows = [{"N": N, "D": D, "loss": float(law.predict(P.KAPLAN_ND, N=N, D=D))}
            for N in (1e11, 1e12, 1e14) for D in np.logspace(8, 11, 6)]
    res = kaplan_fit(pd.DataFrame(rows), "D")
    assert res.params["alpha"] == pytest.approx(P.KAPLAN_ND["alphaD"], rel=0.03)


def test_kaplan_LC_envelope() -> None:
    law = get_law("chinchilla")
    rows = []
    for N in np.logspace(6, 9, 10):
        for D in np.logspace(7, 11, 30):
            rows.append({"run_id": f"{N:.3g}", "N": N, "D": D, "C": 6 * N * D,
                         "loss": float(law.predict(P.CHINCHILLA_HOFFMANN, N=N, D=D))})
    df = pd.DataFrame(rows)
    res = kaplan_fit(df, "C")
    assert 0.02 < res.params["alpha"] < 0.2  # a frontier that falls with compute
    assert res.law.variables == ("C",)
    # the envelope of the 10 model sizes never beats the law's compute-optimal loss (closed
    # form) and, sizes being 2.2x apart, stays within 5% of it inside the runs' compute range
    C = np.logspace(np.log10(df["C"].min()) + 1, np.log10(df["C"].max()) - 1, 20)
    env = envelope(df)
    ok = (env.compute > C[0]) & (env.compute < C[-1])
    opt_at_env = law.predict(P.CHINCHILLA_HOFFMANN, **dict(zip(
        ("N", "D"), chinchilla_allocation(P.CHINCHILLA_HOFFMANN, env.compute[ok]))))
    assert np.all(env.loss[ok] >= opt_at_env * (1 - 1e-9))
    assert np.all(env.loss[ok] <= opt_at_env * 1.05)


def test_critical_batch_recovers_B_star_and_alpha_B() -> None:
    B_star, alpha_B = F.KAPLAN_BCRIT["B_star"], F.KAPLAN_BCRIT["alpha_B"]  # Kaplan Eq. 5.3
    rows = []
    losses = np.linspace(4.0, 2.6, 400)
    s_min = (F.KAPLAN_NS["Sc"] / (losses - 2.3)) ** (1 / F.KAPLAN_NS["alphaS"])  # Table 3
    b_crit = B_star / losses ** (1 / alpha_B)
    for B in (2**14, 2**16, 2**18, 2**20, 2**22):
        steps = s_min * (1 + b_crit / B)
        rows += [{"run_id": f"B{B}", "batch_size": B, "step": s, "loss": L}
                 for s, L in zip(steps, losses)]
    res = critical_batch(pd.DataFrame(rows), targets=np.array([3.6, 3.2, 2.9, 2.7]))
    assert res.alpha_B == pytest.approx(alpha_B, rel=0.01)
    assert res.B_star == pytest.approx(B_star, rel=0.05)
    np.testing.assert_allclose(res.b_crit, B_star / res.losses ** (1 / alpha_B), rtol=0.01)
    # Kaplan's value at L = 3 (Eq. 5.3: 1.0691e6 tokens)
    assert P.kaplan_critical_batch(3.0) == pytest.approx(F.KAPLAN_BCRIT_AT_LOSS_3, rel=1e-4)


def test_steps_to_reach_and_bad_sweeps() -> None:
    curve = pd.DataFrame({"step": [10, 100, 1000], "loss": [4.0, 3.0, 2.0]})
    assert steps_to_reach(curve, 3.0) == pytest.approx(100)
    assert np.isnan(steps_to_reach(curve, 1.0))
    two = pd.DataFrame({"run_id": ["a", "a", "b", "b"], "batch_size": [1, 1, 2, 2],
                        "step": [1, 2, 1, 2], "loss": [3, 2, 3, 2]})
    with pytest.raises(FitError, match="3 or more batch sizes"):
        critical_batch(two)


def test_kaplan_cli(cli, tmp_path) -> None:
    p = tmp_path / "runs.csv"
    _grid_runs().to_csv(p, index=False)
    code, stdout, stderr = cli("kaplan", str(p), "--variable", "N")
    assert code == 0, stderr
    assert "alpha" in stdout
    code, _, stderr = cli("kaplan", str(p), "--variable", "S")
    assert code == 2 and "--variable" in stderr

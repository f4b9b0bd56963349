"""The demo's study design and its honest summary, checked without training: the spec
identifies the law by construction (decades, sizes, one family, a held-out budget), and a fit
that is not identified is reported as such."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scalinglab import demo
from scalinglab.fit import fit
from scalinglab.laws import get_law, published
from scalinglab.sweep.designs import expand
from scalinglab.sweep.shapes import n_params


@pytest.mark.parametrize("data", ["synthetic:quanta", "kjv"])
@pytest.mark.parametrize("minutes", [5.0, 3.0])
def test_demo_design_identifies_by_construction(data: str, minutes: float) -> None:
    spec = demo.demo_spec(minutes, data)
    runs = expand(spec).runs
    by_budget: dict[float, list[dict]] = {}
    for r in runs:
        by_budget.setdefault(r.labels["C_budget"], []).append(r.config)
    budgets = sorted(by_budget)
    fitted, holdout = budgets[:-1], budgets[-1]
    assert len(fitted) == demo.FIT_BUDGETS
    assert math.log10(fitted[-1] / fitted[0]) >= 2.0 - 1e-9  # >= 2 decades fitted
    assert holdout / fitted[-1] >= 4.0 - 1e-9  # the backtest extrapolates >= 4x
    prof = demo.profile_for(data)
    for c in fitted:
        sizes = sorted(n_params(cfg) for cfg in by_budget[c])
        assert len(set(sizes)) >= 5
        # centred on the measured optimum: it lies inside the sizes tried
        assert sizes[0] < prof.centre(c) < sizes[-1]
    assert len(by_budget[holdout]) == demo.HOLDOUT_SIZES
    # one family: fixed depth and heads, width the only knob
    assert {(cfg["n_layer"], cfg["n_head"]) for cfg in map(lambda r: r.config, runs)} == {
        (prof.n_layer, prof.n_head)}
    for r in runs:  # the measured learning-rate rule, per size
        n = n_params(r.config)
        want = prof.lr * (n / prof.lr_reference_params) ** prof.lr_exponent
        assert r.config["lr"] == pytest.approx(want, rel=1e-3)
        assert r.config["data"] == data and r.config["final_eval_tokens"] >= 131072


def test_demo_options_are_checked() -> None:
    from scalinglab.errors import ParameterError

    for bad in (0.0, -1.0, float("nan"), float("inf")):  # named in Python; the CLI maps it
        with pytest.raises(ParameterError, match="argument budget_minutes"):
            demo.demo_spec(bad)


def _table(truth: dict[str, float], noise: float = 0.003, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    law = get_law("chinchilla")
    rows = []
    for c in [1e18, 1e19, 1e20, 1e21, 4e21]:
        for n in np.logspace(np.log10(c) / 2 - 1.6, np.log10(c) / 2 - 0.4, 5):
            d = c / (6 * n)
            loss = float(law.predict(truth, N=n, D=d)) * math.exp(rng.normal(0, noise))
            rows.append({"N": n, "D": d, "C": 6 * n * d, "loss": loss, "epochs": 0.0,
                         "entropy_rate": truth["E"], "final_val_loss_se": 0.001 * loss})
    return pd.DataFrame(rows)


def test_summary_of_an_identified_fit() -> None:
    truth = published.CHINCHILLA_HOFFMANN
    obs = _table(truth)
    res = fit(obs, "chinchilla", bootstrap=40, holdout_above=2e21, at_compute=[4e23])
    s = demo.summarise(res, None, obs, data="synthetic:test", fitted_max=1e21, holdout=4e21,
                       seconds=1.0)
    assert s["identified"] and s["not_identified_because"] == []
    assert s["entropy_rate"] == truth["E"] and s["epochs_max"] == 0.0
    assert s["E_contains_entropy_rate"] is True
    assert s["a"] == pytest.approx(truth["beta"] / (truth["alpha"] + truth["beta"]), abs=0.05)
    bt = s["backtest"]
    assert bt["heldout_compute"] / bt["fit_max_compute"] == 4.0 and bt["n_heldout"] == 5
    assert bt["mean_abs_rel_error"] < 0.02 and 0.0 <= bt["coverage"] <= 1.0
    assert 0 < bt["mean_interval_halfwidth"] < 0.1
    assert set(s) >= {"corpus", "entropy_rate", "params", "intervals", "a", "a_interval",
                      "warnings", "epochs_max", "backtest", "plan", "seconds"}


def test_unidentified_fit_is_said_so_in_summary_and_headline(capsys) -> None:
    from scalinglab.cli.demo_cmds import print_headline

    obs = _table(published.CHINCHILLA_HOFFMANN)
    res = fit(obs, "chinchilla", bootstrap=10, holdout_above=2e21)
    # the diagnostics' own wording (tests of fit.diagnostics make it fire on real data)
    res.warnings.insert(0, "collapsed: parameter E went to ~0 (1e-13); these data do not "
                           "identify it")
    assert res.unidentified() == res.warnings[:1]
    s = demo.summarise(res, None, obs, data="kjv", fitted_max=1e20, holdout=4e21, seconds=1.0)
    assert not s["identified"] and s["not_identified_because"][0].startswith("collapsed")
    from pathlib import Path

    print_headline(s, Path("summary.json"), Path("report.html"))
    out = capsys.readouterr().out
    assert "NOT IDENTIFIED" in out and out.index("NOT IDENTIFIED") < out.index("a = ")
    assert "(not identified)" in out

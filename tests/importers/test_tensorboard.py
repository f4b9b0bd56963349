"""TensorBoard: event files written by ``SummaryWriter`` (torch.utils.tensorboard), read back,
a law fitted to the final losses and Approach 1 run on the curves."""

from __future__ import annotations

import json

import numpy as np
import pytest
from importer_helpers import ALPHA_N, NC, power

from scalinglab.errors import InputError
from scalinglab.fit import envelope, fit
from scalinglab.importers import detect, read_source

pytest.importorskip("tensorboard", reason="needs the tensorboard extra (pip install "
                    "'scalinglab[tensorboard]')")
tb = pytest.importorskip("torch.utils.tensorboard", reason="the test writes events with "
                         "torch's SummaryWriter (the train extra)")

NS = [2e7, 6e7, 2e8, 6e8]
TOKENS_PER_STEP = 65536


def _write(logdir, ns=NS, steps=(100, 200, 400, 800)) -> None:
    """One run folder per model: val/loss and train/tokens at each step, model/params once,
    the learning rate (an unrelated tag); a config.json beside the first run's events."""
    for i, n in enumerate(ns):
        w = tb.SummaryWriter(log_dir=str(logdir / f"size{i}"))
        w.add_scalar("model/params", n, 0)
        for s in steps:
            tokens = s * TOKENS_PER_STEP
            # the loss falls with the steps; at the end, 1.125 x the power law
            w.add_scalar("val/loss", power(n) * (1 + 100 / s), s)
            w.add_scalar("train/tokens", tokens, s)
            w.add_scalar("lr", 1e-3, s)
        w.close()
    (logdir / "size0" / "config.json").write_text(json.dumps({"note": "size0 config"}))


def test_log_dir_power_law_and_envelope(tmp_path):
    logdir = tmp_path / "tb"
    _write(logdir)
    assert detect(str(logdir)) == "tensorboard"
    imp = read_source(str(logdir), tags=["val/*", "train/*", "model/*"],
                      mapping={"N": "model/params"})
    runs = imp.runs.sort_values("N").reset_index(drop=True)
    assert list(runs["run_id"]) == ["size0", "size1", "size2", "size3"]
    assert list(runs["N"]) == NS
    np.testing.assert_array_equal(runs["D"], 800 * TOKENS_PER_STEP)
    assert "lr" not in runs.columns  # --tag left it out
    assert runs.loc[0, "note"] == "size0 config"
    assert imp.conventions["N"] == "N from metric 'model/params' (mapped)"
    assert imp.conventions["D"] == "D from metric 'train/tokens' (recognised)"
    expected = [power(n) * 1.125 for n in NS]
    np.testing.assert_allclose(runs["loss"], expected, rtol=1e-6)  # float32 events
    # L(N) on the final losses: the exponent exactly, the scale shifted by 1.125^(1/alpha)
    res = fit(imp.runs, "power", x="N", loss="mse")
    assert res.params["alpha"] == pytest.approx(ALPHA_N, rel=1e-4)
    assert res.params["Nc"] == pytest.approx(NC * 1.125 ** (1 / ALPHA_N), rel=2e-3)
    # the curves: 4 points per run, tokens from train/tokens at each step
    cur = imp.curves
    assert len(cur) == 16
    np.testing.assert_allclose(cur["D"], cur["S"] * TOKENS_PER_STEP)
    # Approach 1 reads the curves straight from the log dir
    env = envelope(str(logdir), columns={"N": "model/params"})
    assert set(env.run_ids) <= {"size0", "size1", "size2", "size3"}
    assert env.n_opt.min() >= NS[0] and env.n_opt.max() <= NS[-1]


def test_tag_that_matches_nothing(tmp_path):
    _write(tmp_path / "tb", ns=NS[:2], steps=(1, 2))
    with pytest.raises(InputError, match="no scalar tag matches --tag eval/"):
        read_source(str(tmp_path / "tb"), tags=["eval/*"])


def test_pure_power_law_exact(tmp_path):
    """Final losses exactly on L = (Nc/N)^alpha: the fit gives the law back."""
    logdir = tmp_path / "tb"
    for i, n in enumerate(NS):
        w = tb.SummaryWriter(log_dir=str(logdir / f"r{i}"))
        for s in (1, 2):
            w.add_scalar("eval/loss", power(n), s)
        w.add_scalar("n_params", n, 0)
        w.add_scalar("tokens", 1e10, 2)
        w.close()
    res = fit(str(logdir), "power", x="N", loss="mse")
    assert res.params["alpha"] == pytest.approx(ALPHA_N, rel=2e-3)
    assert res.params["Nc"] == pytest.approx(NC, rel=0.05)

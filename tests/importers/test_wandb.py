"""W&B: runs written by ``wandb.init`` in offline mode (``WANDB_MODE=offline``, everything in
tmp_path, no network), read back from their ``.wandb`` logs; ``--log-to wandb``; the CSV the
W&B UI exports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from importer_helpers import ALPHA_N, NC, power

from scalinglab.importers import detect, read_source

wandb = pytest.importorskip("wandb", reason="needs the wandb extra (pip install "
                            "'scalinglab[wandb]')")

#: nanoGPT-style model configs (GPT-2 shapes): N is inferred through the accounting
SHAPES = [(2, 64, 2), (4, 128, 4), (6, 256, 8), (8, 512, 8)]
VOCAB, BLOCK, BATCH = 512, 128, 16


def _n_total(n_layer: int, n_embd: int, n_head: int) -> float:
    from scalinglab.accounting import count_params
    from scalinglab.accounting.hf_config import shape_from_hf_config

    cfg = {"model_type": "gpt2", "n_layer": n_layer, "n_embd": n_embd, "n_head": n_head,
           "vocab_size": VOCAB, "n_positions": BLOCK}
    return float(count_params(shape_from_hf_config(cfg)).total)


def test_offline_runs_n_from_config_d_from_steps(tmp_path):
    settings = wandb.Settings(silent=True, console="off", disable_git=True, save_code=False)
    for n_layer, n_embd, n_head in SHAPES:
        n = _n_total(n_layer, n_embd, n_head)
        run = wandb.init(project="scaling", dir=str(tmp_path), reinit="create_new",
                         settings=settings, name=f"L{n_layer}",
                         config={"model": {"n_layer": n_layer, "n_embd": n_embd,
                                           "n_head": n_head, "vocab_size": VOCAB,
                                           "block_size": BLOCK},
                                 "batch_size": BATCH, "lr": 1e-3})
        for step in (50, 100, 200):
            run.log({"val/loss": power(n) * (1 + 50.0 / step), "train/loss": 9.0}, step=step)
        run.log({"val/loss": power(n)}, step=400)
        run.finish()
    wandb.teardown()  # the W&B service has flushed every run's log before we read them
    wandb_dir = tmp_path / "wandb"
    assert detect(str(wandb_dir)) == "wandb"
    imp = read_source(str(wandb_dir))
    runs = imp.runs.sort_values("N").reset_index(drop=True)
    expected_n = sorted(_n_total(*s) for s in SHAPES)
    assert list(runs["N"]) == expected_n
    assert list(runs["name"]) == ["L2", "L4", "L6", "L8"]
    np.testing.assert_array_equal(runs["D"], 400 * BATCH * BLOCK)
    np.testing.assert_allclose(runs["loss"], [power(n) for n in expected_n], rtol=1e-12)
    assert imp.conventions["N"].startswith("N inferred from the model config (gpt2 shape")
    assert imp.conventions["D"] == ("D inferred as steps x tokens per step (tokens per step = "
                                    "'batch_size' x 'model.block_size' (16 x 128))")
    assert imp.conventions["loss"] == "loss from metric 'val/loss'"
    assert len(imp.curves) == 16
    res = read_source(str(wandb_dir), mapping="loss=train/loss")
    assert set(res.runs["loss"]) == {9.0}
    from scalinglab.fit import fit

    law = fit(str(wandb_dir), "power", x="N", loss="mse")
    assert law.params["alpha"] == pytest.approx(ALPHA_N, rel=1e-6)
    assert law.params["Nc"] == pytest.approx(NC, rel=1e-4)


def test_sweep_logged_to_wandb_offline(tmp_path):
    import sweep_fakes

    from scalinglab.importers.export import WandbMirror
    from scalinglab.store import export_runs
    from scalinglab.sweep.driver import run_sweep
    from scalinglab.sweep.spec import parse_spec

    spec = {"name": "tiny", "context": 32, "batch_size": 4,
            "design": {"kind": "grid",
                       "models": [{"n_layer": 1, "d_model": 16, "n_head": 1},
                                  {"n_layer": 1, "d_model": 32, "n_head": 2}],
                       "tokens": [2.0e4]}}
    store = tmp_path / "runs.db"
    mirror = WandbMirror(project="tiny", directory=str(tmp_path))
    assert run_sweep(parse_spec(spec), store, run_fn=sweep_fakes.ok_run, workers=1,
                     show_progress=False, on_complete=mirror).complete
    assert mirror.logged == 2 and mirror.failed is None
    exported = export_runs(store, tmp_path / "export.csv").set_index("run_id")
    imp = read_source(str(tmp_path / "wandb")).runs.set_index("run_id")
    assert sorted(imp.index) == sorted(exported.index)
    for col in ("N", "D", "C", "loss"):
        np.testing.assert_allclose(imp.loc[exported.index, col], exported[col], rtol=1e-12)


def test_ui_csv_exports(tmp_path):
    """The two CSVs the W&B UI exports, written with the UI's columns (no library writes
    them): the runs table (Name, State, ... then config and summary columns) and a line
    plot (Step, then 'RUN - METRIC' with __MIN/__MAX companions)."""
    ns = [1e7, 1e8, 1e9]
    table = pd.DataFrame({"Name": ["a", "b", "c"], "State": ["finished"] * 3,
                          "Notes": ["-"] * 3, "User": ["me"] * 3, "Tags": [""] * 3,
                          "Created": ["2024-01-01T00:00:00"] * 3, "Runtime": [60] * 3,
                          "Sweep": [""] * 3, "num_params": ns, "tokens_seen": [1e10] * 3,
                          "eval/loss": [power(n) for n in ns]})
    table.to_csv(tmp_path / "runs.csv", index=False)
    assert detect(str(tmp_path / "runs.csv")) == "wandb-csv"
    imp = read_source(str(tmp_path / "runs.csv"))
    assert list(imp.runs["N"]) == ns and imp.curves is None
    np.testing.assert_allclose(imp.runs["C"], 6 * np.array(ns) * 1e10)
    from scalinglab.fit import fit

    res = fit(str(tmp_path / "runs.csv"), "power", x="N", loss="mse")
    assert res.params["alpha"] == pytest.approx(ALPHA_N, rel=1e-6)
    plot = pd.DataFrame({"Step": [10, 20], "a - val/loss": [3.0, 2.5],
                         "a - val/loss__MIN": [3.0, 2.5], "a - val/loss__MAX": [3.0, 2.5],
                         "b - val/loss": [2.8, 2.2]})
    plot.to_csv(tmp_path / "plot.csv", index=False)
    imp = read_source(str(tmp_path / "plot.csv"), constants={"N": 1e8, "tokens_per_step": 1e5})
    assert list(imp.runs["loss"]) == [2.5, 2.2]
    assert list(imp.curves["D"]) == [1e6, 2e6, 1e6, 2e6]

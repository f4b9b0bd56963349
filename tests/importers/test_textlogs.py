"""nanoGPT, nanochat and litgpt text logs and Lightning's ``metrics.csv``.

These trainers are not installed for the tests: their logs are written here with the exact
format strings of their sources (nanoGPT ``train.py``/``model.py``, nanochat
``scripts/base_train.py``, litgpt ``pretrain.py``), and the ``metrics.csv``/``hparams.yaml``
pair with the layout Lightning's ``CSVLogger`` writes (``epoch``, ``step`` and one sparse
column per logged metric).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from importer_helpers import ALPHA_N, power

from scalinglab.fit import fit
from scalinglab.importers import detect, read_source

NS = [1.2e7, 5.0e7, 1.24e8, 3.5e8]


def _nanogpt(path, n: float, tokens_per_iter: int, iters=(0, 250, 500)) -> None:
    lines = ["Overriding config with config/train_gpt2.py:", "Overriding: batch_size = 12",
             "Overriding: block_size = 1024",
             f"tokens per iteration will be: {tokens_per_iter:,}",
             f"number of parameters: {n / 1e6:.2f}M"]  # model.py: "%.2fM"
    for it in iters:
        loss = power(n) * (1 + 100.0 / (it + 1))
        lines.append(f"step {it}: train loss {loss - 0.01:.4f}, val loss {loss:.4f}")
        lines.append(f"iter {it}: loss {loss + 0.2:.4f}, time 123.45ms, mfu 31.20%")
    path.write_text("\n".join(lines) + "\n")


def test_nanogpt_logs(tmp_path):
    for i, n in enumerate(NS):
        _nanogpt(tmp_path / f"run{i}.log", n, 491_520)
    assert detect(str(tmp_path / "run0.log")) == "log"
    assert detect(str(tmp_path)) == "log"
    imp = read_source(str(tmp_path))
    runs = imp.runs.sort_values("N").reset_index(drop=True)
    assert list(runs["N"]) == pytest.approx(NS, rel=1e-12)
    np.testing.assert_array_equal(runs["D"], 500 * 491_520)
    assert runs.loc[0, "batch_size"] == 12
    assert imp.conventions["loss"] == "loss from metric 'val_loss'"
    assert "number of parameters" in imp.conventions["N"]
    res = fit(str(tmp_path), "power", x="N", loss="mse")  # 4-decimal losses
    assert res.params["alpha"] == pytest.approx(ALPHA_N * 1.0, rel=0.02)


def test_nanochat_and_litgpt_logs(tmp_path):
    chat = tmp_path / "chat.log"
    chat.write_text("\n".join([
        "Number of parameters: 560,988,160",
        "Estimated FLOPs per token: 3.491758e+09",
        "Total batch size 524,288 => gradient accumulation steps: 1",
        "step 00250/00500 (50.00%) | loss: 3.101234 | lrm: 1.00 | dt: 412.00ms | "
        "tok/sec: 1,272,543 | mfu: 48.12 | total time: 1.70m",
        "Step 00250 | Validation bpb: 1.0500",
        "step 00500/00500 (100.00%) | loss: 2.901234 | lrm: 0.00 | dt: 412.00ms | "
        "tok/sec: 1,272,543 | mfu: 48.12 | total time: 3.40m",
        "Step 00500 | Validation bpb: 0.9500"]) + "\n")
    imp = read_source(str(chat))
    row = imp.runs.iloc[0]
    assert (row["N"], row["D"], row["loss"]) == (560_988_160, 500 * 524_288, 0.95)
    assert row["C"] == pytest.approx(500 * 524_288 * 3.491758e9)
    assert "bits per byte" in imp.conventions["loss_unit"]
    lit = tmp_path / "lit"
    lit.mkdir()
    (lit / "hyperparameters.yaml").write_text(
        "train:\n  global_batch_size: 512\n  micro_batch_size: 4\nmodel_config:\n"
        "  block_size: 2048\n")
    (lit / "pretrain.log").write_text("\n".join([
        "Total parameters: 1,100,048,384",
        "Epoch 1 | iter 400 step 100 | loss train: 3.210, val: n/a | iter time: 512.3 ms "
        "(step) remaining time: 1:00:00",
        "iter 400: val loss 3.1000, val time: 1234.00 ms",
        "Epoch 1 | iter 800 step 200 | loss train: 2.950, val: 2.900 | iter time: 512.3 ms "
        "(step) remaining time: 0:00:00"]) + "\n")
    imp = read_source(str(lit / "pretrain.log"))
    row = imp.runs.iloc[0]
    assert (row["N"], row["D"], row["loss"]) == (1_100_048_384, 200 * 512 * 2048, 2.9)


def test_lightning_metrics_csv(tmp_path):
    """Lightning's CSVLogger layout: lightning_logs/version_k/{metrics.csv,hparams.yaml}."""
    root = tmp_path / "lightning_logs"
    for k, n in enumerate(NS):
        v = root / f"version_{k}"
        v.mkdir(parents=True)
        (v / "hparams.yaml").write_text(f"n_params: {int(n)}\nbatch_size: 32\n"
                                        "seq_len: 512\n")
        rows = []
        for s in (99, 199, 299):
            rows.append({"epoch": 0, "step": s, "train_loss": 5.0, "val_loss": np.nan})
            rows.append({"epoch": 0, "step": s, "train_loss": np.nan,
                         "val_loss": power(n) * (1 + 1.0 / s)})
        pd.DataFrame(rows).to_csv(v / "metrics.csv", index=False)
    assert detect(str(root)) == "lightning"
    assert detect(str(root / "version_0" / "metrics.csv")) == "lightning"
    imp = read_source(str(root))
    runs = imp.runs.sort_values("N").reset_index(drop=True)
    assert list(runs["run_id"]) == [f"version_{k}" for k in range(4)]
    np.testing.assert_array_equal(runs["D"], 299 * 32 * 512)
    assert len(imp.curves) == 12
    res = fit(imp.runs, "power", x="N", loss="mse")
    assert res.params["alpha"] == pytest.approx(ALPHA_N, rel=0.01)

"""Hugging Face Trainer: ``trainer_state.json`` and ``config.json`` as a Trainer run leaves them.

transformers is not installed for the tests (too heavy for what it checks): the state is
written with the exact JSON schema of a real ``Trainer`` run (transformers 4.4x:
``TrainerState`` dataclass fields, ``log_history`` entries for training logs, evaluations and
the final ``train_runtime``/``total_flos`` entry; ``total_flos`` computed as
``PreTrainedModel.floating_point_ops`` does: 6 x non-embedding parameters x input tokens), in
an output folder with ``checkpoint-*`` subfolders as ``save_steps`` makes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from importer_helpers import ALPHA, BETA, E, chinchilla, grid

from scalinglab.accounting import count_params
from scalinglab.accounting.hf_config import shape_from_hf_config
from scalinglab.fit import fit
from scalinglab.importers import detect, read_source

LAYERS = {1e7: (2, 256), 2e7: (4, 256), 5e7: (4, 512), 1e8: (8, 512)}


def _gpt2(n_layer: int, d: int) -> dict:
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": n_layer,
            "n_embd": d, "n_head": d // 64, "vocab_size": 50257, "n_positions": 1024,
            "n_ctx": 1024, "activation_function": "gelu_new", "torch_dtype": "float32",
            "transformers_version": "4.46.3", "tie_word_embeddings": True}


def _state(steps: int, batch: int, flos: float, losses: list[tuple[int, float]]) -> dict:
    history: list[dict] = []
    for s, loss in losses:
        history.append({"epoch": s / steps, "grad_norm": 1.1, "learning_rate": 5e-5 * (1 - s /
                                                                                    steps),
                        "loss": loss + 0.1, "step": s})
        history.append({"epoch": s / steps, "eval_loss": loss, "eval_runtime": 1.2,
                        "eval_samples_per_second": 80.0, "eval_steps_per_second": 10.0,
                        "step": s})
    history.append({"epoch": 1.0, "step": steps, "total_flos": flos, "train_loss": 3.3,
                    "train_runtime": 321.5, "train_samples_per_second": 99.5,
                    "train_steps_per_second": 3.1})
    return {"best_global_step": None, "best_metric": None, "best_model_checkpoint": None,
            "epoch": 1.0, "eval_steps": steps // 4, "global_step": steps,
            "is_hyper_param_search": False, "is_local_process_zero": True,
            "is_world_process_zero": True, "log_history": history, "logging_steps": steps // 4,
            "max_steps": steps, "num_input_tokens_seen": 0, "num_train_epochs": 1,
            "save_steps": steps // 2,
            "stateful_callbacks": {"TrainerControl": {"args": {
                "should_epoch_stop": False, "should_evaluate": False, "should_log": False,
                "should_save": True, "should_training_stop": True}, "attributes": {}}},
            "total_flos": flos, "train_batch_size": batch, "trial_name": None,
            "trial_params": None}


def _write_runs(root: Path) -> list[tuple[float, float, float]]:
    """One output folder per (model, tokens): config.json and checkpoint-*/ with their state
    (the final checkpoint holds the whole history). Returns (N, D, C) per run."""
    out = []
    ds = sorted({d for _, d in grid()})
    for i, (layers, d_model) in enumerate(LAYERS.values()):
        cfg = _gpt2(layers, d_model)
        shape = shape_from_hf_config(cfg)
        pc = count_params(shape)
        n_hf = pc.nonembedding  # tied head: HF's num_parameters(exclude_embeddings=True)
        for j, d in enumerate(ds):
            steps, batch, ctx = 400, 8, 1024
            d = float(round(d / (steps * batch * ctx)) * steps * batch * ctx)
            flos = 6.0 * n_hf * d
            run = root / f"gpt2-{i}-{j}"
            losses = [(s, chinchilla(pc.total, d * s / steps)) for s in (100, 200, 300, 400)]
            for ck in (200, 400):
                ckdir = run / f"checkpoint-{ck}"
                ckdir.mkdir(parents=True)
                part = [x for x in losses if x[0] <= ck]
                state = _state(steps, batch, flos, part)
                if ck < steps:  # an intermediate checkpoint: no final entry yet
                    state["log_history"] = state["log_history"][:-1]
                    state["global_step"] = ck
                (ckdir / "trainer_state.json").write_text(json.dumps(state, indent=2))
                (ckdir / "config.json").write_text(json.dumps(cfg, indent=2))
            (run / "config.json").write_text(json.dumps(cfg, indent=2))
            out.append((float(pc.total), d, flos))
    return out


def test_trainer_runs_n_from_config_d_from_total_flos(tmp_path):
    truth = _write_runs(tmp_path)
    assert detect(str(tmp_path)) == "hf"
    imp = read_source(str(tmp_path))
    runs = imp.runs.sort_values(["N", "D"]).reset_index(drop=True)
    truth.sort()
    assert len(runs) == 16
    np.testing.assert_array_equal(runs["N"], [t[0] for t in truth])
    np.testing.assert_allclose(runs["D"], [t[1] for t in truth], rtol=1e-12)
    np.testing.assert_array_equal(runs["C"], [t[2] for t in truth])
    assert (runs["S"] == 400).all()
    assert imp.conventions["D"].startswith("D inferred as total_flos / (6 x the Trainer's "
                                           "non-embedding parameters)")
    assert imp.conventions["C"] == "C from metric 'total_flos' (recognised)"
    assert imp.conventions["loss"] == "loss from metric 'eval_loss'"
    assert imp.conventions["N"].startswith("N inferred from config.json (gpt2")
    # the curves: the eval losses at 100..400 steps, tokens proportional to the step
    assert len(imp.curves) == 64
    first = imp.curves[imp.curves["run_id"] == runs.loc[0, "run_id"]]
    np.testing.assert_allclose(first["D"], runs.loc[0, "D"] * first["S"] / 400)
    res = fit(str(tmp_path), "chinchilla", loss="mse")
    assert res.params["alpha"] == pytest.approx(ALPHA, rel=0.02)
    assert res.params["beta"] == pytest.approx(BETA, rel=0.02)
    assert res.params["E"] == pytest.approx(E, abs=0.02)
    # one state file alone: the latest checkpoint of a run folder, and the file itself
    one = tmp_path / "gpt2-0-0"
    assert read_source(str(one)).runs.loc[0, "S"] == 400
    state = one / "checkpoint-200" / "trainer_state.json"
    assert detect(str(state)) == "hf"
    early = read_source(str(state)).runs.iloc[0]
    assert early["S"] == 200 and early["loss"] == pytest.approx(chinchilla(truth[0][0],
                                                                           truth[0][1] / 2))


def test_tokens_seen_when_the_trainer_tracked_them(tmp_path):
    cfg = _gpt2(2, 256)
    state = _state(100, 8, 1e15, [(50, 3.0), (100, 2.5)])
    state["num_input_tokens_seen"] = 819200
    for e in state["log_history"]:
        if "loss" in e:
            e["num_input_tokens_seen"] = 8192 * e["step"]
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    imp = read_source(str(tmp_path / "trainer_state.json"))
    assert imp.runs.loc[0, "D"] == 819200
    assert imp.conventions["D"] == "D from metric 'num_input_tokens_seen' (recognised)"
    assert list(imp.curves["D"]) == [409600, 819200]

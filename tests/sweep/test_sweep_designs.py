"""Expansion of designs into run configs: counts, IsoFLOP token counts, identities."""

from __future__ import annotations

import math

import pytest

from scalinglab.errors import InputError
from scalinglab.sweep.designs import EXECUTION_KEYS, execution_config, expand
from scalinglab.sweep.shapes import n_params
from scalinglab.sweep.spec import parse_spec


def _spec(design: dict, **top) -> object:
    return parse_spec({"name": "s", "context": 32, "batch_size": 8, "design": design, **top})


def test_grid_is_every_model_times_every_token_count(grid_spec):
    exp = expand(parse_spec(grid_spec))
    assert len(exp.runs) == 4
    pairs = {(r.config["d_model"], r.config["tokens"]) for r in exp.runs}
    assert pairs == {(16, 20000), (16, 40000), (32, 20000), (32, 40000)}
    assert len({r.run_id for r in exp.runs}) == 4
    r = exp.runs[0]
    assert r.config["context"] == 32 and r.config["batch_size"] == 4 and r.config["seed"] == 0
    assert r.labels["N_planned"] == n_params(r.config)
    assert not EXECUTION_KEYS & set(r.config)


@pytest.mark.parametrize("convention", ["total", "nonembedding"])
def test_isoflop_tokens_are_c_over_6n_under_the_stated_convention(convention):
    exp = expand(_spec({"kind": "isoflop", "budgets": [1e10, 3e10], "params": [1e4, 3e4, 6e4]},
                       n_convention=convention))
    assert len(exp.runs) == 6
    for r in exp.runs:
        n = n_params(r.config, convention)
        assert r.labels["N_planned"] == n
        assert r.config["tokens"] == pytest.approx(r.labels["C_budget"] / (6 * n), abs=0.5)
        assert r.labels["group"] == f"C={r.labels['C_budget']:.3g}"


def test_isoflop_drops_points_under_min_steps_and_says_so():
    exp = expand(_spec({"kind": "isoflop", "budgets": [1e9], "params": [1e4, 2e5],
                        "min_steps": 5}))
    assert len(exp.runs) == 1  # 2e5 params at 1e9 FLOPs: ~800 tokens < 5 steps of 256
    assert len(exp.notes) == 1 and "under 5 steps" in exp.notes[0]


def test_isoflop_points_are_spread_around_the_chinchilla_size():
    exp = expand(_spec({"kind": "isoflop", "budgets": [1e12], "points": 4, "span": 16}))
    ns = sorted(r.labels["N_planned"] for r in exp.runs)
    centre = (1e12 / 120) ** 0.5
    assert len(ns) == 4 and ns[0] < centre < ns[-1]
    assert ns[-1] / ns[0] > 6


def test_isoflop_params_per_budget():
    exp = expand(_spec({"kind": "isoflop", "budgets": [1e10, 1e11],
                        "params": [[1e4], [3e4, 6e4]]}))
    assert [r.labels["C_budget"] for r in exp.runs] == [1e10, 1e11, 1e11]
    with pytest.raises(InputError, match="one list per budget"):
        _spec({"kind": "isoflop", "budgets": [1e10, 1e11], "params": [[1e4]]})


def test_kaplan_batch_and_shape_designs():
    kn = expand(_spec({"kind": "kaplan-n", "params": [1e4, 3e4, 1e5], "tokens": 5e5}))
    assert {r.config["tokens"] for r in kn.runs} == {500000}
    assert len({r.config["d_model"] * 100 + r.config["n_layer"] for r in kn.runs}) == 3
    kd = expand(_spec({"kind": "kaplan-d", "params": 3e4, "tokens": [1e4, 1e5]}))
    assert [r.config["tokens"] for r in kd.runs] == [10000, 100000]
    assert {r.labels["loss_metric"] for r in kd.runs} == {"best_val_loss"}
    b = expand(_spec({"kind": "batch", "model": {"n_layer": 1, "d_model": 16, "n_head": 1},
                      "batch_sizes": [4, 16], "tokens": [1e5, 2e5]}))
    assert sorted((r.config["batch_size"], r.config["tokens"]) for r in b.runs) == [
        (4, 100000), (4, 200000), (16, 100000), (16, 200000)]
    sh = expand(_spec({"kind": "shape", "params": [6e4], "n_layers": [1, 2, 4],
                       "tokens_per_param": 10}))
    assert [r.config["n_layer"] for r in sh.runs] == [1, 2, 4]
    for r in sh.runs:
        n = r.labels["N_planned"]
        assert abs(n / 6e4 - 1) < 0.35
        assert r.config["tokens"] == round(10 * n)


def test_params_targets_go_through_the_shape_search():
    exp = expand(_spec({"kind": "grid", "params": [2e4, 1e5], "tokens": [1e5]}))
    for r, target in zip(exp.runs, (2e4, 1e5), strict=True):
        assert abs(r.labels["N_planned"] / target - 1) < 0.25
        assert r.config["d_model"] % 16 == 0 and r.config["d_model"] // r.config["n_head"] == 16
        assert r.labels["target_params"] == target


def test_seeds_and_lr_sweep_multiply_runs_and_share_a_tuning_key(grid_spec):
    grid_spec["seeds"] = [0, 1]
    grid_spec["lr_sweep"] = {"values": [1e-3, 3e-3, 1e-2]}
    exp = expand(parse_spec(grid_spec))
    assert len(exp.runs) == 4 * 2 * 3
    keys = {}
    for r in exp.runs:
        keys.setdefault(r.labels["tune_key"], set()).add(r.config["lr"])
    assert len(keys) == 8 and all(v == {1e-3, 3e-3, 1e-2} for v in keys.values())


def test_lr_factors_multiply_the_trainers_default_rule(grid_spec):
    """Without torch too (the rule lives in the trainer's config module, pydantic only)."""
    grid_spec["lr_sweep"] = {"factors": [0.5, 2.0]}
    exp = expand(parse_spec(grid_spec))
    r = exp.runs[0]
    # Kaplan et al. 2020, "Scaling Laws for Neural Language Models", Eq. D.1 (App. D.6):
    # LR(N) ~ 0.003239 - 0.0001395 log(N), N non-embedding
    base = 0.003239 - 0.0001395 * math.log(n_params(r.config, "nonembedding"))
    assert [x.config["lr"] for x in exp.runs[:2]] == pytest.approx([0.5 * base, 2 * base])


def test_a_spec_on_gpu_n_runs_its_workers_on_that_gpu(grid_spec, monkeypatch):
    """``device: cuda:N`` pins the sweep to GPU N: each local worker sees that GPU alone, so
    its runs use ``cuda``."""
    import scalinglab.sweep.driver as driver

    spec = parse_spec({**grid_spec, "device": "cuda:1"})
    assert execution_config(spec, expand(spec).runs[0].config)["device"] == "cuda"
    monkeypatch.setattr(driver, "visible_gpus", lambda: ["4", "7"])  # CUDA_VISIBLE_DEVICES
    ex = driver._executor("local", run_fn=lambda *a: None, n_todo=4, workers=None,
                          address=None, largest=0, spec=spec, ray_num_cpus=None)
    assert ex._gpus == ("7",) and ex.capacity == 1
    with pytest.raises(InputError, match="cuda:2 but only 2 CUDA"):
        driver._executor("local", run_fn=lambda *a: None, n_todo=4, workers=None,
                         address=None, largest=0, spec=parse_spec({**grid_spec,
                                                                   "device": "cuda:2"}),
                         ray_num_cpus=None)
    auto = parse_spec({**grid_spec, "device": "auto"})
    ex = driver._executor("local", run_fn=lambda *a: None, n_todo=4, workers=None,
                          address=None, largest=0, spec=auto, ray_num_cpus=None)
    assert ex._gpus == ("4", "7")  # auto on a GPU machine: its GPUs
    assert execution_config(auto, expand(auto).runs[0].config)["device"] == "auto"


def test_identity_ignores_execution_settings_but_not_what_is_computed(grid_spec):
    ids = [r.run_id for r in expand(parse_spec(grid_spec)).runs]
    fast = {**grid_spec, "device": "cuda", "checkpoint_every": 7,
            "train": {"compile": True, "precision": "bf16"}}
    spec = parse_spec(fast)
    assert [r.run_id for r in expand(spec).runs] == ids
    ex = execution_config(spec, expand(spec).runs[0].config)
    assert ex == {"device": "cuda", "checkpoint_every": 7, "compile": True, "precision": "bf16"}
    other = {**grid_spec, "train": {"weight_decay": 0.0}}
    assert not set(ids) & {r.run_id for r in expand(parse_spec(other)).runs}


def test_default_checkpoints_are_a_tenth_of_the_steps(grid_spec):
    spec = parse_spec(grid_spec)
    r = expand(spec).runs[1]  # 40000 tokens at 4 x 32 per step: 313 steps
    assert execution_config(spec, r.config)["checkpoint_every"] == 31


def test_execution_keys_match_the_trainers_resumable_changes():
    pytest.importorskip("torch")
    from scalinglab.train.config import RESUMABLE_CHANGES

    assert set(EXECUTION_KEYS) == set(RESUMABLE_CHANGES)


@pytest.mark.parametrize("name", ["isoflop-tiny", "grid-lr-tiny", "kaplan-tiny", "batch-tiny"])
def test_example_specs_load_and_expand(name):
    from pathlib import Path

    from scalinglab.sweep.spec import load_spec

    if name == "grid-lr-tiny":
        pytest.importorskip("torch")  # lr_sweep.factors needs the trainer's default rule
    path = Path(__file__).resolve().parents[2] / "examples" / f"{name}.yaml"
    exp = expand(load_spec(path))
    assert exp.runs and not exp.notes
    assert len({r.run_id for r in exp.runs}) == len(exp.runs)


def test_fixed_depth_and_heads_family_varies_width_only():
    exp = expand(_spec({"kind": "isoflop", "budgets": [1e10], "params": [3e3, 1e4, 3e4, 1e5]},
                       search={"multiple": 4, "n_layer": 2, "n_head": 2}))
    shapes = [(r.config["n_layer"], r.config["n_head"], r.config["d_model"]) for r in exp.runs]
    assert {s[:2] for s in shapes} == {(2, 2)}
    widths = [s[2] for s in shapes]
    assert widths == sorted(widths) and len(set(widths)) == 4 and all(w % 4 == 0 for w in widths)
    for r, target in zip(exp.runs, [3e3, 1e4, 3e4, 1e5], strict=True):
        n = n_params(r.config)
        below = n_params({**r.config, "d_model": r.config["d_model"] - 4})
        above = n_params({**r.config, "d_model": r.config["d_model"] + 4})
        # the nearest width in log N: neither neighbour is closer to the target
        assert abs(math.log(n / target)) <= min(abs(math.log(below / target)),
                                                 abs(math.log(above / target)))
    with pytest.raises(InputError, match="n_layer"):
        _spec({"kind": "grid", "params": [1e4], "tokens": [1e5]}, search={"n_head": 2})


def test_lr_scaling_gives_each_size_its_rule():
    exp = expand(_spec({"kind": "grid", "params": [5e3, 5e4], "tokens": [1e5]}, lr=1e-2,
                       lr_scaling={"exponent": -0.5, "reference_params": 1e4}))
    for r in exp.runs:
        n = n_params(r.config)
        assert r.config["lr"] == pytest.approx(1e-2 * (n / 1e4) ** -0.5, rel=1e-3)
    with pytest.raises(InputError, match="lr_scaling"):
        _spec({"kind": "grid", "params": [1e4], "tokens": [1e5]},
              lr_scaling={"exponent": -0.5, "reference_params": 1e4})


def test_synthetic_data_counts_its_own_vocabulary():
    cfg = {"n_layer": 1, "d_model": 16, "n_head": 2, "context": 32}
    bytes_n = n_params({**cfg, "tokenizer": "bytes"})
    synth_n = n_params({**cfg, "data": "synthetic:quanta", "tokenizer": "bytes"})
    assert bytes_n - synth_n == (256 - 64) * 16  # tied embedding table of 64 vs 256 tokens

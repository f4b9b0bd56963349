"""``scalinglab count / plan / shape`` through ``scalinglab.cli.main`` (the CLI contract)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fixtures import published as F
from scalinglab.cli import main
from scalinglab.laws import published as pub

FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    code = exc.value.code
    return (0 if code is None else int(code)), out, err


def run_ok(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run(argv, capsys)
    assert code == 0, err
    return out


def run_bad(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    code, out, err = run(argv, capsys)
    assert code == 2, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error:")
    text = " ".join(err.split())  # rich may wrap a long line on the console width
    for n in needles:
        assert n in text, text
    return text


# ---------------------------------------------------------------------------- count
def test_count_hf_config_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "gpt2.json"
    out = run_ok(["count", "--hf-config", str(FIXTURES / "gpt2.json"), "--json", str(out_file)],
                 capsys)
    assert "124,439,808" in out
    doc = json.loads(out_file.read_text())
    assert doc["params_total"] == F.GPT2_SMALL_PARAMS["total"]
    assert doc["params_embedding"] + doc["params_nonembedding"] == doc["params_total"]
    assert doc["params_nonembedding"] == F.GPT2_SMALL_PARAMS["blocks_and_ln_f"]
    fpt = doc["flops_per_token"]
    assert set(fpt) == {"6N", "6N-nonembedding", "6N-head", "kaplan", "chinchilla", "palm"}
    for v in fpt.values():
        assert v["inference"] == pytest.approx(v["training"] / 3)
    assert fpt["palm"]["training"] == pytest.approx(F.GPT2_SMALL_PALM_FLOPS_PER_TOKEN, rel=1e-4)
    assert set(doc["conventions"]["flops_per_token"]) == set(fpt)
    assert "non-embedding" not in doc["conventions"]["params_total"]


@pytest.mark.parametrize(("name", "total"), [
    ("llama-2-7b.json", 6_738_415_616), ("mistral-7b.json", 7_241_732_096),
    ("pythia-160m.json", 162_322_944),
])
def test_count_real_configs(name: str, total: int, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "out.json"
    run_ok(["count", "--hf-config", str(FIXTURES / name), "--json", str(f)], capsys)
    assert json.loads(f.read_text())["params_total"] == total


def test_count_mixtral_active_and_tokens(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "mix.json"
    run_ok(["count", "--hf-config", str(FIXTURES / "mixtral-8x7b.json"), "--seq-len", "4096",
            "--tokens", "1e12", "--json", str(f)], capsys)
    doc = json.loads(f.read_text())
    assert doc["params_total"] == 46_702_792_704 and doc["params_active"] == 12_879_925_248
    assert doc["seq_len"] == 4096
    assert doc["training_flops"]["6N"] == pytest.approx(6 * 12_879_925_248 * 1e12)


def test_count_from_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "llama.json"
    run_ok(["count", "--n-layer", "32", "--d-model", "4096", "--n-head", "32", "--vocab",
            "32000", "--context", "4096", "--untied", "--mlp", "swiglu", "--positions",
            "rotary", "--norm", "rmsnorm", "--no-bias", "--json", str(f)], capsys)
    doc = json.loads(f.read_text())
    assert doc["params_total"] == 6_738_415_616 and doc["shape"]["d_ff"] == 11008
    out = run_ok(["count", "--n-layer", "2", "--d-model", "64", "--n-head", "4"], capsys)
    assert "total" in out and "palm" in out


def test_count_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_bad(["count", "--hf-config", str(FIXTURES / "broken-missing-key.json")], capsys,
            "intermediate_size", "broken-missing-key.json")
    run_bad(["count", "--hf-config", str(tmp_path / "nope.json")], capsys, "no such file")
    run_bad(["count", "--hf-config", str(FIXTURES / "gpt2.json"), "--n-layer", "3"], capsys,
            "--hf-config", "--n-layer")
    run_bad(["count", "--n-layer", "2", "--d-model", "64"], capsys, "--n-head")
    run_bad(["count", "--n-layer", "2", "--d-model", "100", "--n-head", "3"], capsys,
            "--d-model", "divisible")
    run_bad(["count", "--n-layer", "2", "--d-model", "64", "--n-head", "4", "--mlp", "relu"],
            capsys, "--mlp")
    run_bad(["count", "--n-layer", "-2", "--d-model", "64", "--n-head", "4"], capsys,
            "--n-layer")
    run_bad(["count", "--n-layer", "2", "--d-model", "64", "--n-head", "4", "--tokens", "-5"],
            capsys, "--tokens")


# ---------------------------------------------------------------------------- plan
def test_plan_single_budget_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "plan.json"
    out = run_ok(["plan", "--law", "chinchilla", "--compute", "5.76e23", "--json", str(f)],
                 capsys)
    assert "N_opt" in out
    doc = json.loads(f.read_text())
    n_opt, d_opt = F.CHINCHILLA_ALLOCATIONS[("hoffmann", 5.76e23)]
    assert doc["N_opt"] == pytest.approx(n_opt, rel=1e-4)
    assert doc["D_opt"] == pytest.approx(d_opt, rel=1e-4)
    assert doc["compute"] == 5.76e23 and doc["loss"] == pytest.approx(1.9184, abs=1e-4)
    assert doc["method"] == "closed-form"
    assert {"N", "D", "compute", "loss"} <= set(doc["conventions"])
    assert doc["band"]["N"][0] < doc["N_opt"] < doc["band"]["N"][1]


def test_plan_params_text_and_cost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "plan.json"
    params = ",".join(f"{k}={v}" for k, v in pub.CHINCHILLA_EPOCH.items())
    run_ok(["plan", "--params", params, "--compute", "5.76e23", "--gpu", "h100", "--mfu", "0.4",
            "--price", "2.5", "--n-gpus", "1000", "--json", str(f)], capsys)
    doc = json.loads(f.read_text())
    n_opt, d_opt = F.CHINCHILLA_ALLOCATIONS[("epoch", 5.76e23)]
    assert doc["N_opt"] == pytest.approx(n_opt, rel=1e-4)
    assert doc["D_opt"] == pytest.approx(d_opt, rel=1e-4)
    cost = doc["cost"]
    h100 = F.GPU_PEAK_BF16_DENSE["h100-sxm"]
    assert cost["peak_flops"] == h100 and cost["mfu"] == 0.4
    assert cost["gpu_hours"] == pytest.approx(5.76e23 / (h100 * 0.4) / 3600)
    assert cost["cost"] == pytest.approx(cost["gpu_hours"] * 2.5)
    assert cost["days"] == pytest.approx(cost["gpu_hours"] / 1000 / 24)


def test_plan_budget_list_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "table.json"
    out = run_ok(["plan", "--compute", "1e21,5.76e23", "--compute", "1e25", "--json", str(f)],
                 capsys)
    assert "Kaplan" in out
    doc = json.loads(f.read_text())
    rows = doc["plans"]
    assert [r["compute"] for r in rows] == [1e21, 5.76e23, 1e25]
    assert rows[1]["compute_ref_units"] == 1.0
    assert rows[0]["kaplan_N_nonembedding"] == pytest.approx(F.KAPLAN_N_AT_1E21_HOFFMANN_D4,
                                                             rel=1e-3)
    assert "non-embedding" in doc["conventions"]["kaplan_N_nonembedding"]


def test_plan_from_fit_with_intervals(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    rng = np.random.default_rng(0)
    names = ("E", "A", "B", "alpha", "beta")
    draws = {k: (pub.CHINCHILLA_HOFFMANN[k] * np.exp(rng.normal(0, 0.01, 50))).tolist()
             for k in names}
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"law": "chinchilla", "law_options": {}, "confidence": 0.8,
                               "params": dict(pub.CHINCHILLA_HOFFMANN), "draws": draws,
                               "intervals": {}, "objective": 0.1, "n_points": 30,
                               "derived": {}, "warnings": []}))
    f = tmp_path / "plan.json"
    out = run_ok(["plan", "--fit", str(fit), "--compute", "1e22", "--json", str(f)], capsys)
    assert "80% interval" in out
    doc = json.loads(f.read_text())
    lo, hi = doc["intervals"]["N_opt"]
    assert lo < doc["N_opt"] < hi and doc["level"] == 0.8
    run_bad(["plan", "--fit", str(fit), "--law", "kaplan-nd", "--compute", "1e22"], capsys,
            "--law", "chinchilla")


def test_plan_inference_aware(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "sardana.json"
    out = run_ok(["plan", "--target-params", "13e9", "--inference-tokens", "2e12", "--gpu",
                  "a100", "--json", str(f)], capsys)
    assert "saving" in out
    doc = json.loads(f.read_text())
    assert round(doc["N_opt"] / 1e9) == F.SARDANA_FIG1["N_opt"] / 1e9
    assert doc["saving"] == pytest.approx(1.6e22, rel=0.05)
    assert doc["inference"]["chinchilla"]["N_opt"] == pytest.approx(F.SARDANA_FIG1["N"],
                                                                    rel=1e-6)
    assert doc["compute"] == pytest.approx(6 * doc["N_opt"] * doc["D_opt"])
    assert "inference_compute" in doc["conventions"]
    assert doc["cost"]["peak_flops"] == F.GPU_PEAK_BF16_DENSE["a100"]


def test_plan_target_loss_and_unique_tokens(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "inv.json"
    run_ok(["plan", "--target-loss", "1.9184", "--json", str(f)], capsys)
    doc = json.loads(f.read_text())
    assert doc["target_loss"] == 1.9184 and doc["compute"] == pytest.approx(5.76e23, rel=1e-3)
    g = tmp_path / "dc.json"
    run_ok(["plan", "--law", "data-constrained", "--compute", str(6 * 8.67e9 * 178e9),
            "--unique-tokens", "25e9", "--json", str(g)], capsys)
    doc = json.loads(g.read_text())
    alloc = F.MUENNIGHOFF_README_ALLOCATION
    assert doc["epochs"] == pytest.approx(alloc["epochs"], abs=0.05)
    assert doc["unique_tokens"] == 25e9
    assert doc["N_opt"] == pytest.approx(alloc["N"], rel=0.01)


@pytest.mark.parametrize(("argv", "needles"), [
    (["plan", "--compute", "-1e21"], ("--compute", "positive")),
    (["plan", "--compute=-1e21"], ("--compute",)),
    (["plan", "--compute", "abc"], ("--compute", "not a number")),
    (["plan"], ("--compute", "--target-loss")),
    (["plan", "--compute", "1e21", "--target-loss", "2"], ("--target-loss", "--compute")),
    (["plan", "--params", "hoffmann", "--fit", "x.json", "--compute", "1e21"], ("--fit",)),
    (["plan", "--law", "power", "--params", "Nc=1e13,alpha=0.07", "--compute", "1e21"],
     ("--law", "neither a closed form nor a numeric route")),
    (["plan", "--law", "kaplan-ns", "--params", "Nc=6.5e13,Sc=2100,alphaN=0.077,alphaS=0.76",
      "--compute", "1e21"], ("--law",)),
    (["plan", "--law", "nope", "--compute", "1e21"], ("--law", "unknown law")),
    (["plan", "--params", "E=1.69,A=406.4", "--compute", "1e21"], ("--params", "alpha")),
    (["plan", "--target-loss", "1.5"], ("--target-loss", "irreducible")),
    (["plan", "--target-loss", "-2"], ("--target-loss",)),
    (["plan", "--law", "data-constrained", "--compute", "1e21"], ("--unique-tokens",)),
    (["plan", "--compute", "1e21", "--inference-tokens", "1e12", "--unique-tokens", "1e10"],
     ("--inference-tokens", "--unique-tokens")),
    (["plan", "--compute", "1e21,1e22", "--inference-tokens", "1e12"], ("--inference-tokens",)),
    (["plan", "--compute", "1e21", "--gpu", "tpu9"], ("--gpu", "h100")),
    (["plan", "--compute", "1e21", "--gpu", "h100", "--peak-tflops", "100"],
     ("--peak-tflops",)),
    (["plan", "--compute", "1e21", "--gpu", "h100", "--mfu", "1.5"], ("--mfu",)),
    (["plan", "--compute", "1e21", "--level", "2"], ("--confidence",)),  # the old spelling
])
def test_plan_bad_input(argv: list[str], needles: tuple[str, ...],
                        capsys: pytest.CaptureFixture[str]) -> None:
    run_bad(argv, capsys, *needles)


def test_plan_bad_fit_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "fit.json"
    bad.write_text('{"law": "chinchilla"}')
    run_bad(["plan", "--fit", str(bad), "--compute", "1e21"], capsys, "fit.json", "params")
    run_bad(["plan", "--fit", str(tmp_path / "missing.json"), "--compute", "1e21"], capsys,
            "no such file")


def test_plan_json_to_unwritable_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # missing folders are created; a path under a regular file cannot be
    (tmp_path / "afile").write_text("x")
    run_bad(["plan", "--compute", "1e21", "--json", str(tmp_path / "afile" / "p.json")],
            capsys, "--json")
    run_ok(["plan", "--compute", "1e21", "--json", str(tmp_path / "new" / "p.json")], capsys)
    assert (tmp_path / "new" / "p.json").exists()


# ---------------------------------------------------------------------------- shape
def test_shape_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "shapes.json"
    out = run_ok(["shape", "--params", "1.3e8", "--top", "5", "--json", str(f)], capsys)
    assert "d_model" in out
    doc = json.loads(f.read_text())
    assert len(doc["shapes"]) == 5 and doc["count"] == "total"
    best = doc["shapes"][0]
    assert abs(best["rel_error"]) < 0.02 and best["d_model"] % 64 == 0
    assert 32 <= best["aspect_ratio"] <= 128
    g = tmp_path / "gpt2.json"
    run_ok(["shape", "--params", "124439808", "--json", str(g)], capsys)
    top = json.loads(g.read_text())["shapes"][0]
    assert (top["n_layer"], top["d_model"], top["params_total"]) == (12, 768, 124_439_808)
    run_bad(["shape", "--params", "-5"], capsys, "--params")
    run_bad(["shape", "--params", "1e8", "--count", "kaplan"], capsys, "--count")

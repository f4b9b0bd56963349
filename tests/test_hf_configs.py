"""Hugging Face configs of every supported family against published parameter counts.

Each fixture in ``tests/fixtures/hf_configs/`` holds the values of the model's public
``config.json``; each expected number below is a published count, with its source beside it
(model card, technical report or paper), never a number computed by this code. Where a source
rounds (``"14.3B"``), the test rounds the count the same way.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from scalinglab.accounting import count_params, flops_per_token
from scalinglab.accounting.hf_config import (
    EXACT_SHAPE_TYPES,
    SUPPORTED_MODEL_TYPES,
    read_hf_config,
    shape_from_hf_config,
)
from scalinglab.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"

# The Gemma reports count a 256,128-row token table; the released configs (and checkpoints)
# have vocab_size 256,000, so their embedding is 128 rows (128 x d_model) smaller.
GEMMA_PAPER_ROWS, GEMMA_VOCAB = 256_128, 256_000


@pytest.mark.parametrize(("name", "model_type", "nonembedding", "paper_embedding"), [
    # Gemma Team 2024, "Gemma: Open Models Based on Gemini Research and Technology"
    # (arXiv 2403.08295), Table 2 (parameter counts): 2B and 7B.
    ("gemma-2b.json", "gemma", 1_981_884_416, 524_550_144),
    ("gemma-7b.json", "gemma", 7_751_248_896, 786_825_216),
    # Gemma Team 2024, "Gemma 2: Improving Open Language Models at a Practical Size"
    # (arXiv 2408.00118), Table 2 (parameter counts): 2B, 9B and 27B.
    ("gemma-2-2b.json", "gemma2", 2_024_517_888, 590_118_912),
    ("gemma-2-9b.json", "gemma2", 8_324_201_984, 917_962_752),
    ("gemma-2-27b.json", "gemma2", 26_047_480_320, 1_180_237_824),
])
def test_gemma_counts_match_the_reports(name: str, model_type: str, nonembedding: int,
                                        paper_embedding: int) -> None:
    m = read_hf_config(FIXTURES / name)
    d = m.shape.d_model
    assert m.model_type == model_type
    assert m.params.nonembedding == nonembedding  # exact, as printed
    assert paper_embedding == GEMMA_PAPER_ROWS * d  # the report's table: 256,128 x d_model
    assert m.params.embedding == GEMMA_VOCAB * d  # tied: one table
    assert m.params.total == nonembedding + paper_embedding - (GEMMA_PAPER_ROWS - GEMMA_VOCAB) * d


@pytest.mark.parametrize(("name", "model_type", "total_b", "digits", "nonemb_b"), [
    # Qwen/Qwen3-0.6B model card: "Number of Parameters: 0.6B; Number of Paramaters
    # (Non-Embedding): 0.44B".
    ("qwen3-0.6b.json", "qwen3", 0.6, 1, 0.44),
    # Qwen/Qwen3-8B model card: "Number of Parameters: 8.2B; (Non-Embedding): 6.95B".
    ("qwen3-8b.json", "qwen3", 8.2, 1, 6.95),
    # microsoft/Phi-3-mini-4k-instruct: 3.8B (Abdin et al. 2024, Phi-3 Technical Report,
    # arXiv 2404.14219: "phi-3-mini, a 3.8 billion parameter language model"); the model
    # page lists 3.82B parameters.
    ("phi-3-mini-4k.json", "phi3", 3.82, 2, None),
    # Qwen/Qwen3-30B-A3B model card: "Number of Parameters: 30.5B in total and 3.3B
    # activated; Number of Paramaters (Non-Embedding): 29.9B".
    ("qwen3-30b-a3b.json", "qwen3_moe", 30.5, 1, 29.9),
    # Qwen team 2024, "Qwen1.5-MoE: Matching 7B Model Performance with 1/3 Activated
    # Parameters" (blog and Qwen/Qwen1.5-MoE-A2.7B model card): 14.3B parameters in total.
    ("qwen1.5-moe-a2.7b.json", "qwen2_moe", 14.3, 1, None),
    # DeepSeek-AI 2024, "DeepSeek-V2" (arXiv 2405.04434), App. B: DeepSeek-V2-Lite has
    # 15.7B total parameters.
    ("deepseek-v2-lite.json", "deepseek_v2", 15.7, 1, None),
    # DeepSeek-AI 2024, "DeepSeek-V3 Technical Report" (arXiv 2412.19437), abstract:
    # 671B total parameters (the model card: 685B = 671B main model + 14B MTP module).
    ("deepseek-v3.json", "deepseek_v3", 671, 0, None),
])
def test_totals_match_model_cards(name: str, model_type: str, total_b: float, digits: int,
                                  nonemb_b: float | None) -> None:
    m = read_hf_config(FIXTURES / name)
    assert m.model_type == model_type
    assert round(m.params.total / 1e9, digits) == total_b
    if nonemb_b is not None:
        places = len(str(nonemb_b).split(".")[1])  # as many decimals as the card prints
        assert round(m.params.nonembedding / 1e9, places) == nonemb_b


@pytest.mark.parametrize(("name", "active_b", "rel", "leave_out_input_table"), [
    # Qwen1.5-MoE-A2.7B: 2.7B activated (blog / model card).
    ("qwen1.5-moe-a2.7b.json", 2.7, 0.005, False),
    # Qwen3-30B-A3B: 3.3B activated (model card; 3.35B counted, the card cuts it).
    ("qwen3-30b-a3b.json", 3.3, 0.02, False),
    # DeepSeek-V2-Lite: 2.4B activated (arXiv 2405.04434, App. B); DeepSeek-V3: 37B activated
    # (arXiv 2412.19437). DeepSeek counts activated parameters without the input embedding
    # (a table lookup); ours include it, so it is taken out here.
    ("deepseek-v2-lite.json", 2.4, 0.025, True),
    ("deepseek-v3.json", 37, 0.02, True),
])
def test_moe_active_counts(name: str, active_b: float, rel: float,
                           leave_out_input_table: bool) -> None:
    m = read_hf_config(FIXTURES / name)
    pc = m.params
    active = pc.active - (pc.head if leave_out_input_table else 0)
    assert active == pytest.approx(active_b * 1e9, rel=rel)
    assert pc.active < pc.total
    # FLOPs use the exact active count when given it
    assert flops_per_token(m.shape, "6N", params=pc) == 6 * pc.active


def test_every_supported_type_has_a_fixture() -> None:
    types = {json.loads(p.read_text()).get("model_type")
             for p in FIXTURES.glob("*.json")}
    assert set(SUPPORTED_MODEL_TYPES) <= types


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")
                                        if "broken" not in p.name))
def test_shape_is_exact_where_it_says_so(name: str) -> None:
    m = read_hf_config(FIXTURES / name)
    assert m.exact_shape == (m.model_type in EXACT_SHAPE_TYPES)
    if m.exact_shape:
        assert count_params(m.shape) == m.params
    else:
        assert m.notes
        assert count_params(m.shape).total != m.params.total
    assert m.params.total == m.params.embedding + m.params.nonembedding
    assert shape_from_hf_config(FIXTURES / name) == m.shape


def test_gemma2_and_qwen3_extra_norms() -> None:
    """Gemma 2 has four RMSNorms per layer (two more than Gemma), Qwen3 a q and a k norm of
    head_dim: the only differences to the nearest standard shape."""
    g = read_hf_config(FIXTURES / "gemma-2-9b.json")
    assert g.params.total - count_params(g.shape).total == 42 * 2 * 3584
    q = read_hf_config(FIXTURES / "qwen3-8b.json")
    assert q.params.total - count_params(q.shape).total == 36 * 2 * 128


def test_a_folder_holding_config_json(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURES / "qwen3-8b.json", tmp_path / "config.json")
    m = read_hf_config(tmp_path)
    assert m.params == read_hf_config(FIXTURES / "qwen3-8b.json").params
    assert m.source == str(tmp_path / "config.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"holds no config\.json"):
        read_hf_config(empty)


def test_count_cli_reads_new_families_and_folders(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scalinglab.cli import app

    folder = tmp_path / "gemma2"
    folder.mkdir()
    shutil.copyfile(FIXTURES / "gemma-2-2b.json", folder / "config.json")
    out = tmp_path / "count.json"
    r = CliRunner().invoke(app, ["count", "--hf-config", str(folder), "--json", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["params_nonembedding"] == 2_024_517_888  # Gemma 2 report, Table 2
    assert doc["flops_per_token"]["6N"]["training"] == 6 * doc["params_total"]
    r = CliRunner().invoke(app, ["count", "--hf-config", str(FIXTURES / "qwen3-8b.json")])
    assert r.exit_code == 0, r.output


def test_bad_moe_configs() -> None:
    cfg = json.loads((FIXTURES / "qwen3-30b-a3b.json").read_text())
    with pytest.raises(InputError, match="mlp_only_layers"):
        read_hf_config({**cfg, "mlp_only_layers": "all"})
    bad = {**cfg, "num_experts_per_tok": 200}
    with pytest.raises(InputError, match="invalid shape"):
        read_hf_config(bad)
    ds = json.loads((FIXTURES / "deepseek-v3.json").read_text())
    del ds["kv_lora_rank"]
    with pytest.raises(InputError, match="kv_lora_rank"):
        read_hf_config(ds)


HAS_TRANSFORMERS = (importlib.util.find_spec("transformers") is not None
                    and importlib.util.find_spec("torch") is not None)


@pytest.mark.skipif(not HAS_TRANSFORMERS, reason="transformers (and torch) not installed")
def test_transformers_fallback_counts_on_the_meta_device() -> None:
    """A family this module does not know (OPT) is counted by transformers' AutoConfig on the
    meta device. facebook/opt-125m: 125M parameters (Zhang et al. 2022, arXiv 2205.01068,
    Table 1)."""
    cfg = {"model_type": "opt", "hidden_size": 768, "num_hidden_layers": 12,
           "num_attention_heads": 12, "ffn_dim": 3072, "vocab_size": 50272,
           "max_position_embeddings": 2048, "word_embed_proj_dim": 768,
           "do_layer_norm_before": True, "enable_bias": True, "tie_word_embeddings": True}
    m = read_hf_config(cfg)
    assert m.model_type == "opt"
    assert round(m.params.total / 1e6) == 125
    assert m.params.total == m.params.embedding + m.params.nonembedding
    assert any("transformers" in n for n in m.notes)
    # a known family is still counted here, without transformers
    assert not any("transformers" in n
                   for n in read_hf_config(FIXTURES / "gemma-2b.json").notes)


@pytest.mark.skipif(not HAS_TRANSFORMERS, reason="transformers (and torch) not installed")
@pytest.mark.parametrize("name", ["gemma-2-2b.json", "qwen3-8b.json", "phi-3-mini-4k.json",
                                  "qwen1.5-moe-a2.7b.json", "qwen3-30b-a3b.json",
                                  "deepseek-v2-lite.json"])
def test_counts_agree_with_transformers(name: str) -> None:
    """An independent count: transformers builds each model on the meta device."""
    from scalinglab.accounting.hf_config import _from_transformers

    cfg = json.loads((FIXTURES / name).read_text())
    theirs = _from_transformers(cfg, name)
    assert theirs is not None
    assert theirs.params.total == read_hf_config(cfg).params.total


@pytest.mark.skipif(HAS_TRANSFORMERS, reason="transformers is installed")
def test_unknown_type_without_transformers_names_the_way_out() -> None:
    with pytest.raises(InputError, match="pip install transformers"):
        read_hf_config({"model_type": "opt", "hidden_size": 8})

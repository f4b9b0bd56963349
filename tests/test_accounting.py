"""Parameter and FLOP accounting against independent truth (published counts, worked numbers)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures import published as F
from scalinglab.accounting import (
    FLOP_CONVENTIONS,
    ModelShape,
    ParamCount,
    count_params,
    flops_per_token,
    kaplan_approx_params,
    swiglu_ffn_dim,
    training_flops,
)
from scalinglab.accounting.hf_config import shape_from_hf_config
from scalinglab.errors import InputError, OptionError, ParameterError

FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"


def nanogpt_tensor_shapes(L: int, d: int, V: int, T: int, bias: bool = True
                          ) -> list[tuple[int, ...]]:
    """The parameter tensors a nanoGPT ``GPT`` module registers (wte, wpe, per block ln_1,
    c_attn, c_proj, ln_2, c_fc, c_proj, then ln_f; lm_head tied to wte), written out by hand
    from the module structure so that the count is checked against an enumeration, not the
    closed form."""
    shapes: list[tuple[int, ...]] = [(V, d), (T, d)]
    for _ in range(L):
        shapes += [(d,)] + ([(d,)] if bias else [])              # ln_1
        shapes += [(3 * d, d)] + ([(3 * d,)] if bias else [])    # attn.c_attn
        shapes += [(d, d)] + ([(d,)] if bias else [])            # attn.c_proj
        shapes += [(d,)] + ([(d,)] if bias else [])              # ln_2
        shapes += [(4 * d, d)] + ([(4 * d,)] if bias else [])    # mlp.c_fc
        shapes += [(d, 4 * d)] + ([(d,)] if bias else [])        # mlp.c_proj
    shapes += [(d,)] + ([(d,)] if bias else [])                  # ln_f
    return shapes


def numel(shapes: list[tuple[int, ...]]) -> int:
    return sum(math.prod(s) for s in shapes)


# ---------------------------------------------------------------------------- the API contract
def test_api_example_from_the_brief() -> None:
    shape = ModelShape(n_layer=2, d_model=64, n_head=4, vocab=256, context=64, d_ff=None,
                       n_kv_head=None, tied=True, positions="learned", mlp="gelu", bias=True,
                       norm="layernorm", n_expert=1, top_k=1)
    pc = count_params(shape)
    assert isinstance(pc, ParamCount)
    assert all(isinstance(v, int) for v in (pc.total, pc.embedding, pc.nonembedding, pc.active))
    assert pc.total == numel(nanogpt_tensor_shapes(2, 64, 256, 64))
    assert pc.embedding == 256 * 64 + 64 * 64
    assert pc.nonembedding == pc.total - pc.embedding
    assert pc.active == pc.total
    for conv in ("6N", "6N-nonembedding", "kaplan", "chinchilla", "palm"):
        f = flops_per_token(shape, convention=conv, training=True)
        assert isinstance(f, float) and f > 0
        assert flops_per_token(shape, conv, training=False) == pytest.approx(f / 3)


@pytest.mark.parametrize(("L", "d", "V", "T", "bias"), [
    (1, 32, 10, 8, True), (3, 48, 65, 16, False), (12, 768, 50257, 1024, True),
    (6, 384, 50304, 256, False),
])
def test_count_matches_nanogpt_module_enumeration(L: int, d: int, V: int, T: int,
                                                  bias: bool) -> None:
    shape = ModelShape(n_layer=L, d_model=d, n_head=4 if d % 4 == 0 else 1, vocab=V,
                       context=T, bias=bias)
    tensors = nanogpt_tensor_shapes(L, d, V, T, bias)
    pc = count_params(shape)
    assert pc.total == numel(tensors)
    assert pc.embedding == V * d + T * d
    assert pc.nonembedding == numel(tensors[2:])
    # nanoGPT's get_num_params(non_embedding=True): total minus the position table
    assert pc.with_head == pc.total - T * d


def test_gpt2_small_counts() -> None:
    """GPT-2 small (nanoGPT's scaling_laws.ipynb): 124,439,808 total, 123,653,376 without wpe,
    85,056,000 blocks + ln_f, Kaplan 12 L d^2 = 84,934,656."""
    s = ModelShape(n_layer=12, d_model=768, n_head=12, vocab=50257, context=1024)
    pc = count_params(s)
    c = F.GPT2_SMALL_PARAMS
    assert pc.total == c["total"]
    assert pc.with_head == c["without_wpe"]
    assert pc.nonembedding == c["blocks_and_ln_f"]
    assert kaplan_approx_params(s) == c["kaplan_12Ld2"] == 12 * 12 * 768**2


def test_gpt2_small_palm_flops() -> None:
    """6N + 12 L H Q T (nanoGPT's estimate_mfu, after PaLM App. B) with N = 123,653,376,
    T = 1024: 8.5517e8 FLOP/token."""
    s = ModelShape(n_layer=12, d_model=768, n_head=12, vocab=50257, context=1024)
    f = flops_per_token(s, "palm")
    n = F.GPT2_SMALL_PARAMS["without_wpe"]
    assert f == 6 * n + 12 * 12 * 12 * 64 * 1024
    assert f == pytest.approx(F.GPT2_SMALL_PALM_FLOPS_PER_TOKEN, rel=1e-4)
    # the attention term is ~13% of flops_per_token
    assert (f - 6 * n) / f == pytest.approx(0.13, abs=0.01)


def test_kaplan_and_6n_conventions() -> None:
    s = ModelShape(n_layer=12, d_model=768, n_head=12, vocab=50257, context=1024)
    pc = count_params(s)
    assert flops_per_token(s, "6N") == 6 * pc.total
    assert flops_per_token(s, "6N-nonembedding") == 6 * pc.nonembedding
    assert flops_per_token(s, "6N-head") == 6 * pc.with_head
    # Kaplan Table 1: forward 2N + 2 n_layer n_ctx d_attn
    assert flops_per_token(s, "kaplan", training=False) == pytest.approx(
        2 * pc.nonembedding + 2 * 12 * 1024 * 768)
    assert flops_per_token(s, "kaplan", context=8) == 6 * pc.nonembedding + 6 * 12 * 8 * 768
    assert training_flops(s, 1e9, "6N") == pytest.approx(6 * pc.total * 1e9)


# Table A4 of Hoffmann et al. (App. F): layers, d_model, ffw, heads, N, ratio (nanoGPT's
# reproduction of the ratios; sources in tests/fixtures/published.py).
TABLE_A4 = list(F.TABLE_A4)


@pytest.mark.parametrize(("L", "d", "ff", "h", "n_params", "ratio"), TABLE_A4)
def test_chinchilla_appendix_f_ratios(L: int, d: int, ff: int, h: int, n_params: int,
                                      ratio: float) -> None:
    """Chinchilla shapes (relative positions, tied 32k vocabulary, seq 2048): the App. F count
    without embedding/logit FLOPs over 6ND reproduces Table A4 (1.03 ... 0.99 in the paper)."""
    s = ModelShape(n_layer=L, d_model=d, n_head=h, d_ff=ff, vocab=32000, context=2048,
                   positions="relative")
    N = count_params(s).total
    assert N == n_params  # nanoGPT's chinchilla_params for the same model
    r = flops_per_token(s, "chinchilla", embedding_flops=False) / (6 * N)
    assert r == pytest.approx(ratio, abs=6e-4)
    # counted in full, embeddings and logits push every ratio up
    assert flops_per_token(s, "chinchilla") / (6 * N) > r


def test_chinchilla_appendix_f_terms_by_hand() -> None:
    """One small shape, every App. F term written out per sequence and divided by seq_len."""
    L, d, h, ff, V, T = 2, 64, 4, 256, 100, 32
    s = ModelShape(n_layer=L, d_model=d, n_head=h, d_ff=ff, vocab=V, context=T)
    kq = d // h
    per_seq = (2 * T * V * d
               + L * (2 * 3 * T * d * kq * h + 2 * T * T * kq * h + 3 * h * T * T
                      + 2 * T * T * kq * h + 2 * T * kq * h * d + 2 * T * (2 * d * ff))
               + 2 * T * d * V)
    assert flops_per_token(s, "chinchilla") == pytest.approx(3 * per_seq / T)


def test_every_convention_is_documented() -> None:
    s = ModelShape(n_layer=2, d_model=64, n_head=4)
    for conv in FLOP_CONVENTIONS:
        assert flops_per_token(s, conv) > 0
    with pytest.raises(OptionError, match="convention"):
        flops_per_token(s, "7N")


# ---------------------------------------------------------------------------- real configs
@pytest.mark.parametrize(("name", "total", "nonembedding"), [
    ("gpt2.json", 124_439_808, 85_056_000),
    # Pythia model card: exact total and non-embedding counts (70M: 70,426,624 / 18,915,328;
    # 160M: 162,322,944 / 85,056,000)
    ("pythia-70m.json", 70_426_624, 18_915_328),
    ("pythia-160m.json", 162_322_944, 85_056_000),
    ("llama-2-7b.json", 6_738_415_616, None),
    ("mistral-7b.json", 7_241_732_096, None),
    # Qwen2-0.5B: 494,032,768 (q/k/v biases, GQA 14/2, tied head)
    ("qwen2-0.5b.json", 494_032_768, None),
])
def test_hf_config_totals(name: str, total: int, nonembedding: int | None) -> None:
    pc = count_params(shape_from_hf_config(FIXTURES / name))
    assert pc.total == total
    assert pc.active == total
    if nonembedding is not None:
        assert pc.nonembedding == nonembedding


def test_mixtral_total_and_active() -> None:
    """Mixtral 8x7B: 46.7B total, 12.9B active (Jiang et al. 2024); exact counts from the
    config: 46,702,792,704 and 12,879,925,248."""
    s = shape_from_hf_config(FIXTURES / "mixtral-8x7b.json")
    pc = count_params(s)
    assert pc.total == 46_702_792_704
    assert pc.active == 12_879_925_248
    assert round(pc.total / 1e9, 1) == 46.7 and round(pc.active / 1e9, 1) == 12.9
    # dense Mistral-7B differs only by 7 extra experts per layer and the routers
    mistral = count_params(shape_from_hf_config(FIXTURES / "mistral-7b.json"))
    assert pc.total - mistral.total == 32 * (7 * pc.per_expert + 4096 * 8)
    assert pc.active - mistral.total == 32 * (pc.per_expert + 4096 * 8)
    # FLOPs use the active count
    assert flops_per_token(s, "6N") == 6 * pc.active


def test_llama_swiglu_default_width() -> None:
    assert swiglu_ffn_dim(4096) == 11008
    s = ModelShape(n_layer=32, d_model=4096, n_head=32, vocab=32000, context=4096,
                   tied=False, positions="rotary", mlp="swiglu", bias=False, norm="rmsnorm")
    assert s.ffn_dim == 11008
    assert count_params(s).total == 6_738_415_616


def test_hf_config_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="intermediate_size"):
        shape_from_hf_config(FIXTURES / "broken-missing-key.json")
    with pytest.raises(InputError, match="no such file"):
        shape_from_hf_config(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="JSON"):
        shape_from_hf_config(bad)
    with pytest.raises(InputError, match="unsupported model_type 't5'"):
        shape_from_hf_config({"model_type": "t5"})
    with pytest.raises(InputError, match="model_type"):
        shape_from_hf_config({"hidden_size": 4})
    with pytest.raises(InputError, match="invalid shape"):
        shape_from_hf_config({"model_type": "gpt2", "n_embd": 10, "n_layer": 1, "n_head": 3,
                              "vocab_size": 5, "n_positions": 4})


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize(("kwargs", "option"), [
    ({"d_model": 100, "n_head": 3}, "d_model"),
    ({"n_head": 8, "n_kv_head": 3}, "n_kv_head"),
    ({"n_layer": 0}, "n_layer"),
    ({"n_layer": -2}, "n_layer"),
    ({"vocab": 2.5}, "vocab"),
    ({"n_layer": True}, "n_layer"),
    ({"mlp": "relu"}, "mlp"),
    ({"positions": "alibi"}, "positions"),
    ({"norm": "batchnorm"}, "norm"),
    ({"n_expert": 2, "top_k": 3}, "top_k"),
    ({"d_ff": 0}, "d_ff"),
])
def test_shape_validation_names_the_option(kwargs: dict, option: str) -> None:
    base = {"n_layer": 2, "d_model": 64, "n_head": 4}
    with pytest.raises(ParameterError) as exc:  # the Python parameter, not a CLI flag
        ModelShape(**{**base, **kwargs})
    assert exc.value.parameter == option and "--" not in str(exc.value)


def test_shape_is_frozen_and_round_trips() -> None:
    s = ModelShape(n_layer=2, d_model=64, n_head=4, mlp="swiglu", n_kv_head=2)
    with pytest.raises(AttributeError):
        s.n_layer = 3  # type: ignore[misc]
    assert ModelShape.from_dict(s.to_dict()) == s
    r = s.resolved()
    assert r.d_ff == s.ffn_dim and r.n_kv_head == 2 and count_params(r) == count_params(s)
    with pytest.raises(OptionError, match="unknown shape field"):
        ModelShape.from_dict({**s.to_dict(), "depth": 3})


# ---------------------------------------------------------------------------- properties
_shapes = st.builds(
    lambda L, h, hd, kvdiv, V, T, tied, pos, mlp, bias, norm, E: ModelShape(
        n_layer=L, d_model=h * hd, n_head=h, n_kv_head=max(1, h // kvdiv) if h % kvdiv == 0
        else h, vocab=V, context=T, tied=tied, positions=pos, mlp=mlp, bias=bias, norm=norm,
        n_expert=E, top_k=min(2, E)),
    st.integers(1, 48), st.integers(1, 32), st.sampled_from([16, 32, 64, 128]),
    st.sampled_from([1, 2, 4]), st.integers(2, 200_000), st.integers(1, 8192), st.booleans(),
    st.sampled_from(["learned", "rotary", "relative", "none"]),
    st.sampled_from(["gelu", "swiglu"]), st.booleans(),
    st.sampled_from(["layernorm", "rmsnorm"]), st.sampled_from([1, 1, 4, 8]),
)


@settings(max_examples=60, deadline=None)
@given(_shapes, st.integers(1, 8))
def test_params_and_flops_monotone_in_depth(shape: ModelShape, extra: int) -> None:
    deeper = ModelShape(**{**shape.to_dict(), "n_layer": shape.n_layer + extra})
    a, b = count_params(shape), count_params(deeper)
    assert b.total > a.total and b.nonembedding > a.nonembedding and b.active > a.active
    assert b.embedding == a.embedding
    assert b.total - a.total == extra * a.per_layer
    for conv in FLOP_CONVENTIONS:
        assert flops_per_token(deeper, conv) > flops_per_token(shape, conv)


@settings(max_examples=60, deadline=None)
@given(_shapes)
def test_count_identities(shape: ModelShape) -> None:
    pc = count_params(shape)
    assert pc.total == pc.embedding + pc.nonembedding
    assert pc.active <= pc.total and pc.active_nonembedding <= pc.nonembedding
    assert pc.total - pc.active == pc.nonembedding - pc.active_nonembedding
    if shape.n_expert == 1:
        assert pc.active == pc.total
    # Kaplan's 12 L d^2 approximation is the dominant part of a GELU MHA model's blocks
    if shape.mlp == "gelu" and shape.n_expert == 1 and shape.positions != "relative" \
            and shape.kv_heads == shape.n_head:
        assert kaplan_approx_params(shape) <= pc.nonembedding

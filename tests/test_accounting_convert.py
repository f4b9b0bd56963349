"""Convention conversions (Pearce & Song 2024) and the shape search."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures import published as F
from scalinglab.accounting import ModelShape, count_params
from scalinglab.accounting.convert import (
    PEARCE_SONG_GAMMA,
    allocation_exponent,
    convention_report,
    convert_observations,
    convert_params,
    embedding_gamma,
    frontier_compute_nonembedding,
    nonembedding_from_total,
    nonembedding_frontier,
    pearce_song_local_exponent,
    total_from_nonembedding,
)
from scalinglab.accounting.shapes_search import search_shapes
from scalinglab.errors import InputError, OptionError, ParameterError
from scalinglab.laws import published as pub

#: the constants exactly as Pearce & Song's script writes them
PS_CHINCHILLA = F.PEARCE_SONG_CHINCHILLA
PS_EPOCH = F.PEARCE_SONG_EPOCH


def test_gamma_from_vocab_and_aspect_ratio() -> None:
    """gamma = V (a/12)^(1/3) with V = 32k, a = 39.2 is Pearce & Song's fitted 47491 (0.03%)."""
    assert embedding_gamma(F.PEARCE_SONG_VOCAB, F.PEARCE_SONG_ASPECT) == pytest.approx(
        F.PEARCE_SONG_GAMMA, rel=5e-4)
    assert PEARCE_SONG_GAMMA == F.PEARCE_SONG_GAMMA


def test_gamma_matches_exact_counts_of_a_chinchilla_like_family() -> None:
    """N_T - N_E of exact shapes at fixed aspect ratio is gamma N_E^(1/3) up to the (small)
    biases and norms that 12 L d^2 leaves out."""
    for L in (8, 16, 32):
        d = 64 * round(39.2 * L / 64)
        s = ModelShape(n_layer=L, d_model=d, n_head=d // 64, vocab=32000, context=2048,
                       positions="rotary")
        pc = count_params(s)
        n_e = 12 * L * d**2
        gamma = embedding_gamma(32000, d / L)
        assert pc.embedding == pytest.approx(gamma * n_e ** (1 / 3), rel=1e-9)
        assert pc.nonembedding == pytest.approx(n_e, rel=0.01)
        # GPT-2-like: untied head and a learned position table add to gamma
        g = ModelShape(n_layer=L, d_model=d, n_head=d // 64, vocab=50257, context=1024,
                       tied=False)
        g_gamma = embedding_gamma(50257, d / L, tied=False, context=1024)
        assert count_params(g).embedding == pytest.approx(g_gamma * n_e ** (1 / 3), rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.floats(1e2, 1e13), st.floats(1e3, 1e6))
def test_total_nonembedding_round_trip(n: float, gamma: float) -> None:
    t = total_from_nonembedding(n, gamma)
    assert t > n
    assert float(nonembedding_from_total(t, gamma)) == pytest.approx(n, rel=1e-9)
    assert float(convert_params(n, source="nonembedding", target="total", gamma=gamma)) == t


def test_pearce_song_local_exponents() -> None:
    """Pearce & Song 2024, Sec. 3: the Chinchilla law (total params) read in Kaplan's
    conventions over Kaplan's budgets gives N*_E ∝ C_E^0.78 (Epoch) / 0.74 (Chinchilla);
    in total parameters the exponent is beta/(alpha+beta) = 0.513 / 0.457."""
    a_ne = F.PEARCE_SONG_A_NONEMBEDDING
    assert allocation_exponent(PS_EPOCH) == pytest.approx(a_ne["epoch"], abs=0.006)
    assert allocation_exponent(PS_CHINCHILLA) == pytest.approx(a_ne["chin"], abs=0.006)
    assert allocation_exponent(PS_EPOCH, convention="total") == pytest.approx(0.5126, abs=1e-4)
    assert allocation_exponent(PS_CHINCHILLA, convention="total") == pytest.approx(0.4565,
                                                                                  abs=1e-4)
    rep = convention_report(pub.CHINCHILLA_HOFFMANN)
    assert rep["exponent_nonembedding"] - rep["exponent_total"] > 0.25
    assert "Kaplan" in rep["conventions"]["exponent_nonembedding"]
    # at large scale the embedding is negligible and both conventions agree
    far = allocation_exponent(PS_EPOCH, compute_range=(1e30, 1e34))
    assert far == pytest.approx(0.5126, abs=0.01)


def test_numeric_frontier_matches_pearce_song_closed_form() -> None:
    """The numeric N*_E(C_E) inverts Pearce & Song's closed form C_E(N*_E)."""
    for params in (PS_EPOCH, PS_CHINCHILLA):
        n = np.logspace(3, 10, 8)
        c = frontier_compute_nonembedding(params, n)
        assert nonembedding_frontier(params, c) == pytest.approx(n, rel=1e-6)
        # the analytic local slope g agrees with the numeric slope of the frontier
        eps = 1e-4
        num = (np.log(nonembedding_frontier(params, c * np.exp(eps)))
               - np.log(nonembedding_frontier(params, c * np.exp(-eps)))) / (2 * eps)
        assert num == pytest.approx(pearce_song_local_exponent(n, params), abs=1e-3)
    a, b = PS_EPOCH["alpha"], PS_EPOCH["beta"]
    assert pearce_song_local_exponent(1e-3, PS_EPOCH) == pytest.approx(b / (a / 3 + b), rel=1e-3)
    assert pearce_song_local_exponent(1e24, PS_EPOCH) == pytest.approx(b / (a + b), rel=1e-3)


def test_convert_observation_table() -> None:
    df = pd.DataFrame({"N": [1e6, 1e8], "D": [1e9, 1e10], "loss": [4.0, 3.0]})
    df.attrs["conventions"] = {"N": "non-embedding"}
    out = convert_observations(df, source="nonembedding", target="total")
    assert out["N"].tolist() == pytest.approx(total_from_nonembedding(df["N"]).tolist())
    assert out["C"].tolist() == pytest.approx((6 * out["N"] * out["D"]).tolist())
    assert "Pearce & Song" in out.attrs["conventions"]["N"]
    assert df["N"].tolist() == [1e6, 1e8]  # input untouched
    back = convert_observations(out, source="total", target="nonembedding")
    assert back["N"].tolist() == pytest.approx([1e6, 1e8], rel=1e-9)
    with pytest.raises(InputError):
        convert_observations(df.drop(columns="N"), source="nonembedding", target="total")
    with pytest.raises(ParameterError, match="argument target"):
        convert_params(1.0, source="total", target="kaplan")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- shape search
def test_shape_search_finds_gpt2_small() -> None:
    best = search_shapes(124_439_808, top=5)[0]
    assert (best.shape.n_layer, best.shape.d_model, best.shape.n_head) == (12, 768, 12)
    assert best.count == 124_439_808 and best.rel_error == 0.0


def test_shape_search_llama_template_nonembedding() -> None:
    tmpl = ModelShape(n_layer=1, d_model=128, n_head=1, vocab=32000, context=4096, tied=False,
                      positions="rotary", mlp="swiglu", bias=False, norm="rmsnorm")
    out = search_shapes(6.5e9, template=tmpl, count="nonembedding", head_dim=128, top=3)
    for c in out:
        assert c.shape.d_model % 128 == 0 and c.shape.dim_head == 128
        assert abs(c.rel_error) < 0.01
        assert c.count == count_params(c.shape).nonembedding


@settings(max_examples=15, deadline=None)
@given(st.floats(2e6, 3e9), st.sampled_from([(32.0, 128.0), (20.0, 200.0), (64.0, 64.0)]))
def test_shape_search_constraints(target: float, aspect: tuple[float, float]) -> None:
    out = search_shapes(target, aspect_range=aspect, top=5)
    errs = [round(abs(c.rel_error), 4) for c in out]  # ties broken by aspect ratio
    assert errs == sorted(errs)
    for c in out:
        s = c.shape
        assert s.d_model % 64 == 0 and s.d_model % s.n_head == 0
        assert aspect[0] <= s.aspect_ratio <= aspect[1]
        assert c.rel_error == pytest.approx((count_params(s).total - target) / target)


def test_shape_search_bad_input() -> None:
    for bad in (-1.0, 0.0, float("nan")):
        with pytest.raises(ParameterError, match="argument target"):
            search_shapes(bad)
    with pytest.raises(ParameterError, match="argument count"):
        search_shapes(1e8, count="kaplan")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="argument aspect_range"):
        search_shapes(1e8, aspect_range=(100.0, 10.0))
    with pytest.raises(OptionError, match="no shape"):
        search_shapes(1e3, aspect_range=(500.0, 600.0))

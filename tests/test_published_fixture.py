"""The tests' published values (``tests/fixtures/published.py``) are self-consistent.

* every public constant of the fixture carries a source that names a paper (an arXiv id), a
  public repository with a 40-hex commit, or a vendor document, and says how it was derived
  where it is not a printed number;
* the derived values ("test vectors") follow from the printed constants they name, recomputed
  here with plain NumPy closed forms, independently of ``scalinglab``;
* the package's own table ``scalinglab.laws.published`` (and the few constants other modules
  carry) agrees with the fixture wherever both hold the same constant, so that the library's
  defaults and the tests' truth cannot drift apart silently.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from fixtures import published as F
from scalinglab.laws import published as P

ARXIV = re.compile(r"arXiv \d{4}\.\d{4,5}")
REPO_AT_COMMIT = re.compile(r"[\w.-]+/[\w.-]+, .*commit [0-9a-f]{40}")
VENDOR = re.compile(r"NVIDIA .*(whitepaper|datasheet)")

PUBLIC = sorted(k for k in vars(F) if k.isupper() and not k.startswith("_") and k != "SOURCES")


# ---------------------------------------------------------------------------- every entry cited
def test_every_constant_has_exactly_one_source_record() -> None:
    assert PUBLIC, "the fixture defines no constants"
    assert set(PUBLIC) == set(F.SOURCES), (set(PUBLIC) ^ set(F.SOURCES))


@pytest.mark.parametrize("name", PUBLIC)
def test_source_names_a_paper_or_a_repository_commit(name: str) -> None:
    src = F.SOURCES[name]
    assert isinstance(src, F.Source)
    text = f"{src.where} {src.derived}"
    assert src.where.strip(), name
    assert ARXIV.search(text) or REPO_AT_COMMIT.search(text) or VENDOR.search(text), (
        f"{name}: no arXiv id, repository commit or vendor document in {src.where!r}")
    assert "reference sheet" not in text.lower() and "anchor" not in text.lower(), name
    assert "../shared" not in text, name


def test_the_source_kinds_are_recognised() -> None:
    """The three patterns above are not vacuous."""
    assert not ARXIV.search("Kaplan et al. 2020, Table 5")
    assert not REPO_AT_COMMIT.search("karpathy/nanoGPT, model.py, commit 0011cd4")
    assert REPO_AT_COMMIT.search("a/b, f.py, commit " + "0" * 40)
    assert not VENDOR.search("a vendor page")


# ---------------------------------------------------------------------------- derived values
def _power(scale: float, alpha: float, x: float) -> float:
    return (scale / x) ** alpha


def _chinchilla(p: dict[str, float], n: float, d: float) -> float:
    return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]


def _allocation(p: dict[str, float], c: float) -> tuple[float, float]:
    a, b = p["alpha"], p["beta"]
    g = (a * p["A"] / (b * p["B"])) ** (1 / (a + b))
    n = g * (c / 6) ** (b / (a + b))
    return n, c / (6 * n)


FIVE_SF = 5e-5  # half a unit in the 5th significant figure, relative


def test_kaplan_vectors_follow_from_the_tables() -> None:
    v = F.KAPLAN_VECTORS
    n, d, c = F.KAPLAN_N, F.KAPLAN_D, F.KAPLAN_CMIN_PFDAYS
    assert _power(n["Nc"], n["alpha"], 1e8) == pytest.approx(v["L(N=1e8), Table 5"], rel=FIVE_SF)
    assert _power(n["Nc"], n["alpha"], 1e9) == pytest.approx(v["L(N=1e9), Table 5"], rel=FIVE_SF)
    assert _power(d["Dc"], d["alpha"], 1e10) == pytest.approx(v["L(D=1e10), Table 5"],
                                                               rel=FIVE_SF)
    assert _power(c["Cc"], c["alpha"], 1.0) == pytest.approx(v["L(C_min=1 PF-day), Table 5"],
                                                             rel=FIVE_SF)
    f1 = F.KAPLAN_CMIN_PFDAYS_FIG1
    assert _power(f1["Cc"], f1["alpha"], 1.0) == pytest.approx(
        v["L(C_min=1 PF-day), Figure 1"], rel=FIVE_SF)
    nd = F.KAPLAN_ND  # Eq. 1.5: [(Nc/N)^(aN/aD) + Dc/D]^aD
    lnd = ((nd["Nc"] / 1e9) ** (nd["alphaN"] / nd["alphaD"]) + nd["Dc"] / 1e10) ** nd["alphaD"]
    assert lnd == pytest.approx(v["L(N=1e9, D=1e10), Table 2"], rel=FIVE_SF)
    ns = F.KAPLAN_NS  # Eq. 1.6: (Nc/N)^aN + (Sc/S)^aS
    lns = _power(ns["Nc"], ns["alphaN"], 1e9) + _power(ns["Sc"], ns["alphaS"], 1e5)
    assert lns == pytest.approx(v["L(N=1e9, S_min=1e5), Table 3"], rel=FIVE_SF)
    b = F.KAPLAN_BCRIT
    assert b["B_star"] / 3.0 ** (1 / b["alpha_B"]) == pytest.approx(F.KAPLAN_BCRIT_AT_LOSS_3,
                                                                     rel=FIVE_SF)
    assert F.PF_DAY_FLOP == 1e15 * 24 * 3600


def test_chinchilla_vectors_follow_from_eq_2_and_eq_4() -> None:
    consts = {"hoffmann": F.CHINCHILLA_HOFFMANN, "hoffmann-rounded": F.CHINCHILLA_HOFFMANN_ROUNDED,
              "epoch": F.CHINCHILLA_EPOCH, "epoch-E1.8172": F.PEARCE_SONG_EPOCH}
    for name, losses in F.CHINCHILLA_GOPHER_LOSSES.items():
        got = [_chinchilla(consts[name], n, d) for n, d in F.CHINCHILLA_GOPHER_ND]
        assert got == pytest.approx(list(losses), rel=FIVE_SF), name
    for (name, c), (n_opt, d_opt) in F.CHINCHILLA_ALLOCATIONS.items():
        n, d = _allocation(consts[name], c)
        assert (n, d) == pytest.approx((n_opt, d_opt), rel=FIVE_SF), (name, c)
    for name, ratio in F.TOKENS_PER_PARAM_AT_5_9E23.items():
        n, d = _allocation(consts[name], 5.9e23)
        assert round(d / n) == ratio, name
    n, _ = _allocation(F.CHINCHILLA_HOFFMANN, F.GOPHER_FLOPS)
    assert round(n / 10e9) * 10e9 == F.HOFFMANN_FIG4_N_OPT_GOPHER
    # Epoch's a = beta / (alpha + beta), and their grid optimum's
    for p in (F.CHINCHILLA_EPOCH, F.CHINCHILLA_EPOCH_GRID):
        assert p["beta"] / (p["alpha"] + p["beta"]) == pytest.approx(F.EPOCH_A, abs=1e-3)
    # the unrounded constants round to the printed ones (Eq. 10)
    for k, v in F.CHINCHILLA_HOFFMANN_ROUNDED.items():
        digits = {"E": 2, "alpha": 2, "beta": 2, "A": 1, "B": 1}[k]
        if k == "beta":  # 0.2849 prints as 0.28: Hoffmann et al. truncated (Besiroglu et al.)
            assert math.floor(F.CHINCHILLA_HOFFMANN[k] * 100) / 100 == v
        else:
            assert round(F.CHINCHILLA_HOFFMANN[k], digits) == v, k
    for k, v in F.PEARCE_SONG_CHINCHILLA.items():  # the script's 4-digit copy of the same fit
        assert F.CHINCHILLA_HOFFMANN[k] == pytest.approx(v, abs=0.05 if k in "AB" else 1e-4)


def test_table_a3_rows_are_6nd_but_one() -> None:
    for n, c, d in F.TABLE_A3_APPROACH3:
        off = abs(6 * n * d / c - 1)
        if n == 175e9:
            assert off > 5  # the printed 1.26e24
            assert 6 * n * d == pytest.approx(F.TABLE_A3_175B_FLOPS_6ND, rel=1e-9)
        else:
            assert off < 0.1, n


def test_muennighoff_vectors_follow_from_the_readme_constants() -> None:
    p = F.DATA_CONSTRAINED_MUENNIGHOFF
    rd = np.array([3.0, 4.0])
    got = [*(1 + p["RD"] * (1 - np.exp(-rd / p["RD"]))), 1 + p["RD"]]
    assert got == pytest.approx(list(F.MUENNIGHOFF_EFFECTIVE_DATA), rel=FIVE_SF)
    # the README's scaling_law, written out from its printed formula
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
    for (n, d, u), want in F.MUENNIGHOFF_README_LOSSES.items():
        r_d = max(d / u - 1, 0.0)
        u_n = min(n, (u * g) ** (p["beta"] / p["alpha"]) * g)
        r_n = max(n / u_n - 1, 0.0)
        n_eff = u_n + u_n * p["RN"] * (1 - math.exp(-r_n / p["RN"]))
        d_eff = u + u * p["RD"] * (1 - math.exp(-r_d / p["RD"]))
        loss = p["E"] + p["A"] / n_eff ** p["alpha"] + p["B"] / d_eff ** p["beta"]
        assert loss == pytest.approx(want, rel=1e-12)


def test_transfer_precision_and_accounting_vectors() -> None:
    for p, want in zip((F.TRANSFER_TEXT_TO_PYTHON, F.TRANSFER_TEXT_CODE_TO_PYTHON),
                       F.TRANSFER_VECTORS, strict=True):
        assert p["k"] * 1e6 ** p["alpha"] * 1e8 ** p["beta"] == pytest.approx(want, rel=FIVE_SF)
    bits = np.array([3.0, 4.0, 8.0, 16.0])
    assert list(1 - np.exp(-bits / F.PRECISION_GAMMA_W)) == pytest.approx(
        list(F.PRECISION_FACTORS), rel=FIVE_SF)
    L, d, V, T = 12, 768, 50257, 1024
    c = F.GPT2_SMALL_PARAMS
    assert c["blocks_and_ln_f"] == L * (12 * d**2 + 13 * d) + 2 * d
    assert c["without_wpe"] == V * d + c["blocks_and_ln_f"]
    assert c["total"] == c["without_wpe"] + T * d
    assert c["kaplan_12Ld2"] == 12 * L * d**2
    flops = 6 * c["without_wpe"] + 12 * L * 12 * (d // 12) * T
    assert flops == pytest.approx(F.GPT2_SMALL_PALM_FLOPS_PER_TOKEN, rel=FIVE_SF)
    for *_, ratio in F.TABLE_A4:
        assert 0.99 <= ratio <= 1.11


# ---------------------------------------------------------------------------- package agreement
SAME = [  # (fixture name, the package's name in scalinglab.laws.published)
    "CHINCHILLA_HOFFMANN_ROUNDED", "CHINCHILLA_HOFFMANN", "CHINCHILLA_EPOCH",
    "CHINCHILLA_EPOCH_GRID", "DATA_CONSTRAINED_MUENNIGHOFF", "KAPLAN_ND", "KAPLAN_NS",
    "KAPLAN_N", "KAPLAN_D", "KAPLAN_CMIN_PFDAYS", "KAPLAN_CMIN_PFDAYS_FIG1", "KAPLAN_BCRIT",
    "PF_DAY_FLOP", "TRANSFER_TEXT_TO_PYTHON", "TRANSFER_TEXT_CODE_TO_PYTHON",
    "PRECISION_GAMMA_W", "JONES_TEST_PER_10X_TRAIN", "BROWN_COVERAGE_POINTS",
]


def _same(a: object, b: object) -> bool:
    """Equal, floats to 1e-12 relative (the package computes exp(log A) where we may too)."""
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-12)  # type: ignore[arg-type]
    return a == b


@pytest.mark.parametrize("name", SAME)
def test_package_table_agrees_with_the_fixture(name: str) -> None:
    ours, theirs = getattr(F, name), getattr(P, name)
    if isinstance(ours, dict):
        assert set(theirs) == set(ours), name
        for k in ours:
            assert _same(theirs[k], ours[k]), (name, k)
    else:
        assert _same(theirs, ours), name


def test_other_package_constants_agree_with_the_fixture() -> None:
    from scalinglab.accounting.convert import PEARCE_SONG_GAMMA
    from scalinglab.fit.objectives import DEFAULT_DELTA
    from scalinglab.plan import GPUS

    assert PEARCE_SONG_GAMMA == F.PEARCE_SONG_GAMMA
    assert DEFAULT_DELTA == F.HUBER_DELTA
    assert GPUS["h100"][1] == F.GPU_PEAK_BF16_DENSE["h100-sxm"]
    assert GPUS["a100"][1] == F.GPU_PEAK_BF16_DENSE["a100"]
    assert P.kaplan_critical_batch(3.0) == pytest.approx(F.KAPLAN_BCRIT_AT_LOSS_3, rel=1e-4)
    d = F.DENSING_XIAO
    assert P.DENSING_XIAO_A_PER_DAY == d["A_per_day"]
    assert P.DENSING_XIAO_DOUBLING_DAYS == d["doubling_days"]
    assert P.DENSING_XIAO_FIG1_A_PER_DAY == d["fig1_A_per_day"]
    assert P.DENSING_XIAO_FIG1_DOUBLING_MONTHS == d["fig1_doubling_months"]
    assert P.DENSING_XIAO_PRE_CHATGPT_A_PER_DAY == d["pre_chatgpt_A_per_day"]
    assert P.DENSING_XIAO_NMI_DOUBLING_MONTHS == d["nmi_doubling_months"]


def test_the_agreement_check_can_fail() -> None:
    """A drifted package constant is caught (the comparison is not vacuous)."""
    drifted = dict(P.CHINCHILLA_EPOCH, beta=0.3659)
    assert not _same(drifted["beta"], F.CHINCHILLA_EPOCH["beta"])
    assert not _same(((1, 0.159), (250, 0.57)), F.BROWN_COVERAGE_POINTS[
        "swe-bench-lite/deepseek-coder-v2-instruct"])

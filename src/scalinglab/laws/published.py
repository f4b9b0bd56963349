"""Published constants of the laws, each with its source (paper and table or equation, or
repository and commit) in the comment above it; ``tests/test_published_fixture.py`` checks
them against the tests' own copy in ``tests/fixtures/published.py``.

Each entry is a plain ``{name: value}`` mapping in the parameter names of
:mod:`scalinglab.laws`, ready for ``law.predict(params, ...)`` or ``scalinglab plan --params``.
Conventions: loss in nats/token; Chinchilla N and D include embeddings (total parameters);
Kaplan N is non-embedding; Kaplan C is in PF-days (1 PF-day = 8.64e19 FLOP).
"""

from __future__ import annotations

import math

#: Hoffmann et al. 2022, Eq. 10 as printed (rounded).
CHINCHILLA_HOFFMANN_ROUNDED = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}

#: Hoffmann et al., unrounded values used by Epoch's replication as the "true" parameters
#: (log A 6.0073404, log B 6.0179186, log E 0.5267228). The default Chinchilla constants.
CHINCHILLA_HOFFMANN = {
    "E": math.exp(0.5267228),
    "A": math.exp(6.0073404),
    "B": math.exp(6.0179186),
    "alpha": 0.33917084,
    "beta": 0.2849083,
}

#: Besiroglu et al. 2024 (Epoch) headline estimate: Huber likelihood, 240 points.
CHINCHILLA_EPOCH = {"E": 1.8169, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}

#: Epoch's Hoffmann-style grid + L-BFGS-B optimum of the summed Huber loss on 240 points.
CHINCHILLA_EPOCH_GRID = {"E": 1.8172, "A": 477.84, "B": 2143.86, "alpha": 0.34731,
                         "beta": 0.36718}

#: Muennighoff et al. 2023, datablations README "Parametric Fit".
DATA_CONSTRAINED_MUENNIGHOFF = {
    "E": math.exp(0.6254804),
    "A": math.exp(6.255414),
    "B": math.exp(7.3049974),
    "alpha": 0.3526596,
    "beta": 0.3526596,
    "RD": 15.387756,
    "RN": 5.309743,
}

#: Kaplan et al. 2020, Table 2 (joint L(N, D) fit; N non-embedding, D tokens).
KAPLAN_ND = {"Nc": 6.4e13, "Dc": 1.8e13, "alphaN": 0.076, "alphaD": 0.103}
#: Kaplan et al. 2020, Table 3 (L(N, S_min)).
KAPLAN_NS = {"Nc": 6.5e13, "Sc": 2.1e3, "alphaN": 0.077, "alphaS": 0.76}
#: Kaplan et al. 2020, Table 5 single-variable fits (power law, variable -> params).
KAPLAN_N = {"Nc": 8.8e13, "alpha": 0.076}
KAPLAN_D = {"Dc": 5.4e13, "alpha": 0.095}
#: L(C_min) with C in PF-days (Eq. 1.3 / Table 5; Figure 1's legend uses Cc = 2.3e8).
KAPLAN_CMIN_PFDAYS = {"Cc": 3.1e8, "alpha": 0.050}
KAPLAN_CMIN_PFDAYS_FIG1 = {"Cc": 2.3e8, "alpha": 0.050}
#: Critical batch size B_crit(L) = B_star / L^(1/alpha_B) (Eq. 5.3), tokens.
KAPLAN_BCRIT = {"B_star": 2e8, "alpha_B": 0.21}

PF_DAY_FLOP = 1e15 * 24 * 3600


def kaplan_critical_batch(loss: float, B_star: float = 2e8, alpha_B: float = 0.21) -> float:
    """Kaplan et al. Eq. 5.3: critical batch size in tokens at loss ``loss`` (nats/token)."""
    return B_star / loss ** (1.0 / alpha_B)


#: Hernandez et al. 2021, Table 1 (secondary: two agreeing notes); D in characters.
TRANSFER_TEXT_TO_PYTHON = {"k": 1.9e4, "alpha": 0.18, "beta": 0.38}
TRANSFER_TEXT_CODE_TO_PYTHON = {"k": 2.1e5, "alpha": 0.096, "beta": 0.38}
#: Kumar et al. 2024, App. K Table 2 (secondary): weight-precision scale in bits.
PRECISION_GAMMA_W = 2.6745

#: Jones 2021 ("Scaling Scaling Laws with Board Games", arXiv 2104.03113), train-test trade-off
#: section, Fig. 9 (Hex 9x9): "for each additional 10x of train-time compute, about 15x of
#: test-time compute can be eliminated". A printed claim, not a fitted constant of this library:
#: the ``train-test`` law measures ``test_per_10x_train`` from runs.
JONES_TEST_PER_10X_TRAIN = 15.0

#: Brown et al. 2024 ("Large Language Monkeys", arXiv 2407.21787): printed coverage (pass@k with
#: an oracle verifier) at k samples, as (k, coverage) pairs. SWE-bench Lite with
#: DeepSeek-Coder-V2-Instruct: 15.9% at 1 and 56% at 250 (abstract); MATH with
#: Llama-3-8B-Instruct: 82.9% at 100 and 98.44% at 10,000 (Sec. 1); CodeContests with Gemma-2B:
#: 0.02% at 1 and 7.1% at 10,000 (Sec. 1, Sec. 2.2). The paper prints no fitted (a, b) table.
BROWN_COVERAGE_POINTS = {
    "swe-bench-lite/deepseek-coder-v2-instruct": ((1, 0.159), (250, 0.56)),
    "math/llama-3-8b-instruct": ((100, 0.829), (10000, 0.9844)),
    "codecontests/gemma-2b": ((1, 0.0002), (10000, 0.071)),
}

#: Xiao et al. 2024, "Densing Law of LLMs" (arXiv 2412.04315v2). ln rho_max(t) = A t + B with t
#: in days since Llama-1: Sec. 3.3 "A ~= 0.0073 ... doubles approximately every ln(2)/A ~= 95
#: days", R^2 = 0.912 (29 open base models, 5 benchmarks); Fig. 1 caption "A ~= 0.007 with
#: R^2 ~= 0.93 ... doubles approximately every 3.3 months"; Sec. 3.4 / Fig. 4 (MMLU, since
#: GPT-3) "A ~= 0.0048" before ChatGPT vs "A ~= 0.0073" after ("50% faster"). The Nature Machine
#: Intelligence version (2025, doi 10.1038/s42256-025-01137-0, abstract): "doubles approximately
#: every 3.5 months" (51 models, Feb 2023 - Apr 2025). No per-model densities are printed.
DENSING_XIAO_A_PER_DAY = 0.0073
DENSING_XIAO_DOUBLING_DAYS = 95.0
DENSING_XIAO_R2 = 0.912
DENSING_XIAO_FIG1_A_PER_DAY = 0.007
DENSING_XIAO_FIG1_DOUBLING_MONTHS = 3.3
DENSING_XIAO_PRE_CHATGPT_A_PER_DAY = 0.0048
DENSING_XIAO_NMI_DOUBLING_MONTHS = 3.5
#: Zhai et al. 2022 (vision), Ghorbani et al. 2021 and Gordon et al. 2021 (translation): no
#: fitted constants could be traced to a printed table or a repository file; none are shipped.

"""Published constants of the laws, with their sources (``../shared/reference`` checks).

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

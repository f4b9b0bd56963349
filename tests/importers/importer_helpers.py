"""The synthetic runs of the importer tests: a known law, written through the real libraries."""

from __future__ import annotations

import math

from fixtures import published as F

#: the law the synthetic runs follow (Chinchilla's published fit, Hoffmann et al. Eq. 10)
E, A, B, ALPHA, BETA = (F.CHINCHILLA_HOFFMANN_ROUNDED[k] for k in ("E", "A", "B", "alpha", "beta"))
#: a pure power law L(N) = (NC/N)^ALPHA_N for the single-variable tests (Kaplan Table 5)
NC, ALPHA_N = F.KAPLAN_N["Nc"], F.KAPLAN_N["alpha"]


def chinchilla(n: float, d: float) -> float:
    return E + A / n ** ALPHA + B / d ** BETA


def power(n: float) -> float:
    return (NC / n) ** ALPHA_N


def grid() -> list[tuple[float, float]]:
    """A 4 x 4 grid of (N, D) spanning two decades each."""
    ns = [1e7 * 10 ** (i / 1.5) for i in range(4)]
    ds = [2e8 * 10 ** (j / 1.5) for j in range(4)]
    return [(n, d) for n in ns for d in ds]


def close(a: float, b: float, rel: float) -> bool:
    return math.isclose(a, b, rel_tol=rel)

"""The synthetic runs of the importer tests: a known law, written through the real libraries."""

from __future__ import annotations

import math

#: the law the synthetic runs follow (Chinchilla's published fit)
E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
#: a pure power law L(N) = (NC/N)^ALPHA_N for the single-variable tests
NC, ALPHA_N = 8.8e13, 0.076


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

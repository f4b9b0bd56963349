"""Allocation tables: Chinchilla's Table 3 layout and Kaplan's allocation side by side.

Kaplan et al. 2020 (Table 6): ``N_opt = 1.3e9 * (C_min / PF-day)^0.73`` non-embedding
parameters. Training at the critical batch size costs ``C = 2 C_min`` (their Eq. 6.7 and the
Table 6 consistency check), so a budget C maps to ``C_min = C / 2``; with this reading the rule
picks 4.68B parameters at 1e21 FLOPs, the number Hoffmann et al. quote for it (App. D.4).
``D = C / (6 N)``. Kaplan's N is non-embedding and Chinchilla's total: the table says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from scalinglab.laws.published import PF_DAY_FLOP
from scalinglab.plan.optimal import check_positive, plan_compute
from scalinglab.plan.source import PlanLaw, as_plan_law

if TYPE_CHECKING:
    from scalinglab.fit.result import FitResult

#: Gopher's training budget (Rae et al. 2021), the unit of Hoffmann et al.'s Table 3.
GOPHER_FLOPS = 5.76e23
#: Kaplan et al. Table 6: N_opt = N_e * C_min^p_N, C_min in PF-days.
KAPLAN_N_E = 1.3e9
KAPLAN_P_N = 0.73


def kaplan_allocation(compute: float | Sequence[float] | np.ndarray, *,
                      n_e: float = KAPLAN_N_E, p_n: float = KAPLAN_P_N,
                      cmin_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan et al.'s compute-efficient ``(N, D)`` for budgets C in FLOPs (N non-embedding;
    ``C_min = cmin_fraction * C``)."""
    C = np.asarray(compute, float)
    N = n_e * (cmin_fraction * C / PF_DAY_FLOP) ** p_n
    return N, C / (6.0 * N)


def allocation_table(pl: PlanLaw | FitResult, budgets: Sequence[float], *,
                     reference_compute: float = GOPHER_FLOPS,
                     unique_tokens: float | None = None,
                     level: float | None = None, kaplan: bool = True) -> list[dict[str, Any]]:
    """One row per budget: C, C in reference units (Gopher = 1), N_opt, D_opt, loss, D/N,
    intervals when the law has draws, and Kaplan's allocation of the same budget. ``pl``: a
    :class:`PlanLaw` or a :class:`~scalinglab.fit.FitResult`."""
    pl = as_plan_law(pl)
    ref = check_positive(reference_compute, "reference_compute", "reference budget")
    rows = []
    for c in budgets:
        p = plan_compute(pl, c, unique_tokens=unique_tokens, tolerance=None, level=level)
        row: dict[str, Any] = {
            "compute": p.compute, "compute_ref_units": p.compute / ref,
            "N_opt": p.N_opt, "D_opt": p.D_opt, "loss": p.loss,
            "tokens_per_param": p.tokens_per_param,
        }
        if p.epochs is not None:
            row["epochs"] = p.epochs
        if p.intervals:
            row["intervals"] = p.intervals
        if kaplan:
            kn, kd = kaplan_allocation(p.compute)
            row["kaplan_N_nonembedding"] = float(kn)
            row["kaplan_D"] = float(kd)
        rows.append(row)
    return rows

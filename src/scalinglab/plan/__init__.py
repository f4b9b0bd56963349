"""Planning: compute-optimal N and D under a fitted law, with intervals, inverses and costs.

* :func:`plan_compute` / :func:`plan_for_loss` / :func:`plan_for_params`: the compute-optimal
  model for a budget, the least budget for a target loss, the budget of a given optimal size
  (closed form for ``chinchilla``, numeric for other laws of N and D; unique tokens switch to
  Muennighoff et al.'s data-constrained law).
* :func:`plan_inference`: Sardana et al.'s inference-aware allocation and its saving.
* :func:`allocation_table` / :func:`kaplan_allocation`: Chinchilla Table 3-style tables with
  Kaplan's allocation side by side.
* :func:`gpu_cost`: GPU-hours and money from a peak, an MFU and a price.
* :func:`plan_document`: a whole planning request (what ``scalinglab plan`` computes) as one
  JSON-ready document.
* :func:`plan_test_compute` / :func:`plan_samples`: the cheapest train/test-time compute split
  for a target score (Jones 2021's trade-off), samples for a target coverage (Brown et al. 2024).
* :func:`plan_law` / :func:`load_fit` / :meth:`PlanLaw.of_fit`: where the law and its
  parameters (and draws) come from. Every planning function takes a :class:`PlanLaw` or a
  :class:`~scalinglab.fit.FitResult` in memory (:func:`as_plan_law`).
"""

from __future__ import annotations

from scalinglab.plan.cost import DEFAULT_MFU, GPUS, Cost, gpu_cost
from scalinglab.plan.document import plan_document
from scalinglab.plan.inference import InferencePlan, plan_inference
from scalinglab.plan.optimal import (
    DEFAULT_LEVEL,
    ComputePlan,
    Objective,
    optimal_allocation,
    plan_compute,
    plan_for_loss,
    plan_for_params,
)
from scalinglab.plan.source import (
    PUBLISHED,
    PlanLaw,
    as_plan_law,
    load_fit,
    parse_params,
    plan_law,
)
from scalinglab.plan.tables import GOPHER_FLOPS, allocation_table, kaplan_allocation
from scalinglab.plan.testtime import (
    SamplesPlan,
    TrainTestPlan,
    plan_samples,
    plan_test_compute,
)

__all__ = [
    "DEFAULT_LEVEL",
    "DEFAULT_MFU",
    "GOPHER_FLOPS",
    "GPUS",
    "PUBLISHED",
    "ComputePlan",
    "Cost",
    "InferencePlan",
    "Objective",
    "PlanLaw",
    "SamplesPlan",
    "TrainTestPlan",
    "allocation_table",
    "as_plan_law",
    "gpu_cost",
    "kaplan_allocation",
    "load_fit",
    "optimal_allocation",
    "parse_params",
    "plan_compute",
    "plan_document",
    "plan_for_loss",
    "plan_for_params",
    "plan_inference",
    "plan_law",
    "plan_samples",
    "plan_test_compute",
]

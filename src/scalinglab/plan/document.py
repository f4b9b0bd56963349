"""The plan document: one JSON-ready record of a whole planning request.

:func:`plan_document` is what ``scalinglab plan`` computes, as a library function: it checks
every argument before any work (each error a :class:`~scalinglab.errors.ParameterError` naming
its Python parameter, which the command line maps onto its flag), picks the kind of plan the
arguments ask for and returns a plain dict whose ``kind`` says which it is:

* ``"table"``: several budgets -> one row per budget beside Kaplan et al.'s allocation
  (:func:`~scalinglab.plan.tables.allocation_table`);
* ``"inference"``: Sardana et al.'s inference-aware plan for a lifetime of inference tokens
  (:func:`~scalinglab.plan.inference.plan_inference`);
* ``"plan"``: the compute-optimal model for a budget, the least budget for a target loss or the
  budget of a given optimal size (:mod:`scalinglab.plan.optimal`).

:func:`test_compute_document` is the same for ``plan --test-compute`` (``kind``
``"test-compute"``): the cheapest split of training and test-time compute under a
``train-test`` law, or the samples for a target coverage under a ``coverage`` law
(:mod:`scalinglab.plan.testtime`).

Every document carries a ``conventions`` block (what N, D, C and the loss mean) and, where a
cost was asked for, the GPU-hours (:func:`~scalinglab.plan.cost.gpu_cost`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from scalinglab.errors import ParameterError
from scalinglab.plan.cost import DEFAULT_MFU, gpu_cost
from scalinglab.plan.inference import plan_inference
from scalinglab.plan.optimal import (
    MAX_TOLERANCE,
    check_positive,
    conventions_for,
    plan_compute,
    plan_for_loss,
    plan_for_params,
)
from scalinglab.plan.source import PlanLaw, as_plan_law
from scalinglab.plan.tables import GOPHER_FLOPS, KAPLAN_N_E, KAPLAN_P_N, allocation_table

if TYPE_CHECKING:  # the fit package (pandas, SciPy) only when a fit is planned from
    from scalinglab.fit.result import FitResult

#: the default relative loss band around the optimum reported with a plan.
DEFAULT_TOLERANCE = 0.01


def _positive_or_none(value: float | None, name: str, what: str) -> None:
    if value is not None:
        check_positive(value, name, what)


def _check(*, budgets: Sequence[float], target_loss: float | None,
           target_params: float | None, inference_tokens: float | None,
           inference_cost_ratio: float, unique_tokens: float | None, tolerance: float,
           level: float | None, gpu: str | None, peak_tflops: float | None, mfu: float,
           reference_compute: float) -> None:
    """Every argument checked before any work, each error naming its own parameter."""
    for c in budgets:
        check_positive(c, "compute", "compute budget")
    goals = [n for n, v in (("compute", budgets or None), ("target_loss", target_loss),
                            ("target_params", target_params)) if v is not None]
    if not goals:
        raise ParameterError("compute", "give a budget (compute= C), a target loss "
                             "(target_loss= L) or a model size (target_params= N)")
    if len(goals) > 1:
        raise ParameterError(goals[1], f"conflicts with {goals[0]}=: give only one of "
                             "compute=, target_loss=, target_params=")
    _positive_or_none(target_loss, "target_loss", "target loss")
    _positive_or_none(target_params, "target_params", "parameter count")
    if target_params is not None and target_params < 1:
        raise ParameterError("target_params", f"a model has at least one parameter, got "
                             f"{target_params:g}")
    if inference_tokens is not None and not (math.isfinite(inference_tokens)
                                             and inference_tokens >= 0):
        raise ParameterError("inference_tokens", f"must be a non-negative finite number, "
                             f"got {inference_tokens}")
    check_positive(inference_cost_ratio, "inference_cost_ratio", "inference cost ratio")
    _positive_or_none(unique_tokens, "unique_tokens", "unique token count")
    if not 0 < tolerance <= MAX_TOLERANCE:
        raise ParameterError("tolerance", f"must be a relative loss in (0, {MAX_TOLERANCE:g}],"
                             f" got {tolerance}")
    check_positive(reference_compute, "reference_compute", "reference budget")
    if level is not None and not (math.isfinite(level) and 0 < level < 1):
        raise ParameterError("level", f"interval level must be between 0 and 1, got {level}")
    if not 0 < mfu <= 1:
        raise ParameterError("mfu", f"MFU must be in (0, 1], got {mfu}")
    if inference_tokens is not None and unique_tokens is not None:
        raise ParameterError("inference_tokens", "cannot be combined with unique_tokens= (the "
                             "inference-aware plan assumes unlimited data)")
    if inference_tokens is not None and len(budgets) > 1:
        raise ParameterError("inference_tokens", "takes a single budget, not a list")
    if gpu is not None and peak_tflops is not None:
        raise ParameterError("peak_tflops", "give either gpu= or peak_tflops=, not both")


def plan_document(
    pl: PlanLaw | FitResult,
    *,
    compute: float | Sequence[float] | None = None,
    target_loss: float | None = None,
    target_params: float | None = None,
    inference_tokens: float | None = None,
    inference_cost_ratio: float = 1.0,
    unique_tokens: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    level: float | None = None,
    gpu: str | None = None,
    peak_tflops: float | None = None,
    mfu: float = DEFAULT_MFU,
    price: float | None = None,
    n_gpus: int | None = None,
    reference_compute: float = GOPHER_FLOPS,
) -> dict[str, Any]:
    """The whole plan for one request, as a JSON-ready dict (``kind``: table, inference or
    plan; see the module docstring).

    ``compute``: one budget or several (FLOPs, C = 6ND); or ``target_loss`` (nats/token) or
    ``target_params`` (the law's N). ``inference_tokens``: lifetime inference tokens for
    Sardana et al.'s plan (``inference_cost_ratio``: cost of an inference FLOP relative to a
    training FLOP). ``unique_tokens``: Muennighoff et al.'s data-constrained plan.
    ``tolerance``: the N range within this relative loss of the optimum. ``level``: the
    interval level (default the fit's, else 0.8). ``gpu`` / ``peak_tflops`` / ``mfu`` /
    ``price`` / ``n_gpus``: a GPU cost, added when any of them but ``mfu`` is given.
    ``reference_compute``: the table's reference budget (Gopher's 5.76e23 FLOPs)."""
    pl = as_plan_law(pl)
    if compute is None:
        budgets: list[float] = []
    elif isinstance(compute, (int, float)):
        budgets = [float(compute)]
    else:
        budgets = [float(c) for c in compute]
    _check(budgets=budgets, target_loss=target_loss, target_params=target_params,
           inference_tokens=inference_tokens, inference_cost_ratio=inference_cost_ratio,
           unique_tokens=unique_tokens, tolerance=tolerance, level=level, gpu=gpu,
           peak_tflops=peak_tflops, mfu=mfu, reference_compute=reference_compute)
    want_cost = any(v is not None for v in (gpu, peak_tflops, price, n_gpus))

    def cost_of(C: float) -> dict[str, Any]:
        return gpu_cost(C, gpu or "h100", mfu=mfu, price_per_hour=price, n_gpus=n_gpus,
                        peak_flops=None if peak_tflops is None else peak_tflops * 1e12
                        ).to_dict()

    if want_cost:
        cost_of(1.0)  # checks gpu, peak_tflops, price and n_gpus before any work
    common: dict[str, Any] = {"law": pl.law.name, "params": pl.params, "source": pl.source}

    if len(budgets) > 1:
        rows = allocation_table(pl, budgets, reference_compute=reference_compute,
                                unique_tokens=unique_tokens, level=level)
        if want_cost:
            for r in rows:
                r["cost"] = cost_of(r["compute"])
        return {"kind": "table", **common, "reference_compute": reference_compute,
                "plans": rows,
                "kaplan": {"N_e": KAPLAN_N_E, "p_N": KAPLAN_P_N, "C_min": "C / 2",
                           "reference": "Kaplan et al. 2020 Table 6; N non-embedding"},
                "conventions": {
                    "N_opt": "the law's N: " + conventions_for(pl)["N"],
                    "compute": "C = 6 N D FLOPs",
                    "compute_ref_units": f"C / {reference_compute:g}",
                    "kaplan_N_nonembedding": "Kaplan's N_opt = 1.3e9 (C_min/PF-day)^0.73, "
                                             "non-embedding, C_min = C/2",
                    "kaplan_D": "C / (6 Kaplan N)",
                }}

    if inference_tokens is not None:
        goal: dict[str, float | None]
        if target_params is not None:
            goal = {"target_loss": plan_for_params(pl, target_params).loss}
        elif budgets:
            goal = {"compute": budgets[0]}
        else:
            goal = {"target_loss": target_loss}
        ip = plan_inference(pl, inference_tokens, inference_cost_ratio=inference_cost_ratio,
                            level=level, **goal)
        d = ip.to_dict()
        doc = {"kind": "inference", **common, "method": "numeric",
               "compute": ip.training_compute, "N_opt": ip.N_opt, "D_opt": ip.D_opt,
               "loss": ip.target_loss, "tokens_per_param": ip.tokens_per_param,
               "saving": ip.saving, "saving_fraction": ip.saving_fraction, "inference": d,
               "conventions": d.pop("conventions"), "warnings": d.pop("warnings", [])}
        if "intervals" in d:
            doc["intervals"], doc["level"] = d.pop("intervals"), d.pop("level")
        if want_cost:
            doc["cost"] = cost_of(ip.training_compute)
            doc["cost_lifetime"] = cost_of(ip.total_compute)
        return doc

    if budgets:
        p = plan_compute(pl, budgets[0], unique_tokens=unique_tokens, tolerance=tolerance,
                         level=level)
    elif target_loss is not None:
        p = plan_for_loss(pl, target_loss, unique_tokens=unique_tokens, tolerance=tolerance,
                          level=level)
    else:
        assert target_params is not None  # _check: exactly one goal
        p = plan_for_params(pl, target_params, unique_tokens=unique_tokens, level=level)
    doc = {"kind": "plan", **common, **p.to_dict()}
    if want_cost:
        doc["cost"] = cost_of(p.compute)
    return doc


def test_compute_document(
    pl: PlanLaw | FitResult,
    target: float,
    *,
    queries: float = 1.0,
    c_test_min: float | None = None,
    c_test_max: float | None = None,
    c_train_max: float | None = None,
    budget: float | None = None,
    flops_per_sample: float | None = None,
    level: float | None = None,
) -> dict[str, Any]:
    """``plan --test-compute`` as a JSON-ready dict: under a ``train-test`` law the cheapest
    ``C_train + queries * C_test`` reaching score ``target``
    (:func:`~scalinglab.plan.testtime.plan_test_compute`; ``c_test_min``, ``c_test_max``,
    ``c_train_max``, ``budget``: limits, FLOPs), under a ``coverage`` law the samples per
    problem reaching coverage ``target`` (:func:`~scalinglab.plan.testtime.plan_samples`;
    ``flops_per_sample``: inference FLOPs per sample). Every argument is checked before any
    work; the fit's data ranges (when ``pl`` came from a fit) drive the extrapolation
    warnings."""
    from scalinglab.plan.testtime import plan_samples, plan_test_compute

    pl = as_plan_law(pl)
    if not (isinstance(target, (int, float)) and math.isfinite(target)):
        raise ParameterError("target", "the score (train-test law) or coverage (coverage law) "
                             f"to reach must be a finite number, got {target}")
    for name, v in (("queries", queries), ("c_test_min", c_test_min),
                    ("c_test_max", c_test_max), ("c_train_max", c_train_max),
                    ("budget", budget), ("flops_per_sample", flops_per_sample)):
        _positive_or_none(v, name, name.replace("_", " "))
    if pl.law.name not in ("train-test", "coverage"):
        raise ParameterError("pl", "a test-compute plan needs a train-test or coverage law, "
                             f"not {pl.law.name!r}")
    if pl.law.name == "coverage":
        for name, v in (("c_test_min", c_test_min), ("c_test_max", c_test_max),
                        ("c_train_max", c_train_max), ("budget", budget)):
            if v is not None:
                raise ParameterError(name, "applies to a train-test plan, not a coverage one")
        plan: Any = plan_samples(pl, target, flops_per_sample=flops_per_sample,
                                 queries=queries, level=level)
    else:
        if flops_per_sample is not None:
            raise ParameterError("flops_per_sample", "applies to a coverage plan, not a "
                                 "train-test one")
        plan = plan_test_compute(pl, target, queries=queries, c_test_min=c_test_min,
                                 c_test_max=c_test_max, c_train_max=c_train_max,
                                 budget=budget, level=level)
    return {"kind": "test-compute", "source": pl.source, **plan.to_dict()}

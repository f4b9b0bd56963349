"""scalinglab: a laboratory for neural scaling laws.

Fit laws to runs (:func:`fit`, :func:`isoflop`, :func:`envelope`, :func:`compare`), plan
compute-optimal models (:func:`plan_compute`, :func:`plan_for_loss`, :func:`plan_for_params`,
:func:`plan_inference`), count parameters and FLOPs (:class:`ModelShape`, :func:`count_params`,
:func:`flops_per_token`), train sweeps of decoder-only Transformers (``scalinglab.train``,
``scalinglab.sweep``; the ``train`` extra) and report (:func:`build_report`).
Conventions: loss in nats per token; N, D and C carry their convention in every record.

Every name here is loaded on first use (``import scalinglab`` costs no pandas or SciPy);
``dir(scalinglab)`` lists them and ``inspect.signature`` gives each its real signature.
Errors a user can cause are :class:`ScalingLabError` subclasses; a bad argument is a
:class:`ParameterError` naming the parameter.
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
from typing import Any

from scalinglab.errors import FitError as FitError
from scalinglab.errors import InputError as InputError
from scalinglab.errors import OptionError as OptionError
from scalinglab.errors import ParameterError as ParameterError
from scalinglab.errors import ScalingLabError as ScalingLabError

# Lazy re-exports: ``import scalinglab.train`` or ``scalinglab.accounting`` (sweep workers, the
# CLI) must not pay for pandas and SciPy. ``scalinglab.fit`` is a callable package (with fit's
# own signature), so the name works as the function whether or not the package was imported
# first. name -> (module, attribute; None: the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "fit": ("scalinglab.fit", None),
    "FitResult": ("scalinglab.fit", "FitResult"),
    "backtest": ("scalinglab.fit", "backtest"),
    "compare": ("scalinglab.fit", "compare"),
    "envelope": ("scalinglab.fit", "envelope"),
    "isoflop": ("scalinglab.fit", "isoflop"),
    "get_law": ("scalinglab.laws", "get_law"),
    "list_laws": ("scalinglab.laws", "list_laws"),
    "datasets": ("scalinglab.datasets", None),
    "load_observations": ("scalinglab.observations", "load_observations"),
    "read_table": ("scalinglab.observations", "read_table"),
    "plan_compute": ("scalinglab.plan", "plan_compute"),
    "plan_for_loss": ("scalinglab.plan", "plan_for_loss"),
    "plan_for_params": ("scalinglab.plan", "plan_for_params"),
    "plan_inference": ("scalinglab.plan", "plan_inference"),
    "plan_law": ("scalinglab.plan", "plan_law"),
    "load_fit": ("scalinglab.plan", "load_fit"),
    "allocation_table": ("scalinglab.plan", "allocation_table"),
    "gpu_cost": ("scalinglab.plan", "gpu_cost"),
    "ModelShape": ("scalinglab.accounting", "ModelShape"),
    "count_params": ("scalinglab.accounting", "count_params"),
    "flops_per_token": ("scalinglab.accounting", "flops_per_token"),
    "build_report": ("scalinglab.report", "build_report"),
}

__all__ = sorted([*_LAZY, "FitError", "InputError", "OptionError", "ParameterError",
                  "ScalingLabError", "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        if attr is not None:
            globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'scalinglab' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API (what tab completion offers), not this module's helpers."""
    return list(__all__)

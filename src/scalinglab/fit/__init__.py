"""Fitting: objectives, the multi-start optimiser, bootstrap, diagnostics, Chinchilla's
approaches 1-3, Kaplan-style fits and model comparison.

The main entry point is :func:`fit` (Approach 3 for ``chinchilla``, and every other law);
:func:`isoflop` is Approach 2, :func:`envelope` Approach 1, :func:`compare` compares laws.

This package is also callable: ``scalinglab.fit(df, law=...)`` is :func:`fit`. (The package
and the function share the name; making the module callable keeps ``scalinglab.fit(...)``
working however the package was imported, so ``scalinglab`` can load it lazily.)
"""

import inspect
import sys
import types
from typing import Any

from scalinglab.fit.approaches import compare, envelope, fit_power, isoflop
from scalinglab.fit.core import backtest, fit, run_bootstrap
from scalinglab.fit.downstream import DownstreamResult, fit_downstream
from scalinglab.fit.objectives import Objective
from scalinglab.fit.problem import FitProblem
from scalinglab.fit.records import Diagnostic
from scalinglab.fit.result import FitResult

__all__ = ["Diagnostic", "DownstreamResult", "FitProblem", "FitResult", "Objective", "backtest",
           "compare", "envelope", "fit", "fit_downstream", "fit_power", "isoflop",
           "run_bootstrap"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> FitResult:
        return fit(*args, **kwargs)

    __call__.__doc__ = fit.__doc__


sys.modules[__name__].__class__ = _CallableModule
# inspect.signature(scalinglab.fit) is fit's own, not (*args, **kwargs)
sys.modules[__name__].__signature__ = inspect.signature(fit)  # type: ignore[attr-defined]

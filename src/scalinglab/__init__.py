"""scalinglab: a laboratory for neural scaling laws.

Fit laws to runs (``scalinglab.fit``), plan compute-optimal models (``scalinglab.plan``),
count parameters and FLOPs (``scalinglab.accounting``), train sweeps of decoder-only
Transformers (``scalinglab.train``, ``scalinglab.sweep``; the ``train`` extra) and report.
Conventions: loss in nats per token; N, D and C carry their convention in every record.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Any

__all__ = ["FitResult", "__version__", "datasets", "fit", "get_law"]

# Lazy re-exports: ``import scalinglab.train`` or ``scalinglab.accounting`` (sweep workers, the
# CLI) must not pay for pandas and SciPy. ``scalinglab.fit`` is a callable package, so the
# name works as the function whether or not the package was imported first.
_LAZY = {
    "fit": ("scalinglab.fit", None),
    "FitResult": ("scalinglab.fit", "FitResult"),
    "get_law": ("scalinglab.laws", "get_law"),
    "datasets": ("scalinglab.datasets", None),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'scalinglab' has no attribute {name!r}")

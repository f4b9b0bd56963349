"""scalinglab: a laboratory for neural scaling laws.

Fit laws to runs (``scalinglab.fit``), plan compute-optimal models (``scalinglab.plan``),
count parameters and FLOPs (``scalinglab.accounting``), train sweeps of decoder-only
Transformers (``scalinglab.train``, ``scalinglab.sweep``; the ``train`` extra) and report.
Conventions: loss in nats per token; N, D and C carry their convention in every record.
"""

from __future__ import annotations

__version__ = "0.1.0"

# ``scalinglab.fit`` is both a subpackage and the function re-exported here; importing it
# eagerly keeps the name bound to the function (a lazy re-export would be shadowed by the
# submodule as soon as anything imports ``scalinglab.fit.*``).
from scalinglab import datasets
from scalinglab.fit import FitResult, fit
from scalinglab.laws import get_law

__all__ = ["FitResult", "__version__", "datasets", "fit", "get_law"]

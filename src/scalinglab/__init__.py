"""scalinglab: a laboratory for neural scaling laws.

Fit laws to runs (``scalinglab.fit``), plan compute-optimal models (``scalinglab.plan``),
count parameters and FLOPs (``scalinglab.accounting``), train sweeps of decoder-only
Transformers (``scalinglab.train``, ``scalinglab.sweep``; the ``train`` extra) and report.
Conventions: loss in nats per token; N, D and C carry their convention in every record.
"""

from __future__ import annotations

__version__ = "0.1.0"

from scalinglab import datasets
from scalinglab.fit import FitResult, fit
from scalinglab.laws import get_law

__all__ = ["FitResult", "__version__", "datasets", "fit", "get_law"]

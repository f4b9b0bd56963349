"""Parameter and FLOP accounting for decoder-only Transformers.

Counts are exact Python integers (the shape arithmetic needs no NumPy); the shape search,
the convention conversion (:mod:`~scalinglab.accounting.convert`, NumPy and pandas) and the
HF config reader build on them.


* :class:`ModelShape`: a validated shape (depth, width, heads, GQA, MLP kind, MoE, ...).
* :func:`count_params` -> :class:`ParamCount` (total, embedding, non-embedding, head, active).
* :func:`flops_per_token` under a named convention (``6N``, ``6N-nonembedding``, ``6N-head``,
  ``kaplan``, ``chinchilla``, ``palm``), training or inference.

Every number names its convention; see :mod:`scalinglab.accounting.params` and
:mod:`scalinglab.accounting.flops` for the exact definitions.
"""

from __future__ import annotations

from scalinglab.accounting.flops import (
    FLOP_CONVENTIONS,
    FlopConvention,
    all_flops_per_token,
    chinchilla_forward_flops,
    flops_per_token,
    mfu,
    training_flops,
)
from scalinglab.accounting.params import (
    ParamCount,
    attention_params,
    count_params,
    kaplan_approx_params,
    mlp_params,
)
from scalinglab.accounting.shape import ModelShape, swiglu_ffn_dim

__all__ = [
    "FLOP_CONVENTIONS",
    "FlopConvention",
    "ModelShape",
    "ParamCount",
    "all_flops_per_token",
    "attention_params",
    "chinchilla_forward_flops",
    "count_params",
    "flops_per_token",
    "kaplan_approx_params",
    "mfu",
    "mlp_params",
    "swiglu_ffn_dim",
    "training_flops",
]

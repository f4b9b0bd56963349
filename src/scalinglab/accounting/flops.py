"""FLOPs per token of a :class:`~scalinglab.accounting.shape.ModelShape` under named conventions.

A multiply-add is 2 FLOPs; training = forward + backward = 3 x forward in every convention
(Kaplan et al. 2020 Sec. 2.1; Hoffmann et al. 2022 App. F), so ``training=False`` (one forward
pass per token: inference) is exactly a third of the training number. For MoE shapes every N is
the *active* count (``top_k`` experts).

=====================  =========================================================================
convention             training FLOPs per token
=====================  =========================================================================
``6N``                 ``6 N_total`` (Chinchilla's C = 6ND: N counts every parameter, embeddings
                       included; Hoffmann et al. Sec. 3 / App. F)
``6N-nonembedding``    ``6 N_nonembedding`` (Kaplan et al.'s C ~ 6N with N non-embedding)
``6N-head``            ``6 (N_nonembedding + V d)``: every matmul parameter incl. the output
                       head (Porian et al. 2024's standard count)
``kaplan``             ``6 N_nonembedding + 6 n_layer n_ctx d_attn`` (Kaplan Table 1: forward
                       ``2N + 2 n_layer n_ctx d_attn``)
``chinchilla``         Hoffmann et al. App. F, counted in full: embeddings ``2 V d``, per layer
                       QKV ``2 d (d_attn + 2 d_kv)``, logits ``2 T d_attn``, softmax
                       ``3 H T``, softmax@V ``2 T d_attn``, output ``2 d_attn d``, dense
                       ``4 d d_ff`` (``6 d d_ff`` for SwiGLU, ``top_k`` experts plus the
                       router for MoE), final logits ``2 d V``; times 3.
                       ``embedding_flops=False`` drops the embedding and final-logit terms, which
                       is what reproduces the paper's Table A4 ratios (nanoGPT's
                       ``scaling_laws.ipynb``: "per author correspondence ... a typo").
``palm``               ``6 (N_nonembedding + V d) + 12 n_layer H Q T`` (PaLM App. B MFU count, as
                       nanoGPT's ``estimate_mfu``; H Q = d_attn; N = nanoGPT's get_num_params)
=====================  =========================================================================

``T`` is the context the attention terms use: ``shape.context`` unless ``context=`` is given.
No convention halves the attention term for causal masking (reference sheet Sec. 12.2).
"""

from __future__ import annotations

from typing import Literal

from scalinglab.accounting.params import ParamCount, count_params
from scalinglab.accounting.shape import ModelShape
from scalinglab.errors import ParameterError, argument_error, unknown

FlopConvention = Literal["6N", "6N-nonembedding", "6N-head", "kaplan", "chinchilla", "palm"]

#: convention name -> one-line description (stored beside every FLOP number in JSON output).
FLOP_CONVENTIONS: dict[str, str] = {
    "6N": "6 x total parameters (embeddings included; Chinchilla's C = 6ND)",
    "6N-nonembedding": "6 x non-embedding parameters (Kaplan's C = 6ND)",
    "6N-head": "6 x (non-embedding + output-head) parameters (Porian et al.'s standard)",
    "kaplan": "6 N_nonembedding + 6 n_layer n_ctx d_attn (Kaplan et al. Table 1)",
    "chinchilla": "Hoffmann et al. App. F full count (embeddings, attention, softmax, logits)",
    "palm": "6 (N_nonembedding + head) + 12 L H Q T (PaLM MFU / nanoGPT estimate_mfu)",
}


def check_convention(convention: str, option: str = "convention") -> str:
    """``convention`` if known, else an error naming ``option`` (the parameter, or a flag
    when a command passes one) that lists the known ones and suggests the nearest."""
    if convention not in FLOP_CONVENTIONS:
        raise argument_error(option, unknown("FLOP convention", convention, FLOP_CONVENTIONS))
    return convention


def chinchilla_forward_flops(shape: ModelShape, *, context: int | None = None,
                             embedding_flops: bool = True) -> float:
    """Forward FLOPs per token by Hoffmann et al.'s App. F (see the module docstring)."""
    T = shape.context if context is None else context
    d, da, dkv, V = shape.d_model, shape.d_attn, shape.d_kv, shape.vocab
    qkv = 2.0 * d * (da + 2 * dkv)
    logits = 2.0 * T * da
    softmax = 3.0 * shape.n_head * T
    av = 2.0 * T * da
    out = 2.0 * da * d
    mats = 3 if shape.mlp == "swiglu" else 2
    dense = shape.top_k * 2.0 * mats * d * shape.ffn_dim
    if shape.n_expert > 1:
        dense += 2.0 * d * shape.n_expert
    per_layer = qkv + logits + softmax + av + out + dense
    total = shape.n_layer * per_layer
    if embedding_flops:
        total += 2.0 * V * d + 2.0 * d * V
    return total


def flops_per_token(shape: ModelShape, convention: FlopConvention | str = "6N", *,
                    training: bool = True, context: int | None = None,
                    embedding_flops: bool = True, params: ParamCount | None = None) -> float:
    """FLOPs per token of ``shape`` under ``convention`` (training, or one forward pass with
    ``training=False``). ``embedding_flops`` only affects the ``chinchilla`` convention."""
    check_convention(convention)
    T = shape.context if context is None else int(context)
    if T < 1:
        raise ParameterError("context", f"context must be >= 1, got {context}")
    # params: exact counts of a model the shape only approximates (hf_config.read_hf_config)
    pc = count_params(shape) if params is None else params
    attn = shape.n_layer * T * shape.d_attn
    if convention == "6N":
        train = 6.0 * pc.active
    elif convention == "6N-nonembedding":
        train = 6.0 * pc.active_nonembedding
    elif convention == "6N-head":
        train = 6.0 * pc.active_with_head
    elif convention == "kaplan":
        train = 6.0 * pc.active_nonembedding + 6.0 * attn
    elif convention == "palm":
        train = 6.0 * pc.active_with_head + 12.0 * attn
    else:  # chinchilla
        train = 3.0 * chinchilla_forward_flops(shape, context=T,
                                               embedding_flops=embedding_flops)
    return train if training else train / 3.0


def all_flops_per_token(shape: ModelShape, *, context: int | None = None,
                        params: ParamCount | None = None) -> dict[str, dict[str, float]]:
    """``{convention: {"training": ..., "inference": ...}}`` for every convention (``params``:
    exact counts to use instead of the shape's own, as in :func:`flops_per_token`)."""
    return {
        c: {"training": flops_per_token(shape, c, training=True, context=context,
                                        params=params),
            "inference": flops_per_token(shape, c, training=False, context=context,
                                         params=params)}
        for c in FLOP_CONVENTIONS
    }


def training_flops(shape: ModelShape, tokens: float,
                   convention: FlopConvention | str = "6N") -> float:
    """Total training FLOPs for ``tokens`` training tokens under ``convention``."""
    if not tokens > 0:
        raise ParameterError("tokens", f"tokens must be positive, got {tokens}")
    return flops_per_token(shape, convention, training=True) * float(tokens)


def mfu(shape: ModelShape, tokens_per_second: float, peak_flops: float,
        convention: FlopConvention | str = "palm") -> float:
    """Model FLOPs utilisation (PaLM App. B): achieved model FLOP/s over the hardware peak."""
    if not peak_flops > 0:
        raise ParameterError("peak", f"peak FLOP/s must be positive, got {peak_flops}")
    return flops_per_token(shape, convention) * tokens_per_second / peak_flops

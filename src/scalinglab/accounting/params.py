"""Exact parameter counts of a :class:`~scalinglab.accounting.shape.ModelShape`.

Conventions (every count says which it is):

* ``total``: every parameter, as ``sum(p.numel() for p in model.parameters())`` of a module
  built from the shape (a tied output head is the token table, counted once).
* ``embedding``: the token table (``vocab x d_model``), the learned position table
  (``context x d_model``, only with ``positions="learned"``) and an *untied* output head
  (``vocab x d_model``). Pythia's published "non-embedding" counts exclude both input and output
  embeddings in the same way (Pythia-70M: 70,426,624 total, 18,915,328 non-embedding).
* ``nonembedding``: everything else, i.e. the Transformer blocks (attention, MLP or experts and
  router, both norms, biases) plus the final norm. This is Kaplan et al.'s N counted exactly;
  Kaplan's own N ~ ``12 n_layer d_model^2`` (their Sec. 2.1) also drops biases and norms as
  sub-leading: see :func:`kaplan_approx_params`.
* ``head``: the parameters of the output projection wherever they live (the tied token table
  or the untied head), ``vocab x d_model``. ``nonembedding + head`` is "every parameter that
  multiplies an activation" (Porian et al. 2024's standard N; nanoGPT's ``get_num_params()``
  for a tied model), the N of the ``6N-head`` and ``palm`` FLOP conventions.
* ``active`` / ``active_nonembedding``: as ``total`` / ``nonembedding`` but with only ``top_k``
  of the ``n_expert`` experts of every MoE layer (equal to them for dense models).

nanoGPT-style GPT (pre-LayerNorm with bias, learned positions, GELU MLP 4d, tied head, final
LayerNorm): ``total = V d + T d + L (12 d^2 + 13 d) + 2 d`` (GPT-2 small: 124,439,808).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from scalinglab.accounting.shape import ModelShape


@dataclass(frozen=True)
class ParamCount:
    """Parameter counts of one shape under each convention (all ints; see module docstring)."""

    total: int
    embedding: int
    nonembedding: int
    active: int
    active_nonembedding: int
    head: int
    per_layer: int
    per_expert: int

    @property
    def with_head(self) -> int:
        """Non-embedding parameters plus the output projection (Porian's N, nanoGPT's N)."""
        return self.nonembedding + self.head

    @property
    def active_with_head(self) -> int:
        return self.active_nonembedding + self.head

    def to_dict(self) -> dict[str, int]:
        out = asdict(self)
        out["with_head"] = self.with_head
        return out


def _norm_params(shape: ModelShape) -> int:
    if shape.norm == "layernorm" and shape.bias:
        return 2 * shape.d_model
    return shape.d_model


def attention_params(shape: ModelShape) -> int:
    """q, k, v and output projections of one layer (plus relative-position terms)."""
    d, da, dkv = shape.d_model, shape.d_attn, shape.d_kv
    n = d * da + 2 * d * dkv + da * d
    if shape.has_qkv_bias:
        n += da + 2 * dkv
    if shape.bias:
        n += d
    if shape.positions == "relative":
        # Transformer-XL relative keys (d x d_attn) and the content / position biases u, v.
        n += d * da + 2 * da
    return n


def mlp_params(shape: ModelShape) -> int:
    """One (expert) MLP: GELU ``d->ff->d`` or SwiGLU gate/up/down, with biases if
    ``mlp_bias`` (default: ``bias``)."""
    d, f = shape.d_model, shape.ffn_dim
    if shape.mlp == "swiglu":
        n = 3 * d * f
        if shape.has_mlp_bias:
            n += 2 * f + d
        return n
    n = 2 * d * f
    if shape.has_mlp_bias:
        n += f + d
    return n


def count_params(shape: ModelShape) -> ParamCount:
    """Exact parameter counts of ``shape`` (see the module docstring for the conventions)."""
    d, V = shape.d_model, shape.vocab
    norm = _norm_params(shape)
    expert = mlp_params(shape)
    router = d * shape.n_expert if shape.n_expert > 1 else 0
    per_layer = attention_params(shape) + shape.n_expert * expert + router + 2 * norm
    blocks = shape.n_layer * per_layer
    final = norm if shape.final_norm else 0
    nonembedding = blocks + final
    token = V * d
    positions = shape.context * d if shape.positions == "learned" else 0
    untied_head = 0 if shape.tied else V * d
    embedding = token + positions + untied_head
    inactive = shape.n_layer * (shape.n_expert - shape.top_k) * expert
    total = embedding + nonembedding
    return ParamCount(
        total=total,
        embedding=embedding,
        nonembedding=nonembedding,
        active=total - inactive,
        active_nonembedding=nonembedding - inactive,
        head=V * d,
        per_layer=per_layer,
        per_expert=expert,
    )


def kaplan_approx_params(shape: ModelShape) -> int:
    """Kaplan et al.'s approximation ``N = 2 d_model n_layer (2 d_attn + d_ff)`` (Sec. 2.1,
    Table 1; ``12 n_layer d_model^2`` at d_attn = d_ff/4 = d_model): no embeddings, biases or
    norms, GELU MLP, full multi-head attention."""
    return 2 * shape.d_model * shape.n_layer * (2 * shape.d_attn + shape.ffn_dim)

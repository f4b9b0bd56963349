"""The shape of a decoder-only Transformer, as the accounting functions read it.

:class:`ModelShape` is a frozen, validated description: depth, width, heads (and key/value heads
for grouped-query attention), feed-forward width, vocabulary, context, tied or untied output
head, learned / rotary / relative positions, GELU or SwiGLU MLP, biases, LayerNorm or RMSNorm,
and mixture-of-experts (``n_expert`` experts of which ``top_k`` are active per token).

Defaults that are resolved from other fields (read them through the properties, never by hand):

* ``d_ff=None``: ``4 * d_model`` for a GELU MLP (GPT-2, Kaplan et al. Sec. 2.1); for SwiGLU the
  usual "8/3" rule of the Llama reference code, ``ffn_multiple * ceil(int(8 * d_model / 3) /
  ffn_multiple)`` with ``ffn_multiple = 256`` (Llama-2-7B: d_model 4096 -> 11008), so that
  SwiGLU's three matrices cost about the same as GELU's two at 4d. Resolved by
  :attr:`ModelShape.ffn_dim`.
* ``n_kv_head=None``: ``n_head`` (plain multi-head attention). Resolved by
  :attr:`ModelShape.kv_heads`.
* ``head_dim=None``: ``d_model // n_head``. Resolved by :attr:`ModelShape.dim_head`.
* ``qkv_bias=None`` / ``mlp_bias=None``: follow ``bias``, which otherwise covers the attention
  output projection and LayerNorm (Qwen2 has biases on q, k, v only: ``bias=False,
  qkv_bias=True``; a Llama config with ``attention_bias: true`` is ``bias=True,
  mlp_bias=False``).

Every invalid value raises :class:`~scalinglab.errors.OptionError` naming the option as the
command line spells it (``--d-model``, ``--n-kv-head``, ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np

from scalinglab.errors import ParameterError

Positions = Literal["learned", "rotary", "relative", "none"]
Mlp = Literal["gelu", "swiglu"]
Norm = Literal["layernorm", "rmsnorm"]

POSITIONS: tuple[str, ...] = ("learned", "rotary", "relative", "none")
MLPS: tuple[str, ...] = ("gelu", "swiglu")
NORMS: tuple[str, ...] = ("layernorm", "rmsnorm")

#: GPT-2's byte-level BPE vocabulary (Radford et al. 2019; Kaplan et al. 2020 Sec. 2.1).
GPT2_VOCAB = 50257
#: GPT-2's context (Kaplan et al. 2020: n_ctx = 1024).
GPT2_CONTEXT = 1024


def swiglu_ffn_dim(d_model: int, multiple: int = 256) -> int:
    """The SwiGLU hidden width of the Llama reference code: ``int(2 * 4d / 3)`` rounded up to a
    multiple of ``multiple`` (Llama-2-7B: 4096 -> 11008; Touvron et al. 2023)."""
    hidden = int(2 * (4 * d_model) / 3)
    return multiple * ((hidden + multiple - 1) // multiple)


def _as_int(name: str, value: Any, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ParameterError(name, f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ParameterError(name, f"{name} must be >= {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class ModelShape:
    """A decoder-only Transformer shape (see the module docstring for the resolved defaults).

    ``vocab`` and ``context`` default to GPT-2's 50257 and 1024. ``positions``: ``"learned"`` adds
    a ``context x d_model`` position table (GPT-2); ``"rotary"`` and ``"none"`` add no parameters;
    ``"relative"`` is Transformer-XL's relative encoding as used by Gopher/Chinchilla (per layer a
    ``d_model x d_attn`` relative-key projection and two ``d_attn`` bias vectors, the count of
    nanoGPT's ``chinchilla_params``). ``bias`` switches biases of every linear layer except the
    output head (which never has one) and of LayerNorm; ``norm="rmsnorm"`` has a weight only.
    ``n_expert > 1`` makes every MLP a mixture of ``n_expert`` experts with a bias-free router
    (``d_model x n_expert``), ``top_k`` of them active per token (Mixtral).
    """

    n_layer: int
    d_model: int
    n_head: int
    vocab: int = GPT2_VOCAB
    context: int = GPT2_CONTEXT
    d_ff: int | None = None
    n_kv_head: int | None = None
    tied: bool = True
    positions: Positions = "learned"
    mlp: Mlp = "gelu"
    bias: bool = True
    norm: Norm = "layernorm"
    n_expert: int = 1
    top_k: int = 1
    head_dim: int | None = None
    qkv_bias: bool | None = None
    mlp_bias: bool | None = None
    final_norm: bool = True
    ffn_multiple: int = 256

    def __post_init__(self) -> None:
        for name in ("n_layer", "d_model", "n_head", "vocab", "context", "n_expert", "top_k",
                     "ffn_multiple"):
            object.__setattr__(self, name, _as_int(name, getattr(self, name)))
        for name in ("d_ff", "n_kv_head", "head_dim"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _as_int(name, getattr(self, name)))
        for name in ("tied", "bias", "final_norm"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ParameterError(name, f"{name} must be true or false, "
                                  f"got {getattr(self, name)!r}")
        for name in ("qkv_bias", "mlp_bias"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, (bool, np.bool_)):
                raise ParameterError(name, f"{name} must be true, false or unset, got {v!r}")
        for name, choices in (("positions", POSITIONS), ("mlp", MLPS), ("norm", NORMS)):
            if getattr(self, name) not in choices:
                raise ParameterError(name, f"{name} must be one of {', '.join(choices)}, "
                                  f"got {getattr(self, name)!r}")
        if self.head_dim is None and self.d_model % self.n_head:
            raise ParameterError("d_model", f"d_model={self.d_model} is not divisible by "
                              f"n_head={self.n_head}")
        if self.n_kv_head is not None:
            if self.n_kv_head > self.n_head or self.n_head % self.n_kv_head:
                raise ParameterError("n_kv_head", f"n_head={self.n_head} is not divisible by "
                                  f"n_kv_head={self.n_kv_head}")
        if self.top_k > self.n_expert:
            raise ParameterError("top_k", f"top_k={self.top_k} exceeds n_expert={self.n_expert}")

    # ------------------------------------------------------------------ resolved sizes
    @property
    def ffn_dim(self) -> int:
        """Feed-forward hidden width (per expert), with the documented default."""
        if self.d_ff is not None:
            return self.d_ff
        if self.mlp == "swiglu":
            return swiglu_ffn_dim(self.d_model, self.ffn_multiple)
        return 4 * self.d_model

    @property
    def kv_heads(self) -> int:
        """Number of key/value heads (``n_head`` unless grouped-query attention)."""
        return self.n_kv_head if self.n_kv_head is not None else self.n_head

    @property
    def dim_head(self) -> int:
        """Per-head dimension (``d_model // n_head`` unless ``head_dim`` is set)."""
        return self.head_dim if self.head_dim is not None else self.d_model // self.n_head

    @property
    def d_attn(self) -> int:
        """Width of the attention (query) projection, ``n_head * head_dim`` (Kaplan's d_attn)."""
        return self.n_head * self.dim_head

    @property
    def d_kv(self) -> int:
        """Width of each of the key and value projections, ``n_kv_head * head_dim``."""
        return self.kv_heads * self.dim_head

    @property
    def has_qkv_bias(self) -> bool:
        return self.bias if self.qkv_bias is None else bool(self.qkv_bias)

    @property
    def has_mlp_bias(self) -> bool:
        return self.bias if self.mlp_bias is None else bool(self.mlp_bias)

    @property
    def aspect_ratio(self) -> float:
        """``d_model / n_layer`` (Kaplan et al.'s aspect ratio; ~40-200 in the literature)."""
        return self.d_model / self.n_layer

    # ------------------------------------------------------------------ conversions
    def resolved(self) -> ModelShape:
        """The same shape with every default written out (``d_ff``, ``n_kv_head``, ...)."""
        return ModelShape(**{**self.to_dict(), "d_ff": self.ffn_dim, "n_kv_head": self.kv_heads,
                             "head_dim": self.dim_head, "qkv_bias": self.has_qkv_bias,
                             "mlp_bias": self.has_mlp_bias})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of the fields (unresolved, as given)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelShape:
        """Inverse of :meth:`to_dict`; unknown keys are an :class:`OptionError`."""
        names = {f.name for f in fields(cls)}
        extra = sorted(set(data) - names)
        if extra:
            raise ParameterError("shape", f"unknown shape field(s) {', '.join(extra)}; "
                              f"known: {', '.join(sorted(names))}")
        missing = [n for n in ("n_layer", "d_model", "n_head") if n not in data]
        if missing:
            raise ParameterError("shape", f"missing shape field(s) {', '.join(missing)}")
        return cls(**data)

    def describe(self) -> str:
        """One line: ``12L x 768d, 12 heads (kv 12), ff 3072 gelu, vocab 50257, ctx 1024``."""
        moe = f", {self.n_expert} experts top-{self.top_k}" if self.n_expert > 1 else ""
        return (f"{self.n_layer}L x {self.d_model}d, {self.n_head} heads (kv {self.kv_heads}), "
                f"ff {self.ffn_dim} {self.mlp}{moe}, vocab {self.vocab}, ctx {self.context}, "
                f"{'tied' if self.tied else 'untied'}, {self.positions} positions")


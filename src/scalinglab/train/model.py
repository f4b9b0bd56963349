"""A GPT-style decoder-only Transformer built from a :class:`~scalinglab.accounting.ModelShape`.

Pre-LayerNorm blocks (GPT-2; Kaplan et al. 2020): ``x + attn(norm(x))`` then
``x + mlp(norm(x))``, a final norm and a linear head (tied to the token table by default).
Attention is causal :func:`torch.nn.functional.scaled_dot_product_attention` (flash / memory-
efficient kernels where the device has them) with fused q/k/v projection, optional grouped-query
attention (``n_kv_head``), and learned, rotary or no positions. The MLP is GELU with
``d_ff = 4 d_model`` by default, or SwiGLU. Biases (linear layers and LayerNorm) are optional;
RMSNorm is available.

The module is built from the same :class:`ModelShape` that the accounting module counts, so
``count_params(shape).total == sum(p.numel() for p in model.parameters())`` (a test checks it).
Initialisation is GPT-2's: normal(0, 0.02), residual output projections scaled by
``1/sqrt(2 n_layer)``, zero biases.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from scalinglab.accounting import ModelShape
from scalinglab.errors import ParameterError

INIT_STD = 0.02


def check_supported(shape: ModelShape) -> None:
    """Raise a ParameterError for shape features this model does not implement."""
    if shape.positions not in ("learned", "rotary", "none"):
        raise ParameterError("positions", f"the trainer supports learned, rotary or none "
                             f"positions, not {shape.positions!r}")
    if shape.n_expert > 1:
        raise ParameterError("n_expert", "the trainer has no mixture-of-experts layers")
    if shape.positions == "rotary" and shape.dim_head % 2:
        raise ParameterError("n_head", f"rotary positions need an even head dimension, got "
                             f"{shape.dim_head}")


def _norm(shape: ModelShape) -> nn.Module:
    if shape.norm == "rmsnorm":
        return nn.RMSNorm(shape.d_model, eps=1e-5)
    return nn.LayerNorm(shape.d_model, bias=shape.bias)


def rotary_tables(context: int, dim_head: int, base: float = 10000.0) -> tuple[Tensor, Tensor]:
    """cos and sin tables, shape ``(context, dim_head / 2)`` (Su et al. 2021, RoFormer)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, dim_head, 2, dtype=torch.float32) / dim_head))
    angles = torch.outer(torch.arange(context, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate pairs (first half, second half) of the last dim of ``x`` (B, H, T, D)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos = cos[: x.shape[-2]].to(x.dtype)
    sin = sin[: x.shape[-2]].to(x.dtype)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class Attention(nn.Module):
    """Causal multi-head (or grouped-query) self-attention with a fused q/k/v projection."""

    def __init__(self, shape: ModelShape, dropout: float) -> None:
        super().__init__()
        self.n_head, self.n_kv, self.dh = shape.n_head, shape.kv_heads, shape.dim_head
        self.qkv = nn.Linear(shape.d_model, shape.d_attn + 2 * shape.d_kv,
                             bias=shape.has_qkv_bias)
        self.proj = nn.Linear(shape.d_attn, shape.d_model, bias=shape.bias)
        self.dropout = dropout
        self.rotary = shape.positions == "rotary"

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor] | None) -> Tensor:
        B, T, _ = x.shape
        q, k, v = self.qkv(x).split(
            [self.n_head * self.dh, self.n_kv * self.dh, self.n_kv * self.dh], dim=-1)
        q = q.view(B, T, self.n_head, self.dh).transpose(1, 2)
        k = k.view(B, T, self.n_kv, self.dh).transpose(1, 2)
        v = v.view(B, T, self.n_kv, self.dh).transpose(1, 2)
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0,
            enable_gqa=self.n_kv != self.n_head)
        return self.proj(y.transpose(1, 2).reshape(B, T, self.n_head * self.dh))


class MLP(nn.Module):
    """GELU (``d -> d_ff -> d``) or SwiGLU (fused gate/up, then down) feed-forward block."""

    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        self.swiglu = shape.mlp == "swiglu"
        width = 2 * shape.ffn_dim if self.swiglu else shape.ffn_dim
        self.fc = nn.Linear(shape.d_model, width, bias=shape.has_mlp_bias)
        self.proj = nn.Linear(shape.ffn_dim, shape.d_model, bias=shape.has_mlp_bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc(x)
        if self.swiglu:
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        else:
            h = F.gelu(h)
        return self.proj(h)


class Block(nn.Module):
    """Pre-norm Transformer block."""

    def __init__(self, shape: ModelShape, dropout: float) -> None:
        super().__init__()
        self.norm1 = _norm(shape)
        self.attn = Attention(shape, dropout)
        self.norm2 = _norm(shape)
        self.mlp = MLP(shape)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor] | None) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x), rope))
        return x + self.drop(self.mlp(self.norm2(x)))


class GPT(nn.Module):
    """Decoder-only Transformer language model of a given :class:`ModelShape`."""

    def __init__(self, shape: ModelShape, dropout: float = 0.0) -> None:
        super().__init__()
        check_supported(shape)
        self.shape = shape
        self.tok = nn.Embedding(shape.vocab, shape.d_model)
        self.pos = (nn.Embedding(shape.context, shape.d_model)
                    if shape.positions == "learned" else None)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.blocks = nn.ModuleList(Block(shape, dropout) for _ in range(shape.n_layer))
        self.norm = _norm(shape) if shape.final_norm else nn.Identity()
        self.head = None if shape.tied else nn.Linear(shape.d_model, shape.vocab, bias=False)
        if shape.positions == "rotary":
            cos, sin = rotary_tables(shape.context, shape.dim_head)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        else:
            self.rope_cos = self.rope_sin = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2 initialisation (see the module docstring)."""
        resid_std = INIT_STD / math.sqrt(2 * self.shape.n_layer)
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                std = resid_std if name.endswith(".proj") else INIT_STD
                nn.init.normal_(module.weight, mean=0.0, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)

    def output_weight(self) -> Tensor:
        return self.tok.weight if self.head is None else self.head.weight

    def forward(self, idx: Tensor) -> Tensor:
        """Logits ``(B, T, vocab)`` for token ids ``idx`` ``(B, T)``."""
        T = idx.shape[1]
        if T > self.shape.context:
            raise ParameterError("context", f"sequence of {T} tokens exceeds the model's "
                                 f"context {self.shape.context}")
        x = self.tok(idx)
        if self.pos is not None:
            x = x + self.pos.weight[:T]
        x = self.drop(x)
        rope = (self.rope_cos, self.rope_sin) if self.rope_cos is not None else None
        for block in self.blocks:
            x = block(x, rope)
        return F.linear(self.norm(x), self.output_weight())

    def loss(self, idx: Tensor, targets: Tensor, reduction: str = "mean") -> Tensor:
        """Cross-entropy in nats per token (``reduction="none"``: shape ``(B, T)``)."""
        logits = self(idx)
        out = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                              reduction=reduction)
        return out.view(targets.shape) if reduction == "none" else out

"""Read a Hugging Face ``config.json`` into a :class:`ModelShape` without ``transformers``.

Families (by ``model_type``) and the module structure each one implies (from the public model
definitions: GPT-2's Conv1D blocks, GPT-NeoX's fused QKV with biases, Llama/Mistral's bias-free
SwiGLU with RMSNorm, Qwen2's q/k/v biases, Mixtral's sparse MoE block):

==================  ============================================================================
``gpt2``            learned positions, biases, LayerNorm, GELU MLP (``n_inner`` or 4d), head tied
                    unless ``tie_word_embeddings`` is false. Keys: ``n_embd``, ``n_layer``,
                    ``n_head``, ``vocab_size``, ``n_positions`` (or ``n_ctx``).
``gpt_neox``        (Pythia) rotary, biases, LayerNorm, GELU MLP, untied head by default. Keys:
                    ``hidden_size``, ``num_hidden_layers``, ``num_attention_heads``,
                    ``intermediate_size``, ``vocab_size``, ``max_position_embeddings``.
``llama``           rotary, RMSNorm, SwiGLU, no biases (``attention_bias`` / ``mlp_bias`` honoured),
                    GQA via ``num_key_value_heads`` (default: ``num_attention_heads``), untied
                    head by default; optional ``head_dim``.
``mistral``         as llama (``num_key_value_heads`` defaults to 8 as in MistralConfig).
``qwen2``           as llama with biases on q, k, v.
``mixtral``         as mistral with ``num_local_experts`` experts, ``num_experts_per_tok`` active.
==================  ============================================================================

A missing required key, an unknown ``model_type``, an unreadable file, an integer key that is not
an integer in ``[0, MAX_CONFIG_INT]`` (a JSON integer of any length is read without Python's
int-string limit getting in the way) or a boolean key (``tie_word_embeddings``, ``attention_bias``,
``mlp_bias``) that is not ``true``/``false`` is an :class:`~scalinglab.errors.InputError` naming
the file and the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalinglab.accounting.shape import ModelShape
from scalinglab.errors import InputError, OptionError

SUPPORTED_MODEL_TYPES: tuple[str, ...] = ("gpt2", "gpt_neox", "llama", "mistral", "qwen2",
                                          "mixtral")

#: the largest integer a config key may hold (no real shape dimension comes near it; larger
#: values would overflow the float FLOP counts).
MAX_CONFIG_INT = 10**12


class _BigInt(str):
    """A JSON integer literal too long to be a shape dimension (kept as its text, so Python's
    int-string conversion limit is never hit); reading it as an integer is an InputError."""


def _parse_int(text: str) -> int | _BigInt:
    return _BigInt(text) if len(text.lstrip("-")) > 18 else int(text)


def load_hf_config(path: str | Path) -> dict[str, Any]:
    """The JSON object in ``path`` (``InputError`` if missing, unreadable or not an object)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", source=str(p))
    try:
        data = json.loads(p.read_text(encoding="utf-8"), parse_int=_parse_int)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"not a readable JSON file ({exc})", source=str(p)) from None
    if not isinstance(data, dict):
        raise InputError("a config.json must hold a JSON object", source=str(p))
    return data


class _Reader:
    def __init__(self, cfg: Mapping[str, Any], source: str | None) -> None:
        self.cfg, self.source = cfg, source

    def req(self, *keys: str) -> Any:
        for k in keys:
            if k in self.cfg and self.cfg[k] is not None:
                return self.cfg[k]
        names = " or ".join(repr(k) for k in keys)
        mt = self.cfg.get("model_type")
        raise InputError(f"config ({mt}) is missing the required key {names}",
                         source=self.source)

    def opt(self, key: str, default: Any) -> Any:
        v = self.cfg.get(key)
        return default if v is None else v

    def integer(self, *keys: str) -> int:
        key = next((k for k in keys if self.cfg.get(k) is not None), keys[0])
        return self._int(key, self.req(*keys))

    def opt_integer(self, key: str, default: int | None) -> int | None:
        v = self.cfg.get(key)
        return default if v is None else self._int(key, v)

    def _int(self, key: str, v: Any) -> int:
        if isinstance(v, _BigInt):
            raise InputError(f"key {key!r} is too large ({len(v.lstrip('-'))}-digit integer; "
                             f"at most {MAX_CONFIG_INT:.0e})", source=self.source)
        if isinstance(v, bool) or not isinstance(v, int):
            raise InputError(f"key {key!r} must be an integer, got {v!r}", source=self.source)
        if not 0 <= v <= MAX_CONFIG_INT:
            raise InputError(f"key {key!r} must be an integer from 0 to {MAX_CONFIG_INT:.0e}, "
                             f"got {v}", source=self.source)
        return v

    def boolean(self, key: str, default: bool) -> bool:
        """A strict JSON boolean (``"false"``, a string, is an error, not true)."""
        v = self.cfg.get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise InputError(f"key {key!r} must be true or false (a JSON boolean), got {v!r}",
                             source=self.source)
        return v


def _family(cfg: Mapping[str, Any], source: str | None) -> str:
    mt = cfg.get("model_type")
    if mt is None:
        raise InputError("config is missing the required key 'model_type' (one of "
                         f"{', '.join(SUPPORTED_MODEL_TYPES)})", source=source)
    if mt not in SUPPORTED_MODEL_TYPES:
        raise InputError(f"unsupported model_type {mt!r}; supported: "
                         f"{', '.join(SUPPORTED_MODEL_TYPES)} (or give the shape with "
                         "--n-layer/--d-model/--n-head ...)", source=source)
    return str(mt)


def shape_from_hf_config(config: Mapping[str, Any] | str | Path) -> ModelShape:
    """The :class:`ModelShape` of a Hugging Face config (a mapping or a path to config.json)."""
    source: str | None = None
    if isinstance(config, (str, Path)):
        source = str(config)
        config = load_hf_config(config)
    r = _Reader(config, source)
    mt = _family(config, source)
    try:
        if mt == "gpt2":
            d = r.integer("n_embd")
            return ModelShape(
                n_layer=r.integer("n_layer"), d_model=d, n_head=r.integer("n_head"),
                vocab=r.integer("vocab_size"), context=r.integer("n_positions", "n_ctx"),
                d_ff=r.opt_integer("n_inner", None), tied=r.boolean("tie_word_embeddings", True),
                positions="learned", mlp="gelu", bias=True, norm="layernorm",
            )
        if mt == "gpt_neox":
            return ModelShape(
                n_layer=r.integer("num_hidden_layers"), d_model=r.integer("hidden_size"),
                n_head=r.integer("num_attention_heads"), vocab=r.integer("vocab_size"),
                context=r.integer("max_position_embeddings"),
                d_ff=r.integer("intermediate_size"),
                tied=r.boolean("tie_word_embeddings", False), positions="rotary", mlp="gelu",
                bias=r.boolean("attention_bias", True), mlp_bias=True, norm="layernorm",
            )
        # llama family: llama, mistral, qwen2, mixtral
        n_head = r.integer("num_attention_heads")
        kv_default = 8 if mt in ("mistral", "mixtral") else n_head
        moe = mt == "mixtral"
        attn_bias = r.boolean("attention_bias", False)
        return ModelShape(
            n_layer=r.integer("num_hidden_layers"), d_model=r.integer("hidden_size"),
            n_head=n_head, n_kv_head=r.opt_integer("num_key_value_heads", kv_default),
            vocab=r.integer("vocab_size"), context=r.integer("max_position_embeddings"),
            d_ff=r.integer("intermediate_size"), head_dim=r.opt_integer("head_dim", None),
            tied=r.boolean("tie_word_embeddings", False), positions="rotary", mlp="swiglu",
            bias=attn_bias, qkv_bias=True if mt == "qwen2" else None,
            mlp_bias=r.boolean("mlp_bias", False), norm="rmsnorm",
            n_expert=r.integer("num_local_experts") if moe else 1,
            top_k=r.integer("num_experts_per_tok") if moe else 1,
        )
    except OptionError as exc:
        raise InputError(f"config describes an invalid shape: {exc}", source=source) from None

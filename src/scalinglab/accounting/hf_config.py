"""Read a Hugging Face ``config.json`` into a :class:`ModelShape` and exact parameter counts.

:func:`read_hf_config` takes a config (a mapping, a ``config.json`` path, or a folder holding
one) and returns an :class:`HFModel`: the exact :class:`~scalinglab.accounting.params.ParamCount`
of the model the config describes (total, embedding, non-embedding, active for MoE) and the
nearest :class:`ModelShape` (used for FLOP terms). :func:`shape_from_hf_config` returns the shape
alone. No ``transformers`` is needed for the families below; for any other ``model_type``, when
``transformers`` (and torch) are installed, the model is built from its ``AutoConfig`` on the
``meta`` device and its parameters are counted there (no memory, no download).

Families (by ``model_type``) and the module structure each one implies (from the public model
definitions):

================  =================================================================================
``gpt2``          learned positions, biases, LayerNorm, GELU MLP (``n_inner`` or 4d), head tied
                  unless ``tie_word_embeddings`` is false. Keys: ``n_embd``, ``n_layer``,
                  ``n_head``, ``vocab_size``, ``n_positions`` (or ``n_ctx``).
``gpt_neox``      (Pythia) rotary, biases, LayerNorm, GELU MLP, untied head by default. Keys:
                  ``hidden_size``, ``num_hidden_layers``, ``num_attention_heads``,
                  ``intermediate_size``, ``vocab_size``, ``max_position_embeddings``.
``llama``         rotary, RMSNorm, SwiGLU, no biases (``attention_bias`` / ``mlp_bias`` honoured),
                  GQA via ``num_key_value_heads`` (default: ``num_attention_heads``), untied
                  head by default; optional ``head_dim``.
``mistral``       as llama (``num_key_value_heads`` defaults to 8 as in MistralConfig).
``qwen2``         as llama with biases on q, k, v.
``qwen3``         as llama (``head_dim`` default 128) plus a q and a k RMSNorm of ``head_dim``
                  per layer (Qwen3's QK-norm).
``gemma``         as llama (GeGLU has SwiGLU's three matrices), ``head_dim`` default 256, head
                  tied by default.
``gemma2``        as gemma plus two more RMSNorms per layer (pre- and post-feed-forward; four in
                  all).
``phi3``          as llama (fused qkv and gate/up projections hold the same weights).
``mixtral``       as mistral with ``num_local_experts`` experts, ``num_experts_per_tok`` active.
``qwen2_moe``     qwen2 attention; MoE layers (every ``decoder_sparse_step``-th, none of
                  ``mlp_only_layers``) with ``num_experts`` experts of ``moe_intermediate_size``
                  (``num_experts_per_tok`` active), a router, a shared expert of
                  ``shared_expert_intermediate_size`` and its 1-output gate; other layers a dense
                  MLP of ``intermediate_size``.
``qwen3_moe``     qwen3 attention; MoE layers as qwen2_moe without a shared expert.
``deepseek_v2``   multi-head latent attention (MLA: ``q_lora_rank`` (none: a plain q projection),
``deepseek_v3``   ``kv_lora_rank``, ``qk_nope_head_dim``, ``qk_rope_head_dim``, ``v_head_dim``,
                  the two low-rank RMSNorms); the first ``first_k_dense_replace`` layers dense
                  (``intermediate_size``), then MoE every ``moe_layer_freq``-th layer with
                  ``n_routed_experts`` of ``moe_intermediate_size`` (``num_experts_per_tok``
                  active), ``n_shared_experts`` always-active experts (one MLP of
                  ``n_shared_experts x moe_intermediate_size``), a router, and for ``deepseek_v3``
                  the router's per-expert score-correction bias (stored in the checkpoint). The
                  multi-token-prediction module of V3 is not part of the model (as in its 671B).
================  =================================================================================

For gpt2, gpt_neox, llama, mistral, qwen2, gemma, phi3 and mixtral the shape is exact:
``count_params(shape)`` equals :attr:`HFModel.params`. For the others the shape is the nearest
standard one (:attr:`HFModel.exact_shape` is false; :attr:`HFModel.notes` says what differs):
count with :attr:`HFModel.params`, and pass it to the FLOP functions (``params=``).

Active parameters (``ParamCount.active``) count ``top_k`` routed experts plus the shared ones;
like every count here they include the embeddings (DeepSeek's and Qwen's "activated" figures
leave the input embedding out).

A missing required key, an unknown ``model_type`` (without ``transformers``), an unreadable file,
a folder without ``config.json``, an integer key that is not an integer in ``[0, MAX_CONFIG_INT]``
(a JSON integer of any length is read without Python's int-string limit getting in the way) or
a boolean key (``tie_word_embeddings``, ``attention_bias``, ``mlp_bias``) that is not
``true``/``false`` is an :class:`~scalinglab.errors.InputError` naming the file and the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scalinglab.accounting.params import ParamCount, count_params
from scalinglab.accounting.shape import ModelShape
from scalinglab.errors import InputError, OptionError

SUPPORTED_MODEL_TYPES: tuple[str, ...] = (
    "gpt2", "gpt_neox", "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3",
    "mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3")
#: families whose :class:`ModelShape` counts exactly what the config describes
EXACT_SHAPE_TYPES: tuple[str, ...] = ("gpt2", "gpt_neox", "llama", "mistral", "qwen2", "gemma",
                                      "phi3", "mixtral")
_LLAMA_LIKE = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "mixtral")
_MOE = ("qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3")

#: the largest integer a config key may hold (no real shape dimension comes near it; larger
#: values would overflow the float FLOP counts).
MAX_CONFIG_INT = 10**12


class _BigInt(str):
    """A JSON integer literal too long to be a shape dimension (kept as its text, so Python's
    int-string conversion limit is never hit); reading it as an integer is an InputError."""


def _parse_int(text: str) -> int | _BigInt:
    return _BigInt(text) if len(text.lstrip("-")) > 18 else int(text)


def load_hf_config(path: str | Path) -> dict[str, Any]:
    """The JSON object in ``path``, a ``config.json`` or a folder holding one (``InputError``
    if missing, unreadable or not an object)."""
    p = Path(path)
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise InputError("the folder holds no config.json", source=str(p))
        p = p / "config.json"
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


@dataclass(frozen=True)
class HFModel:
    """What a Hugging Face config describes (see the module docstring)."""

    #: the config's ``model_type``
    model_type: str
    #: the nearest :class:`ModelShape` (exact when ``exact_shape``); FLOP terms use it
    shape: ModelShape
    #: exact parameter counts of the model the config describes
    params: ParamCount
    #: whether ``count_params(shape) == params``
    exact_shape: bool
    #: the config's path (None for a mapping)
    source: str | None = None
    #: how the counts were made, and what the shape leaves out
    notes: tuple[str, ...] = ()


def _family(cfg: Mapping[str, Any], source: str | None) -> str:
    mt = cfg.get("model_type")
    if mt is None:
        raise InputError("config is missing the required key 'model_type' (one of "
                         f"{', '.join(SUPPORTED_MODEL_TYPES)})", source=source)
    return str(mt)


def _unsupported(mt: str, source: str | None) -> InputError:
    return InputError(f"unsupported model_type {mt!r}; supported: "
                      f"{', '.join(SUPPORTED_MODEL_TYPES)}, and any other that transformers "
                      "knows when it is installed (pip install transformers torch); or give the "
                      "shape with --n-layer/--d-model/--n-head ...", source=source)


def _llama_like(r: _Reader, mt: str) -> ModelShape:
    """The shape of a llama-like family (llama, mistral, qwen2, qwen3, gemma, gemma2, phi3,
    mixtral)."""
    n_head = r.integer("num_attention_heads")
    kv_default = 8 if mt in ("mistral", "mixtral") else n_head
    head_default = {"gemma": 256, "gemma2": 256, "qwen3": 128}.get(mt)
    moe = mt == "mixtral"
    return ModelShape(
        n_layer=r.integer("num_hidden_layers"), d_model=r.integer("hidden_size"),
        n_head=n_head, n_kv_head=r.opt_integer("num_key_value_heads", kv_default),
        vocab=r.integer("vocab_size"), context=r.integer("max_position_embeddings"),
        d_ff=r.integer("intermediate_size"), head_dim=r.opt_integer("head_dim", head_default),
        tied=r.boolean("tie_word_embeddings", mt in ("gemma", "gemma2")), positions="rotary",
        mlp="swiglu", bias=r.boolean("attention_bias", False),
        qkv_bias=True if mt == "qwen2" else None, mlp_bias=r.boolean("mlp_bias", False),
        norm="rmsnorm",
        n_expert=r.integer("num_local_experts") if moe else 1,
        top_k=r.integer("num_experts_per_tok") if moe else 1,
    )


def _with_extra(pc: ParamCount, per_layer: int, n_layer: int) -> ParamCount:
    """``pc`` with ``per_layer`` more non-embedding parameters in each of ``n_layer`` layers."""
    extra = per_layer * n_layer
    return replace(pc, total=pc.total + extra, nonembedding=pc.nonembedding + extra,
                   active=pc.active + extra, active_nonembedding=pc.active_nonembedding + extra,
                   per_layer=pc.per_layer + per_layer)


def _swiglu(d: int, ff: int) -> int:
    return 3 * d * ff


def _tally(shape: ModelShape, layers: list[tuple[int, int]], per_expert: int) -> ParamCount:
    """Counts from per-layer ``(total, active)`` non-embedding parameters (blocks with their
    norms), the shape's embeddings (token table, untied head) and final RMSNorm."""
    d, V = shape.d_model, shape.vocab
    final = d
    nonemb = sum(t for t, _ in layers) + final
    active_nonemb = sum(a for _, a in layers) + final
    embedding = V * d * (1 if shape.tied else 2)
    return ParamCount(total=embedding + nonemb, embedding=embedding, nonembedding=nonemb,
                      active=embedding + active_nonemb, active_nonembedding=active_nonemb,
                      head=V * d, per_layer=layers[-1][0], per_expert=per_expert)


def _qwen_moe(r: _Reader, mt: str) -> tuple[ModelShape, ParamCount, list[str]]:
    d, L = r.integer("hidden_size"), r.integer("num_hidden_layers")
    n_head = r.integer("num_attention_heads")
    kv = r.opt_integer("num_key_value_heads", n_head)
    head_dim = r.opt_integer("head_dim", 128 if mt == "qwen3_moe" else d // max(n_head, 1))
    E, k = r.integer("num_experts"), r.integer("num_experts_per_tok")
    ff_moe, ff = r.integer("moe_intermediate_size"), r.integer("intermediate_size")
    step = r.opt_integer("decoder_sparse_step", 1) or 1
    dense_only = r.cfg.get("mlp_only_layers") or []
    if not isinstance(dense_only, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in dense_only):
        raise InputError("key 'mlp_only_layers' must be a list of layer indices",
                         source=r.source)
    shape = ModelShape(
        n_layer=L, d_model=d, n_head=n_head, n_kv_head=kv, head_dim=head_dim,
        vocab=r.integer("vocab_size"), context=r.integer("max_position_embeddings"),
        d_ff=ff_moe, tied=r.boolean("tie_word_embeddings", False), positions="rotary",
        mlp="swiglu", bias=False, qkv_bias=mt == "qwen2_moe" or r.boolean("attention_bias", False),
        norm="rmsnorm", n_expert=E, top_k=k)
    da, dkv = n_head * head_dim, kv * head_dim
    attn = 2 * d * da + 2 * d * dkv + (da + 2 * dkv if shape.has_qkv_bias else 0)
    if mt == "qwen3_moe":
        attn += 2 * head_dim  # q_norm, k_norm
    norms = 2 * d
    expert = _swiglu(d, ff_moe)
    shared = 0
    if mt == "qwen2_moe":
        shared = _swiglu(d, r.integer("shared_expert_intermediate_size")) + d  # + its gate
    layers = []
    for i in range(L):
        if i not in dense_only and E > 0 and (i + 1) % step == 0:
            base = attn + norms + d * E + shared
            layers.append((base + E * expert, base + k * expert))
        else:
            dense = attn + norms + _swiglu(d, ff)
            layers.append((dense, dense))
    notes = ["the shape (for FLOP terms) has the routed experts only"
             + ("; the shared expert and dense layers are counted in the parameters"
                if mt == "qwen2_moe" else "")]
    return shape, _tally(shape, layers, expert), notes


def _deepseek(r: _Reader, mt: str) -> tuple[ModelShape, ParamCount, list[str]]:
    d, L = r.integer("hidden_size"), r.integer("num_hidden_layers")
    H = r.integer("num_attention_heads")
    nope, rope = r.integer("qk_nope_head_dim"), r.integer("qk_rope_head_dim")
    vdim, kv_rank = r.integer("v_head_dim"), r.integer("kv_lora_rank")
    q_rank = r.opt_integer("q_lora_rank", None)
    bias = r.boolean("attention_bias", False)
    E, k = r.integer("n_routed_experts"), r.integer("num_experts_per_tok")
    n_shared = r.opt_integer("n_shared_experts", 0) or 0
    ff, ff_moe = r.integer("intermediate_size"), r.integer("moe_intermediate_size")
    first_dense = r.opt_integer("first_k_dense_replace", 0) or 0
    freq = r.opt_integer("moe_layer_freq", 1) or 1
    qk = nope + rope
    # multi-head latent attention (DeepSeek-V2 Sec. 2.1)
    if q_rank:
        attn = d * q_rank + (q_rank if bias else 0) + q_rank + q_rank * H * qk
    else:
        attn = d * H * qk
    attn += d * (kv_rank + rope) + ((kv_rank + rope) if bias else 0) + kv_rank
    attn += kv_rank * H * (nope + vdim) + H * vdim * d + (d if bias else 0)
    norms = 2 * d
    expert = _swiglu(d, ff_moe)
    router = E * d + (E if mt == "deepseek_v3" else 0)
    shared = _swiglu(d, n_shared * ff_moe) if n_shared else 0
    layers = []
    for i in range(L):
        if i >= first_dense and i % freq == 0:
            base = attn + norms + router + shared
            layers.append((base + E * expert, base + k * expert))
        else:
            dense = attn + norms + _swiglu(d, ff)
            layers.append((dense, dense))
    shape = ModelShape(
        n_layer=L, d_model=d, n_head=H, head_dim=qk, vocab=r.integer("vocab_size"),
        context=r.integer("max_position_embeddings"), d_ff=ff_moe,
        tied=r.boolean("tie_word_embeddings", False), positions="rotary", mlp="swiglu",
        bias=False, norm="rmsnorm", n_expert=E, top_k=k)
    notes = ["the shape (for FLOP terms) approximates multi-head latent attention by plain "
             "attention of head_dim qk_nope + qk_rope and has the routed experts only; the "
             "parameters count MLA, the shared experts and the dense layers exactly"]
    return shape, _tally(shape, layers, expert), notes


def _from_transformers(cfg: Mapping[str, Any], source: str | None) -> HFModel | None:
    """Count with ``transformers`` on the meta device (None when it is not installed)."""
    try:
        import torch
        import transformers
    except ImportError:
        return None
    mt = str(cfg["model_type"])
    kwargs = {k: v for k, v in cfg.items() if k != "model_type" and not k.startswith("_")}
    try:
        conf = transformers.AutoConfig.for_model(mt, **kwargs)
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(conf)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"unsupported model_type {mt!r}: transformers could not build a causal "
                         f"language model from this config ({exc})", source=source) from None
    total = sum(p.numel() for p in model.parameters())  # shared (tied) tensors once
    emb = model.get_input_embeddings()
    head = model.get_output_embeddings()
    token = int(emb.weight.numel())
    tied = head is None or head.weight is emb.weight
    head_n = token if head is None else int(head.weight.numel())
    embedding = token + (0 if tied else head_n)
    nonemb = int(total) - embedding

    def attr(*names: str, default: Any = None) -> Any:
        for n in names:
            v = getattr(conf, n, None)
            if v is not None:
                return v
        return default

    try:
        d = int(attr("hidden_size", "n_embd", "d_model"))
        n_head = int(attr("num_attention_heads", "n_head"))
        shape = ModelShape(
            n_layer=int(attr("num_hidden_layers", "n_layer")), d_model=d, n_head=n_head,
            n_kv_head=attr("num_key_value_heads", default=None),
            head_dim=attr("head_dim", default=None),
            vocab=int(attr("vocab_size")), context=int(attr("max_position_embeddings",
                                                            "n_positions", default=2048)),
            d_ff=attr("intermediate_size", "n_inner", default=None), tied=tied,
            positions="rotary", mlp="swiglu", bias=False, norm="rmsnorm")
    except (TypeError, ValueError, OptionError) as exc:
        raise InputError(f"model_type {mt!r}: transformers counted the parameters, but the "
                         f"config does not give a standard shape for the FLOP terms ({exc})",
                         source=source) from None
    pc = ParamCount(total=int(total), embedding=embedding, nonembedding=nonemb,
                    active=int(total), active_nonembedding=nonemb, head=head_n,
                    per_layer=nonemb // max(shape.n_layer, 1), per_expert=0)
    return HFModel(mt, shape, pc, count_params(shape) == pc, source, (
        f"counted by transformers {transformers.__version__} (AutoConfig, meta device); "
        "embedding = the token table and an untied head (a learned position table counts as "
        "non-embedding); active = total (experts are not told apart); the shape for FLOP "
        "terms is llama-like",))


def read_hf_config(config: Mapping[str, Any] | str | Path) -> HFModel:
    """The :class:`HFModel` of a Hugging Face config: a mapping, a ``config.json`` path or a
    folder holding one (see the module docstring)."""
    source: str | None = None
    if isinstance(config, (str, Path)):
        p = Path(config)
        source = str(p / "config.json") if p.is_dir() else str(p)
        config = load_hf_config(p)
    r = _Reader(config, source)
    mt = _family(config, source)
    if mt not in SUPPORTED_MODEL_TYPES:
        found = _from_transformers(config, source)
        if found is None:
            raise _unsupported(mt, source)
        return found
    notes: list[str] = []
    try:
        if mt in _MOE:
            maker = _deepseek if mt.startswith("deepseek") else _qwen_moe
            shape, pc, notes = maker(r, mt)
        else:
            shape = _shape(r, mt)
            pc = count_params(shape)
            if mt == "gemma2":  # pre- and post-feed-forward RMSNorms
                pc = _with_extra(pc, 2 * shape.d_model, shape.n_layer)
                notes.append("two RMSNorms per layer more than the shape (Gemma 2's pre- and "
                             "post-feed-forward norms), counted in the parameters")
            elif mt == "qwen3":  # q_norm and k_norm
                pc = _with_extra(pc, 2 * shape.dim_head, shape.n_layer)
                notes.append("QK-norm (two RMSNorms of head_dim per layer) is counted in the "
                             "parameters, not in the shape")
    except OptionError as exc:
        raise InputError(f"config describes an invalid shape: {exc}", source=source) from None
    return HFModel(mt, shape, pc, mt in EXACT_SHAPE_TYPES, source, tuple(notes))


def shape_from_hf_config(config: Mapping[str, Any] | str | Path) -> ModelShape:
    """The :class:`ModelShape` of a Hugging Face config (a mapping, a path to config.json or a
    folder holding one): exact for the families of ``EXACT_SHAPE_TYPES``, the nearest standard
    shape for the others (count their parameters with :func:`read_hf_config`)."""
    return read_hf_config(config).shape


def _shape(r: _Reader, mt: str) -> ModelShape:
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
    return _llama_like(r, mt)

"""Run configuration (:class:`TrainConfig`) and run record (:class:`RunResult`).

Both are pydantic models; ``TrainConfig`` forbids unknown fields, and its cross-field checks
raise :class:`~scalinglab.errors.ParameterError` naming the field (``d_model``...), which the
CLI reports against its flag. ``TrainConfig`` is the one list of trainer options: the
``scalinglab train`` options are checked against its fields, defaults and allowed values by a
test (``tests/train/test_train_options.py``), and study specs take their shared keys, and the
keys of their ``train:`` mapping, from it (:mod:`scalinglab.sweep.spec`). The allowed values of
the choice fields are the ``Literal`` aliases below (:data:`Schedule`...), and the devices
:func:`check_device` accepts. :func:`default_lr` is the one place where an unset learning rate
becomes Kaplan's rule. ``RunResult.model_dump()`` is the ``scalinglab train --json`` output.

This module imports pydantic and :mod:`scalinglab.accounting` only (no torch), so study specs
can be validated on the core install. Every loss is in nats per
token *of the run's tokenizer* (``bytes``: per UTF-8 byte; ``bpe:V``: per BPE token); runs with
different tokenizers compare through ``final_val_bpb`` (bits per byte).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scalinglab.accounting import ModelShape
from scalinglab.errors import ParameterError

#: Config fields that may change between a checkpoint and its resumption (they do not change
#: what is computed, only how fast or where).
RESUMABLE_CHANGES = frozenset({"threads", "compile", "checkpoint_every", "peak_flops",
                               "device", "precision"})


#: the most tokens one run may train on (``tokens``; study designs check the token counts they
#: derive against it too)
MAX_TOKENS = 1e15

#: the allowed values of the trainer's choice options
Schedule = Literal["cosine", "wsd", "constant"]
Positions = Literal["learned", "rotary", "none"]
Mlp = Literal["gelu", "swiglu"]
Norm = Literal["layernorm", "rmsnorm"]
Precision = Literal["auto", "fp32", "bf16"]
#: the devices :func:`check_device` accepts (``cuda:N``: any GPU index N >= 0)
DEVICES = ("cpu", "cuda", "cuda:N", "mps", "auto")


def check_device(device: str) -> str:
    """``device`` if it is one of :data:`DEVICES` (``cuda:0``, ``cuda:1``... for ``cuda:N``),
    else a :class:`ParameterError` naming ``device``. Whether this machine has the device is
    checked when a run starts (:func:`scalinglab.train.hardware.resolve_device`)."""
    index = device.removeprefix("cuda:") if device.startswith("cuda:") else None
    if device in DEVICES[:2] + DEVICES[3:] or (index is not None and index.isdigit()):
        return device
    raise ParameterError("device", f"unknown device {device!r}; use {', '.join(DEVICES)}")


def kaplan_lr(n_nonembedding: int) -> float:
    """Kaplan et al. 2020 Eq. D.1: ``LR(N) = 0.003239 - 0.0001395 ln N`` (floored at 1e-4)."""
    return max(1e-4, 0.003239 - 0.0001395 * math.log(max(n_nonembedding, 1)))


def default_lr(lr: float | None, n_nonembedding: int) -> float:
    """The peak learning rate of a run: ``lr``, or when it is None Kaplan's rule
    (:func:`kaplan_lr`) on the model's non-embedding parameter count. The trainer and the
    sweep's learning-rate factors both resolve ``lr`` here."""
    return lr if lr is not None else kaplan_lr(n_nonembedding)


class TrainConfig(BaseModel):
    """Everything that defines one training run (see ``scalinglab train --help``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # shape
    n_layer: int = Field(ge=1)
    d_model: int = Field(ge=1)
    n_head: int = Field(ge=1)
    context: int = Field(ge=1, description="tokens per training sequence (n_ctx)")
    d_ff: int | None = Field(default=None, ge=1, description="default 4 d_model (GELU)")
    n_kv_head: int | None = Field(default=None, ge=1, description="grouped-query attention")
    positions: Positions = "learned"
    mlp: Mlp = "gelu"
    norm: Norm = "layernorm"
    bias: bool = True
    tied: bool = True
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    # budget and optimiser
    batch_size: int = Field(ge=1, description="sequences per optimiser step")
    tokens: int = Field(ge=1, le=MAX_TOKENS,
                        description="training tokens (rounded up to whole steps)")
    lr: float | None = Field(default=None, gt=0, description="peak LR; None: Kaplan Eq. D.1")
    min_lr_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    schedule: Schedule = "cosine"
    warmup_steps: int | None = Field(default=None, ge=0,
                                     description="None: 5% of the steps, at most 3000")
    decay_fraction: float = Field(default=0.2, gt=0.0, le=1.0, description="WSD decay phase")
    weight_decay: float = Field(default=0.1, ge=0.0)
    beta1: float = Field(default=0.9, ge=0.0, lt=1.0)
    beta2: float = Field(default=0.95, ge=0.0, lt=1.0)
    eps: float = Field(default=1e-8, gt=0.0)
    grad_clip: float | None = Field(default=1.0, gt=0.0)
    # data
    data: str = "builtin"
    text_field: str = "text"
    tokenizer: str = "bytes"
    ood_data: str | None = Field(default="auto",
                                 description="'auto': shakespeare for the built-in corpus, "
                                 "none for user data; None or 'none': skip")
    val_fraction: float = Field(default=0.05, gt=0.0, lt=0.5)
    data_tokens: int | None = Field(
        default=None, ge=2, description="unique training tokens: the training split is cut to "
        "its first data_tokens tokens and repeated as needed (Kaplan's L(D) and L(N, D) "
        "studies); None: the whole split")
    seed: int = 0
    # evaluation and records
    eval_every: int | None = Field(default=None, ge=1, description="None: 10 evaluations")
    eval_tokens: int = Field(default=65_536, ge=1, description="validation tokens per eval")
    final_eval_tokens: int | None = Field(
        default=None, ge=1, description="validation tokens of the last evaluation (the run's "
        "final_val_loss); None: eval_tokens. A large final set with small curve evaluations "
        "gives a precise result at little cost")
    noise_scale: bool = False
    noise_scale_batches: int = Field(default=8, ge=2)
    flops_convention: str = "6N"
    checkpoint_every: int | None = Field(default=None, ge=1)
    # hardware
    device: str = "cpu"
    precision: Precision = "auto"
    compile: bool = False
    threads: int | None = Field(default=None, ge=1)
    peak_flops: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.d_model % self.n_head:
            raise ParameterError("d_model", f"d_model={self.d_model} is not divisible by "
                                 f"n_head={self.n_head}")
        if self.n_kv_head is not None and (self.n_kv_head > self.n_head
                                           or self.n_head % self.n_kv_head):
            raise ParameterError("n_kv_head", f"n_head={self.n_head} is not divisible by "
                                 f"n_kv_head={self.n_kv_head}")
        if self.positions == "rotary" and (self.d_model // self.n_head) % 2:
            raise ParameterError("positions", "rotary positions need an even head dimension "
                                 f"(d_model / n_head = {self.d_model // self.n_head})")
        from scalinglab.accounting.flops import check_convention

        check_convention(self.flops_convention, "flops_convention")
        check_device(self.device)
        return self

    # ------------------------------------------------------------------ derived
    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.context

    @property
    def steps(self) -> int:
        """Optimiser steps: ``ceil(tokens / (batch_size * context))``."""
        return max(1, -(-self.tokens // self.tokens_per_step))

    def shape(self, vocab: int) -> ModelShape:
        """The accounting shape of this model for a tokenizer of ``vocab`` tokens."""
        return ModelShape(n_layer=self.n_layer, d_model=self.d_model, n_head=self.n_head,
                          vocab=vocab, context=self.context, d_ff=self.d_ff,
                          n_kv_head=self.n_kv_head, tied=self.tied, positions=self.positions,
                          mlp=self.mlp, bias=self.bias, norm=self.norm)

    def differences(self, other: TrainConfig) -> list[str]:
        """Names of the fields that differ and would change the run's result."""
        a, b = self.model_dump(), other.model_dump()
        return [k for k in a if a[k] != b[k] and k not in RESUMABLE_CHANGES]


class CurvePoint(BaseModel):
    """One row of the learning curve (also a row of ``curve.csv``)."""

    step: int
    tokens: int
    flops: float
    train_loss: float | None
    val_loss: float
    lr: float
    noise_scale: float | None = None
    elapsed_s: float


class RunResult(BaseModel):
    """The record of one finished run (``scalinglab train --json`` writes ``model_dump()``)."""

    model_config = ConfigDict(extra="forbid")

    config: TrainConfig
    status: Literal["completed"] = "completed"
    # losses (nats per token of `tokenizer`)
    loss_unit: str
    initial_val_loss: float
    final_val_loss: float
    final_train_loss: float
    final_val_bpb: float = Field(description="final validation loss in bits per UTF-8 byte")
    final_val_loss_se: float | None = Field(
        default=None, description="standard error of final_val_loss over its windows")
    per_position_loss: list[float]
    ood_data: str | None
    ood_val_loss: float | None
    noise_scale: float | None = Field(description="B_simple in tokens (McCandlish et al.)")
    # sizes and compute
    tokens: int
    steps: int
    tokens_per_step: int
    lr: float
    params_total: int
    params_nonembedding: int
    params_embedding: int
    params_with_head: int
    flops: float
    flops_convention: str
    flops_by_convention: dict[str, float]
    shape: dict[str, Any]
    # data
    data: dict[str, Any]
    epochs: float | None = Field(default=None, description="passes over the training split "
                                 "(tokens / training tokens; 0 for an unbounded stream)")
    entropy_rate: float | None = Field(default=None, description="the source's entropy rate "
                                       "(nats per token; synthetic sources only)")
    ood: dict[str, Any] | None
    tokenizer: str
    vocab_size: int
    bytes_per_token: float
    # speed
    tokens_per_second: float = Field(description="training tokens per second of training "
                                     "steps, leaving out evaluations and the first step of "
                                     "each session (allocation, torch.compile)")
    tokens_per_cpu_second: float | None = Field(
        description="the same tokens per second of process CPU time (all threads): insensitive "
        "to other processes on a shared machine; with threads=1 it bounds tokens_per_second")
    mfu: float | None
    mfu_convention: str = "palm"
    peak_flops: float | None
    peak_flops_source: str
    wall_time_s: float
    train_time_s: float
    device: str
    device_name: str
    precision: str
    threads: int
    torch_version: str
    # records
    curve_path: str
    curve: list[CurvePoint]
    checkpoint_path: str | None
    resumed_from_step: int | None

"""Expansion of a study spec into the runs it asks for.

:func:`expand` turns a :class:`~scalinglab.sweep.spec.StudySpec` into
:class:`~scalinglab.store.PlannedRun` items: a trainer config (the run's identity is the hash
of it) and labels for the observation table (``group``, ``N_planned``, ``C_budget``, ...).
Designs produce (shape, tokens, batch size) points; every point is then crossed with the
spec's seeds and its learning-rate sweep, if any.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from scalinglab.errors import InputError
from scalinglab.store import PlannedRun, run_id_for
from scalinglab.sweep.shapes import n_params, search_shape
from scalinglab.sweep.spec import (
    MAX_TOKENS,
    BatchDesign,
    GridDesign,
    IsoFlopDesign,
    KaplanDDesign,
    KaplanNDesign,
    ModelSpec,
    ShapeDesign,
    StudySpec,
)
from scalinglab.train.config import RESUMABLE_CHANGES
from scalinglab.train.config import default_lr as trainer_lr

#: tokens per parameter of the Chinchilla-optimal model (Hoffmann et al. 2022), used to centre
#: automatic IsoFLOP sizes: N_opt ~ sqrt(C / (6 * 20)).
CHINCHILLA_TOKENS_PER_PARAM = 20.0


@dataclass
class Expansion:
    """The runs of a study and notes about points the design dropped."""

    runs: list[PlannedRun]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Point:
    shape: dict[str, int]
    tokens: float
    batch_size: int
    labels: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)  # per-point trainer options


#: trainer options that change how fast or where a run computes, not what it computes (the
#: trainer's ``RESUMABLE_CHANGES``): they are not part of a run's identity, so changing them in
#: a spec neither duplicates runs nor stops interrupted ones from resuming.
EXECUTION_KEYS = RESUMABLE_CHANGES

#: checkpoints per run when the spec does not set ``checkpoint_every``
DEFAULT_CHECKPOINTS = 10


def base_config(spec: StudySpec) -> dict[str, Any]:
    """The settings every run of the study shares that define what it computes (trainer
    option names; the run's identity is built on them)."""
    cfg: dict[str, Any] = {
        "context": spec.context,
        "batch_size": spec.batch_size,
        "schedule": spec.schedule,
        "data": spec.data,
        "tokenizer": spec.tokenizer,
        "lr": spec.lr,
    }
    if spec.eval_every is not None:
        cfg["eval_every"] = spec.eval_every
    cfg.update({k: v for k, v in spec.train.items() if k not in EXECUTION_KEYS})
    return cfg


def execution_config(spec: StudySpec, config: dict[str, Any]) -> dict[str, Any]:
    """The execution settings of a run (device, checkpoints, ...; see ``EXECUTION_KEYS``).

    Without ``checkpoint_every`` in the spec a run checkpoints ``DEFAULT_CHECKPOINTS`` times,
    so that an interrupted sweep resumes its runs where they were. A spec's ``cuda:N`` runs
    the study on GPU N alone: the driver gives every worker that GPU as its only visible one
    (``CUDA_VISIBLE_DEVICES``), where it is ``cuda``.
    """
    tokens_per_step = int(config["batch_size"]) * int(config["context"])
    steps = max(1, -(-int(config["tokens"]) // tokens_per_step))
    every = spec.checkpoint_every or max(1, steps // DEFAULT_CHECKPOINTS)
    device = "cuda" if spec.device.startswith("cuda:") else spec.device
    out: dict[str, Any] = {"device": device, "checkpoint_every": every}
    out.update({k: v for k, v in spec.train.items() if k in EXECUTION_KEYS and k != "threads"})
    return out


class _Sizer:
    """Shapes and counts for a study (memoised: searches repeat across budgets)."""

    def __init__(self, spec: StudySpec) -> None:
        self.spec = spec
        self.base = base_config(spec)
        self._cache: dict[tuple[float, int | None], dict[str, int]] = {}

    def count(self, shape: dict[str, int]) -> int:
        return n_params({**self.base, **shape}, self.spec.n_convention)

    def explicit(self, model: ModelSpec) -> dict[str, int]:
        return model.model_dump()

    def search(self, target: float, n_layer: int | None = None,
               where: str = "design.params") -> dict[str, int]:
        n_layer = n_layer if n_layer is not None else self.spec.search.n_layer
        key = (float(target), n_layer)
        if key not in self._cache:
            self._cache[key] = search_shape(target, self.base, self.spec.search,
                                            convention=self.spec.n_convention,
                                            n_layer=n_layer, where=where)
        return self._cache[key]

    def sizes(self, models: Sequence[ModelSpec] | None,
              params: Sequence[float] | None) -> list[tuple[dict[str, int], dict[str, Any]]]:
        """``(shape, labels)`` for explicit shapes or parameter targets."""
        if models is not None:
            return [(self.explicit(m), {}) for m in models]
        assert params is not None
        return [(self.search(p), {"target_params": float(p)}) for p in params]


def _label_n(n: float) -> str:
    return f"{n:.3g}"


def _grid(d: GridDesign, s: _Sizer, notes: list[str]) -> Iterator[_Point]:
    for shape, labels in s.sizes(d.models, d.params):
        n = s.count(shape)
        for tokens in d.tokens:
            yield _Point(shape, tokens, s.spec.batch_size, {**labels, "group": f"N={_label_n(n)}"})


def _isoflop(d: IsoFlopDesign, s: _Sizer, notes: list[str]) -> Iterator[_Point]:
    min_tokens = d.min_steps * s.spec.batch_size * s.spec.context
    for i, budget in enumerate(d.budgets):
        if d.models is not None:
            sized = s.sizes(d.models, None)
        elif d.params is not None:
            targets = d.params[i] if isinstance(d.params[0], list) else d.params
            sized = s.sizes(None, targets)  # type: ignore[arg-type]
        else:
            assert d.points is not None
            centre = math.sqrt(budget / (6.0 * CHINCHILLA_TOKENS_PER_PARAM))
            exps = [0.0] if d.points == 1 else [
                -0.5 + k / (d.points - 1) for k in range(d.points)]
            sized = s.sizes(None, [centre * d.span ** e for e in exps])
        seen: set[tuple[int, ...]] = set()
        for shape, labels in sized:
            key = tuple(shape.values())
            if key in seen:
                continue
            seen.add(key)
            n = s.count(shape)
            tokens = budget / (6.0 * n)
            if tokens < min_tokens:
                notes.append(f"budget {budget:.3g}: dropped {shape} (N={n}): D = C/(6N) = "
                             f"{tokens:.3g} tokens is under {d.min_steps} steps")
                continue
            yield _Point(shape, tokens, s.spec.batch_size,
                         {**labels, "group": f"C={budget:.3g}", "C_budget": float(budget)})


def _kaplan_n(d: KaplanNDesign, s: _Sizer, notes: list[str]) -> Iterator[_Point]:
    for shape, labels in s.sizes(d.models, d.params):
        yield _Point(shape, d.tokens, s.spec.batch_size, {**labels, "group": "kaplan-n"})


def _one_model(d: KaplanDDesign | BatchDesign, s: _Sizer) -> tuple[dict[str, int], dict]:
    if d.model is not None:
        return s.explicit(d.model), {}
    assert d.params is not None
    return s.search(d.params), {"target_params": float(d.params)}


def _kaplan_d(d: KaplanDDesign, s: _Sizer, notes: list[str]) -> Iterator[_Point]:
    shape, labels = _one_model(d, s)
    metric = "best_val_loss" if d.early_stopping else "final_val_loss"
    for tokens in d.tokens:
        yield _Point(shape, tokens, s.spec.batch_size,
                     {**labels, "group": "kaplan-d", "loss_metric": metric})


def _batch(d: BatchDesign, s: _Sizer, notes: list[str]) -> Iterator[_Point]:
    shape, labels = _one_model(d, s)
    context = s.spec.context
    for batch in d.batch_sizes:
        for tokens in d.tokens:
            extra = {}
            if d.evals is not None:  # the same number of evaluations at every batch size
                steps = max(1, -(-round(tokens) // (batch * context)))
                extra["eval_every"] = max(1, steps // d.evals)
            yield _Point(shape, tokens, batch, {**labels, "group": f"D={tokens:.3g}"}, extra)


def _shape(d: ShapeDesign, s: _Sizer, notes: list[str]) -> Iterator[_Point]:
    for target in d.params:
        for depth in d.n_layers:
            shape = s.search(target, n_layer=depth, where="design.n_layers")
            tokens = d.tokens if d.tokens is not None else (
                d.tokens_per_param * s.count(shape))  # type: ignore[operator]
            yield _Point(shape, tokens, s.spec.batch_size,
                         {"group": f"N={_label_n(target)}", "target_params": float(target),
                          "aspect_ratio": shape["d_model"] / depth})


_DESIGNS: dict[type, Callable[..., Iterator[_Point]]] = {
    GridDesign: _grid,
    IsoFlopDesign: _isoflop,
    KaplanNDesign: _kaplan_n,
    KaplanDDesign: _kaplan_d,
    BatchDesign: _batch,
    ShapeDesign: _shape,
}


def default_lr(config: dict[str, Any]) -> float:
    """The learning rate the trainer uses for ``config`` when its ``lr`` is unset
    (:func:`scalinglab.train.config.default_lr`, on the non-embedding count of its shape)."""
    return trainer_lr(None, n_params(config, "nonembedding"))


def _lrs(spec: StudySpec, config: dict[str, Any]) -> list[tuple[float | None, dict]]:
    """``(lr, labels)`` for one point: the spec's lr, or every value of its lr sweep."""
    sweep = spec.lr_sweep
    if sweep is None:
        if spec.lr_scaling is not None and spec.lr is not None:
            rule = spec.lr_scaling
            n = n_params(config, spec.n_convention)
            lr = spec.lr * (n / rule.reference_params) ** rule.exponent
            return [(float(f"{lr:.4g}"), {})]
        return [(spec.lr, {})]
    if sweep.values is not None:
        return [(float(v), {"lr_value": float(v)}) for v in sweep.values]
    assert sweep.factors is not None
    base = default_lr(config)
    return [(base * f, {"lr_factor": float(f)}) for f in sweep.factors]


def expand(spec: StudySpec) -> Expansion:
    """All runs of a study, in design order (points x seeds x learning rates)."""
    notes: list[str] = []
    base = base_config(spec)
    sizer = _Sizer(spec)
    runs: list[PlannedRun] = []
    seen: set[str] = set()
    for point in _DESIGNS[type(spec.design)](spec.design, sizer, notes):
        if not math.isfinite(point.tokens) or point.tokens > MAX_TOKENS:
            raise InputError(f"key design: a run of {point.shape} would train on "
                             f"{point.tokens:.3g} tokens, more than {MAX_TOKENS:.0e} (a budget "
                             "or tokens_per_param too large for its model)")
        tokens = round(point.tokens)
        n_planned = sizer.count(point.shape)
        for seed in spec.seeds:
            cfg = {**base, **point.shape, **point.config, "batch_size": point.batch_size,
                   "tokens": tokens, "seed": seed}
            tune_key = run_id_for({**cfg, "lr": None}) if spec.lr_sweep else None
            for lr, lr_labels in _lrs(spec, cfg):
                config = {**cfg, "lr": lr}
                labels = {"design": spec.design.kind, "n_convention": spec.n_convention,
                          "loss_metric": "final_val_loss", "N_planned": n_planned,
                          **point.labels, **lr_labels}
                if tune_key is not None:
                    labels["tune_key"] = tune_key
                run = PlannedRun(config, labels)
                if run.run_id in seen:
                    notes.append(f"dropped a duplicate run: {point.shape}, {tokens} tokens, "
                                 f"seed {seed}")
                    continue
                seen.add(run.run_id)
                runs.append(run)
    if not runs:
        raise InputError("the design asks for no runs" + (": " + "; ".join(notes) if notes
                                                          else ""))
    return Expansion(runs, notes)

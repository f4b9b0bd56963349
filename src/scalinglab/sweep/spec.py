"""Study specs: the YAML file that says which runs a scaling study needs.

A spec is validated by pydantic (:class:`StudySpec`); every unknown key or bad value is reported
as an :class:`~scalinglab.errors.InputError` that names the file and the key
(``design.tokens[1]``), never a traceback. Minimal example::

    name: my-study
    data: builtin            # or a path (relative to the spec file), as `scalinglab train --data`
    context: 64
    batch_size: 16
    design:
      kind: grid             # grid | isoflop | kaplan-n | kaplan-d | batch | shape
      models:                # shapes, or `params: [1e4, 3e4]` to let the shape search choose
        - {n_layer: 1, d_model: 32, n_head: 2}
      tokens: [3.0e5, 6.0e5] # grid: every model x every token count

The settings a study shares with the trainer (``data``, ``tokenizer``, ``schedule``, ``lr``,
``device``...) take their types, allowed values and defaults from
:class:`~scalinglab.train.config.TrainConfig`, and ``train:`` takes any other trainer option,
each key and value checked against the same field of ``TrainConfig`` when the spec is read
(``key train.dropout: Input should be less than 1``). That module needs pydantic only, not
torch, so specs are checked on the core install too.

The designs are documented on their classes; :mod:`scalinglab.sweep.designs` expands them into
run configs. Numbers are checked at the boundary: sizes, budgets and rates are finite and > 0,
token counts at most :data:`MAX_TOKENS`; :func:`check_data` refuses a ``data`` path that does
not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PlainSerializer,
    PositiveInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
    field_validator,
    model_validator,
)

from scalinglab.errors import InputError, ParameterError, did_you_mean
from scalinglab.train.config import MAX_TOKENS, Schedule, TrainConfig, check_device

#: a finite number > 0 (pydantic's own PositiveFloat lets ``.inf`` through)
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
#: a token count: finite, > 0 and at most :data:`MAX_TOKENS`
Tokens = Annotated[float, Field(gt=0, le=MAX_TOKENS, allow_inf_nan=False)]
#: a seed torch accepts
Seed = Annotated[int, Field(ge=-(2**63), lt=2**64)]


#: most model sizes an IsoFLOP profile may ask for (``points``)
MAX_PROFILE_POINTS = 1000
#: bounds of a study's context (tokens) and batch (sequences): far above any real run, and
#: low enough that shape searches and step counts stay finite numbers
MAX_CONTEXT = 2**24
MAX_BATCH = 2**24

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_TRAINER = TrainConfig.model_fields

#: every trainer option, each optional, with its ``TrainConfig`` type and bounds: what the keys
#: of a spec's ``train:`` mapping are checked against
_TrainOptions = create_model(  # type: ignore[call-overload]
    "TrainOptions", __config__=ConfigDict(extra="forbid"),
    **{name: ((Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation) | None,
              None) for name, f in _TRAINER.items()})


def _checked_as_trainer_options(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Check ``value`` against :data:`_TrainOptions` (errors at ``train.<key>``), and keep it
    as written: a run's identity hashes these values, so ``0`` must not become ``0.0``."""
    handler(value)
    return dict(value)


#: the ``train:`` mapping of a spec: trainer options as ``TrainConfig`` spells them
TrainOptions = Annotated[_TrainOptions, WrapValidator(_checked_as_trainer_options),
                         PlainSerializer(dict, return_type=dict)]

#: trainer options a spec's ``train:`` may not set besides the spec's own keys: the design
#: sets the shape, the tokens and the seed, the sweep's workers the threads
_SET_BY_THE_SWEEP = frozenset({"n_layer", "d_model", "n_head", "tokens", "seed", "threads"})


class ModelSpec(_Strict):
    """An explicit shape: depth, width and heads."""

    n_layer: PositiveInt
    d_model: PositiveInt
    n_head: PositiveInt

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelSpec:
        if self.d_model % self.n_head:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_head={self.n_head}")
        return self


class SearchSpec(_Strict):
    """How a parameter-count target (``params: [...]``) becomes a shape: the accounting
    module's shape search (:func:`scalinglab.accounting.shapes_search.search_shapes`) with
    ``d_model`` a multiple of ``multiple`` and of ``head_dim`` (``n_head = d_model /
    head_dim``), an aspect ratio ``d_model / n_layer`` within ``aspect_range`` and at most
    ``max_layers`` layers; the shape closest to the target wins. The defaults suit the small
    models of a laptop study; ``multiple: 64, head_dim: 64, aspect_range: [32, 128]`` are the
    usual ones for large models. ``n_layer`` fixes the depth instead: every size is that depth
    at the width nearest the target, so width is the only thing that changes with N (one
    family of shapes; ``aspect_range`` and ``max_layers`` are then not used), and ``n_head``
    (with ``n_layer``) fixes the number of heads too (head size ``d_model / n_head``; on a CPU
    a few wide heads train 1.5-3x faster than many heads of 4-8 dimensions).
    """

    multiple: PositiveInt = 16
    head_dim: PositiveInt = 16
    aspect_range: tuple[PositiveFloat, PositiveFloat] = (16.0, 128.0)
    max_layers: PositiveInt = 64
    n_layer: PositiveInt | None = None
    n_head: PositiveInt | None = None

    @model_validator(mode="after")
    def _ordered(self) -> SearchSpec:
        if self.aspect_range[0] > self.aspect_range[1]:
            raise ValueError(f"aspect_range must be [min, max], got {list(self.aspect_range)}")
        if self.n_head is not None and self.n_layer is None:
            raise ValueError("`n_head` fixes the heads of a fixed-depth family: give `n_layer`")
        return self


class _Sizes(_Strict):
    """Model sizes given as explicit shapes (``models``) or parameter targets (``params``)."""

    models: list[ModelSpec] | None = Field(default=None, min_length=1)
    params: list[PositiveFloat] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> _Sizes:
        if (self.models is None) == (self.params is None):
            raise ValueError("give exactly one of `models` (shapes) or `params` (sizes)")
        return self


class GridDesign(_Sizes):
    """Every model trained on every token count (an N x D grid)."""

    kind: Literal["grid"]
    tokens: list[Tokens] = Field(min_length=1)


class IsoFlopDesign(_Strict):
    """IsoFLOP profiles (Chinchilla's approach 2): for each FLOP budget C, several model sizes N,
    each trained on ``D = C / (6 N)`` tokens, N under the study's ``n_convention``.

    Sizes per budget: ``models`` (the same shapes at every budget), ``params`` (a list of
    targets for every budget, or one list per budget), or ``points`` sizes log-spaced over a
    factor ``span`` around the 20-tokens-per-parameter size ``sqrt(C / 120)``. Points that
    would train fewer than ``min_steps`` steps are dropped (and said so).
    """

    kind: Literal["isoflop"]
    budgets: list[PositiveFloat] = Field(min_length=1)
    models: list[ModelSpec] | None = Field(default=None, min_length=1)
    params: list[PositiveFloat] | list[list[PositiveFloat]] | None = Field(default=None,
                                                                          min_length=1)
    # bounded: a profile of 10**15 sizes is a typo, and generating it would never end
    points: int | None = Field(default=None, ge=1, le=MAX_PROFILE_POINTS)
    span: float = Field(default=16.0, gt=0, le=1e6, allow_inf_nan=False)
    min_steps: int = Field(default=5, ge=1, le=10**9)

    @model_validator(mode="after")
    def _one_source(self) -> IsoFlopDesign:
        given = [k for k in ("models", "params", "points") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `models`, `params` or `points` "
                             f"(got {', '.join(given) or 'none'})")
        if (self.params is not None and isinstance(self.params[0], list)
                and len(self.params) != len(self.budgets)):
            raise ValueError(f"`params` has {len(self.params)} lists but there are "
                             f"{len(self.budgets)} budgets (one list per budget)")
        return self


class KaplanNDesign(_Sizes):
    """Kaplan's L(N): several model sizes, all trained to one fixed, large token count."""

    kind: Literal["kaplan-n"]
    tokens: Tokens


class _OneModel(_Strict):
    """One model, as a shape (``model``) or a parameter target (``params``)."""

    model: ModelSpec | None = None
    params: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_model(self) -> _OneModel:
        if (self.model is None) == (self.params is None):
            raise ValueError("give exactly one of `model` (a shape) or `params` (a size)")
        return self


class KaplanDDesign(_OneModel):
    """Kaplan's L(D): one model, several token counts D; with ``early_stopping`` the loss of a
    run is its best validation loss along the curve rather than the last."""

    kind: Literal["kaplan-d"]
    tokens: list[Tokens] = Field(min_length=1)
    early_stopping: bool = True


class BatchDesign(_OneModel):
    """A batch-size sweep (critical batch size): one model, every batch size x token count.
    ``evals``: evaluations per run (each run's ``eval_every`` from its own steps, so that large
    batches, with few steps, get as many points on their curves as small ones); unset, the
    study's ``eval_every``."""

    kind: Literal["batch"]
    batch_sizes: list[PositiveInt] = Field(min_length=1)
    tokens: list[Tokens] = Field(min_length=1)
    evals: PositiveInt | None = None


class ShapeDesign(_Strict):
    """Same N, several depths: for each target in ``params`` and each depth in ``n_layers`` the
    width that comes closest to the target; trained on ``tokens`` tokens or
    ``tokens_per_param`` x N."""

    kind: Literal["shape"]
    params: list[PositiveFloat] = Field(min_length=1)
    n_layers: list[PositiveInt] = Field(min_length=1)
    tokens: Tokens | None = None
    tokens_per_param: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_budget(self) -> ShapeDesign:
        if (self.tokens is None) == (self.tokens_per_param is None):
            raise ValueError("give exactly one of `tokens` or `tokens_per_param`")
        return self


Design = Annotated[
    GridDesign | IsoFlopDesign | KaplanNDesign | KaplanDDesign | BatchDesign | ShapeDesign,
    Field(discriminator="kind"),
]
DESIGN_KINDS: tuple[str, ...] = ("grid", "isoflop", "kaplan-n", "kaplan-d", "batch", "shape")


class LrSweep(_Strict):
    """A learning-rate sweep for every (N, D): ``values`` (absolute learning rates) or
    ``factors`` (multiples of the trainer's default rule). Every run is stored; the
    observation table keeps the best per (N, D) (the "tuned frontier")."""

    values: list[PositiveFloat] | None = Field(default=None, min_length=1)
    factors: list[PositiveFloat] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> LrSweep:
        if (self.values is None) == (self.factors is None):
            raise ValueError("give exactly one of `values` or `factors`")
        return self


class LrScaling(_Strict):
    """A per-size learning rate: ``lr(N) = lr * (N / reference_params) ** exponent``, with N
    the run's parameter count under the study's ``n_convention`` and ``lr`` the spec's own
    (the rate at ``reference_params``). Measure the rule with an ``lr_sweep`` study; the demo's
    rule and its measurement are in :mod:`scalinglab.demo`."""

    exponent: float = Field(ge=-2.0, le=2.0)
    reference_params: PositiveFloat


class StudySpec(_Strict):
    """A scaling study: the settings every run shares, and a design that lists the runs.

    ``train`` holds any further trainer option (as ``TrainConfig`` spells it) for every run.
    ``n_convention`` says which N the observation table (and the IsoFLOP token counts) use:
    ``total`` parameters including embeddings (default) or ``nonembedding``.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    description: str = ""
    data: str = _TRAINER["data"].default
    tokenizer: str = _TRAINER["tokenizer"].default
    context: int = Field(ge=1, le=MAX_CONTEXT)
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    schedule: Schedule = _TRAINER["schedule"].default
    lr: PositiveFloat | None = _TRAINER["lr"].default
    seeds: list[Seed] = Field(default=[0], min_length=1)
    device: str = _TRAINER["device"].default
    eval_every: PositiveInt | None = _TRAINER["eval_every"].default
    checkpoint_every: PositiveInt | None = _TRAINER["checkpoint_every"].default
    n_convention: Literal["total", "nonembedding"] = "total"
    max_retries: NonNegativeInt = 2
    train: TrainOptions = Field(default_factory=dict)
    search: SearchSpec = SearchSpec()
    lr_sweep: LrSweep | None = None
    lr_scaling: LrScaling | None = None
    design: Design

    @field_validator("train")
    @classmethod
    def _not_set_elsewhere(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = (_SET_BY_THE_SWEEP | set(cls.model_fields)) & set(_TRAINER)
        clash = sorted(reserved & set(value))
        if clash:
            raise ValueError(f"`train` may not set {', '.join(clash)}: they are set by the "
                             "spec's own keys or by the design")
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        try:
            return check_device(value)
        except ParameterError as exc:
            raise ValueError(exc.detail) from None

    @model_validator(mode="after")
    def _consistent(self) -> StudySpec:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("`seeds` lists a seed twice")
        if self.lr_sweep is not None and self.lr is not None:
            raise ValueError("give `lr` or `lr_sweep`, not both")
        if self.lr_scaling is not None and self.lr is None:
            raise ValueError("`lr_scaling` scales `lr`: give `lr` (the rate at "
                             "lr_scaling.reference_params)")
        return self


def _where(loc: tuple[int | str, ...]) -> str:
    """``('design', 'grid', 'tokens', 1)`` -> ``design.tokens[1]`` (the union tag dropped)."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] == "design" and parts[1] in DESIGN_KINDS:
        del parts[1]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif str(p).startswith(("function-", "list[", "float", "int")):
            continue  # pydantic's name for a union member, not a key
        else:
            out += ("." if out else "") + str(p)
    return out or "(top level)"


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``key design.tokens[1]: Input should be ... (got 'abc')``."""
    seen: dict[str, str] = {}
    for err in exc.errors():
        key = _where(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
            if len(err["loc"]) == 2 and err["loc"][0] == "train":
                msg = "unknown key: not a trainer option" + did_you_mean(str(err["loc"][1]),
                                                                        _TRAINER)
        elif err["type"] == "missing":
            msg = "missing (required)"
        elif "input" in err and not isinstance(err["input"], (dict, list)):
            msg += f" (got {err['input']!r})"
        seen.setdefault(key, f"key {key}: {msg}")
    return "; ".join(seen.values())


def parse_spec(data: Any, source: str = "<spec>") -> StudySpec:
    """Validate a spec already read into Python objects (``source`` names it in errors)."""
    if not isinstance(data, dict):
        raise InputError("a study spec must be a mapping of keys (name, context, design, ...)",
                         source=source)
    try:
        return StudySpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(format_validation_error(exc), source=source) from None


#: how deeply ``[ ]`` and ``{ }`` may nest in a spec file (a real spec needs 3 or 4; PyYAML
#: recurses, and takes seconds on thousands of levels before it gives up)
MAX_NESTING = 64


def _flow_depth(text: str) -> int:
    """The deepest nesting of YAML flow brackets in ``text`` (quoted strings and comments
    skipped; a cheap bound checked before the YAML parser runs)."""
    depth = deepest = 0
    quote = ""
    comment = False
    for ch in text:
        if comment:
            comment = ch != "\n"
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            comment = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
    return deepest


def check_data(spec: StudySpec, source: str) -> None:
    """Refuse a spec whose ``data`` names no corpus (a missing file or folder), before any run
    starts (otherwise every run would fail, and be retried)."""
    from scalinglab.data.corpus import resolve_corpus
    from scalinglab.data.synthetic import is_synthetic
    from scalinglab.errors import ScalingLabError

    if is_synthetic(spec.data):
        return
    try:
        resolve_corpus(spec.data)
    except ScalingLabError as exc:
        raise InputError(f"key data: {exc}", source=source) from None


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a YAML study spec; a relative ``data`` path that exists beside the spec
    is taken relative to the spec's folder."""
    p = Path(path)
    src = str(p)
    if not p.is_file():
        raise InputError("no such study spec" if not p.exists() else "is not a file",
                         source=src)
    try:
        text = p.read_text(encoding="utf-8")
        if _flow_depth(text) > MAX_NESTING:
            raise InputError(f"not a study spec: brackets nested more than {MAX_NESTING} "
                             "deep", source=src)
        data = yaml.safe_load(text)
    except RecursionError:
        raise InputError("not a study spec: nested too deeply to read", source=src) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise InputError(f"not valid YAML: {line}{exc.problem}", source=src) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid YAML: {exc}", source=src) from None
    spec = parse_spec(data, src)
    candidate = p.parent / spec.data
    if spec.data != "builtin" and not Path(spec.data).is_absolute() and candidate.exists():
        spec = spec.model_copy(update={"data": str(candidate.resolve())})
    return spec

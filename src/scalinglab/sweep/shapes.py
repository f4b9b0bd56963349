"""Model shapes of a study: parameter counts of planned runs and shapes for a target N.

Counts and the search come from :mod:`scalinglab.accounting`, for the shape the trainer builds
from a run config (vocabulary from the tokenizer, the config's context, and the architecture
options of the spec's ``train`` section that :class:`~scalinglab.accounting.ModelShape` knows).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from scalinglab.accounting import ModelShape, count_params
from scalinglab.accounting.shapes_search import search_shapes
from scalinglab.data.synthetic import get_source, is_synthetic
from scalinglab.data.tokenizer import parse_tokenizer_spec
from scalinglab.errors import InputError, ScalingLabError
from scalinglab.sweep.spec import SearchSpec

_SHAPE_FIELDS = {f.name for f in dataclasses.fields(ModelShape)}


def model_shape(config: Mapping[str, Any]) -> ModelShape:
    """The :class:`ModelShape` of a run config (``n_layer``, ``d_model``, ``n_head``, ``context``,
    ``tokenizer`` and the architecture options in it)."""
    data = config.get("data")
    if is_synthetic(data):
        vocab = get_source(str(data)).vocab
    else:
        _, vocab = parse_tokenizer_spec(str(config.get("tokenizer", "bytes")))
    extra = {k: v for k, v in config.items()
             if k in _SHAPE_FIELDS and k not in ("n_layer", "d_model", "n_head", "context",
                                                 "vocab")}
    return ModelShape(n_layer=int(config["n_layer"]), d_model=int(config["d_model"]),
                      n_head=int(config["n_head"]), vocab=vocab,
                      context=int(config["context"]), **extra)


def n_params(config: Mapping[str, Any], convention: str = "total") -> int:
    """Parameters of a run config: ``total`` (incl. embeddings) or ``nonembedding``."""
    counts = count_params(model_shape(config))
    return counts.nonembedding if convention == "nonembedding" else counts.total


def _width_for_depth(base: Mapping[str, Any], n_layer: int, target: float, convention: str,
                     step: int, head_dim: int, n_head: int | None = None) -> dict[str, int]:
    """At a fixed depth, the width (a multiple of ``step``) whose count is closest to
    ``target`` (in log space); heads: ``n_head`` if given, else ``d_model / head_dim``."""
    best: tuple[float, int] | None = None
    d = step

    def heads(d: int) -> int:
        return n_head if n_head is not None else d // head_dim

    while True:
        n = n_params({**base, "n_layer": n_layer, "d_model": d, "n_head": heads(d)},
                     convention)
        err = abs(math.log(n / target))
        if best is None or err < best[0]:
            best = (err, d)
        if n > target:
            break
        d += step
    return {"n_layer": n_layer, "d_model": best[1], "n_head": heads(best[1])}


def search_shape(target: float, base: Mapping[str, Any], search: SearchSpec, *,
                 convention: str = "total", n_layer: int | None = None,
                 where: str = "design.params") -> dict[str, int]:
    """A shape ``{n_layer, d_model, n_head}`` with about ``target`` parameters.

    ``base`` carries the settings that change the count (tokenizer, context, architecture).
    Without ``n_layer`` this is the accounting module's shape search under the spec's
    ``search`` settings; with it, only the width is searched at that depth.
    """
    unit = search.n_head if search.n_head is not None else search.head_dim
    step = search.multiple * unit // math.gcd(search.multiple, unit)
    try:
        if n_layer is not None:
            return _width_for_depth(base, n_layer, target, convention, step, search.head_dim,
                                    search.n_head)
        template = model_shape({**base, "n_layer": 1, "d_model": step,
                                "n_head": step // search.head_dim})
        best = search_shapes(target, template=template, count=convention,  # type: ignore[arg-type]
                             multiple=search.multiple, head_dim=search.head_dim,
                             aspect_range=search.aspect_range, top=1,
                             max_layers=search.max_layers)[0]
    except ScalingLabError as exc:
        raise InputError(f"key {where}: no shape for {target:.3g} parameters: {exc}") from None
    return {"n_layer": best.shape.n_layer, "d_model": best.shape.d_model,
            "n_head": best.shape.n_head}

"""Shape search: buildable Transformer shapes for a target parameter count.

Candidates have ``d_model`` a multiple of ``multiple`` (default 64), ``n_head = d_model /
head_dim`` (default head dimension 64, so heads always divide d_model), and an aspect ratio
``d_model / n_layer`` within ``aspect_range`` (default 32-128: GPT-2 small 64, Chinchilla's
Table A9 models 51-109, GPT-3 175B and Llama-2-7B 128; Kaplan et al. Sec. 3.1 find the loss
within a few percent over aspect ratios 20-200). Every other field (vocabulary, context, MLP,
tying, positions, ...) comes from a template shape. Results are sorted by the relative distance
of the chosen count (``total``, ``nonembedding`` or ``active``) to the target, then by how close
the aspect ratio is to the middle of the range (geometric mean).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from scalinglab.accounting.params import ParamCount, count_params
from scalinglab.accounting.shape import ModelShape
from scalinglab.errors import OptionError, ParameterError, argument_error

CountKind = Literal["total", "nonembedding", "active"]

DEFAULT_ASPECT_RANGE = (32.0, 128.0)

#: the largest target parameter count searched (1e15, ~500 times GPT-4-class models): the
#: search's cost grows with the target, and no buildable shape of sensible depth is bigger.
MAX_TARGET_PARAMS = 1e15
#: the most widths one search visits (bounds its time for any allowed target and options).
MAX_WIDTHS = 20_000


@dataclass(frozen=True)
class ShapeCandidate:
    """One proposed shape with its counts and its distance to the target."""

    shape: ModelShape
    params: ParamCount
    count: int
    rel_error: float

    @property
    def aspect_ratio(self) -> float:
        return self.shape.aspect_ratio

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_layer": self.shape.n_layer, "d_model": self.shape.d_model,
            "n_head": self.shape.n_head, "head_dim": self.shape.dim_head,
            "d_ff": self.shape.ffn_dim, "aspect_ratio": self.aspect_ratio,
            "params_total": self.params.total,
            "params_nonembedding": self.params.nonembedding,
            "params_active": self.params.active,
            "rel_error": self.rel_error,
            "shape": self.shape.to_dict(),
        }


def search_shapes(target: float, *, template: ModelShape | None = None,
                  count: CountKind = "total", multiple: int = 64, head_dim: int = 64,
                  aspect_range: tuple[float, float] = DEFAULT_ASPECT_RANGE,
                  top: int = 10, max_layers: int = 256) -> list[ShapeCandidate]:
    """Up to ``top`` shapes whose ``count`` parameters are closest to ``target``."""
    try:
        tgt = float(target)
    except (TypeError, ValueError):
        raise ParameterError("target", f"target must be a number, got {target!r}") from None
    if not math.isfinite(tgt) or tgt <= 0:
        raise ParameterError("target", f"target parameter count must be positive, got {target}")
    if tgt > MAX_TARGET_PARAMS:
        raise ParameterError("target", f"target {tgt:.4g} is above the search's limit of "
                          f"{MAX_TARGET_PARAMS:.0e} parameters")
    if count not in ("total", "nonembedding", "active"):
        raise ParameterError("count", f"must be total, nonembedding or active, got {count!r}")
    lo_ar, hi_ar = (float(a) for a in aspect_range)
    if not (math.isfinite(lo_ar) and lo_ar > 0):
        raise ParameterError("aspect_range", f"the least aspect ratio must be a positive finite "
                             f"number, got {lo_ar}")
    if not (math.isfinite(hi_ar) and hi_ar >= lo_ar):
        raise ParameterError("aspect_range", f"the largest aspect ratio must be a finite number "
                             f">= the least ({lo_ar:g}), got {hi_ar}")
    for name, v in (("multiple", multiple), ("head_dim", head_dim), ("top", top)):
        if v < 1:
            raise argument_error(name, f"must be >= 1, got {v}")
    step = multiple * head_dim // math.gcd(multiple, head_dim)  # d_model multiple of both
    base = template or ModelShape(n_layer=1, d_model=step, n_head=1)
    # largest useful width: 12 L d^2 <= target with L >= d / hi_ar  ->  d^3 <= target hi_ar/12;
    # one layer alone holds >= ~8 d^2 parameters (d <= sqrt(target / 8)); and d / hi_ar <=
    # L <= max_layers (d <= max_layers hi_ar)
    d_max = max(step, int(min((tgt * hi_ar / 12.0) ** (1.0 / 3.0) * 1.5,
                              math.sqrt(tgt / 8.0) * 1.5 + step,
                              max_layers * hi_ar + step)))
    if d_max // step > MAX_WIDTHS:
        raise ParameterError("aspect_range", f"the search would visit {d_max // step:,} widths "
                          f"(d_model up to {d_max:,} in steps of {step}); at most "
                          f"{MAX_WIDTHS:,}: lower the largest aspect ratio or raise multiple")
    mid = math.sqrt(lo_ar * hi_ar)
    found: list[tuple[float, float, ShapeCandidate]] = []
    for d in range(step, d_max + step, step):
        l_lo = max(1, math.ceil(d / hi_ar))
        l_hi = min(max_layers, math.floor(d / lo_ar))
        if l_lo > l_hi:
            continue
        try:
            one = _at(base, 1, d, head_dim)
        except OptionError:
            continue
        # every count is affine in depth: c(L) = c(1) + (L - 1) per_layer (per_layer counts
        # only the active experts for the "active" count)
        c1 = getattr(count_params(one), count)
        c2 = getattr(count_params(_at(base, 2, d, head_dim)), count)
        per = c2 - c1
        l_star = 1 + (tgt - c1) / per
        near = range(max(l_lo, math.floor(l_star) - 2), min(l_hi, math.ceil(l_star) + 2) + 1)
        for L in near or (l_lo, l_hi):
            shape = _at(base, L, d, head_dim)
            pc = count_params(shape)
            n = getattr(pc, count)
            err = (n - tgt) / tgt
            found.append((abs(err), abs(math.log(shape.aspect_ratio / mid)),
                          ShapeCandidate(shape, pc, int(n), err)))
    if not found:
        raise ParameterError("target", f"no shape with d_model a multiple of {step} and aspect "
                          f"ratio in [{lo_ar:g}, {hi_ar:g}] fits {tgt:.4g} parameters")
    found.sort(key=lambda t: (round(t[0], 4), t[1]))
    return [c for _, _, c in found[:top]]


def _at(base: ModelShape, n_layer: int, d_model: int, head_dim: int) -> ModelShape:
    n_head = d_model // head_dim
    return replace(base, n_layer=n_layer, d_model=d_model, n_head=n_head,
                   n_kv_head=None if base.n_kv_head is None else _kv_for(base, n_head),
                   head_dim=None)


def _kv_for(base: ModelShape, n_head: int) -> int:
    """Keep the template's query/key-value head ratio (GQA) at the new head count."""
    ratio = max(1, base.n_head // base.kv_heads)
    return max(1, n_head // ratio) if n_head % ratio == 0 else n_head

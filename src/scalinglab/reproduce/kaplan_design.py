"""The studies behind ``scalinglab reproduce kaplan``: Kaplan et al. 2020 in miniature.

Five study specs (:func:`kaplan_specs`), all in one run store, all on one corpus (byte tokens),
sized by a :class:`KaplanProfile` (``QUICK``: about 10 minutes on 2 cores; ``FULL``: about 60):

* ``ladder``: one family of shapes (``n_layer`` layers, ``n_head`` heads, width the only knob)
  at every width of the profile, each trained on ``ladder_tokens`` (one pass over the data:
  Kaplan's "effectively unlimited data") with learning curves and the out-of-distribution
  loss, plus the same sizes on ``grid_fractions`` of those tokens, each run with its own cosine
  decay (Chinchilla's convention: the schedule matched to D). Findings 1, 3, 4, 8, 9, 10.
* ``seeds``: the ladder's middle size at its largest D with ``extra_seeds`` more seeds: the
  run-to-run noise every verdict compares against.
* ``data-U``: for each unique-data size U, the ``data_widths`` models trained for
  ``data_epochs`` passes over the first U tokens of the corpus (the trainer's ``data_tokens``;
  at most ``data_train_tokens``), evaluated once an epoch so that the early-stopped loss is
  caught. Findings 2 and 6.
* ``batch``: one model at several batch sizes, each run with ``evals`` evaluations, a constant
  learning rate after the same warmup, and the gradient noise scale. Finding 5.
* ``shape``: one non-embedding size at several depths (aspect ratios over ~40x; widths from
  :func:`shape_width`). Finding 7.

Every run uses the same context, peak learning rate (``lr``: on this corpus 6e-3 beat Kaplan's
Eq. D.1 rule, 2e-3 at these sizes, by 0.18-0.27 nats/byte; see
:data:`scalinglab.demo.TEXT_PROFILE`), 5% warmup and cosine decay to zero over its own tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scalinglab.errors import ParameterError

DEFAULT_DATA = "kjv"
#: warmup steps of every batch-sweep run (the same for every batch size)
BATCH_WARMUP_STEPS = 10


@dataclass(frozen=True)
class KaplanProfile:
    """The size of a reproduction (see the module docstring for what each study is for)."""

    name: str
    context: int
    batch_size: int
    lr: float
    n_layer: int
    n_head: int
    widths: tuple[int, ...]
    ladder_tokens: float
    grid_fractions: tuple[float, ...]
    evals: int
    eval_tokens: int
    final_eval_tokens: int
    extra_seeds: int
    data_widths: tuple[int, ...]
    data_unique: tuple[float, ...]
    data_epochs: float
    data_train_tokens: float
    data_evals: int
    batch_width: int
    batch_sizes: tuple[int, ...]
    batch_tokens: float
    shape_params: float
    shape_depths: tuple[int, ...]
    shape_tokens: float
    bootstrap: int

    @property
    def seed_width(self) -> int:
        return self.widths[len(self.widths) // 2]


QUICK = KaplanProfile(
    name="quick", context=64, batch_size=16, lr=6e-3, n_layer=2, n_head=2,
    widths=(16, 24, 32, 48, 64), ladder_tokens=1.5e6, grid_fractions=(1 / 4, 1 / 2),
    evals=24, eval_tokens=8_192, final_eval_tokens=65_536, extra_seeds=2,
    data_widths=(16, 32, 64), data_unique=(1e3, 3e3, 1e4, 3e4), data_epochs=30,
    data_train_tokens=1e6, data_evals=30,
    batch_width=32, batch_sizes=(4, 8, 16, 32, 64), batch_tokens=6e5,
    shape_params=5e4, shape_depths=(1, 2, 4, 8, 12), shape_tokens=6e5,
    bootstrap=200,
)

FULL = KaplanProfile(
    name="full", context=64, batch_size=16, lr=6e-3, n_layer=2, n_head=2,
    widths=(16, 24, 32, 48, 64, 96, 128), ladder_tokens=3.6e6, grid_fractions=(1 / 8, 1 / 4, 1 / 2),
    evals=32, eval_tokens=16_384, final_eval_tokens=131_072, extra_seeds=3,
    data_widths=(16, 32, 64, 96), data_unique=(1e3, 3e3, 1e4, 3e4, 1e5), data_epochs=40,
    data_train_tokens=4e6, data_evals=40,
    batch_width=48, batch_sizes=(4, 8, 16, 32, 64, 128), batch_tokens=2e6,
    shape_params=1.2e5, shape_depths=(1, 2, 3, 4, 6, 8, 12), shape_tokens=2e6,
    bootstrap=500,
)

PROFILES = {"quick": QUICK, "full": FULL}


def _shape(p: KaplanProfile, width: int, n_layer: int | None = None) -> dict[str, int]:
    return {"n_layer": n_layer or p.n_layer, "d_model": width, "n_head": p.n_head}


def shape_width(p: KaplanProfile, n_layer: int) -> int:
    """The even width whose ``n_layer``-layer model has about ``shape_params`` non-embedding
    parameters (12 n_layer d^2, Kaplan's count), with ``n_head`` heads."""
    step = 2 * p.n_head
    return max(step, step * round((p.shape_params / (12.0 * n_layer)) ** 0.5 / step))


def _base_spec(p: KaplanProfile, data: str, name: str, description: str, *,
          ood: bool = False, evals: int | None = None, tokens: float | None = None,
          batch_size: int | None = None, device: str = "cpu") -> dict[str, Any]:
    train: dict[str, Any] = {"eval_tokens": p.eval_tokens,
                             "final_eval_tokens": p.final_eval_tokens,
                             "ood_data": "auto" if ood else "none"}
    spec: dict[str, Any] = {
        "name": name, "description": description, "data": data, "tokenizer": "bytes",
        "context": p.context, "batch_size": batch_size or p.batch_size, "lr": p.lr,
        "schedule": "cosine", "n_convention": "nonembedding", "train": train,
        "device": device,
    }
    if evals and tokens:
        steps = max(1, round(tokens / ((batch_size or p.batch_size) * p.context)))
        spec["eval_every"] = max(1, steps // evals)
    return spec


def kaplan_specs(profile: KaplanProfile, data: str = DEFAULT_DATA, seed: int = 0,
                 device: str = "cpu") -> list[Any]:
    """The study specs of a reproduction, longest runs first within each study (a
    :class:`~scalinglab.sweep.spec.StudySpec` list); ``device``: cpu or cuda (every run)."""
    import functools

    from scalinglab.sweep.spec import parse_spec

    p = profile
    _base = functools.partial(_base_spec, device=device)
    if data.startswith("synthetic:"):
        raise ParameterError("data", "Kaplan's findings on data size, overfitting and transfer "
                          "need a finite text corpus; use kjv, shakespeare or a text path")
    widths = sorted(p.widths, reverse=True)
    tokens = [p.ladder_tokens, *(p.ladder_tokens * f for f in sorted(p.grid_fractions,
                                                                      reverse=True))]
    specs: list[dict[str, Any]] = []
    ladder = _base(p, data, "ladder", "Kaplan's L(N) and learning curves: one shape family, "
                   "every width on one pass over the data, plus shorter cosine runs",
                   ood=True, evals=p.evals, tokens=p.ladder_tokens)
    ladder.update(seeds=[seed], design={"kind": "grid", "tokens": tokens,
                                       "models": [_shape(p, w) for w in widths]})
    specs.append(ladder)
    seeds = _base(p, data, "seeds", "run-to-run noise: the ladder's middle size, more seeds",
                  ood=True, evals=p.evals, tokens=p.ladder_tokens)
    seeds.update(seeds=[seed + k for k in range(1, p.extra_seeds + 1)],
                 design={"kind": "kaplan-n", "tokens": p.ladder_tokens,
                         "models": [_shape(p, p.seed_width)]})
    specs.append(seeds)
    for unique in sorted(p.data_unique, reverse=True):
        tokens = min(p.data_train_tokens, p.data_epochs * unique)
        s = _base(p, data, f"data-{int(unique)}", f"Kaplan's L(N, D): {unique:.3g} unique "
                  f"tokens, repeated for {tokens:.3g} training tokens",
                  evals=p.data_evals, tokens=tokens)
        s["train"]["data_tokens"] = int(unique)
        s.update(seeds=[seed], design={"kind": "kaplan-n", "tokens": tokens,
                                       "models": [_shape(p, w) for w in
                                                  sorted(p.data_widths, reverse=True)]})
        specs.append(s)
    batch = _base(p, data, "batch", "critical batch size: one model, several batch sizes")
    # a constant learning rate after a fixed warmup: every batch size follows the same
    # schedule in steps, so steps to a loss compare across batch sizes (a cosine schedule
    # matched to each run's length would not)
    batch.update(schedule="constant")
    batch["train"].update(noise_scale=True, warmup_steps=BATCH_WARMUP_STEPS)
    batch.update(seeds=[seed], design={"kind": "batch", "tokens": [p.batch_tokens],
                                       "batch_sizes": sorted(p.batch_sizes), "evals": p.evals,
                                       "model": _shape(p, p.batch_width)})
    specs.append(batch)
    shape = _base(p, data, "shape", "shape insensitivity: one non-embedding size, several "
                  "depths")
    shape.update(seeds=[seed], design={"kind": "kaplan-n", "tokens": p.shape_tokens,
                                       "models": [_shape(p, shape_width(p, depth), depth)
                                                  for depth in sorted(p.shape_depths,
                                                                      reverse=True)]})
    specs.append(shape)
    return [parse_spec(s, source=f"reproduce kaplan ({p.name})") for s in specs]

"""The trainer on synthetic sources (unbounded, of known entropy) and the records that make a
study honest: epochs (data repetition), the entropy rate, the validation standard error."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from scalinglab.data.synthetic import SEP, synthetic_data
from scalinglab.errors import OptionError
from scalinglab.train import train
from scalinglab.train.evaluate import evaluate


class BayesModel(torch.nn.Module):
    """The Bayes-optimal predictor of a quanta source, written from the tokens alone: it reads
    each segment's key from the input, decodes the quantum with its own inverse table and
    predicts with the generator's conditionals (logits = log-probabilities)."""

    def __init__(self, source: Any) -> None:
        super().__init__()
        self.src = source
        codes = source.keys.astype(np.int64) - 1
        code = codes @ (source.symbols ** np.arange(source.key_len - 1, -1, -1))
        self.inverse = np.full(source.symbols ** source.key_len, -1, dtype=np.int64)
        self.inverse[code] = np.arange(source.n_quanta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numpy()
        n, T = rows.shape
        L, k = self.src.segment_len, self.src.key_len
        assert np.all(rows[:, ::L] == SEP)
        n_seg = -(-(T + 1) // L)
        q = np.zeros((n, n_seg), dtype=np.int64)
        for g in range(n_seg):
            start = g * L + 1
            if start + k <= T:  # the whole key is in the input
                digits = rows[:, start:start + k].astype(np.int64) - 1
                q[:, g] = self.inverse[digits @ (self.src.symbols ** np.arange(k - 1, -1, -1))]
        full = np.concatenate([rows, np.zeros((n, 1), dtype=rows.dtype)], axis=1)
        dist = self.src.bayes_targets(full, q)
        return torch.from_numpy(np.log(np.maximum(dist, 1e-30)))


def test_bayes_optimal_model_scores_the_entropy_rate() -> None:
    data = synthetic_data("synthetic:quanta")
    src = data.source
    ev = evaluate(BayesModel(src), data.val, context=64, max_windows=2048, batch_size=256,
                  device=torch.device("cpu"), precision="fp32")
    assert ev.se < 0.002 * ev.loss  # the bar for the validation error
    assert abs(ev.loss - src.entropy_rate()) < 4 * ev.se + 1e-6
    assert len(ev.per_position) == 64 and ev.per_position[15] == pytest.approx(0.0, abs=1e-6)


def test_train_on_a_synthetic_source(tiny: Callable[..., Any], tmp_path: Path) -> None:
    cfg = tiny(data="synthetic:quanta", context=32, eval_tokens=2048, final_eval_tokens=8192)
    res = train(cfg, tmp_path / "run", progress=False)
    rate = synthetic_data("synthetic:quanta").source.entropy_rate()
    assert res.vocab_size == 64 and res.tokenizer == "synthetic"
    assert abs(res.initial_val_loss - math.log(64)) < 0.3
    assert res.entropy_rate == pytest.approx(rate)
    assert res.data["entropy_rate"] == pytest.approx(rate)
    assert res.epochs == 0.0  # an unbounded stream repeats nothing
    assert rate < res.final_val_loss < res.initial_val_loss  # no model beats the Bayes floor
    assert res.final_val_loss_se is not None and 0 < res.final_val_loss_se < 0.02
    # the final evaluation uses final_eval_tokens: a smaller standard error than the curve's
    again = train(tiny(data="synthetic:quanta", context=32, eval_tokens=2048),
                  tmp_path / "run2", progress=False)
    assert again.final_val_loss_se > res.final_val_loss_se
    with pytest.raises(OptionError, match="own tokens"):
        train(tiny(data="synthetic:quanta", tokenizer="bpe:300"), tmp_path / "r3",
              progress=False)


def test_epochs_count_passes_over_a_finite_corpus(tiny: Callable[..., Any],
                                                 tmp_path: Path) -> None:
    text = tmp_path / "small.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 100)  # 4,500 bytes
    res = train(tiny(data=str(text)), tmp_path / "run", progress=False)
    train_tokens = res.tokens / res.epochs
    assert res.epochs > 1.0 and 4000 < train_tokens < 4500  # 5% held out for validation
    assert res.entropy_rate is None

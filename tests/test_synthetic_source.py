"""Synthetic sources of known entropy (scalinglab.data.synthetic), checked against independent
truth: brute-force enumeration of every segment of a small source, Monte Carlo over the
generator's own conditionals, and the Zipf law the quanta are drawn from."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from scalinglab.data.synthetic import SEP, QuantaSource, get_source, is_synthetic
from scalinglab.errors import OptionError


def small(**kw: object) -> QuantaSource:
    args: dict[str, object] = dict(name="small", description="test", vocab=4, key_len=2,
                                   cont_len=2, n_quanta=7, zipf=1.3, noise=0.2, world=3)
    args.update(kw)
    return QuantaSource(**args)  # type: ignore[arg-type]


def brute_force_segment_entropy(src: QuantaSource) -> float:
    """H(segment) by enumerating every possible segment string and summing, over quanta, the
    probability the generative definition gives it (Zipf quantum, its key, each continuation
    token kept with prob 1 - e or replaced by a uniform symbol)."""
    s = src.symbols
    p_q = np.arange(1, src.n_quanta + 1, dtype=float) ** -src.zipf
    p_q /= p_q.sum()
    total = 0.0
    for key in itertools.product(range(1, s + 1), repeat=src.key_len):
        owners = [q for q in range(src.n_quanta) if tuple(src.keys[q]) == key]
        for cont in itertools.product(range(1, s + 1), repeat=src.cont_len):
            prob = 0.0
            for q in owners:
                pc = 1.0
                for j, tok in enumerate(cont):
                    keep = (1 - src.noise) * (tok == src.continuations[q, j])
                    pc *= keep + src.noise / s
                prob += p_q[q] * pc
            if prob > 0:
                total -= prob * math.log(prob)
    return total


@pytest.mark.parametrize("noise", [0.0, 0.2, 1.0])
def test_entropy_rate_matches_brute_force_enumeration(noise: float) -> None:
    src = small(noise=noise)
    truth = brute_force_segment_entropy(src) / src.segment_len
    assert src.entropy_rate() == pytest.approx(truth, rel=1e-12, abs=1e-14)


def test_keys_are_a_bijection_of_the_quanta() -> None:
    src = get_source("synthetic:quanta")
    codes = src.keys.astype(np.int64) @ (src.symbols ** np.arange(src.key_len - 1, -1, -1))
    assert len(np.unique(codes)) == src.n_quanta
    assert src.keys.min() >= 1 and src.continuations.min() >= 1  # never the separator
    assert src.keys.max() < src.vocab and src.continuations.max() < src.vocab


def test_monte_carlo_entropy_agrees_with_the_closed_form() -> None:
    src = get_source("synthetic:quanta")
    est, se = src.estimate_entropy(1_000_000)
    assert 0 < se < 0.005
    assert abs(est - src.entropy_rate()) < 4 * se


def test_phase_entropies_follow_the_chain_rule() -> None:
    src = get_source("synthetic:quanta")
    h = src.phase_entropies()
    assert h[0] == 0.0  # the separator is certain
    assert h[1:1 + src.key_len].sum() == pytest.approx(src.zipf_entropy, rel=1e-12)
    assert np.all(h[1 + src.key_len:] == pytest.approx(src.noise_entropy))
    assert src.bayes_loss(4 * src.segment_len) == pytest.approx(src.entropy_rate(), rel=1e-12)
    assert src.bayes_loss(src.segment_len - 1) > src.entropy_rate()  # SEP (0 nats) cut off


def test_rows_have_the_segment_structure_and_zipf_frequencies() -> None:
    src = get_source("synthetic:quanta")
    rows, q = src.rows_with_quanta(np.random.default_rng(0), 4000, 65)
    L = src.segment_len
    assert rows.shape == (4000, 65) and rows.dtype == np.uint8
    assert np.all(rows[:, ::L] == SEP) and np.all(np.delete(rows, np.s_[::L], axis=1) != SEP)
    first = rows[:, 1:1 + src.key_len]
    assert np.array_equal(first, src.keys[q[:, 0]])
    cont = rows[:, 1 + src.key_len:L]
    flipped = np.mean(cont != src.continuations[q[:, 0]])
    expect = src.noise * (1 - 1 / src.symbols)  # a replacement may draw the same symbol
    assert abs(flipped - expect) < 0.01
    counts = np.bincount(q.ravel(), minlength=5)[:5] / q.size
    assert np.allclose(counts, src.probs[:5], rtol=0.08)


def test_streams_are_pure_functions_of_seed_and_step() -> None:
    src = get_source("synthetic:quanta")
    a = src.train_rows(seed=1, step=7, batch_size=4, context=64)
    assert np.array_equal(a, src.train_rows(seed=1, step=7, batch_size=4, context=64))
    assert not np.array_equal(a, src.train_rows(seed=1, step=8, batch_size=4, context=64))
    assert not np.array_equal(a, src.train_rows(seed=2, step=7, batch_size=4, context=64))
    v = src.val_rows(8, 64)
    assert np.array_equal(v, src.val_rows(8, 64))


def test_bayes_targets_are_the_generators_conditionals() -> None:
    src = get_source("synthetic:quanta")
    rows, q = src.rows_with_quanta(np.random.default_rng(1), 64, 65)
    dist = src.bayes_targets(rows, q)
    assert dist.shape == (64, 64, src.vocab)
    assert np.allclose(dist.sum(axis=-1), 1.0, atol=1e-5)
    # their entropy, averaged over many rows, is the entropy rate (context 64 = 4 segments)
    rows, q = src.rows_with_quanta(np.random.default_rng(2), 4000, 65)
    d = src.bayes_targets(rows, q).astype(np.float64)
    h = -(d * np.log(np.where(d > 0, d, 1.0))).sum(axis=-1)
    per_row = h.mean(axis=1)
    assert abs(per_row.mean() - src.entropy_rate()) < 4 * per_row.std() / math.sqrt(4000)
    # and the log-probability of the sampled token is what log_probs says
    seg, qq = src.segments(np.random.default_rng(3), 200)
    lp = src.log_probs(seg, qq)
    d = src.bayes_targets(seg[:, :].reshape(200, -1), qq[:, None])
    picked = np.take_along_axis(d, seg[:, 1:, None].astype(np.int64), axis=-1)[..., 0]
    assert np.allclose(np.log(picked), lp[:, 1:], atol=1e-5)


def test_post_stratified_estimate_is_unbiased_for_a_known_loss() -> None:
    """A fake per-token loss whose expectation is known exactly: the quantum's rank (0-based)
    on each full segment's first key target; the estimate must find E[rank] = sum p_q q."""
    src = get_source("synthetic:quanta")
    n, ctx = 2048, 64
    _, q = src._val(n, ctx)
    losses = np.zeros((n, ctx))
    capped = np.minimum(q, 50).astype(float)  # bounded, so the plain mean is a fair check
    losses[:, ::src.segment_len] = capped[:, :ctx // src.segment_len]
    truth = float((np.minimum(np.arange(src.n_quanta), 50) * src.probs).sum()) \
        * (ctx // src.segment_len) / ctx
    est, se = src.val_estimate(losses)
    assert abs(est - truth) < 4 * se
    plain_se = losses.mean(axis=1).std(ddof=1) / math.sqrt(n)
    assert se < plain_se  # stratifying on the quantum removes most of this variance


def test_names_and_errors() -> None:
    assert is_synthetic("synthetic:quanta") and not is_synthetic("kjv")
    assert get_source("synthetic:").name == "quanta"
    with pytest.raises(OptionError, match="unknown synthetic source"):
        get_source("synthetic:nope")
    with pytest.raises(OptionError, match="do not fit"):
        small(n_quanta=100)
    info = get_source("synthetic:quanta").info()
    assert info["entropy_rate"] == pytest.approx(get_source("synthetic:quanta").entropy_rate())
    assert info["name"] == "synthetic:quanta" and len(info["sha256"]) == 64


def test_data_corpora_lists_every_builtin_with_the_true_entropy(cli) -> None:
    code, out, err = cli("data", "corpora")
    assert code == 0, err
    flat = " ".join(out.split())
    for name in ("kjv", "shakespeare", "stdlib", "gcide", "synthetic:quanta"):
        assert name in flat
    assert "4,145,380 bytes" in flat  # the KJV's size, as the data README states it
    assert "synthetic:quanta: entropy rate 0.744791 nats/token (exact); Monte Carlo 0.74" in flat
    assert "over 1e6 tokens" in flat

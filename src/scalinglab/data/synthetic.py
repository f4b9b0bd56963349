"""Synthetic token sources of known entropy: ``--data synthetic:NAME``.

A synthetic source is a seeded, unbounded stream of tokens whose conditional probabilities are
the generator's own, so the Bayes-optimal loss (the floor ``E`` of every scaling law fitted to
it) is known exactly. No real corpus gives that truth.

The sources are **quanta sources**, built on the quantization model of neural scaling (Michaud
et al. 2023): the stream is a sequence of independent *segments*, each an instance of one of
``K`` "quanta" drawn with Zipf probabilities ``p_q = q^-s / H_{K,s}`` (``q = 1..K``). A segment
is::

    SEP  key_1 .. key_k  cont_1 .. cont_m

* ``SEP`` (token 0) marks the start of a segment and is fully predictable (it always follows the
  last continuation token), so a predictor always knows where it is in a segment.
* the ``k`` key tokens name the quantum: an affine bijection of ``q`` onto ``[0, (V-1)^k)``
  written in base ``V-1`` (digits + 1, so never ``SEP``). Predicting them is learning the
  Zipf distribution of quanta (a frequency trie).
* the ``m`` continuation tokens are the quantum's fixed pseudo-random string, each replaced by a
  uniform non-``SEP`` token with probability ``noise``. Predicting them is recalling the
  quantum: a model that has memorised quantum ``q`` pays ``H_noise`` per token, one that has not
  pays about ``ln(V-1)``.

A model of limited capacity (N) memorises the most frequent quanta; with limited data (D) it
has seen only the frequent ones often enough. With Zipf exponent ``s = 1 + alpha`` the mass of
the unlearned tail falls as ``n^-alpha`` in the number ``n`` of learned quanta, which gives power
laws in N and D (Michaud et al. 2023, Sec. 3) in the range where ``n << K``.

**Entropy rate** (nats per token). Segments are independent and self-delimiting, so the
conditional entropy of a token given the whole past equals its entropy given the current
segment's prefix, and per segment of length ``L = 1 + k + m``::

    H_segment = H(Zipf_{K,s}) + m * H_noise,   entropy_rate = H_segment / L

with ``H_noise = -(1 - e + e/(V-1)) ln(1 - e + e/(V-1)) - (V-2)(e/(V-1)) ln(e/(V-1))``,
``e = noise`` (the chain rule turns the key tokens' conditional entropies into the entropy of
the quantum, since the key is a bijection of it). :meth:`QuantaSource.entropy_rate` is this
closed form; :meth:`QuantaSource.estimate_entropy` measures the same quantity as the mean of
``-ln p(x_t | x_<t)`` under the generator's own conditionals over sampled tokens, with its
standard error (tests check the two agree).

**Rows.** Training and evaluation windows are rows of ``context + 1`` tokens that start at a
segment boundary (a ``SEP``), so position ``t`` of a row has a known phase. When ``L`` divides
``context`` the Bayes loss of a row's ``context`` targets averages to exactly the entropy rate;
:meth:`QuantaSource.bayes_loss` gives the exact expected Bayes loss for any ``context``.

**Streams.** Training rows for optimiser step ``s`` come from ``numpy.random.default_rng([seed,
s, stream, TRAIN_TAG])``: a pure function of (seed, step), never repeated, like the windows of a
token array. The validation rows come from a fixed generator of the source (``VAL_TAG``), the
same for every run and every training seed. The "world" of a source (its keys and continuation
strings) is fixed by the source's own ``world`` seed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import numpy as np

from scalinglab.errors import ParameterError

PREFIX = "synthetic:"
SEP = 0
TRAIN_TAG = 0x5CA1AB1E
VAL_TAG = 0x0E7A1
#: Tokens generated per chunk when estimating the entropy rate.
_ESTIMATE_CHUNK = 1 << 18


@dataclass(frozen=True)
class QuantaSource:
    """A quanta source (see the module docstring); build one with :func:`get_source`."""

    name: str
    description: str
    vocab: int = 64
    key_len: int = 3
    cont_len: int = 12
    n_quanta: int = 200_000
    zipf: float = 1.5
    noise: float = 0.1
    world: int = 0

    def __post_init__(self) -> None:
        if not 3 <= self.vocab <= 256:
            raise ParameterError("data", f"{self.name}: vocab must be 3..256, got {self.vocab}")
        if self.n_quanta > (self.vocab - 1) ** self.key_len:
            raise ParameterError("data", f"{self.name}: {self.n_quanta} quanta do not fit in "
                              f"{self.key_len} key tokens of {self.vocab - 1} symbols")
        if not (self.zipf > 1.0 and 0.0 <= self.noise <= 1.0 and self.cont_len >= 1):
            raise ParameterError("data", f"{self.name}: needs zipf > 1, 0 <= noise <= 1, "
                              "cont_len >= 1")

    # ------------------------------------------------------------------ structure
    @property
    def segment_len(self) -> int:
        """Tokens per segment: ``1 + key_len + cont_len``."""
        return 1 + self.key_len + self.cont_len

    @property
    def symbols(self) -> int:
        """Non-separator symbols (``vocab - 1``)."""
        return self.vocab - 1

    @cached_property
    def probs(self) -> np.ndarray:
        """Zipf probabilities of the quanta, most frequent first (float64, sums to 1)."""
        p = np.arange(1, self.n_quanta + 1, dtype=np.float64) ** -self.zipf
        return p / p.sum()

    @cached_property
    def _cdf(self) -> np.ndarray:
        c = np.cumsum(self.probs)
        c[-1] = 1.0
        return c

    @cached_property
    def _codes(self) -> np.ndarray:
        """Key code of each quantum: an affine bijection onto ``[0, symbols^key_len)``."""
        space = self.symbols ** self.key_len
        rng = np.random.default_rng([self.world, 1])
        mult = int(rng.integers(space // 3, space))
        while math.gcd(mult, space) != 1:
            mult += 1
        offset = int(rng.integers(0, space))
        q = np.arange(self.n_quanta, dtype=np.int64)
        return (q * mult + offset) % space

    @cached_property
    def _prefix_mass(self) -> list[np.ndarray]:
        """For ``j = 1..key_len``: the Zipf mass of every key prefix of ``j`` tokens, indexed
        by the prefix's code (``code // symbols^(key_len - j)``)."""
        return [np.bincount(self._codes // self.symbols ** (self.key_len - j),
                            weights=self.probs) for j in range(1, self.key_len + 1)]

    @cached_property
    def keys(self) -> np.ndarray:
        """Key tokens of each quantum, ``(n_quanta, key_len)`` uint8 in ``1..vocab-1``."""
        codes = self._codes.copy()
        out = np.empty((self.n_quanta, self.key_len), dtype=np.uint8)
        for j in range(self.key_len - 1, -1, -1):
            out[:, j] = codes % self.symbols + 1
            codes //= self.symbols
        return out

    @cached_property
    def continuations(self) -> np.ndarray:
        """Continuation string of each quantum, ``(n_quanta, cont_len)`` uint8 in 1..vocab-1."""
        rng = np.random.default_rng([self.world, 2])
        return (rng.integers(0, self.symbols, size=(self.n_quanta, self.cont_len))
                + 1).astype(np.uint8)

    # ------------------------------------------------------------------ sampling
    def segments(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` segments ``(n, segment_len)`` uint8 and their quanta (0-based ranks)."""
        q = np.searchsorted(self._cdf, rng.random(n), side="right").astype(np.int64)
        np.minimum(q, self.n_quanta - 1, out=q)
        seg = np.empty((n, self.segment_len), dtype=np.uint8)
        seg[:, 0] = SEP
        seg[:, 1:1 + self.key_len] = self.keys[q]
        cont = self.continuations[q]
        if self.noise > 0:
            flip = rng.random(cont.shape) < self.noise
            cont[flip] = rng.integers(1, self.vocab, size=int(flip.sum()), dtype=np.uint8)
        seg[:, 1 + self.key_len:] = cont
        return seg, q

    def rows(self, rng: np.random.Generator, n_rows: int, length: int) -> np.ndarray:
        """``(n_rows, length)`` uint8 rows, each a run of whole segments from a ``SEP``."""
        return self.rows_with_quanta(rng, n_rows, length)[0]

    def train_rows(self, *, seed: int, step: int, batch_size: int, context: int,
                   stream: int = 0) -> np.ndarray:
        """The ``(batch_size, context + 1)`` training rows of optimiser step ``step``."""
        rng = np.random.default_rng([seed, step, stream, TRAIN_TAG])
        return self.rows(rng, batch_size, context + 1)

    def rows_with_quanta(self, rng: np.random.Generator, n_rows: int, length: int
                         ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`rows` and the quanta of their segments, ``(n_rows, segments per row)``."""
        per_row = -(-length // self.segment_len)
        seg, q = self.segments(rng, n_rows * per_row)
        rows = seg.reshape(n_rows, per_row * self.segment_len)[:, :length]
        return rows, q.reshape(n_rows, per_row)

    def val_rows(self, n_rows: int, context: int) -> np.ndarray:
        """The fixed validation rows (the same for every run, whatever its seed)."""
        return self._val(n_rows, context)[0]

    def _val(self, n_rows: int, context: int) -> tuple[np.ndarray, np.ndarray]:
        return _validation_rows(self, n_rows, context)

    def strata(self, min_count: int, quanta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rank strata for post-stratification: the stratum of each quantum in ``quanta`` and
        each stratum's exact probability.

        Strata are runs of ranks with geometric edges (ratio sqrt 2), merged from the most
        frequent down until each holds at least ``min_count`` of ``quanta``; the last one takes
        the whole remaining tail up to ``n_quanta``.
        """
        edges = np.unique(np.round(np.sqrt(2.0) ** np.arange(0, 2 * math.log2(self.n_quanta)
                                                              + 2)).astype(np.int64))
        edges = np.concatenate([[0], edges[edges < self.n_quanta], [self.n_quanta]])
        counts = np.bincount(np.searchsorted(edges, quanta, side="right") - 1,
                             minlength=len(edges) - 1)
        kept = [0]
        acc = 0
        for i, c in enumerate(counts):
            acc += c
            if acc >= min_count and i < len(counts) - 1:
                kept.append(int(edges[i + 1]))
                acc = 0
        if acc < min_count and len(kept) > 1:  # the tail is too thin: join it to the last
            kept.pop()
        kept.append(self.n_quanta)
        bounds = np.asarray(kept)
        cdf = np.concatenate([[0.0], self._cdf])
        prob = cdf[bounds[1:]] - cdf[bounds[:-1]]
        return np.searchsorted(bounds, quanta, side="right") - 1, prob

    @cached_property
    def _key_tables(self) -> list[np.ndarray]:
        """Bayes distribution of key token ``j`` given the key prefix: for ``j = 1..key_len``,
        an array ``(symbols^(j-1), symbols)`` whose row ``prefix`` sums to 1."""
        out = []
        for j in range(1, self.key_len + 1):
            table = np.zeros(self.symbols ** j)
            mass_j = self._prefix_mass[j - 1]
            table[:len(mass_j)] = mass_j
            table = table.reshape(self.symbols ** (j - 1), self.symbols)  # (prefix, next token)
            mass = table.sum(axis=1, keepdims=True)
            out.append(np.divide(table, mass, out=np.zeros_like(table), where=mass > 0))
        return out

    def bayes_targets(self, rows: np.ndarray, quanta: np.ndarray) -> np.ndarray:
        """The generator's next-token distribution at every target of ``rows``:
        ``(n, length - 1, vocab)`` float32, ``[i, t - 1]`` = p(x_t | x_<t) for row ``i``.

        The expected loss of a model at a target given its prefix is the cross-entropy of its
        prediction against this distribution: an unbiased estimate of the loss with the noise
        of the sampled target token removed (Rao-Blackwell).
        """
        n, length = rows.shape
        t = np.arange(1, length)
        phase = t % self.segment_len
        seg = t // self.segment_len
        out = np.zeros((n, length - 1, self.vocab), dtype=np.float32)
        out[:, phase == 0, SEP] = 1.0
        codes = self._codes[quanta]  # (n, segments)
        for j in range(1, self.key_len + 1):
            cols = np.flatnonzero(phase == j)
            if not len(cols):
                continue
            prefix = codes[:, seg[cols]] // self.symbols ** (self.key_len - j + 1)
            out[:, cols, 1:] = self._key_tables[j - 1][prefix]
        cols = np.flatnonzero(phase > self.key_len)
        if len(cols):
            e, s = self.noise, self.symbols
            out[:, cols, 1:] = e / s
            truth = self.continuations[quanta[:, seg[cols]], phase[cols] - 1 - self.key_len]
            ii, jj = np.meshgrid(np.arange(n), cols, indexing="ij")
            out[ii, jj, truth.astype(np.int64)] += 1.0 - e
        return out

    def val_targets(self, start: int, stop: int, n_rows: int, context: int) -> np.ndarray:
        """:meth:`bayes_targets` of validation rows ``start:stop`` (of ``n_rows``)."""
        rows, q = self._val(n_rows, context)
        return self.bayes_targets(rows[start:stop], q[start:stop])

    def val_estimate(self, losses: np.ndarray) -> tuple[float, float]:
        """Post-stratified mean loss (nats/token) and its standard error from the per-token
        losses ``(n_rows, context)`` of the validation rows.

        Every complete segment of a row (its ``segment_len`` targets, the next ``SEP``
        included) is a sampling unit whose stratum is its quantum's rank stratum
        (:meth:`strata`); the estimate weights each stratum's mean by its exact probability,
        which removes the variance of how many frequent and rare quanta the finite set happened
        to draw. Targets of an incomplete last segment are averaged plainly and weighted by
        their share of the row.
        """
        n_rows, context = losses.shape
        _, q = self._val(n_rows, context)
        full = context // self.segment_len
        total, var = 0.0, 0.0
        if full:
            units = losses[:, :full * self.segment_len].reshape(n_rows, full, self.segment_len)
            unit = units.sum(axis=2).ravel()
            uq = q[:, :full].ravel()
            stratum, prob = self.strata(8, uq)
            for b, pb in enumerate(prob):
                vals = unit[stratum == b]
                total += pb * vals.mean()
                if len(vals) > 1:
                    var += pb ** 2 * vals.var(ddof=1) / len(vals)
            total, var = total * full, var * full ** 2  # the expected sum of a row's units
        rest = losses[:, full * self.segment_len:]
        if rest.size:
            sums = rest.sum(axis=1)
            total += float(sums.mean())
            var += float(sums.var(ddof=1) / n_rows) if n_rows > 1 else 0.0
        return total / context, math.sqrt(var) / context

    # ------------------------------------------------------------------ entropy
    @cached_property
    def zipf_entropy(self) -> float:
        """Entropy (nats) of the quantum of one segment."""
        p = self.probs
        return float(-(p * np.log(p)).sum())

    @property
    def noise_entropy(self) -> float:
        """Entropy (nats) of one continuation token given its quantum."""
        e, s = self.noise, self.symbols
        hit = 1.0 - e + e / s
        miss = e / s
        h = -hit * math.log(hit)
        if miss > 0:
            h -= (s - 1) * miss * math.log(miss)
        return h

    def phase_entropies(self) -> np.ndarray:
        """Conditional entropy (nats) of the token at each phase of a segment (``SEP`` first).

        Key tokens: ``H(key_j | key_<j)`` from the Zipf masses of key prefixes; they sum to
        :attr:`zipf_entropy`.
        """
        out = np.zeros(self.segment_len)
        prev = 0.0
        for j in range(1, self.key_len + 1):
            mass = self._prefix_mass[j - 1]
            mass = mass[mass > 0]
            joint = float(-(mass * np.log(mass)).sum())
            out[j] = joint - prev
            prev = joint
        out[1 + self.key_len:] = self.noise_entropy
        return out

    def entropy_rate(self) -> float:
        """Exact entropy rate (nats per token) of the stream: ``H_segment / segment_len``."""
        return (self.zipf_entropy + self.cont_len * self.noise_entropy) / self.segment_len

    def bayes_loss(self, context: int) -> float:
        """Exact expected Bayes loss (nats/token) over the ``context`` targets of one row.

        Targets are positions ``1..context`` of a row that starts with ``SEP``; equals
        :meth:`entropy_rate` when ``segment_len`` divides ``context``.
        """
        phases = np.arange(1, context + 1) % self.segment_len
        return float(self.phase_entropies()[phases].mean())

    def log_probs(self, seg: np.ndarray, q: np.ndarray) -> np.ndarray:
        """``ln p(x_t | segment prefix)`` of every token of ``seg`` under the generator."""
        lp = np.zeros(seg.shape, dtype=np.float64)
        codes = self._codes[q]
        mass_prev = np.ones(len(q))
        for j in range(1, self.key_len + 1):
            mass = self._prefix_mass[j - 1][codes // self.symbols ** (self.key_len - j)]
            lp[:, j] = np.log(mass / mass_prev)
            mass_prev = mass
        cont = seg[:, 1 + self.key_len:]
        truth = self.continuations[q]
        e, s = self.noise, self.symbols
        hit = math.log(1.0 - e + e / s)
        miss = math.log(e / s) if e > 0 else -math.inf
        lp[:, 1 + self.key_len:] = np.where(cont == truth, hit, miss)
        return lp

    def estimate_entropy(self, tokens: int = 1_000_000, seed: int = 12345
                         ) -> tuple[float, float]:
        """Monte-Carlo entropy rate (nats/token) and its standard error over ``tokens`` tokens.

        The mean of ``-ln p(x_t | x_<t)`` under the generator's conditional probabilities;
        segments are independent, so the standard error is that of the per-segment sums.
        """
        rng = np.random.default_rng([seed, self.world])
        n_seg = max(2, -(-tokens // self.segment_len))
        sums = np.empty(n_seg)
        per_chunk = max(1, _ESTIMATE_CHUNK // self.segment_len)
        for start in range(0, n_seg, per_chunk):
            n = min(per_chunk, n_seg - start)
            seg, q = self.segments(rng, n)
            sums[start:start + n] = -self.log_probs(seg, q).sum(axis=1)
        rate = float(sums.mean()) / self.segment_len
        se = float(sums.std(ddof=1) / math.sqrt(n_seg)) / self.segment_len
        return rate, se

    # ------------------------------------------------------------------ records
    def info(self) -> dict[str, Any]:
        """Plain description for manifests and run records (includes the entropy rate)."""
        params = asdict(self)
        return {"name": f"{PREFIX}{self.name}", "kind": "synthetic",
                "description": self.description, "path": None, "sha256": self.fingerprint(),
                "generator": "quanta", "params": params, "vocab_size": self.vocab,
                "segment_len": self.segment_len,
                "entropy_rate": self.entropy_rate(),
                "entropy_unit": "nats per token"}

    def fingerprint(self) -> str:
        """A stable identity of the source (its generator version and parameters)."""
        import hashlib

        params = {k: v for k, v in asdict(self).items() if k != "description"}
        return hashlib.sha256(f"quanta-v1|{sorted(params.items())}".encode()).hexdigest()


@functools.lru_cache(maxsize=4)
def _validation_rows(source: QuantaSource, n_rows: int, context: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The validation rows of ``source`` and their quanta (generated once per process)."""
    rng = np.random.default_rng([source.world, VAL_TAG, context])
    return source.rows_with_quanta(rng, n_rows, context + 1)


#: The named synthetic sources. ``quanta`` is the default (``synthetic:quanta``).
SOURCES: dict[str, dict[str, Any]] = {
    "quanta": {"description": "Zipf quanta (Michaud et al. 2023): 200k quanta, Zipf exponent "
               "1.5, 3-token keys, 12-token continuations, 10% noise, vocabulary 64"},
}
DEFAULT_SOURCE = "quanta"


def is_synthetic(spec: str | None) -> bool:
    """Whether ``spec`` names a synthetic source (``synthetic:NAME``)."""
    return isinstance(spec, str) and spec.lower().startswith(PREFIX)


def get_source(spec: str) -> QuantaSource:
    """The source named by ``synthetic:NAME`` (``synthetic:`` alone is the default)."""
    name = spec[len(PREFIX):].strip().lower() if is_synthetic(spec) else spec.lower()
    name = name or DEFAULT_SOURCE
    if name not in SOURCES:
        raise ParameterError("data", f"unknown synthetic source {name!r}; choose from "
                          f"{', '.join(PREFIX + k for k in SOURCES)}")
    return QuantaSource(name=name, **SOURCES[name])


# ---------------------------------------------------------------------- trainer view
class SyntheticTokenizer:
    """The token alphabet of a synthetic source (``SEP`` = 0, symbols 1..vocab-1)."""

    name = "synthetic"

    def __init__(self, source: QuantaSource) -> None:
        self.vocab_size = source.vocab
        self.id = f"synthetic:{source.name}:{source.vocab}"

    def decode(self, ids: Any) -> str:
        """Token ids as text: ``|`` for ``SEP``, the others as numbers."""
        return " ".join("|" if int(i) == SEP else str(int(i)) for i in ids)

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "vocab_size": self.vocab_size,
                "unit": "nats per token of the synthetic source"}


@dataclass(frozen=True)
class SyntheticSplit:
    """One split of a synthetic source, as the trainer reads it.

    ``batch`` gives the rows of an optimiser step (training split: fresh rows for every step;
    validation split: rows of its own stream); ``windows`` the fixed evaluation rows.
    """

    source: QuantaSource
    split: str  # "train" or "val"

    def batch(self, *, seed: int, step: int, batch_size: int, context: int,
              stream: int = 0) -> np.ndarray:
        """The rows of optimiser step ``step``: fresh training rows (both splits draw from
        the same distribution; only the fixed validation rows of :meth:`windows` differ)."""
        return self.source.train_rows(seed=seed, step=step, batch_size=batch_size,
                                      context=context, stream=stream)

    def estimate(self, losses: np.ndarray) -> tuple[float, float] | None:
        """Mean loss and its standard error from per-token losses of :meth:`windows`: the
        post-stratified estimate for the validation split
        (:meth:`QuantaSource.val_estimate`); None for the training split (the plain mean)."""
        return self.source.val_estimate(losses) if self.split == "val" else None

    def soft_targets(self, start: int, stop: int, n_rows: int, context: int
                     ) -> np.ndarray | None:
        """Bayes next-token distributions of evaluation rows ``start:stop`` (validation split
        only; None for the training split, which is scored on its sampled tokens)."""
        if self.split != "val":
            return None
        return self.source.val_targets(start, stop, n_rows, context)

    def windows(self, context: int, n: int) -> np.ndarray:
        if self.split == "val":
            return self.source.val_rows(n, context)
        rng = np.random.default_rng([self.source.world, TRAIN_TAG, context, 99])
        return self.source.rows(rng, n, context + 1)


@dataclass(frozen=True)
class SyntheticData:
    """The trainer's view of a synthetic source: the counterpart of ``TokenData``."""

    source: QuantaSource
    train: SyntheticSplit
    val: SyntheticSplit
    manifest: dict[str, Any]

    @property
    def vocab_size(self) -> int:
        return self.source.vocab

    @property
    def bytes_per_token(self) -> float:
        """1: synthetic tokens are not text; bits per "byte" are bits per token."""
        return 1.0

    @property
    def tokenizer(self) -> SyntheticTokenizer:
        return SyntheticTokenizer(self.source)


def synthetic_data(spec: str) -> SyntheticData:
    """The :class:`SyntheticData` of ``synthetic:NAME``."""
    source = get_source(spec)
    manifest = {"corpus": source.info(), "tokenizer": SyntheticTokenizer(source).info(),
                "vocab_size": source.vocab, "bytes_per_token": 1.0, "unbounded": True,
                "train_tokens": None, "val_tokens": None}
    return SyntheticData(source=source, train=SyntheticSplit(source, "train"),
                         val=SyntheticSplit(source, "val"), manifest=manifest)

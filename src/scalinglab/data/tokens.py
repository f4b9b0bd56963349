"""Tokenised corpora cached as memory-mapped token arrays with a manifest and a fixed split.

:func:`prepare_tokens` encodes a :class:`~scalinglab.data.corpus.Corpus` once per tokeniser and
caches ``train.bin`` / ``val.bin`` (raw little-endian ``uint8``, ``uint16`` or ``uint32``, the
narrowest that holds the vocabulary) and ``manifest.json`` under
``<cache>/tokens/<hash of corpus content, tokenizer, split>/``. Later runs map the arrays
read-only, so concurrent runs of a sweep share the page cache.

Documents are joined with a blank line (``"\\n\\n"``). The train/validation split is
deterministic and spread over the whole corpus: the token stream is cut into
``max(ceil(n / split_chunk), 100)`` equal chunks and chunk ``i`` goes to validation when
``floor((i + 1) f) > floor(i f)`` for the validation fraction ``f`` (default 5%: every 20th
chunk). A held-out tail would instead measure a shift of topic (the KJV's last books are not like
its first).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scalinglab.data.cache import cache_dir, digest, publish
from scalinglab.data.corpus import Corpus
from scalinglab.data.tokenizer import BATCH_PIECES, Tokenizer, split_pieces
from scalinglab.errors import InputError

FORMAT = 1
DOC_SEPARATOR = "\n\n"


@dataclass
class TokenData:
    """The train and validation token arrays of one corpus under one tokeniser."""

    train: np.ndarray
    val: np.ndarray
    manifest: dict[str, Any]
    path: Path

    @property
    def vocab_size(self) -> int:
        return int(self.manifest["vocab_size"])

    @property
    def bytes_per_token(self) -> float:
        return float(self.manifest["bytes_per_token"])


def token_dtype(vocab_size: int) -> np.dtype:
    """Narrowest unsigned dtype that holds ids below ``vocab_size``."""
    if vocab_size <= 1 << 8:
        return np.dtype(np.uint8)
    if vocab_size <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


def val_chunks(n_tokens: int, val_fraction: float, split_chunk: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` token ranges that form the validation split (see module docs)."""
    if n_tokens <= 0 or val_fraction <= 0:
        return []
    k = max(math.ceil(n_tokens / split_chunk), 100)
    bounds = [round(i * n_tokens / k) for i in range(k + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(k)
            if math.floor((i + 1) * val_fraction) > math.floor(i * val_fraction)
            and bounds[i + 1] > bounds[i]]


def _pieces(corpus: Corpus) -> Iterator[tuple[str, bool]]:
    """(piece, is_first_piece_of_a_document) for every piece of every document."""
    for doc in corpus.documents():
        first = True
        for piece in split_pieces(doc):
            yield piece, first
            first = False


def _encode_to(path: Path, corpus: Corpus, tokenizer: Tokenizer, dtype: np.dtype
               ) -> dict[str, int]:
    """Encode the whole corpus into the raw file ``path``; returns counts."""
    n_docs = n_bytes = n_tokens = 0
    batch: list[str] = []
    with path.open("wb") as out:
        def flush() -> None:
            nonlocal n_tokens
            for ids in tokenizer.encode_batch(batch):
                out.write(np.asarray(ids).astype(dtype, copy=False).tobytes())
                n_tokens += len(ids)
            batch.clear()

        for piece, first in _pieces(corpus):
            if first:
                if n_docs:
                    batch.append(DOC_SEPARATOR)
                    n_bytes += len(DOC_SEPARATOR)
                n_docs += 1
            batch.append(piece)
            n_bytes += len(piece.encode("utf-8"))
            if len(batch) >= BATCH_PIECES:
                flush()
        flush()
    return {"documents": n_docs, "bytes": n_bytes, "tokens": n_tokens}


def prepare_tokens(corpus: Corpus, tokenizer: Tokenizer, *, val_fraction: float = 0.05,
                   split_chunk: int = 4096) -> TokenData:
    """Tokenise ``corpus`` (or load it from the cache) and split it (see the module docstring)."""
    key = digest([f"tokens-v{FORMAT}", corpus.fingerprint(), tokenizer.id,
                  repr(float(val_fraction)), str(int(split_chunk))])
    final = cache_dir() / "tokens" / key
    dtype = token_dtype(tokenizer.vocab_size)

    def build(tmp: Path) -> None:
        t0 = time.perf_counter()
        counts = _encode_to(tmp / "all.bin", corpus, tokenizer, dtype)
        if counts["tokens"] == 0:
            raise InputError("the corpus is empty (no text)", source=corpus.name)
        all_tokens = np.memmap(tmp / "all.bin", dtype=dtype, mode="r")
        ranges = val_chunks(len(all_tokens), val_fraction, split_chunk)
        n_val = 0
        with (tmp / "train.bin").open("wb") as tr, (tmp / "val.bin").open("wb") as va:
            pos = 0
            for start, end in ranges:
                tr.write(all_tokens[pos:start].tobytes())
                va.write(all_tokens[start:end].tobytes())
                n_val += end - start
                pos = end
            tr.write(all_tokens[pos:].tobytes())
        del all_tokens
        (tmp / "all.bin").unlink()
        manifest = {
            "format": FORMAT,
            "corpus": corpus.info(),
            "tokenizer": tokenizer.info(),
            "vocab_size": tokenizer.vocab_size,
            "dtype": dtype.name,
            **counts,
            "bytes_per_token": counts["bytes"] / counts["tokens"],
            "train_tokens": counts["tokens"] - n_val,
            "val_tokens": n_val,
            "val_fraction": val_fraction,
            "split_chunk": split_chunk,
            "val_chunks": len(ranges),
            "encode_seconds": round(time.perf_counter() - t0, 3),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))

    publish(final, build)
    return load_tokens(final)


def load_tokens(folder: Path) -> TokenData:
    """Map the arrays of a prepared token folder read-only."""
    manifest = json.loads((folder / "manifest.json").read_text())
    dtype = np.dtype(manifest["dtype"])

    def mapped(name: str) -> np.ndarray:
        path = folder / name
        if path.stat().st_size == 0:
            return np.zeros(0, dtype=dtype)
        return np.memmap(path, dtype=dtype, mode="r")

    return TokenData(train=mapped("train.bin"), val=mapped("val.bin"), manifest=manifest,
                     path=folder)

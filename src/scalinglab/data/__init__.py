"""Corpora, tokenisers and cached token arrays for the trainer (``scalinglab[train]``).

* :func:`resolve_corpus` -- ``builtin`` (the King James Bible, shipped), ``shakespeare``
  (shipped; the default out-of-distribution set), ``stdlib``, ``gcide``, or a user's text file,
  folder, JSONL or Parquet file (see :mod:`scalinglab.data.corpus` and ``README.md`` here for
  origins and licences).
* :func:`get_tokenizer` -- ``bytes`` (vocabulary 256) or ``bpe:<vocab>`` trained locally.
* :func:`prepare_tokens` -- memory-mapped train/validation token arrays with a manifest, cached
  under :func:`cache_dir` (``$SCALINGLAB_CACHE``).

Nothing here downloads anything. NumPy is the only hard dependency; the BPE needs
``tokenizers`` and Parquet needs ``pyarrow``, both imported only when used.
"""

from __future__ import annotations

from scalinglab.data.cache import CACHE_ENV, cache_dir
from scalinglab.data.corpus import (
    BUILTIN_NAMES,
    DEFAULT_CORPUS,
    DEFAULT_OOD,
    SHIPPED,
    Corpus,
    resolve_corpus,
)
from scalinglab.data.tokenizer import (
    BPETokenizer,
    ByteTokenizer,
    Tokenizer,
    get_tokenizer,
    parse_tokenizer_spec,
)
from scalinglab.data.tokens import TokenData, load_tokens, prepare_tokens, val_chunks

__all__ = [
    "BUILTIN_NAMES",
    "CACHE_ENV",
    "DEFAULT_CORPUS",
    "DEFAULT_OOD",
    "SHIPPED",
    "BPETokenizer",
    "ByteTokenizer",
    "Corpus",
    "TokenData",
    "Tokenizer",
    "cache_dir",
    "get_tokenizer",
    "load_tokens",
    "parse_tokenizer_spec",
    "prepare_tokens",
    "resolve_corpus",
    "val_chunks",
]

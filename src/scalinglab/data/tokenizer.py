"""Tokenisers: raw UTF-8 bytes (default) and a byte-level BPE trained locally.

``--tokenizer bytes``: every UTF-8 byte is a token (vocabulary 256, no training, no unknowns);
losses are then nats per *byte*. ``--tokenizer bpe:4096``: a byte-level BPE (GPT-2's scheme:
bytes mapped to printable characters, whitespace-aware pre-tokenisation, no unknown tokens) with
a vocabulary of 4096 (at least 257), trained with Hugging Face ``tokenizers`` on the *training*
corpus and cached by the corpus fingerprint and vocabulary size; losses are then nats per BPE
token of that tokeniser, which is why every run records its tokeniser and bytes per token (to
compare tokenisers, convert to bits per byte). Encoding is done in batches of about 64 kB
pieces split at line ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scalinglab.data.cache import cache_dir, digest, publish
from scalinglab.data.corpus import Corpus
from scalinglab.errors import ParameterError

#: Bytes per piece handed to the BPE encoder in one batch element.
PIECE_BYTES = 1 << 16
#: Pieces per ``encode_batch`` call.
BATCH_PIECES = 64
_BPE_FORMAT = "bpe-bytelevel-v1"


def split_pieces(text: str, size: int = PIECE_BYTES) -> Iterator[str]:
    """``text`` cut after line ends into pieces of about ``size`` characters (lossless)."""
    start, n = 0, len(text)
    while start < n:
        end = min(n, start + size)
        if end < n:
            nl = text.rfind("\n", start, end)
            end = nl + 1 if nl > start else end
        yield text[start:end]
        start = end


class ByteTokenizer:
    """UTF-8 bytes as tokens (vocabulary 256)."""

    name = "bytes"
    id = "bytes"
    vocab_size = 256

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        """Token ids (uint8) of each text."""
        return [np.frombuffer(t.encode("utf-8"), dtype=np.uint8) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of the token ids (invalid UTF-8 replaced)."""
        return bytes(int(i) for i in ids).decode("utf-8", errors="replace")

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "vocab_size": self.vocab_size,
                "unit": "nats per UTF-8 byte"}


@dataclass
class BPETokenizer:
    """A byte-level BPE loaded from a ``tokenizers`` JSON file (see :func:`train_bpe`)."""

    name: str
    id: str
    path: Path
    trained_on: str

    def __post_init__(self) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(self.path))
        self.vocab_size = int(self._tok.get_vocab_size())

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        """Token ids of each text (batched, parallel inside ``tokenizers``)."""
        fast = getattr(self._tok, "encode_batch_fast", None)
        encs = (fast or self._tok.encode_batch)(texts, add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.int64) for e in encs]

    def decode(self, ids: Iterable[int]) -> str:
        return str(self._tok.decode([int(i) for i in ids]))

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "vocab_size": self.vocab_size,
                "trained_on": self.trained_on, "path": str(self.path),
                "unit": f"nats per token of {self.name} (byte-level BPE)"}


Tokenizer = ByteTokenizer | BPETokenizer


def parse_tokenizer_spec(spec: str) -> tuple[str, int]:
    """``"bytes"`` -> ("bytes", 256); ``"bpe:4096"`` -> ("bpe", 4096); else OptionError."""
    s = spec.strip().lower()
    if s in ("bytes", "byte"):
        return "bytes", 256
    if s.startswith("bpe:"):
        try:
            vocab = int(s[4:])
        except ValueError:
            vocab = -1
        if vocab < 257 or vocab > 1 << 20:
            raise ParameterError("tokenizer", f"BPE vocabulary must be an integer from 257 to "
                              f"{1 << 20}, got {spec[4:]!r}")
        return "bpe", vocab
    raise ParameterError("tokenizer", f"unknown tokenizer {spec!r}; use bytes or bpe:<vocab> "
                      "(e.g. bpe:4096)")


def train_bpe(corpus: Corpus, vocab_size: int) -> BPETokenizer:
    """Train (or load from the cache) a byte-level BPE of ``vocab_size`` on ``corpus``."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, pre_tokenizers, trainers

    key = digest([_BPE_FORMAT, corpus.fingerprint(), str(vocab_size)])
    final = cache_dir() / "tokenizers" / key

    def build(tmp: Path) -> None:
        tok = HFTokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      special_tokens=[])
        pieces = (p for doc in corpus.documents() for p in split_pieces(doc))
        tok.train_from_iterator(pieces, trainer)
        tok.save(str(tmp / "tokenizer.json"))
        (tmp / "info.json").write_text(json.dumps(
            {"format": _BPE_FORMAT, "vocab_size": vocab_size, "corpus": corpus.info()},
            indent=1))

    publish(final, build)
    path = final / "tokenizer.json"
    tok_id = "bpe:" + digest([path.read_bytes()], 16)
    return BPETokenizer(name=f"bpe:{vocab_size}", id=tok_id, path=path,
                        trained_on=corpus.name)


def get_tokenizer(spec: str, corpus: Corpus | None = None) -> Tokenizer:
    """The tokenizer named by ``spec``; BPE needs the ``corpus`` to train on."""
    kind, vocab = parse_tokenizer_spec(spec)
    if kind == "bytes":
        return ByteTokenizer()
    if corpus is None:
        raise ParameterError("tokenizer", "a BPE tokenizer needs a training corpus")
    return train_bpe(corpus, vocab)

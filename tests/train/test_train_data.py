"""Corpora, tokenizers and the token cache (scalinglab.data)."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest

from scalinglab.data import (
    ByteTokenizer,
    cache_dir,
    get_tokenizer,
    parse_tokenizer_spec,
    prepare_tokens,
    resolve_corpus,
    val_chunks,
)
from scalinglab.data.cache import publish
from scalinglab.errors import InputError, OptionError


def test_builtin_corpora_are_real_text_and_stable() -> None:
    kjv = resolve_corpus("builtin")
    assert kjv.name == "kjv" and kjv.kind == "shipped"
    text = next(kjv.documents())
    assert text.startswith("The First Book of Moses, called Genesis\n\nIn the beginning God")
    assert 4_000_000 < len(text.encode()) < 4_300_000
    assert "[" not in text  # the italics brackets were removed
    assert kjv.fingerprint() == resolve_corpus("kjv").fingerprint()
    shakespeare = next(resolve_corpus("shakespeare").documents())
    assert "HAMLET" in shakespeare and "To be, or not to be" in shakespeare
    assert resolve_corpus("shakespeare").fingerprint() != kjv.fingerprint()


def test_stdlib_corpus_lists_python_files() -> None:
    corpus = resolve_corpus("stdlib")
    assert len(corpus.files) > 100
    assert all(p.suffix == ".py" for p in corpus.files)
    assert not any("site-packages" in p.parts for p in corpus.files)
    assert corpus.info()["python"]


def test_missing_data_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as exc:
        resolve_corpus(tmp_path / "nope.txt")
    assert str(tmp_path / "nope.txt") in str(exc.value)


def test_user_text_folder_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.md").write_text("beta\n")
    (tmp_path / ".hidden").write_text("secret\n")
    (tmp_path / "bin.dat").write_bytes(b"\x00\x01\x02")
    folder = resolve_corpus(tmp_path)
    assert folder.kind == "folder"
    assert list(folder.documents()) == ["alpha\n", "beta\n"]
    fp = folder.fingerprint()
    (sub / "b.md").write_text("gamma\n")
    assert resolve_corpus(tmp_path).fingerprint() != fp

    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"text": "one"}\n\n{"body": "x", "text": "two"}\n')
    assert list(resolve_corpus(jsonl).documents()) == ["one", "two"]
    with pytest.raises(InputError, match=r"row 1.*'body'"):
        list(resolve_corpus(jsonl, text_field="body").documents())
    jsonl.write_text('{"text": "one"}\nnot json\n')
    with pytest.raises(InputError, match="row 2"):
        list(resolve_corpus(jsonl).documents())


def test_parquet_text_column(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"content": ["first doc", None, "second doc"]}), path)
    assert list(resolve_corpus(path, text_field="content").documents()) == [
        "first doc", "second doc"]
    with pytest.raises(InputError, match=r"no such column.*content"):
        list(resolve_corpus(path).documents())


def test_tokenizer_specs() -> None:
    assert parse_tokenizer_spec("bytes") == ("bytes", 256)
    assert parse_tokenizer_spec("bpe:4096") == ("bpe", 4096)
    for bad in ("bpe:10", "bpe:x", "wordpiece"):
        with pytest.raises(OptionError, match=r"^argument tokenizer: "):  # a Python parameter
            parse_tokenizer_spec(bad)
    tok = ByteTokenizer()
    ids = tok.encode_batch(["héllo"])[0]
    assert ids.tolist() == list("héllo".encode())
    assert tok.decode(ids) == "héllo"


def test_bpe_trains_locally_roundtrips_and_is_cached(tmp_path: Path) -> None:
    src = tmp_path / "t.txt"
    text = next(resolve_corpus("kjv").documents())[:100_000] + "naïve café\n"
    src.write_text(text)
    corpus = resolve_corpus(src)
    tok = get_tokenizer("bpe:300", corpus)
    assert tok.vocab_size == 300 and tok.name == "bpe:300"
    ids = tok.encode_batch([text])[0]
    assert len(ids) < 0.8 * len(text.encode())  # merges learned
    assert tok.decode(ids) == text
    again = get_tokenizer("bpe:300", resolve_corpus(src))
    assert again.id == tok.id and again.path == tok.path
    with pytest.raises(OptionError):
        get_tokenizer("bpe:300")


def test_val_chunks_are_spread_and_sized() -> None:
    ranges = val_chunks(1_000_000, 0.05, 4096)
    covered = sum(e - s for s, e in ranges)
    assert 0.045 < covered / 1_000_000 < 0.055
    starts = [s for s, _ in ranges]
    assert starts[0] < 100_000 and starts[-1] > 900_000
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges))
    assert len(val_chunks(500, 0.05, 4096)) == 5  # small data still has a validation split


def test_prepare_tokens_split_manifest_and_cache(tmp_path: Path) -> None:
    src = tmp_path / "t.txt"
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("abcdefgh \n"), size=50_000))
    src.write_text(text)
    corpus = resolve_corpus(src)
    td = prepare_tokens(corpus, ByteTokenizer())
    m = td.manifest
    assert m["tokens"] == 50_000 == m["train_tokens"] + m["val_tokens"]
    assert m["corpus"]["sha256"] == corpus.fingerprint()
    assert m["tokenizer"]["name"] == "bytes" and td.train.dtype == np.uint8
    # the split is a partition of the token stream at the recorded ranges
    full = np.frombuffer(text.encode(), dtype=np.uint8)
    ranges = val_chunks(len(full), 0.05, 4096)
    val = np.concatenate([full[s:e] for s, e in ranges])
    mask = np.ones(len(full), bool)
    for s, e in ranges:
        mask[s:e] = False
    assert np.array_equal(td.val, val) and np.array_equal(td.train, full[mask])
    # cached: the same folder, read-only memmaps
    again = prepare_tokens(resolve_corpus(src), ByteTokenizer())
    assert again.path == td.path and not again.train.flags.writeable
    assert json.loads((td.path / "manifest.json").read_text()) == m
    assert str(td.path).startswith(str(cache_dir()))


def test_multiple_documents_joined_with_blank_line(tmp_path: Path) -> None:
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"text": "ab"}\n{"text": "cd"}\n')
    td = prepare_tokens(resolve_corpus(jsonl), ByteTokenizer(), val_fraction=0.01)
    assert td.manifest["documents"] == 2 and td.manifest["tokens"] == 6


def test_cache_env_and_publish_keeps_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setenv("SCALINGLAB_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and cache_dir().is_dir()
    final = tmp_path / "c" / "entry"
    publish(final, lambda d: (d / "x").write_text("first"))
    publish(final, lambda d: (d / "x").write_text("second"))
    assert (final / "x").read_text() == "first"
    assert not [p for p in final.parent.iterdir() if p.name.startswith(".tmp")]
    assert os.stat(final).st_mode & 0o055  # readable by others

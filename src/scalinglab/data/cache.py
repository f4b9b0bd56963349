"""The on-disk cache of tokenisers and tokenised corpora.

Location: ``$SCALINGLAB_CACHE`` if set, else ``$XDG_CACHE_HOME/scalinglab`` if set, else
``~/.cache/scalinglab`` (``%LOCALAPPDATA%\\scalinglab\\cache`` on Windows). Every entry is a
folder named by a content hash and is published with one atomic ``rename`` of a finished
temporary folder, so concurrent runs of a sweep that need the same entry never see half of it:
the first to finish wins and the others discard their copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

#: Environment variable that overrides the cache location (tests point it at a tmp dir).
CACHE_ENV = "SCALINGLAB_CACHE"


def cache_dir() -> Path:
    """The cache root (created if missing); see the module docstring for the lookup order."""
    env = os.environ.get(CACHE_ENV)
    if env:
        root = Path(env).expanduser()
    elif os.environ.get("XDG_CACHE_HOME"):
        root = Path(os.environ["XDG_CACHE_HOME"]) / "scalinglab"
    elif sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        root = Path(os.environ["LOCALAPPDATA"]) / "scalinglab" / "cache"
    else:
        root = Path.home() / ".cache" / "scalinglab"
    root.mkdir(parents=True, exist_ok=True)
    return root


def digest(parts: Iterable[str | bytes], length: int = 20) -> str:
    """Hex SHA-256 of the parts (strings UTF-8 encoded, each length-prefixed), truncated."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:length]


def publish(final: Path, build: Callable[[Path], None]) -> Path:
    """Make the folder ``final`` by ``build(tmp)`` into a sibling temporary folder and one rename.

    If ``final`` already exists (built earlier, or by a concurrent process while we were
    building) it is kept and our copy is discarded.
    """
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; a shared cache should stay readable
    try:
        build(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final

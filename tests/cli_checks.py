"""Assertions shared by the tests of command-line errors (importable from every test folder:
pytest puts ``tests/`` on ``sys.path`` for its root ``conftest.py``)."""

from __future__ import annotations


def one_error(code: int, err: str, *names: str) -> str:
    """Exit 2, one ``error:`` line, no traceback, and every one of ``names`` in it; the
    message with its line breaks (rich wraps long lines) folded into spaces."""
    assert code == 2, err
    assert "Traceback" not in err
    flat = " ".join(err.split())
    assert flat.startswith("error:") and flat.count("error:") == 1, err
    for name in names:
        assert name in flat, (name, err)
    return flat

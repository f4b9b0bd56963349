"""User-facing errors.

Every error a user can cause (a bad file, a missing column, an unknown law, a conflicting option)
is raised as a :class:`ScalingLabError` subclass whose message says what is wrong and where
(file, row, column or option). The CLI prints the message and exits with status 2, never a
traceback; the Python API lets the exception propagate.
"""

from __future__ import annotations


class ScalingLabError(Exception):
    """Base class of all errors that are the user's to fix."""

    exit_code: int = 2


class InputError(ScalingLabError):
    """Bad input data: names the file, and where it can, the row and the column."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = []
        if source is not None:
            where.append(f"file {source}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)
        self.source = source
        self.row = row
        self.column = column


class OptionError(ScalingLabError):
    """A bad or conflicting option or argument (names the option)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"option {option}: {message}")
        self.option = option


class FitError(ScalingLabError):
    """A fit that cannot be carried out (too few points, no finite objective anywhere)."""

"""User-facing errors.

Every error a user can cause (a bad file, a missing column, an unknown law, a conflicting option)
is raised as a :class:`ScalingLabError` subclass whose message says what is wrong and where
(file, row, column, argument or option). The CLI prints the message and exits with status 2,
never a traceback; the Python API lets the exception propagate.

Library code speaks Python: a bad argument raises :class:`ParameterError` naming the function
parameter (``argument convention: ...``). The command line speaks flags: it raises
:class:`OptionError` naming the option (``option --flops-convention: ...``), and maps every
:class:`ParameterError` a library call raises onto the flag that feeds that parameter
(:mod:`scalinglab.cli.options`). Unknown names suggest the nearest known one
(:func:`did_you_mean`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ScalingLabError(Exception):
    """Base class of all errors that are the user's to fix."""

    exit_code: int = 2


def _describe_source(source: str) -> str:
    """``file runs.csv``, but an in-memory table (``<DataFrame>``) or a bundled data set
    (``example:NAME``) is named for what it is, not called a file."""
    if source.startswith("<") and source.endswith(">"):
        return f"the {source[1:-1]} passed in"
    if source.startswith("example:"):
        return f"data set {source}"
    return f"file {source}"


class InputError(ScalingLabError):
    """Bad input data: names the file (or the DataFrame), and where it can, the row and the
    column."""

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
            where.append(_describe_source(str(source)))
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
    """A bad or conflicting command-line option (``--law``) or argument (``DATA``, upper
    case), named as such."""

    def __init__(self, option: str, message: str) -> None:
        kind = "argument" if option.isupper() else "option"
        super().__init__(f"{kind} {option}: {message}")
        self.option = option
        self.detail = message


class ParameterError(OptionError):
    """A bad argument to a library function: names the Python parameter (``convention``),
    never a command-line flag.

    A subclass of :class:`OptionError` so that code catching the CLI's error also catches it;
    the CLI re-raises it as an :class:`OptionError` naming the flag that feeds ``parameter``.
    """

    def __init__(self, parameter: str, message: str) -> None:
        parameter = parameter.rstrip("=")
        ScalingLabError.__init__(self, f"argument {parameter}: {message}")
        self.option = parameter
        self.parameter = parameter
        self.detail = message


class FitError(ScalingLabError):
    """A fit that cannot be carried out (too few points, no finite objective anywhere)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'kaplan-nd'?"`` for the nearest of ``choices`` (difflib), else ``""``.

    A name that starts a choice (``kaplan`` of ``kaplan-nd``) counts as close; up to three
    suggestions, the closest first and ties in the order of ``choices``."""
    options = list(choices)
    key = str(name).strip().lower()
    scored = []
    for i, c in enumerate(options):
        ratio = difflib.SequenceMatcher(None, key, c.lower()).ratio()
        if ratio >= 0.6 or (key and c.lower().startswith(key)):
            scored.append((-ratio, i, c))
    found = [c for _, _, c in sorted(scored)[:3]]  # best first; ties in the listed order
    if not found:
        return ""
    if len(found) == 1:
        return f"; did you mean {found[0]!r}?"
    return ("; did you mean " + ", ".join(repr(c) for c in found[:-1])
            + f" or {found[-1]!r}?")


def unknown(kind: str, name: object, choices: Iterable[str]) -> str:
    """``"unknown law 'kaplan'; did you mean 'kaplan-nd' or 'kaplan-ns'? (choose one of
    ...)"`` -- the message of every unknown-name error."""
    options = list(choices)
    return (f"unknown {kind} {name!r}{did_you_mean(str(name), options)} "
            f"(choose one of {', '.join(options)})")


def argument_error(name: str, message: str) -> OptionError:
    """The error for a bad value of ``name``: an :class:`OptionError` when ``name`` is a flag
    (``--fix``, as a command passes it), else a :class:`ParameterError` (``fixed``, as library
    code names its own parameter). Helpers that serve both take the name to blame."""
    if name.startswith("-"):
        return OptionError(name, message)
    return ParameterError(name, message)

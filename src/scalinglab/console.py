"""The shared rich consoles, tables and progress bar (one place for terminal output).

Everything user-facing prints through :data:`console` (results, stdout) or :data:`err_console`
(warnings, notes, progress: stderr), so that a result piped on (``| cat``, ``> out.txt``,
``--json -``) is never mixed with anything else:

* :func:`warn` and :func:`note` print to stderr, on every command.
* Off a terminal the consoles are as wide as their content (:class:`WideConsole`), so a piped
  table never cuts a number with "…"; on a terminal, :class:`Table` folds a long cell onto a
  second line rather than cutting it.
* :func:`results_to_stderr` moves the human-readable output to stderr while ``--json -``
  writes the JSON document to stdout; :func:`reset` undoes it.

rich's progress module is imported only when a bar is made, so ``scalinglab --help`` stays
quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleDimensions
from rich.table import Table as _RichTable

if TYPE_CHECKING:
    from rich.progress import Progress

#: the width of a console that writes to a file or a pipe: wide enough for any table we print
PIPE_WIDTH = 10_000


class WideConsole(Console):
    """A rich console that, off a terminal (a pipe, a file, a test runner), is
    :data:`PIPE_WIDTH` columns wide whatever ``$COLUMNS`` or the terminal on another stream
    says: tables then take their natural width and lines are not wrapped. A ``width`` given
    to the constructor is kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed_width = kwargs.get("width") is not None

    @property  # type: ignore[override]
    def size(self) -> ConsoleDimensions:
        dims = Console.size.fget(self)  # type: ignore[attr-defined]
        if not self._fixed_width and not self.is_terminal and not self.is_jupyter:
            return ConsoleDimensions(PIPE_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


class Table(_RichTable):
    """A rich table whose columns fold an over-long cell onto the next line instead of cutting
    it with an ellipsis (``overflow="fold"`` unless a column asks otherwise)."""

    def add_column(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("overflow", "fold")
        super().add_column(*args, **kwargs)


console = WideConsole()
err_console = WideConsole(stderr=True)


def warn(message: str) -> None:
    """``warning: message`` on stderr (every command's warnings go here)."""
    err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def note(message: str) -> None:
    """A line of commentary on stderr (``wrote out.json``, ``left out ...``)."""
    err_console.print(message, highlight=False, soft_wrap=True)


def results_to_stderr() -> None:
    """Send :data:`console` output to stderr (while ``--json -`` owns stdout)."""
    console.stderr = True


def reset() -> None:
    """Undo :func:`results_to_stderr`: :data:`console` follows ``sys.stdout`` again."""
    console.stderr = False


class _NoProgress:
    """What :func:`progress` returns when disabled: the same calls, nothing drawn, and rich's
    progress module not imported (a quick command stays quick)."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        return 0

    def advance(self, task_id: int, advance: float = 1) -> None:
        return None

    def update(self, task_id: int, **fields: Any) -> None:
        return None


def progress(transient: bool = True, disable: bool = False) -> Progress:
    """A rich progress bar on stderr: description, bar, done/total, elapsed, remaining (with
    ``disable``, an object with the same methods that draws nothing)."""
    if disable:
        return _NoProgress()  # type: ignore[return-value]
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
        disable=disable,
    )

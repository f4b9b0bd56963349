"""The shared rich console and progress helpers (one place for terminal output).

Everything user-facing prints through :data:`console` (stdout) or :data:`err_console`
(stderr); long work shows a :func:`progress` bar. Progress output goes to stderr so that
JSON or tables on stdout stay clean.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console()
err_console = Console(stderr=True)


def progress(transient: bool = True, disable: bool = False) -> Progress:
    """A rich progress bar on stderr: description, bar, done/total, elapsed, remaining."""
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

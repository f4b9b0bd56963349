"""The ``scalinglab`` command line (Typer).

Each command group lives in its own module with a ``register(app)`` function; this module builds
the app, registers them, and turns every :class:`~scalinglab.errors.ScalingLabError` into one
clear line on stderr and exit status 2 (never a traceback).

Start-up is kept short: the command modules import only typer and the standard library at
module level, and each command imports the heavy modules it needs (NumPy, pandas, SciPy,
matplotlib, torch, ray) inside its body, so ``scalinglab --help`` loads none of them
(``benchmarks/cli_startup.py`` measures it). Shared options are parsed in
:mod:`scalinglab.cli.options`.
"""

from __future__ import annotations

import sys
import warnings
from typing import Annotated

import typer

from scalinglab import __version__
from scalinglab.cli import (
    conventions_cmds,
    data_cmds,
    demo_cmds,
    fit_cmds,
    import_cmds,
    plan_cmds,
    report_cmds,
    reproduce_cmds,
    sweep_cmds,
    train_cmds,
)
from scalinglab.cli.options import Group
from scalinglab.console import err_console
from scalinglab.errors import ScalingLabError

app = typer.Typer(
    name="scalinglab",
    cls=Group,
    help="A laboratory for neural scaling laws: fit laws to runs, plan compute-optimal "
    "models, train sweeps, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    # plain click help: a flag shows no ``<bool>`` placeholder, and rendering it needs none of
    # typer's rich help machinery (markdown, tracebacks: ~0.1 s of start-up)
    rich_markup_mode=None,
    context_settings={"max_content_width": 100},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"scalinglab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="print the version and exit")] = False,
) -> None:
    """A laboratory for neural scaling laws: fit laws to runs, plan compute-optimal models,
    train sweeps, report."""


for _module in (demo_cmds, fit_cmds, data_cmds, plan_cmds, train_cmds, sweep_cmds,
                report_cmds, import_cmds, reproduce_cmds, conventions_cmds):
    _module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point.

    NumPy's floating-point RuntimeWarnings (log of 0, overflow while a bootstrap draw or a
    start point wanders) are not shown: the fit's own diagnostics say what matters.
    """
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    try:
        app(args=argv, standalone_mode=True)
    except ScalingLabError as exc:
        from rich.markup import escape  # a message's own brackets ("scalinglab[extra]")

        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                          soft_wrap=True, markup=True)
        sys.exit(exc.exit_code)

"""The ``scalinglab`` command line (Typer).

Each command group lives in its own module with a ``register(app)`` function; this module builds
the app, registers them, and turns every :class:`~scalinglab.errors.ScalingLabError` into one
clear line on stderr and exit status 2 (never a traceback). Modules that need optional extras
(torch, ray) import them inside their commands, so ``scalinglab --help`` works on the core
install.
"""

from __future__ import annotations

import sys
import warnings

import typer

from scalinglab.cli import (
    data_cmds,
    demo_cmds,
    fit_cmds,
    plan_cmds,
    report_cmds,
    sweep_cmds,
    train_cmds,
)
from scalinglab.console import err_console
from scalinglab.errors import ScalingLabError

app = typer.Typer(
    name="scalinglab",
    help="A laboratory for neural scaling laws: fit laws to runs, plan compute-optimal "
    "models, train sweeps, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for _module in (demo_cmds, fit_cmds, data_cmds, plan_cmds, train_cmds, sweep_cmds,
                report_cmds):
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
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)

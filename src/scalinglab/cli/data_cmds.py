"""CLI: ``scalinglab data list|show|export`` for the bundled example data sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from scalinglab import datasets
from scalinglab.console import console

data_app = typer.Typer(help="Bundled example data sets (real published runs).",
                       no_args_is_help=True)


@data_app.command("list")
def list_cmd() -> None:
    """List the bundled data sets with their sources."""
    t = Table(title="example data sets (use as example:NAME or scalinglab.datasets.load)")
    for c in ("name", "rows", "what", "cite"):
        t.add_column(c)
    for info in datasets.list_datasets():
        t.add_row(info.name, str(len(datasets.load(info.name))), info.description,
                  info.citation)
    console.print(t)


@data_app.command("export")
def export_cmd(name: Annotated[str, typer.Argument(help="data set name")],
               out: Annotated[Path, typer.Option(help="CSV file to write")]) -> None:
    """Write a bundled data set, in the observation-table format, to a CSV file."""
    datasets.load(name).to_csv(out, index=False)
    console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")

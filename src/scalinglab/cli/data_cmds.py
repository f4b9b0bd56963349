"""CLI: ``scalinglab data list|export`` for the bundled example data sets (run tables) and
``scalinglab data corpora`` for the built-in training corpora and synthetic sources.

pandas (behind :mod:`scalinglab.datasets`) is imported inside the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scalinglab.cli.options import Command, Group, JsonOpt, emit_json, start_json
from scalinglab.console import Table, console, note

data_app = typer.Typer(help="Bundled example data sets (real published runs).",
                       no_args_is_help=True, cls=Group)


@data_app.command("list", cls=Command)
def list_cmd(json_out: JsonOpt = None) -> None:
    """List the bundled data sets with their sources."""
    from scalinglab import datasets

    start_json(json_out)
    t = Table(title="example data sets (use as example:NAME or scalinglab.datasets.load)")
    for c in ("name", "rows", "what", "cite"):
        t.add_column(c)
    rows = [{"name": info.name, "rows": len(datasets.load(info.name)),
             "description": info.description, "citation": info.citation}
            for info in datasets.list_datasets()]
    for r in rows:
        t.add_row(r["name"], str(r["rows"]), r["description"], r["citation"])
    console.print(t)
    emit_json(json_out, rows)


@data_app.command("corpora", cls=Command)
def corpora_cmd(json_out: JsonOpt = None) -> None:
    """List the built-in training corpora (--data NAME), synthetic sources with their true
    entropy rate."""
    from scalinglab.data.corpus import builtin_corpora

    start_json(json_out)
    t = Table(title="built-in corpora for train / sweep / demo --data NAME")
    for c in ("name", "kind", "size", "tokenizer", "entropy rate (nats/token)", "what"):
        t.add_column(c, no_wrap=c in ("name", "size"))
    infos = builtin_corpora()
    for info in infos:
        size = info["size"]
        rate = ""
        if "entropy_rate" in info:
            rate = (f"{info['entropy_rate']:.5f} exact; MC {info['entropy_estimate']:.4f} "
                    f"± {info['entropy_se']:.4f} (1e6 tokens)")
        t.add_row(str(info["name"]), str(info["kind"]),
                  f"{size:,} bytes" if isinstance(size, int) else "unbounded"
                  if "synthetic" in str(info["kind"]) else "-",
                  str(info["tokenizer"]), rate, str(info["description"]))
    console.print(t)
    for info in infos:  # the truth of each synthetic source, also as a plain line
        if "entropy_rate" in info:
            console.print(f"{info['name']}: entropy rate {info['entropy_rate']:.6f} nats/token "
                          f"(exact); Monte Carlo {info['entropy_estimate']:.4f} ± "
                          f"{info['entropy_se']:.4f} over 1e6 tokens", highlight=False)
    emit_json(json_out, infos)


@data_app.command("export", cls=Command)
def export_cmd(name: Annotated[str, typer.Argument(help="data set name")],
               out: Annotated[Path, typer.Option(help="CSV file to write")]) -> None:
    """Write a bundled data set, in the observation-table format, to a CSV file."""
    from scalinglab import datasets

    datasets.load(name).to_csv(out, index=False)
    note(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the app."""
    app.add_typer(data_app, name="data")

"""CLI: ``scalinglab demo`` (the main job: a real IsoFLOP study on CPU, fit, plan, report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scalinglab.console import console


def demo_cmd(
    out: Annotated[Path, typer.Option(help="output folder (runs.db, fit.json, report.html, "
                                      "figures/)")] = Path("demo-out"),
    budget_minutes: Annotated[float, typer.Option(
        help="scale the study to about this many minutes on 2 CPU cores")] = 5.0,
    workers: Annotated[int | None, typer.Option(help="concurrent runs (default: from the "
                                                "cores)")] = None,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples of the fits")] = 200,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
) -> None:
    """Run a small IsoFLOP study on the built-in corpus, fit the Chinchilla law (Approaches 2
    and 3), backtest it, plan a 100x larger budget and write a one-file HTML report.
    Re-running resumes."""
    from scalinglab.demo import run_demo

    r = run_demo(out, budget_minutes=budget_minutes, workers=workers, bootstrap=bootstrap,
                 seed=seed)
    h = r.headline
    a_int = h.get("a_interval")
    a_txt = f" (95%: {a_int[0]:.2f}-{a_int[1]:.2f})" if a_int else ""
    console.print(f"\n[bold]report:[/] {r.report}")
    console.print(f"runs: {r.n_runs} in {r.store}; fit: {r.fit_path}")
    console.print(f"1. allocation exponent N_opt ∝ C^a: a = {h.get('a', float('nan')):.3f}"
                  f"{a_txt} (Approach 3, N total parameters, C = 6ND)")
    if "N_opt" in h:
        console.print(f"2. at C = {h['compute']:.3g} FLOPs (100x the largest run): N_opt = "
                      f"{h['N_opt']:.3g} parameters, D_opt = {h['D_opt']:.3g} tokens")
        console.print(f"3. predicted loss there: {h['loss']:.4f} nats/byte (KJV, byte tokens)")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)

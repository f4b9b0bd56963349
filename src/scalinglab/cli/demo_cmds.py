"""CLI: ``scalinglab demo`` (the main job: a real IsoFLOP study on CPU, fit, backtest, plan,
report and ``summary.json``). Warnings go to stderr; training and fitting are imported inside
the command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from scalinglab.cli.options import (
    BOOTSTRAP_REPORT,
    BootstrapOpt,
    Command,
    JsonOpt,
    emit_json,
    start_json,
)
from scalinglab.console import console, warn


def _iv(iv: Any, fmt: str = ".3g") -> str:
    return f" (95%: {iv[0]:{fmt}} - {iv[1]:{fmt}})" if iv else ""


def print_headline(s: dict[str, Any], summary_path: Path, report: Path) -> None:
    """The demo's headline: what was measured, how well it backtests, and whether the fit
    identifies the law (a fit that does not is said to, before any number)."""
    console.print(f"\n[bold]report:[/] {report}\n[bold]summary:[/] {summary_path}")
    if not s["identified"]:
        console.print("[bold red]NOT IDENTIFIED:[/] the data do not determine the law's "
                      "parameters, so the numbers below are not a result:")
        for w in s["not_identified_because"]:
            console.print(f"  - {w}")
    tag = "" if s["identified"] else " [red](not identified)[/]"
    bt = s["backtest"]
    unit = "nats/token"
    console.print(f"runs: {s['n_runs']} ({s['n_fitted']} fitted, {bt['n_heldout']} held out) "
                  f"on {s['corpus']}; max epochs {s['epochs_max']:.2f}; N total parameters, "
                  f"C = 6ND, loss in {unit}")
    console.print(f"1. allocation exponent N_opt ∝ C^a: a = {s['a']:.3f}"
                  f"{_iv(s['a_interval'], '.3f')} (Approach 3){tag}")
    e_iv = s["intervals"].get("E")
    line = f"2. irreducible loss E = {s['params']['E']:.4f}{_iv(e_iv, '.4f')}"
    if s["entropy_rate"] is not None:
        verdict = ("contains" if s["E_contains_entropy_rate"] else "[red]misses[/]")
        line += f"; the source's true entropy rate {s['entropy_rate']:.4f}: interval {verdict} it"
    console.print(line + tag)
    if bt["mean_abs_rel_error"] is not None:
        cov = bt["coverage"]
        hw = bt["mean_interval_halfwidth"]
        factor = bt["heldout_compute"] / bt["fit_max_compute"]
        console.print(
            f"3. backtest at C = {bt['heldout_compute']:.3g} ({factor:.0f}x "
            f"the largest fitted budget): mean |error| {bt['mean_abs_rel_error']:.2%}, max "
            f"{bt['max_abs_rel_error']:.2%}"
            + (f", 95% interval half-width {hw:.2%}, coverage {cov:.0%}" if hw is not None
               and cov is not None else ""))
    p = s["plan"]
    if p["N_opt"] is not None:
        iv = p["intervals"]
        console.print(f"4. at C = {p['compute']:.3g} FLOPs (100x the largest run): N_opt = "
                      f"{p['N_opt']:.3g}{_iv(iv.get('N_opt'))}, D_opt = {p['D_opt']:.3g} "
                      f"tokens, predicted loss {p['loss']:.4f}{_iv(iv.get('loss'), '.4f')} "
                      f"{unit}{tag}")
    other = [w for w in s["warnings"] if w not in s["not_identified_because"]]
    for w in other:
        warn(w)
    console.print(f"({s['seconds']:.0f} s)")


def demo_cmd(
    out: Annotated[Path, typer.Option(help="output folder (runs.db, fit.json, summary.json, "
                                      "report.html, figures/)")] = Path("demo-out"),
    data: Annotated[str, typer.Option(help="corpus: synthetic:quanta (default: unbounded, of "
                                      "known entropy), kjv, shakespeare, ... (scalinglab data "
                                      "corpora)")] = "synthetic:quanta",
    budget_minutes: Annotated[float, typer.Option(
        help="scale the study to about this many minutes on 2 CPU cores")] = 5.0,
    workers: Annotated[int | None, typer.Option(help="concurrent runs (default: from the "
                                                "cores)")] = None,
    bootstrap: BootstrapOpt = BOOTSTRAP_REPORT,
    seed: Annotated[int, typer.Option(help="seed of the runs (initialisation, data order) "
                                      "and of the bootstrap")] = 0,
    json_out: JsonOpt = None,
) -> None:
    """Run a small IsoFLOP study (5 budgets over 2 decades of compute and a held-out budget 4x
    above), fit the Chinchilla law, backtest it, plan a 100x larger budget and write
    summary.json and a one-file HTML report. Re-running resumes."""
    start_json(json_out)
    from scalinglab.demo import run_demo

    r = run_demo(out, budget_minutes=budget_minutes, data=data, workers=workers,
                 bootstrap=bootstrap, seed=seed)
    print_headline(r.summary, r.summary_path, r.report)
    emit_json(json_out, r.summary)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the app."""
    app.command("demo", cls=Command)(demo_cmd)

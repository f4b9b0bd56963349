"""CLI: ``scalinglab reproduce``: a founding paper's findings, reproduced with one command.

Each command writes ``DIR/report.html`` (every finding beside the paper's number and figure,
with its verdict) and ``DIR/findings.json`` (:mod:`scalinglab.reproduce.findings`):

* ``scalinglab reproduce kaplan --out DIR``: Kaplan et al. 2020, trained here;
* ``scalinglab reproduce chinchilla --out DIR [--bootstrap R] [--seed S] [--design-reps K]``:
  Hoffmann et al. 2022's Approaches 1-3, the Table 3 projection and Besiroglu et al. 2024's
  estimates, on the shipped digitised runs (:mod:`scalinglab.reproduce.chinchilla`), in under
  a minute.

The studies import their heavy modules inside the commands, so ``scalinglab --help`` stays fast.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scalinglab.cli.options import Command, Group
from scalinglab.console import console, err_console

if TYPE_CHECKING:
    from scalinglab.reproduce.findings import Finding

reproduce_app = typer.Typer(
    name="reproduce",
    help="Reproduce a founding paper's findings: kaplan (trained here), chinchilla (on the "
         "shipped data)",
    no_args_is_help=True,
    cls=Group,
)


# ============================================================================ kaplan
@reproduce_app.command(
    "kaplan", cls=Command,
    short_help="Kaplan et al. 2020's findings, trained here in miniature (--quick: <= 10 min "
               "on 2 cores)")
def kaplan_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for runs.db, report.html, "
                                      "findings.json and figures/")],
    quick: Annotated[bool, typer.Option(
        "--quick", help="fewer, shorter runs (about 10 minutes on 2 cores; the default study "
                        "takes about an hour)")] = False,
    data: Annotated[str, typer.Option(
        help="a built-in text corpus (kjv, shakespeare) or a text file or folder")] = "kjv",
    workers: Annotated[int | None, typer.Option(
        min=1, help="concurrent runs (default: the CPU cores)")] = None,
    executor: Annotated[str, typer.Option(help="local | ray")] = "local",
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (with --executor ray)")] = None,
    bootstrap: Annotated[int | None, typer.Option(
        min=0, help="bootstrap resamples of the joint fits (default: 200 quick, 500 full)")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the runs and the bootstraps")] = 0,
    device: Annotated[str, typer.Option(help="cpu | cuda (every run)")] = "cpu",
) -> None:
    """Kaplan et al. 2020 in miniature: L(N), L(D), L(C_min), L(N, S), B_crit(L), L(N, D),
    shape, per-position loss, transfer and the compute-optimal allocation, each measured with
    a 95% interval beside the paper's value and judged by a stated rule. Resumable."""
    from scalinglab.errors import OptionError
    from scalinglab.reproduce.kaplan import reproduce_kaplan

    if executor not in ("local", "ray"):
        raise OptionError("--executor", f"use local or ray, got {executor!r}")
    if address is not None and executor != "ray":
        raise OptionError("--address", "only with --executor ray")
    if device not in ("cpu", "cuda"):
        raise OptionError("--device", f"use cpu or cuda, got {device!r}")
    res = reproduce_kaplan(out, quick=quick, data=data, workers=workers, executor=executor,
                           address=address, bootstrap=bootstrap, seed=seed, device=device)
    _print_findings(res.findings)
    console.print(f"report: {res.report}\nfindings: {res.findings_path}\n"
                  f"({res.n_runs} runs, {res.seconds / 60:.1f} min; N non-embedding parameters, "
                  "C = 6ND, loss in nats per byte)", highlight=False, markup=False)


def _print_findings(findings: Sequence[Finding]) -> None:
    """One line per finding: measured value, 95% interval, the paper's value, the verdict."""
    for k, f in enumerate(findings, start=1):
        if f.measured is None:
            value = "–"
        else:
            iv = (f" ({f.interval[0]:.4g} – {f.interval[1]:.4g})" if f.interval else "")
            value = f"{f.measured:.4g}{iv}"
        paper = "–" if f.paper is None else f"{f.paper:.4g}"
        console.print(f"{k:2d}. {f.title} [{f.quantity}]: {value}; paper {paper} -> "
                      f"{f.verdict}", highlight=False, soft_wrap=True, markup=False)



# ============================================================================ chinchilla
@reproduce_app.command(
    "chinchilla", cls=Command,
    short_help="Chinchilla's Approaches 1-3, Table 3 and Epoch's refit, on the shipped runs "
               "(< 1 min)")
def chinchilla_cmd(
    out: Annotated[Path, typer.Option("--out", "-o",
                                      help="folder for report.html and findings.json")],
    bootstrap: Annotated[int, typer.Option(
        min=0, help="bootstrap resamples per interval (0: profile intervals only)")] = 200,
    seed: Annotated[int, typer.Option(help="seed of the bootstraps and the design check")] = 0,
    design_reps: Annotated[int, typer.Option(
        min=2, help="synthetic data sets per law in the design check (what the runs can "
                    "measure)")] = 100,
    data: Annotated[str, typer.Option(
        help="chinchilla-240 (Epoch's standard subset) or chinchilla (all 245 runs)")
    ] = "chinchilla-240",
    jobs: Annotated[int | None, typer.Option(help="processes for the bootstrap")] = None,
) -> None:
    """Hoffmann et al. 2022 (Chinchilla) on the shipped digitised runs: Approaches 1-3, the
    Table 3 projection, Hoffmann's and Besiroglu et al.'s estimates beside ours."""
    from scalinglab.errors import OptionError
    from scalinglab.reproduce.chinchilla import reproduce_chinchilla

    if data not in ("chinchilla-240", "chinchilla"):
        raise OptionError("--data", f"expected chinchilla-240 or chinchilla, got {data!r}")
    t0 = time.perf_counter()

    def step(what: str) -> None:
        err_console.print(f"{time.perf_counter() - t0:5.1f} s  {what}", highlight=False,
                          markup=False)

    res = reproduce_chinchilla(out, bootstrap=bootstrap, seed=seed, design_reps=design_reps,
                               data=data, n_jobs=jobs, on_step=step)
    _print_findings(res.findings)
    console.print(f"report: {res.report}\nfindings: {res.findings_json}\n"
                  f"({res.seconds:.0f} s; N total parameters, C FLOPs, D = C/(6N), loss in "
                  "nats/token)", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``reproduce`` command group to the app."""
    app.add_typer(reproduce_app, name="reproduce")

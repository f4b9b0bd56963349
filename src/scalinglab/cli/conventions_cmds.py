"""CLI: ``scalinglab conventions`` (the convention-sensitivity report, issue 16 part 5).

``scalinglab conventions DATA --target-compute C`` refits the runs under every counting
convention (N total or non-embedding; C = 6ND or the full count with the output head and
attention; Chinchilla's Approach 3 or Kaplan's frontier rule) and prints, per combination, the
exponent a of N_opt ∝ C^a, N_opt at the target budget and the predicted loss; ``--figure``
writes the figure, ``--json`` the record (:mod:`scalinglab.plan.conventions`). Heavy modules
are imported inside the command, so ``scalinglab --help`` stays quick.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scalinglab.cli.options import (
    Command,
    ConfidenceOpt,
    JsonOpt,
    check_choice,
    check_confidence,
    check_json_dest,
    emit_json,
    parse_compute,
    start_json,
)
from scalinglab.console import Table, console, note
from scalinglab.errors import OptionError

if TYPE_CHECKING:
    from scalinglab.plan.conventions import ConventionReport


def _num(v: float | None, digits: int = 4) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    a = abs(v)
    return f"{v:.{digits}g}" if (a == 0 or 1e-3 <= a < 1e5) else f"{v:.{digits - 1}e}"


def _range(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    parts = parse_compute([value], "--compute-range")
    if len(parts) != 2 or not parts[0] < parts[1]:
        raise OptionError("--compute-range", f"give LOW,HIGH in FLOPs with LOW < HIGH, got "
                          f"{value!r}")
    return parts[0], parts[1]


def print_report(rep: ConventionReport) -> None:
    """The report as a rich table, then its conventions and notes."""
    t = Table(title=f"convention sensitivity at C = {rep.target_compute:.4g} FLOPs "
                    "(read in each row's C convention)", title_justify="left")
    for c in ("N", "C", "allocation", "a (N_opt ∝ C^a)", f"{rep.confidence:.0%} interval",
              "N_opt", "N_opt (total)", "D_opt", "loss (nats/token)", "notes"):
        t.add_column(c, justify="left" if c in ("N", "C", "allocation", "notes") else "right")
    for r in rep.rows:
        a = _num(r.a) + ("" if r.identified else " NOT IDENTIFIED")
        iv = (f"{_num(r.a_interval[0])} - {_num(r.a_interval[1])}" if r.a_interval
              else "-")
        t.add_row(r.n_convention, r.c_convention, r.allocation, a, iv, _num(r.n_opt),
                  _num(r.n_opt_total), _num(r.d_opt), _num(r.loss), "; ".join(r.notes) or "-")
    console.print(t)
    sp = rep.spread
    if sp:
        line = f"a ranges over {sp['a_min']:.3f} - {sp['a_max']:.3f} across conventions"
        if "n_opt_total_ratio" in sp:
            ratio = sp["n_opt_total_ratio"]
            line += f"; N_opt at the target (total parameters) varies {ratio:.3g}x"
        console.print(line, highlight=False)
    crange = ("the data's own range" if rep.compute_range is None else
              f"{rep.compute_range[0]:.3g} - {rep.compute_range[1]:.3g} FLOPs")
    console.print(f"a is measured over {crange}, in each row's conventions; frontier: "
                  f"{rep.frontier_kind or 'none'}", highlight=False)
    console.print(f"counts: {rep.counts}", highlight=False)
    console.print(f"shape rule: {rep.shape_rule.source}", highlight=False)
    console.print("C full = [6 (N_E + V d) + 12 n_layer n_ctx d] D (PaLM/nanoGPT count); "
                  "loss: the Approach-3 law of the row's N convention at (N_opt, D_opt)",
                  highlight=False)
    for n in rep.notes:
        note(f"note: {n}")


def conventions_cmd(
    data: Annotated[str, typer.Argument(
        help="runs: N, D (or C), loss; final losses (IsoFLOP budgets) or learning curves "
             "(several rows per run_id); or example:NAME")],
    target_compute: Annotated[str | None, typer.Option(
        "--target-compute", metavar="C", help="the budget in FLOPs (read in each row's own C "
        "convention; default 100x the table's largest compute)")] = None,
    json_out: JsonOpt = None,
    figure: Annotated[Path | None, typer.Option(
        "--figure", help="write the figure here (PNG, or SVG/PDF by the suffix)")]
    = Path("conventions.png"),
    no_figure: Annotated[bool, typer.Option("--no-figure", help="write no figure")] = False,
    n_convention: Annotated[str, typer.Option(
        help="what the table's N counts: auto (as the table states, else total) | total | "
             "nonembedding")] = "auto",
    compute_range: Annotated[str | None, typer.Option(
        metavar="LOW,HIGH", help="FLOPs over which a is measured, in each row's own C "
                                 "(default: the data's range)")] = None,
    vocab: Annotated[int, typer.Option(
        help="shape rule (tables without exact counts): vocabulary")] = 32000,
    aspect_ratio: Annotated[float, typer.Option(
        help="shape rule: d_model / n_layer")] = 39.2,
    context: Annotated[int, typer.Option(help="shape rule: context length")] = 2048,
    gamma: Annotated[float | None, typer.Option(
        help="shape rule: N_total = N_E + gamma N_E^(1/3) (default: Pearce & Song's 47491 "
             "with the default shape, else vocab (aspect/12)^(1/3))")] = None,
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", min=0, help="Approach-3 refits for the intervals of a (0: none)")] = 0,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
    confidence: ConfidenceOpt = 0.95,
    column: Annotated[list[str] | None, typer.Option(help="STANDARD=NAME")] = None,
) -> None:
    """How the compute-optimal allocation moves with the counting convention: N total or
    non-embedding, C = 6ND or the full count, Chinchilla's Approach 3 or Kaplan's frontier
    (Pearce & Song 2024; Porian et al. 2024)."""
    start_json(json_out)
    check_confidence(confidence)
    check_choice(n_convention, ("auto", "total", "nonembedding"), "--n-convention",
                 "N convention")
    check_json_dest(json_out)
    target = [] if target_compute is None else parse_compute([target_compute],
                                                             "--target-compute")
    if target_compute is not None and len(target) != 1:
        raise OptionError("--target-compute", "give one budget")
    crange = _range(compute_range)
    fig_path = None if no_figure else figure
    if fig_path is not None:
        from scalinglab.jsonio import check_writable

        check_writable(fig_path, "--figure")
    from scalinglab.accounting.convert import PEARCE_SONG_GAMMA
    from scalinglab.cli.fit_cmds import _data_arg
    from scalinglab.observations import parse_column_overrides
    from scalinglab.plan.conventions import (
        PS_ASPECT_RATIO,
        PS_CONTEXT,
        PS_VOCAB,
        ShapeRule,
        convention_report,
    )

    rule = None
    custom = (vocab, aspect_ratio, context) != (PS_VOCAB, PS_ASPECT_RATIO, PS_CONTEXT)
    if custom or gamma is not None:
        g = gamma if gamma is not None else (None if custom else PEARCE_SONG_GAMMA)
        try:
            rule = ShapeRule.fixed_aspect(vocab, aspect_ratio, context, gamma=g)
        except OptionError as exc:
            raise OptionError("--aspect-ratio", exc.detail) from None
    rep = convention_report(_data_arg(data), target[0] if target else None,
                            n_convention=n_convention,
                            shape_rule=rule, compute_range=crange, bootstrap=bootstrap,
                            seed=seed, confidence=confidence,
                            columns=parse_column_overrides(column))
    print_report(rep)
    if fig_path is not None:
        from scalinglab.report.convention_figures import conventions_figure

        fig = conventions_figure(rep)
        fig.savefig(fig_path, dpi=130)
        note(f"wrote {fig_path}")
    emit_json(json_out, rep.to_dict())


def register(app: typer.Typer) -> None:
    """Add ``conventions`` to the app."""
    app.command("conventions", cls=Command)(conventions_cmd)

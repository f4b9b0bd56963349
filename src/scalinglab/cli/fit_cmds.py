"""CLI: ``scalinglab fit``, ``laws``, ``isoflop``, ``envelope``, ``compare``, ``kaplan`` and
``critical-batch``.

Only typer and the standard library are imported at module level; each command imports the
fit machinery (NumPy, pandas, SciPy) in its body, so ``scalinglab --help`` stays quick.
Results go to stdout, warnings to stderr, and ``--json [PATH|-]`` writes the result as JSON
(:mod:`scalinglab.cli.options`).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scalinglab.cli.options import (
    BOOTSTRAP_QUICK,
    BootstrapOpt,
    Command,
    ConfidenceOpt,
    JsonOpt,
    check_choice,
    check_confidence,
    check_json_dest,
    check_names,
    emit_json,
    parse_compute,
    start_json,
)
from scalinglab.console import Table, console, progress, warn
from scalinglab.errors import OptionError

if TYPE_CHECKING:
    from scalinglab.fit import FitResult

#: the fit objectives (``--loss``), checked before any work
LOSSES = ("huber", "mse", "huber-likelihood")
#: how the bootstrap resamples (``--bootstrap-by``)
BOOTSTRAP_BY = ("auto", "points", "run_id", "group")


def _data_arg(data: str) -> Any:
    """A path, or ``example:NAME`` for a bundled data set (its DataFrame)."""
    if data.startswith("example:"):
        from scalinglab import datasets

        return datasets.load(data.split(":", 1)[1])
    return data


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    a = abs(v)
    return f"{v:.4g}" if (a == 0 or 1e-3 <= a < 1e5) else f"{v:.4e}"


def _estimates(title: str, values: dict[str, float],
               intervals: dict[str, tuple[float, float]], level: str,
               first: str = "quantity", fixed: Collection[str] = ()) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column(first)
    t.add_column("estimate", justify="right")
    if intervals:
        t.add_column(level, justify="right")
    for n, v in values.items():
        row = [f"{n} (fixed)" if n in fixed else n, _fmt(v)]
        if intervals and n in fixed:
            row.append("-")
        elif intervals:
            lo, hi = intervals.get(n, (None, None))
            row.append(f"{_fmt(lo)} - {_fmt(hi)}")
        t.add_row(*row)
    return t


def _profiled_estimates(res: FitResult) -> Table:
    """The parameter table of a profiled fit: estimate, bootstrap interval (marked "not
    informative" where the profile says the parameter is not identified) and the profile
    interval, or "not identified" with the range over which the profile is flat."""
    lvl = f"{res.confidence:.0%}"
    t = Table()
    for c, j in (("parameter", "left"), ("estimate", "right")):
        t.add_column(c, justify=j)
    if res.intervals:
        t.add_column(f"bootstrap {lvl}", justify="right")
    t.add_column(f"profile {lvl}", justify="right")
    for n, v in res.params.items():
        e = res.identification.get(n)
        flat = e is not None and e.get("status") != "identified"
        row = [f"{n} (fixed)" if n in res.fixed else n, _fmt(v)]
        if res.intervals:
            lo, hi = res.intervals.get(n, (None, None))
            row.append("-" if lo is None else f"{_fmt(lo)} - {_fmt(hi)}"
                       + (" [yellow](not informative)[/]" if flat else ""))
        if e is None:
            row.append("-")
        elif flat:
            lo, hi = e.get("flat_range", (None, None))
            row.append(f"[yellow]not identified[/] (flat {_fmt(lo)} - {_fmt(hi)})")
        else:
            row.append(f"{_fmt(e['interval'][0])} - {_fmt(e['interval'][1])}")
        t.add_row(*row)
    return t


def print_fit(res: FitResult) -> None:
    """The estimates, intervals, derived quantities, backtest and warnings as rich tables."""
    lvl = f"{res.confidence:.0%} interval"
    # the formula on a line of its own: as a table title it would wrap to the table's width
    console.print(f"{res.law.name}: {res.law.formula}", highlight=False, soft_wrap=True)
    if res.identification:
        console.print(_profiled_estimates(res))
        pr = res.profile
        console.print(f"profile intervals: likelihood-ratio statistic <= {pr.get('reference')} "
                      f"quantile {pr.get('threshold', float('nan')):.4g}; "
                      f"{pr.get('evaluations')} refits, {pr.get('seconds', 0):.2f} s",
                      highlight=False)
    else:
        console.print(_estimates("", res.params, res.intervals, lvl, first="parameter",
                                 fixed=res.fixed))
    opt = res.optimizer
    console.print(f"objective ({res.loss}, sum over {res.n_points} points): "
                  f"{res.objective:.10g}; {opt.n_starts} starts, "
                  f"{opt.n_at_best}/{opt.n_refined} refined starts at the best; "
                  f"{opt.seconds or 0:.2f} s" + (f"; sigma {res.sigma:.4g}" if res.sigma
                                                       else ""))
    truth = res.provenance.get("entropy_rate")
    if truth is not None and "E" in res.params:
        iv = res.intervals.get("E")
        verdict = "" if not iv else (" (inside its interval)" if iv[0] <= truth <= iv[1]
                                     else " (outside its interval)")
        console.print(f"the source's true entropy rate: {truth:.5f} nats/token; fitted E = "
                      f"{res.params['E']:.5f}{verdict}")
    if res.derived:
        console.print(_estimates("derived", res.derived, res.derived_intervals, lvl))
        vague = [k for k in res.not_identified() if k in res.derived]
        if vague:
            console.print(f"[yellow]not informative[/] (they depend on a parameter these data "
                          f"do not identify): {', '.join(vague)}", highlight=False)
    if res.backtest:
        b = res.backtest
        console.print(f"backtest: fitted on {b.n_train} points with C <= "
                      f"{b.threshold_C:.3g}; on the {b.n_test} points above: mean |rel. "
                      f"error| {b.mean_abs_rel_error:.2%}, max {b.max_abs_rel_error:.2%}"
                      + (f", interval coverage {b.interval_coverage:.0%}"
                         if b.interval_coverage is not None else ""))
    for w in res.warnings:
        warn(w)


def _held(law: str, x: str | None, breaks: int | None, fix: list[str] | None,
          fix_from: Path | None) -> tuple[dict[str, float], dict[str, Any] | None]:
    """The parameters ``--fix`` and ``--fix-from`` hold, validated (errors name the option), and
    a record of the ``--fix-from`` fit for the result's provenance.

    ``--fix-from`` takes every parameter of the saved fit that the law being fitted also has
    (by name); ``--fix NAME=VALUE`` adds parameters or overrides the file's value of one.
    """
    if not fix and fix_from is None:
        return {}, None
    from scalinglab.fit import FitResult
    from scalinglab.fit.core import check_fixed
    from scalinglab.laws import get_law
    from scalinglab.plan.source import parse_params

    lawobj = get_law(law, x=x, breaks=breaks)
    explicit = check_fixed(lawobj, parse_params(",".join(fix), "--fix"), "--fix") if fix else {}
    held: dict[str, float] = {}
    origin = None
    if fix_from is not None:
        src = FitResult.load(fix_from)
        shared = {n: src.params[n] for n in lawobj.param_names if n in src.params}
        if not shared:
            raise OptionError("--fix-from", f"the {src.law.name!r} fit in {fix_from} has "
                              f"parameters {', '.join(src.params)}, none of which law "
                              f"{lawobj.name!r} takes ({', '.join(lawobj.param_names)})")
        taken = {n: v for n, v in shared.items() if n not in explicit}
        held = check_fixed(lawobj, taken, "--fix-from")
        origin = {"fit": str(fix_from), "law": src.law.name, "params": list(held),
                  "source": src.provenance.get("source"),
                  "data_hash": src.provenance.get("data_hash"),
                  "unidentified": src.unidentified()}
    held.update(explicit)
    option = "--fix" if explicit else "--fix-from"
    return check_fixed(lawobj, held, option), origin


def fit_cmd(
    data: Annotated[str, typer.Argument(help="CSV/Parquet/JSON(L) table, a run store (.db), "
                                         "or example:NAME (scalinglab data list)")],
    law: Annotated[str, typer.Option(help="law name (scalinglab laws)")] = "chinchilla",
    x: Annotated[str | None, typer.Option(help="variable of a one-variable law (N, D, C)")
                 ] = None,
    y: Annotated[str | None, typer.Option(
        help="column to fit (default the law's: loss; score for train-test, coverage for "
             "coverage)")] = None,
    breaks: Annotated[int | None, typer.Option(help="number of breaks (bnsl)")] = None,
    loss: Annotated[str, typer.Option(help="huber | mse | huber-likelihood")] = "huber",
    delta: Annotated[float, typer.Option(help="Huber delta (log space)")] = 1e-3,
    bootstrap: BootstrapOpt = BOOTSTRAP_QUICK,
    bootstrap_by: Annotated[str, typer.Option(help="auto | points | run_id | group")] = "auto",
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
    confidence: ConfidenceOpt = 0.95,
    holdout_above: Annotated[float | None, typer.Option(
        help="fit on points with C <= this; backtest on the rest")] = None,
    compute: Annotated[list[str] | None, typer.Option(
        "--compute", metavar="C[,C...]",
        help="also report the compute-optimal N, D and loss at these budgets (FLOPs; "
             "comma-separated or repeated)")] = None,
    column: Annotated[list[str] | None, typer.Option(
        help="map a column: STANDARD=NAME, e.g. loss=val_loss (repeatable)")] = None,
    jobs: Annotated[int | None, typer.Option(help="processes for the bootstrap")] = None,
    fix: Annotated[list[str] | None, typer.Option(
        help="hold parameters at values, NAME=VALUE,... (repeatable); overrides --fix-from "
        "for a parameter both give")] = None,
    fix_from: Annotated[Path | None, typer.Option(
        help="hold every parameter of this saved fit (scalinglab fit --json) that the law "
        "also has, at the fit's values")] = None,
    profile: Annotated[list[str] | None, typer.Option(
        help="profile-likelihood intervals and identification of parameters: NAME,... or "
        "all (repeatable; off by default)")] = None,
    chance: Annotated[float | None, typer.Option(
        help="--law downstream: the metric of random guessing (0.25 for 4-way multiple "
        "choice), for the chance-floor warning")] = None,
    json_out: JsonOpt = None,
) -> None:
    """Fit a scaling law (Approach 3 for chinchilla) with multi-start, bootstrap, diagnostics.

    --law downstream fits two steps (task loss vs --x, default C; then
    the metric --y, default accuracy, vs the loss column) and predicts the
    metric at each --compute with a joint-bootstrap interval
    (scalinglab.fit.downstream).

    --fix and --fix-from hold parameters at given values and fit only the
    others (in the bootstrap too; held parameters get no interval).

    A staged fit, e.g. Muennighoff et al.'s for the data-constrained law:
    fit E, A, B, alpha, beta (the Chinchilla law) on the runs without
    repeated data or excess parameters, then RD and RN (R_D*, R_N*) on all
    runs with those five held:

    scalinglab fit unrepeated.csv --law chinchilla --json stage1.json

    scalinglab fit all.csv --law data-constrained --fix-from stage1.json

    --profile RD,RN (or all) adds profile-likelihood intervals of those
    parameters, and says which the data do not identify (the profile stays
    flat to a bound or over 3 decades).
    """
    # every option is checked before the data are read or anything is fitted
    start_json(json_out)
    check_confidence(confidence)
    check_choice(loss, LOSSES, "--loss", "objective")
    check_choice(bootstrap_by, BOOTSTRAP_BY, "--bootstrap-by", "resampling unit")
    budgets = parse_compute(compute)
    check_json_dest(json_out)
    from scalinglab.fit import fit
    from scalinglab.fit.profile import resolve_names
    from scalinglab.fit.records import Diagnostic
    from scalinglab.laws import get_law
    from scalinglab.observations import parse_column_overrides

    columns = parse_column_overrides(column)
    if law == "downstream":
        for flag, given in (("--fix", fix), ("--fix-from", fix_from), ("--profile", profile),
                            ("--holdout-above", holdout_above), ("--breaks", breaks)):
            if given:
                raise OptionError(flag, "is not used by --law downstream")
        _downstream_cmd(data, x=x or "C", metric="accuracy" if y in (None, "loss") else y,
                        at=budgets, bootstrap=bootstrap, bootstrap_by=bootstrap_by, seed=seed,
                        confidence=confidence, chance=chance, loss=loss, delta=delta,
                        columns=columns, json_out=json_out)
        return
    lawobj = get_law(law, x=x, breaks=breaks)
    held, origin = _held(law, x, breaks, fix, fix_from)
    profiled = resolve_names(lawobj, profile, held, "--profile") if profile else []
    with progress(disable=bootstrap == 0) as bar:
        task = bar.add_task("bootstrap", total=bootstrap or 1)
        res = fit(_data_arg(data), law, x=x, y=y, breaks=breaks, loss=loss, delta=delta,
                  bootstrap=bootstrap, bootstrap_by=bootstrap_by, seed=seed,
                  confidence=confidence, holdout_above=holdout_above,
                  at_compute=budgets, columns=columns,
                  n_jobs=jobs, on_progress=lambda k: bar.advance(task, k), fixed=held,
                  profile=profiled)
    if origin is not None:
        res.provenance["fixed_from"] = origin
        for w in origin["unidentified"][:1]:
            res.warnings.append(Diagnostic("fixed", f"fixed: the values held come from "
                                           f"{origin['fit']}, a fit that warned: {w}"))
    print_fit(res)
    emit_json(json_out, res.to_json())


def _downstream_cmd(data: str, *, json_out: str | None, **options: Any) -> None:
    """``fit --law downstream``: the two-step fit of :mod:`scalinglab.fit.downstream`."""
    from scalinglab.fit.downstream import fit_downstream

    res = fit_downstream(_data_arg(data), **options)
    for line in res.summary().splitlines():
        if not line.startswith("warning: "):
            console.print(line, highlight=False, soft_wrap=True)
    for w in res.warnings:
        warn(w)
    if res.predictions and not res.bootstrap:
        from scalinglab.console import note

        note("no intervals: pass --bootstrap N (e.g. 200) for the joint bootstrap over runs")
    emit_json(json_out, res.to_dict())


def laws_cmd(json_out: JsonOpt = None) -> None:
    """List the laws with their formulas and parameters."""
    from scalinglab.laws import list_laws

    start_json(json_out)
    t = Table(title="scaling laws")
    t.add_column("name", no_wrap=True)
    for c in ("formula", "parameters", "variables", "reference"):
        t.add_column(c)
    laws = list_laws()
    for law in laws:
        t.add_row(law.name, law.formula, ", ".join(law.param_names), ", ".join(law.variables),
                  law.reference)
    console.print(t)
    emit_json(json_out, [{"name": law.name, "formula": law.formula,
                          "parameters": list(law.param_names),
                          "variables": list(law.variables), "reference": law.reference}
                         for law in laws])


def isoflop_cmd(
    data: Annotated[str, typer.Argument(help="table with N, C, loss (or example:NAME)")],
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", min=0, help="bootstrap resamples (runs resampled within each budget; "
        "0: no intervals)")] = BOOTSTRAP_QUICK,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
    confidence: ConfidenceOpt = 0.95,
    budget_tolerance: Annotated[float, typer.Option(
        help="runs whose C agree within this fraction share a budget")] = 0.1,
    window: Annotated[str, typer.Option(
        help="sizes each parabola is fitted to: auto (within 10x of the lowest-loss size), "
             "all (the whole profile) or K (the lowest and K sizes on each side)")] = "auto",
    method: Annotated[str, typer.Option(
        help="parabola (vertex of the window parabola) | akima (minimum of an Akima "
             "interpolant)")] = "parabola",
    noise: Annotated[float | None, typer.Option(
        help="SD of one run's loss (nats) for the lack-of-fit check (default: estimated)")
                     ] = None,
    column: Annotated[list[str] | None, typer.Option(help="STANDARD=NAME")] = None,
    json_out: JsonOpt = None,
) -> None:
    """Chinchilla Approach 2: IsoFLOP profiles, their minima, N_opt ~ C^a and D_opt ~ C^b."""
    start_json(json_out)
    check_confidence(confidence)
    check_choice(method, ("parabola", "akima"), "--method", "method")
    check_json_dest(json_out)
    from scalinglab.fit import isoflop
    from scalinglab.observations import parse_column_overrides

    r = isoflop(_data_arg(data), bootstrap=bootstrap, seed=seed, confidence=confidence,
                budget_tolerance=budget_tolerance, window=window, method=method, noise=noise,
                columns=parse_column_overrides(column))
    t = Table(title="IsoFLOP minima (D_opt = C / (6 N_opt); window: the N range fitted)",
              title_justify="left")
    heads = ["C"] + (["U"] if r.U is not None else []) + [
        "N_opt", "D_opt", "loss", "window", "RMS"]
    for c in heads:
        t.add_column(c, justify="right", no_wrap=True)
    rms = (list(r.rms_residual) if r.rms_residual is not None
           else [math.nan] * len(r.budgets))
    for k in range(len(r.budgets)):
        row = [f"{r.budgets[k]:.3g}"] + ([f"{r.U[k]:.3g}"] if r.U is not None else [])
        row += [f"{r.n_opt[k]:.3g}", f"{r.d_opt[k]:.3g}", f"{r.loss_opt[k]:.4g}"]
        lo, hi = r.windows[k]
        row += [f"{lo:.2g}-{hi:.2g}", "-" if not math.isfinite(rms[k]) else f"{rms[k]:.2g}"]
        t.add_row(*row)
    console.print(t)
    rule = {"auto": "sizes within 10x of the lowest-loss size",
            "all": "the whole profile"}.get(str(r.window),
                                            f"the lowest-loss size and {r.window} on each side")
    how = ("the minimum of an Akima interpolant of the mean loss per size in ln N (the "
           "window's parabola only judges the fit)" if r.method == "akima"
           else "the vertex of a parabola in ln N over a window")
    console.print(f"minimum per budget (method {r.method}): {how}; window {r.window}: {rule}",
                  highlight=False)
    if r.noise is not None:
        src = "given" if noise is not None else "estimated from the default window's residuals"
        console.print(f"noise (SD of one run's loss): {r.noise:.3g} nats, {src}",
                      highlight=False)
    j = r.to_json()
    ai = f" ({_fmt(j['a_interval'][0])} - {_fmt(j['a_interval'][1])})" if j["a_interval"] else ""
    bi = f" ({_fmt(j['b_interval'][0])} - {_fmt(j['b_interval'][1])})" if j["b_interval"] else ""
    console.print(f"N_opt ∝ C^a, a = {j['a']:.4f}{ai};  D_opt ∝ C^b, b = {j['b']:.4f}{bi}")
    for w in r.warnings:
        warn(w)
    emit_json(json_out, j)


def envelope_cmd(
    data: Annotated[str, typer.Argument(help="training curves: run_id, N, C, D, loss per step")],
    column: Annotated[list[str] | None, typer.Option(help="STANDARD=NAME")] = None,
    json_out: JsonOpt = None,
) -> None:
    """Chinchilla Approach 1 and Kaplan's L(C): the lower envelope of training curves."""
    start_json(json_out)
    check_json_dest(json_out)
    from scalinglab.fit import envelope
    from scalinglab.observations import parse_column_overrides

    r = envelope(_data_arg(data), columns=parse_column_overrides(column))
    j = r.to_json()
    console.print(f"N_opt ∝ C^{j['a']:.4f}, D_opt ∝ C^{j['b']:.4f}; frontier "
                  f"L(C) = (Cc/C)^{j['kaplan_alpha_C']:.4f}, Cc = {j['kaplan_Cc']:.4g}")
    for w in getattr(r, "warnings", None) or []:
        warn(w)
    emit_json(json_out, j)


def compare_cmd(
    data: Annotated[str, typer.Argument(help="observation table (or example:NAME)")],
    laws: Annotated[str, typer.Option(help="comma-separated law names")] = "chinchilla,kaplan-nd",
    loss: Annotated[str, typer.Option(help="huber | mse | huber-likelihood")] = "huber",
    x: Annotated[str | None, typer.Option(help="variable of one-variable laws")] = None,
    column: Annotated[list[str] | None, typer.Option(help="STANDARD=NAME")] = None,
    json_out: JsonOpt = None,
) -> None:
    """Compare laws on one data set: AIC/BIC and leave-the-largest-scale-out error."""
    from scalinglab.laws import LAW_NAMES

    start_json(json_out)
    names = check_names(laws, LAW_NAMES, "--laws", "law")
    check_choice(loss, LOSSES, "--loss", "objective")
    check_json_dest(json_out)
    from scalinglab.fit import compare
    from scalinglab.observations import parse_column_overrides

    out = compare(_data_arg(data), names, loss=loss, x=x, columns=parse_column_overrides(column))
    t = Table(title="law comparison (AIC/BIC: Gaussian on log residuals)")
    for c in out.columns:
        t.add_column(c, justify="right")
    for _, row in out.iterrows():
        t.add_row(*[v if isinstance(v, str) else _fmt(float(v)) for v in row])
    console.print(t)
    emit_json(json_out, out.to_dict(orient="records"))


def kaplan_cmd(
    data: Annotated[str, typer.Argument(help="runs (N or D) or learning curves (C)")],
    variable: Annotated[str, typer.Option(help="N, D or C")] = "N",
    column: Annotated[list[str] | None, typer.Option(help="STANDARD=NAME")] = None,
    json_out: JsonOpt = None,
) -> None:
    """Kaplan et al.'s single-variable laws, fitted as the paper did (best loss per level,
    1-layer models excluded; L(C) on the envelope of the curves)."""
    start_json(json_out)
    check_choice(variable, ("N", "D", "C"), "--variable", "variable")
    check_json_dest(json_out)
    from scalinglab.fit.kaplan import kaplan_fit
    from scalinglab.observations import parse_column_overrides

    res = kaplan_fit(_data_arg(data), variable, columns=parse_column_overrides(column))
    print_fit(res)
    emit_json(json_out, res.to_json())


def critical_batch_cmd(
    data: Annotated[str, typer.Argument(help="batch sweep curves: run_id, batch_size (tokens), "
                                         "step, loss")],
    json_out: JsonOpt = None,
) -> None:
    """Critical batch size B_crit(L) = B_star / L^(1/alpha_B) from a batch-size sweep."""
    start_json(json_out)
    check_json_dest(json_out)
    from scalinglab.fit.kaplan import critical_batch
    from scalinglab.observations import read_table

    r = critical_batch(read_table(data))
    t = Table(title="critical batch (tokens): S = S_min (1 + B_crit / B)")
    for c in ("loss", "B_crit", "S_min", "E_min"):
        t.add_column(c, justify="right")
    for row in zip(r.losses, r.b_crit, r.s_min, r.e_min, strict=True):
        t.add_row(*[_fmt(float(v)) for v in row])
    console.print(t)
    console.print(f"B_crit(L) = {r.B_star:.4g} / L^(1/{r.alpha_B:.4f})")
    emit_json(json_out, r.to_json())


def densing_cmd(
    data: Annotated[str, typer.Argument(help="table of models: date, density (or N and score "
                                         "with --reference)")],
    date: Annotated[str, typer.Option(help="release-date column (YYYY-MM-DD)")] = "date",
    density: Annotated[str, typer.Option(help="capability-density column")] = "density",
    reference: Annotated[str | None, typer.Option(
        help="reference-family constants a,alpha,b,beta,c,gamma,l,d[,D0] as NAME=VALUE,... "
        "(density from the N and score columns, Xiao et al. Eqs. 2-4)")] = None,
    origin: Annotated[str | None, typer.Option(help="t = 0 date (default the earliest)")
                      ] = None,
    all_models: Annotated[bool, typer.Option(
        "--all", help="fit every model, not only the running-maximum envelope")] = False,
    confidence: ConfidenceOpt = 0.95,
    json_out: JsonOpt = None,
) -> None:
    """The densing law ln rho_max(t) = A t + B (Xiao et al. 2024): A per day and the doubling
    time of the maximum capability density, with a t interval."""
    start_json(json_out)
    check_confidence(confidence)
    check_json_dest(json_out)
    from scalinglab.laws.densing import fit_densing
    from scalinglab.observations import read_table
    from scalinglab.plan.source import parse_params

    ref = parse_params(reference, "--reference") if reference else None
    r = fit_densing(read_table(data), date=date, density=density, reference=ref,
                    origin=origin, envelope=not all_models, confidence=confidence)
    t = Table(title=f"densing law: ln rho_max = A t + B (t in days since {r.origin})")
    for c in ("A (per day)", "CI", "doubling (days)", "CI", "months", "R^2", "envelope / all"):
        t.add_column(c, justify="right")
    t.add_row(_fmt(r.A), f"{_fmt(r.A_ci[0])} .. {_fmt(r.A_ci[1])}", _fmt(r.doubling_days),
              f"{_fmt(r.doubling_days_ci[0])} .. {_fmt(r.doubling_days_ci[1])}",
              _fmt(r.doubling_months), _fmt(r.r2), f"{r.n_envelope} / {r.n_models}")
    console.print(t)
    for w in r.warnings:
        warn(w)
    emit_json(json_out, r.to_json())


def register(app: typer.Typer) -> None:
    """Add ``fit``, ``laws``, ``isoflop``, ``envelope``, ``compare``, ``kaplan`` and
    ``critical-batch`` to the app."""
    for name, fn in (("fit", fit_cmd), ("laws", laws_cmd), ("isoflop", isoflop_cmd),
                     ("envelope", envelope_cmd), ("compare", compare_cmd),
                     ("kaplan", kaplan_cmd), ("critical-batch", critical_batch_cmd),
                     ("densing", densing_cmd)):
        app.command(name, cls=Command)(fn)

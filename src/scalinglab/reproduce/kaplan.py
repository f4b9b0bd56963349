"""``scalinglab reproduce kaplan``: Kaplan et al. 2020's findings, reproduced in miniature.

:func:`reproduce_kaplan` runs (or resumes) the studies of
:mod:`scalinglab.reproduce.kaplan_design` into ``DIR/runs.db`` through the sweep driver (local
workers or Ray), measures each finding with :mod:`scalinglab.reproduce.kaplan_analysis`, draws
the figures (:mod:`scalinglab.reproduce.kaplan_figures`) and writes ``DIR/findings.json``,
``DIR/report.html`` (one self-contained page) and ``DIR/figures/*.png``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalinglab.console import err_console
from scalinglab.errors import OptionError, ParameterError
from scalinglab.reproduce.findings import Finding
from scalinglab.reproduce.kaplan_design import DEFAULT_DATA, FULL, QUICK, KaplanProfile

TITLE = "Kaplan et al. 2020, reproduced in miniature"


@dataclass
class KaplanReproduction:
    """What :func:`reproduce_kaplan` wrote and found."""

    out: Path
    report: Path
    findings_path: Path
    store: Path
    findings: list[Finding]
    seconds: float
    n_runs: int
    figures: list[Path] = field(default_factory=list)


def _run_studies(specs: list[Any], store: Path, *, workers: int | None, executor: str,
                 address: str | None, show_progress: bool,
                 run_fn: Any | None) -> dict[str, set[str]]:
    from scalinglab.sweep.designs import expand
    from scalinglab.sweep.driver import run_sweep

    by_study: dict[str, set[str]] = {}
    for spec in specs:
        expansion = expand(spec)
        by_study[spec.name] = {r.run_id for r in expansion.runs}
        err_console.print(f"study [bold]{spec.name}[/]: {len(expansion.runs)} runs "
                          f"({spec.description})", highlight=False)
        extra = {"run_fn": run_fn} if run_fn is not None else {}
        summary = run_sweep(spec, store, executor=executor,  # type: ignore[arg-type]
                            workers=workers, address=address, show_progress=show_progress,
                            expansion=expansion, **extra)
        if not summary.complete:
            done = summary.counts.get("completed", 0)
            raise OptionError("reproduce kaplan", f"study {spec.name}: only {done} of "
                              f"{summary.planned} runs completed (failed: "
                              f"{', '.join(summary.failed) or 'none'}); run the same command "
                              "again to resume")
    return by_study


def measure(data: Any, profile: KaplanProfile, *, bootstrap: int, seed: int
            ) -> tuple[list[Finding], dict[str, Any]]:
    """Every finding from the loaded runs (:class:`KaplanData`), and the intermediate results
    the figures need."""
    from scalinglab.reproduce import kaplan_analysis as ka

    sd, sd_rel, n_seeds = ka.seed_noise(data)
    f_ln = ka.finding_ln(data, sd_rel)
    alpha_n = f_ln.measured if f_ln.measured is not None else math.nan
    f_ld = ka.finding_ld(data, sd_rel)
    law = ka.critical_batch_law(data, sd_rel, seed=seed)
    f_b = ka.finding_bcrit(data, law)
    # the S_min and C_min adjustments (Eq. 5.4-5.5) only with a located critical batch (its
    # estimates inside the batch sizes tried), whatever finding 5's verdict against the paper
    usable = ka.bcrit_located(law)
    curves = ka.ladder_curves(data, law if usable else None)
    f_lc = ka.finding_lc(data, ka.ladder_curves(data, law), sd_rel, adjusted=True,
                         extrapolated=None if usable else "B_crit extrapolated or missing")
    f_lc_naive = ka.finding_lc(data, curves, sd_rel, adjusted=False)
    f_lns = ka.finding_lns(curves, bootstrap=bootstrap, seed=seed, alpha_n=alpha_n,
                           noise_rel=sd_rel)
    nd = ka.kaplan_nd_fit(data, bootstrap=bootstrap, seed=seed)
    f_lnd = ka.finding_lnd(data, nd, sd_rel, alpha_n)
    f_shape = ka.finding_shape(data, alpha_n, sd_rel, seed=seed)
    f_pos = ka.finding_position(data)
    f_tr = ka.finding_transfer(data)
    f_alloc = ka.finding_allocation_kaplan(curves, sd_rel)
    f_chin = ka.finding_allocation_chinchilla(data, bootstrap=bootstrap, seed=seed,
                                              alpha_n=alpha_n, noise_rel=sd_rel)
    findings = [f_ln, f_ld, f_lc, f_lc_naive, f_lns, f_b, f_lnd, f_shape, f_pos, f_tr,
                f_alloc, f_chin]
    if f_alloc.measured is not None and f_chin.measured is not None:
        f_chin.extra["Kaplan-style p_N minus Chinchilla-style a"] = (
            f_alloc.measured - f_chin.measured)
    fits = {k: f.extra.pop("_fit", None) for k, f in (("lns", f_lns), ("lnd", f_lnd),
                                                      ("chinchilla", f_chin))}
    state = {"curves": curves, "law": law, "alpha_n": alpha_n, "fits": fits,
             "seed_noise": {"sd": sd, "sd_rel": sd_rel, "n": n_seeds}}
    return findings, state


def _figures(data: Any, state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    from scalinglab.reproduce import kaplan_figures as kf

    curves, fits = state["curves"], state["fits"]
    makers = {
        "LN": lambda: kf.figure_ln(data),
        "LD": lambda: kf.figure_ld(data),
        "LC": lambda: kf.figure_lc(curves),
        "LNS": lambda: kf.figure_lns(curves, fits["lns"]),
        "Bcrit": lambda: kf.figure_bcrit(data, state["law"]),
        "LND": lambda: kf.figure_lnd(data, fits["lnd"]),
        "shape": lambda: kf.figure_shape(data, state["alpha_n"]),
        "position": lambda: kf.figure_position(data),
        "transfer": lambda: kf.figure_transfer(data),
        "allocation": lambda: kf.figure_allocation(curves, fits["chinchilla"]),
    }
    return kf.kaplan_figures(makers)


def _design_html(profile: KaplanProfile, data_name: str, data: Any, seconds: float,
                 noise: dict[str, Any], omitted: dict[str, str]) -> str:
    from scalinglab.report.html import esc, table

    rows = []
    for study, g in data.runs.groupby("study", sort=False):
        rows.append([esc(study), str(len(g)), f"{g['N'].min():.3g}-{g['N'].max():.3g}",
                     f"{g['D'].min():.3g}-{g['D'].max():.3g}",
                     f"{g['B'].min():.0f}-{g['B'].max():.0f}"])
    scale = ("<p><b>Quick mode.</b> Fewer sizes, shorter runs and fewer bootstrap resamples "
             "than the default: intervals are wider and more findings may be not measurable. "
             "Run without <code>--quick</code> (about an hour on 2 cores) for the full study."
             "</p>") if profile.name == "quick" else ""
    noise_txt = (f"{noise['sd']:.4f} nats/byte ({noise['sd_rel']:.2%} of the loss) over "
                 f"{noise['n']} seeds of one model" if noise["n"] >= 2 else
                 "not measured (fewer than 2 seeds)")
    parts = [
        f"<p>Kaplan et al. 2020 (arXiv 2001.08361) trained Transformers of 768 to 1.5e9 "
        f"non-embedding parameters on WebText2 (BPE). Here the same studies run at 1e-4 of "
        f"that scale on <code>{esc(data_name)}</code> with byte tokens: {len(data.runs)} runs, "
        f"{float(data.runs['wall_time_s'].sum()) / 60:.1f} minutes of training in all (this "
        f"command: {seconds / 60:.1f} minutes, runs already in the store reused). Each finding "
        "below is measured on them, with a 95% interval, and judged against the paper's value "
        "by the stated rule.</p>", scale,
        f"<p><b>Seed noise</b> (what every verdict is compared against): {esc(noise_txt)}.</p>",
        "<h3>Studies</h3>",
        table(["study", "runs", "N (non-embedding)", "D (tokens)", "B (tokens/batch)"], rows,
              [False, True, True, True, True]),
        f"<p>Every run: context {profile.context}, peak lr {profile.lr:g} (5% warmup, cosine "
        "decay to 0 over its own tokens), AdamW (beta 0.9/0.95, weight decay 0.1), final "
        f"loss on {profile.final_eval_tokens:,} held-out tokens.</p>",
    ]
    if omitted:
        parts.append("<p>Figures left out: " + esc("; ".join(f"{k}: {v}" for k, v in
                                                         omitted.items())) + "</p>")
    return "\n".join(parts)


def reproduce_kaplan(out: str | Path, *, quick: bool = False, data: str = DEFAULT_DATA,
                     workers: int | None = None, executor: str = "local",
                     address: str | None = None, bootstrap: int | None = None, seed: int = 0,
                     show_progress: bool = True, device: str = "cpu",
                     profile: KaplanProfile | None = None,
                     run_fn: Any | None = None) -> KaplanReproduction:
    """Run (or resume) the reproduction into ``out`` and write its findings and report.

    ``quick`` picks :data:`QUICK` over :data:`FULL`; ``profile`` overrides both (tests use tiny
    ones); ``run_fn`` replaces the trainer (tests; see :func:`scalinglab.sweep.driver.run_sweep`).
    """
    from scalinglab.report.figures import figure_bytes, save_figures
    from scalinglab.reproduce.findings import render_findings_page, write_findings, write_page
    from scalinglab.reproduce.kaplan_analysis import load_kaplan_data
    from scalinglab.reproduce.kaplan_design import kaplan_specs

    if executor not in ("local", "ray"):
        raise ParameterError("executor", f"use local or ray, got {executor!r}")
    if bootstrap is not None and bootstrap < 0:
        raise ParameterError("bootstrap", f"must be >= 0, got {bootstrap}")
    t0 = time.perf_counter()
    profile = profile or (QUICK if quick else FULL)
    if device not in ("cpu", "cuda"):
        raise ParameterError("device", f"use cpu or cuda, got {device!r}")
    specs = kaplan_specs(profile, data, seed, device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / "runs.db"
    by_study = _run_studies(specs, store, workers=workers, executor=executor, address=address,
                            show_progress=show_progress, run_fn=run_fn)
    err_console.print("measuring the findings...")
    kd = load_kaplan_data(store, by_study)
    boot = profile.bootstrap if bootstrap is None else bootstrap
    findings, state = measure(kd, profile, bootstrap=boot, seed=seed)
    figs, omitted = _figures(kd, state)
    files = save_figures(figs, out / "figures", formats=("png",))
    pngs = {k: figure_bytes(f) for k, f in figs.items()}
    seconds = time.perf_counter() - t0
    intro = _design_html(profile, data, kd, seconds, state["seed_noise"], omitted)
    page = render_findings_page(TITLE, findings, figures=pngs, intro=intro)
    report = write_page(out / "report.html", page)
    meta = {"paper": "Kaplan et al. 2020, Scaling Laws for Neural Language Models "
                     "(arXiv 2001.08361)",
            "profile": profile.name, "data": data, "seed": seed, "bootstrap": boot,
            "n_runs": len(kd.runs), "seconds": seconds, "seed_noise": state["seed_noise"],
            "command": f"scalinglab reproduce kaplan --out {out}" + (
                " --quick" if profile.name == "quick" else "")}
    path = write_findings(out / "findings.json", findings, meta)
    return KaplanReproduction(out, report, path, store, findings, seconds, len(kd.runs), files)

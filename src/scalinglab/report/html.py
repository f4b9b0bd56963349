"""The one-file HTML report: plain HTML and inline CSS, figures embedded as base64 PNG.

:func:`render_html` turns an :class:`~scalinglab.report.analysis.Analysis` and its figures into
one self-contained page (no remote resource: it opens offline, from an e-mail, from a CI
artefact): title and headline, the fitted law with its intervals, derived quantities, warnings,
the plan, the backtest, Approach 2 (and 1) summaries, the table of runs, the figures,
conventions and provenance. Every value from the data or the user is HTML-escaped.

The only script is a small inline one that sorts the runs table when a column header is
clicked (``#runs-sort=COLUMN`` or ``#runs-sort=COLUMN:desc`` in the URL sorts it on opening);
without scripts the table reads in the data's order. With ``interactive=True`` (``report
--interactive``, the ``interactive`` extra) the page also holds Plotly versions of the main
figures, with plotly.js inlined (still one file, still offline).

Numbers have one format (:func:`num`): plain for moderate magnitudes, ``1.234×10<sup>11</sup>``
otherwise; an interval (:func:`interval`) writes both ends in the same form.

When the data do not identify the fit (:meth:`~scalinglab.fit.FitResult.unidentified`, or a
profiled parameter that is not identified), a banner leads the headline and every headline
card says that its number is not a result.
"""

from __future__ import annotations

import base64
import html
import math
import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from scalinglab import __version__
from scalinglab.fit.approaches import (
    LACK_OF_FIT_FLOOR,
    LACK_OF_FIT_LEVEL,
    WINDOW_FACTOR,
    IsoFLOPResult,
)
from scalinglab.report.analysis import Analysis, isoflop_members
from scalinglab.report.figures import FIGURES, figure_bytes

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       color: #1d232a; background: #fff; margin: 0; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #e3e7ec; }
h3 { font-size: 1.05em; margin: 18px 0 6px; }
p.sub { color: #5b6673; margin: 0 0 14px; }
.headline { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { background: #f3f6f9; border: 1px solid #dde3ea; border-radius: 8px; padding: 10px 16px;
        min-width: 180px; }
.card .k { color: #5b6673; font-size: 0.85em; }
.card .v { font-size: 1.35em; font-weight: 600; }
.card .i { color: #5b6673; font-size: 0.8em; }
.banner { background: #fdecea; border: 2px solid #c62828; border-radius: 8px; color: #8e1b1b;
          padding: 10px 16px; margin: 16px 0; }
.card.unidentified { border-color: #c62828; }
.card.unidentified .v { color: #8e1b1b; text-decoration: line-through; }
.card .caveat { color: #8e1b1b; font-weight: 600; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort="ascending"]::after { content: " ▲"; }
table.sortable th[aria-sort="descending"]::after { content: " ▼"; }
.runs { max-height: 640px; overflow: auto; border: 1px solid #e3e7ec; }
.runs table { margin: 0; }
.runs thead th { position: sticky; top: 0; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 0.92em; }
th, td { border: 1px solid #dde3ea; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f3f6f9; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { background: #f3f6f9; padding: 1px 4px; border-radius: 3px; font-size: 0.92em; }
ul.warn li { color: #8a4b00; }
ul.note li { color: #5b6673; }
nav { font-size: 0.9em; margin: 10px 0; }
nav a { margin-right: 12px; color: #1f5fa8; text-decoration: none; }
figure { margin: 22px 0; padding: 12px; border: 1px solid #e3e7ec; border-radius: 8px; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: #3a4450; font-size: 0.9em; margin-top: 8px; }
figcaption b { color: #1d232a; }
footer { color: #8893a0; font-size: 0.8em; margin-top: 40px; }
"""


# ============================================================================ formatting
def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _plain(v: float, digits: int) -> bool:
    """Whether ``v`` reads plainly at ``digits`` significant digits (no exponent needed)."""
    a = abs(v)
    return a == 0 or (1e-3 <= a < 1e5 and "e" not in f"{v:.{digits}g}")


def num(value: Any, digits: int = 4, *, sci: bool | None = None) -> str:
    """A number as HTML: plain for moderate magnitudes (``%.{digits}g`` without an exponent),
    ``1.234×10<sup>11</sup>`` otherwise, never ``1.234e+04``. ``sci=True`` writes the
    ``×10<sup>k</sup>`` form whatever the magnitude (0 stays ``0``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return esc(value) if value is not None else "–"
    if not math.isfinite(v):
        return "–"
    if v == 0 or (not sci and _plain(v, digits)):
        return f"{v:.{digits}g}"
    mant, exp = f"{v:.{digits - 1}e}".split("e")
    return f"{mant}×10<sup>{int(exp)}</sup>"


def interval(iv: Sequence[Any] | None, digits: int = 4) -> str:
    """``lo – hi`` with both ends in one form (both plain, or both ``×10<sup>k</sup>``)."""
    if iv is None or len(iv) != 2:
        return "–"
    ends = []
    for x in iv:
        try:
            ends.append(float(x))
        except (TypeError, ValueError):
            return f"{num(iv[0], digits)} – {num(iv[1], digits)}"
    sci = any(math.isfinite(x) and not _plain(x, digits) for x in ends)
    return f"{num(ends[0], digits, sci=sci)} – {num(ends[1], digits, sci=sci)}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]],
          numeric: Sequence[bool] | None = None) -> str:
    """A table from pre-formatted (already escaped) cells."""
    numeric = list(numeric or [False] * len(headers))
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if numeric[i] else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _options_text(options: Mapping[str, Any]) -> str:
    """``k=v, ...`` with floats to 4 significant digits (``1e+18``, not ``9.999999e+17``)."""
    def one(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(one(x) for x in v) + "]"
        return str(v)

    return ", ".join(f"{k}={one(v)}" for k, v in options.items())


def _list(items: Iterable[str], cls: str) -> str:
    lis = "".join(f"<li>{esc(i)}</li>" for i in items)
    return f'<ul class="{cls}">{lis}</ul>' if lis else ""


# ============================================================================ sections
def _truth_card(a: Analysis) -> str:
    """Fitted E beside the source's true entropy rate (synthetic sources)."""
    obs = a.inputs.observations
    if a.fit is None or obs is None or "entropy_rate" not in obs.columns \
            or "E" not in a.fit.params:
        return ""
    rates = obs["entropy_rate"].dropna()
    if rates.empty:
        return ""
    rate = float(rates.iloc[0])
    iv = a.fit.intervals.get("E")
    verdict = ""
    if iv:
        inside = iv[0] <= rate <= iv[1]
        verdict = (f'<div class="i">{a.fit.confidence:.0%} interval {interval(iv)} '
                   f'{"contains" if inside else "misses"} the truth</div>')
    return (f'<div class="card"><div class="k">fitted E vs the source\'s entropy rate '
            f'(nats/token)</div><div class="v">{num(a.fit.params["E"], 4)} vs {num(rate, 4)}'
            f'</div>{verdict}</div>')


def not_identified_reasons(a: Analysis) -> list[str]:
    """Why the report's fit is not a result: its warnings that say the data do not identify it
    (:meth:`~scalinglab.fit.FitResult.unidentified`) and the profiled parameters found not
    identified; empty when it is identified (or there is no fit)."""
    if a.fit is None:
        return []
    bad = list(a.fit.unidentified())
    names = a.fit.not_identified()
    if names and not any(w.startswith("not identified") for w in bad):
        bad.append("the profile likelihood does not identify " + ", ".join(names))
    return bad


def _headline(a: Analysis) -> str:
    cards = []
    bad = not_identified_reasons(a)
    cls = "card unidentified" if bad else "card"
    if a.plans:
        p = a.plans[0]
        lvl = f"{p.level:.0%} interval: " if p.level else ""
        for key, label in (("N_opt", "compute-optimal N"), ("D_opt", "compute-optimal D"),
                           ("loss", "predicted loss (nats/token)")):
            iv = p.intervals.get(key)
            extra = f'<div class="i">{lvl}{interval(iv)}</div>' if iv else ""
            cards.append(f'<div class="{cls}"><div class="k">{esc(label)} at C = '
                         f'{num(p.compute, 3)} FLOPs</div><div class="v">'
                         f'{num(getattr(p, key))}</div>{extra}</div>')
    if a.fit is not None:
        for key in ("a", "b"):
            if key in a.fit.derived:
                iv = a.fit.derived_intervals.get(key)
                extra = f'<div class="i">{a.fit.confidence:.0%} interval: {interval(iv)}</div>' \
                    if iv else ""
                what = "N_opt ∝ C<sup>a</sup>" if key == "a" else "D_opt ∝ C<sup>b</sup>"
                cards.append(f'<div class="{cls}"><div class="k">{what}</div><div class="v">'
                             f'{key} = {num(a.fit.derived[key], 3)}</div>{extra}</div>')
    cards.append(_truth_card(a))
    if bad:  # every card says its number is not a result
        caveat = ('<div class="i caveat">not identified: not a result '
                  '(<a href="#not-identified">why</a>)</div>')
        cards = [c[: -len("</div>")] + caveat + "</div>" if c else c for c in cards]
        cards = [c.replace('<div class="card">', f'<div class="{cls}">', 1) for c in cards]
    out = f'<div class="headline">{"".join(cards)}</div>' if any(cards) else ""
    if bad:
        out = ('<div class="banner" id="not-identified"><b>Not identified.</b> The data do not '
               'determine the fitted law\'s parameters, so the numbers below are not a result: '
               + "; ".join(esc(w) for w in bad) + "</div>" + out)
    return out


def _law_section(a: Analysis) -> str:
    res = a.fit
    if res is None:
        return "<h2 id='law'>Fitted law</h2><p>No law was fitted (see the notes).</p>"
    lvl = f"{res.confidence:.0%} interval"
    has_iv = bool(res.intervals)
    rows = []
    for p in res.law.params:
        row = [f"<code>{esc(p.name)}</code>", num(res.params[p.name], 5)]
        if has_iv:
            row.append(interval(res.intervals.get(p.name), 5))
        row.append(esc(p.doc))
        rows.append(row)
    heads = ["parameter", "estimate", *([lvl] if has_iv else []), "meaning"]
    out = [f"<h2 id='law'>Fitted law: {esc(res.law.name)}</h2>",
           f"<p><code>{esc(res.law.formula)}</code> — {esc(res.law.reference)}</p>",
           table(heads, rows, [False, True, *([True] if has_iv else []), False])]
    opt = res.optimizer or {}
    boot = res.bootstrap or {}
    facts = [f"objective {esc(res.loss)} (δ = {num(res.delta)}) over {res.n_points} points: "
             f"{num(res.objective, 6)}"]
    if opt.get("n_starts"):
        facts.append(f"{opt.get('n_starts')} starts, {opt.get('n_at_best')}/"
                     f"{opt.get('n_refined')} refined starts reached the best")
    if boot:
        facts.append(f"bootstrap: {boot.get('resamples')} resamples of {esc(boot.get('unit'))}"
                     f" ({boot.get('failed', 0)} failed), percentile intervals")
    else:
        facts.append("no bootstrap: no intervals (use --bootstrap R)")
    if a.inputs.fit_path:
        facts.append(f"read from {esc(a.inputs.fit_path)}")
    out.append("<p>" + "; ".join(facts) + ".</p>")
    if res.derived:
        drows = []
        names = {"a": "exponent of N_opt ∝ C^a", "b": "exponent of D_opt ∝ C^b",
                 "G": "N_opt = G (C/6)^a"}
        for k, v in res.derived.items():
            row = [f"<code>{esc(k)}</code>", num(v, 5)]
            if res.derived_intervals:
                row.append(interval(res.derived_intervals.get(k), 5))
            row.append(esc(names.get(k, "")))
            drows.append(row)
        dh = ["quantity", "value", *([lvl] if res.derived_intervals else []), "meaning"]
        out += ["<h3>Derived quantities (allocation exponents)</h3>",
                table(dh, drows, [False, True, *([True] if res.derived_intervals else []),
                                  False])]
    return "\n".join(out)


def _design_section(a: Analysis) -> str:
    """How the study was designed and measured (given by the study, e.g. the demo)."""
    if not a.design:
        return ""
    rows = [[esc(k), esc(v)] for k, v in a.design]
    return "<h2 id='design'>Study design</h2>" + table(["", "what and how it was measured"],
                                                       rows, [False, False])


def _warnings_section(a: Analysis) -> str:
    warns = list(a.warnings)
    if a.fit is not None:
        warns += [f"fit: {w}" for w in a.fit.warnings]
    if a.backtest_fit is not None and a.backtest_fit is not a.fit:
        warns += [f"backtest fit: {w}" for w in a.backtest_fit.warnings]
    if a.isoflop is not None and a.isoflop.warnings:
        warns.append(f"Approach 2: {_iso_warning_summary(a.isoflop)} (listed under Approach 2)")
    for p in a.plans:
        warns += [f"plan: {w}" for w in p.warnings]
    notes = list(a.inputs.notes) + list(a.notes)
    out = ["<h2 id='warnings'>Warnings and notes</h2>"]
    out.append(_list(warns, "warn") if warns else "<p>No warnings.</p>")
    if notes:
        out += ["<h3>Notes</h3>", _list(notes, "note")]
    return "\n".join(out)


def _plan_section(a: Analysis) -> str:
    if not a.plans:
        return ""
    lvl = a.plans[0].level
    heads = ["C (FLOPs)", "N_opt", "D_opt", "tokens per parameter", "predicted loss"]
    if lvl:
        heads = ["C (FLOPs)", "N_opt", f"N_opt {lvl:.0%} interval", "D_opt",
                 f"D_opt {lvl:.0%} interval", "tokens per parameter", "predicted loss",
                 f"loss {lvl:.0%} interval"]
    rows = []
    for p in a.plans:
        if lvl:
            rows.append([num(p.compute), num(p.N_opt), interval(p.intervals.get("N_opt")),
                         num(p.D_opt), interval(p.intervals.get("D_opt")),
                         num(p.tokens_per_param), num(p.loss), interval(p.intervals.get("loss"))])
        else:
            rows.append([num(p.compute), num(p.N_opt), num(p.D_opt), num(p.tokens_per_param),
                         num(p.loss)])
    conv = a.plans[0].conventions
    default = "" if a.options.get("compute") else " (by default 100× the largest C in the data)"
    return "\n".join([
        "<h2 id='plan'>Plan: the compute-optimal model</h2>",
        f"<p>Under the fitted law, for each budget{default}: the model size and token count "
        f"that minimise the predicted loss on the line C = 6ND ({esc(a.plans[0].method)}).</p>",
        table(heads, rows, [True] * len(heads)),
        f"<p>N: {esc(conv.get('N', ''))}; compute: {esc(conv.get('compute', ''))}.</p>"])


def _backtest_section(a: Analysis) -> str:
    res = a.backtest_fit
    if res is None or not res.backtest:
        return ""
    b = res.backtest
    rows = [["held out", f"runs with C &gt; {num(b.get('threshold_C'))}"],
            ["fitted on / predicted", f"{b.get('n_train')} / {b.get('n_test')} runs"],
            ["mean |relative error|", f"{100 * float(b.get('mean_abs_rel_error', 0)):.3g}%"],
            ["max |relative error|", f"{100 * float(b.get('max_abs_rel_error', 0)):.3g}%"],
            ["mean relative error (bias)", f"{100 * float(b.get('bias_rel', 0)):.3g}%"]]
    if "interval_coverage" in b:
        rows.append([f"share inside the {res.confidence:.0%} interval",
                     f"{100 * float(b['interval_coverage']):.0f}%"])
    if res is not a.fit:
        ps = ", ".join(f"{esc(k)} = {num(v)}" for k, v in res.params.items())
        rows.append(["law fitted without them", ps])
    return "\n".join(["<h2 id='backtest'>Backtest on held-out scale</h2>",
                      "<p>The law fitted without the largest compute budget, predicting it.</p>",
                      table(["", ""], rows)])


def _iso_name(iso: IsoFLOPResult, k: int) -> str:
    """Budget k's name as the Approach 2 warnings write it (``budget 1e+18 (U 3e+09)``)."""
    u = None if iso.U is None else float(iso.U[k])
    return f"budget {float(iso.budgets[k]):.3g}" + ("" if u is None else f" (U {u:.3g})")


def _iso_kind(w: str) -> str:
    """What an Approach 2 warning is about: "left out", "lack of fit", "fallback", "U", ""."""
    if ": lack of fit:" in w:
        return "lack of fit"
    if "no minimum inside its window" in w:
        return "fallback"
    if w.startswith("budget ") and ("budget left out" in w or "; skipped" in w):
        return "left out"
    if "split by unique tokens U" in w:
        return "U"
    return ""


def _iso_warning_summary(iso: IsoFLOPResult) -> str:
    """``"2 budgets with lack of fit, 1 budget left out, budgets split by U"``."""
    kinds = [_iso_kind(w) for w in iso.warnings]
    parts = []
    for kind, text in (("left out", "left out (minimum outside the sizes tried, or too few "
                                    "sizes)"),
                       ("lack of fit", "with lack of fit"),
                       ("fallback", "with the three-size fallback")):
        n = kinds.count(kind)
        if n:
            parts.append(f"{n} budget{'s' if n > 1 else ''} {text}")
    if "U" in kinds:
        parts.append("budgets split by unique tokens U")
    n = kinds.count("")
    if n:
        parts.append(f"{n} other warning{'s' if n > 1 else ''}")
    return ", ".join(parts)


def _window_rule(window: Any) -> str:
    if window == "auto":
        return (f"the sizes within a factor {WINDOW_FACTOR:g} of the lowest-loss size, and at "
                "least its neighbour on each side, cut off at the ends of the profile")
    if window == "all":
        return "the whole profile"
    return f"the lowest-loss size and {window} size(s) on each side"


def _approach2_section(a: Analysis) -> str:
    iso = a.isoflop
    if iso is None:
        return ""
    lvl = f"{iso.confidence:.0%}"
    n = len(iso.budgets)
    rms = (np.asarray(iso.rms_residual, float) if iso.rms_residual is not None
           else np.full(n, np.nan))
    flags: list[list[str]] = [[] for _ in range(n)]
    for k in range(n):
        for w in iso.warnings:
            if w.startswith(_iso_name(iso, k) + ":") and _iso_kind(w) in ("lack of fit",
                                                                          "fallback"):
                flags[k].append({"lack of fit": "lack of fit",
                                 "fallback": "three-size fallback"}[_iso_kind(w)])
    has_windows = len(iso.windows) == n
    # the noise each budget was judged against: floored at a fraction of its lowest loss
    lowest = np.asarray(iso.loss_opt, float).copy()
    obs = a.inputs.observations
    if obs is not None and {"C", "loss"} <= set(obs.columns):
        member = isoflop_members(obs, iso)
        L = pd.to_numeric(obs["loss"], errors="coerce").to_numpy(float)
        for k in range(n):
            if (member == k).any():
                lowest[k] = float(np.nanmin(L[member == k]))
    sd = (np.maximum(iso.noise, LACK_OF_FIT_FLOOR * lowest) if iso.noise is not None
          else np.full(n, np.nan))
    rows = []
    for k in range(n):
        row = [num(iso.budgets[k])]
        if iso.U is not None:
            row.append(num(iso.U[k]))
        row += [num(iso.n_opt[k]), num(iso.d_opt[k]), num(iso.loss_opt[k])]
        row.append(f"{num(iso.windows[k][0], 3)} – {num(iso.windows[k][1], 3)}"
                   if has_windows else "–")
        row.append(num(rms[k], 3))
        row.append(num(rms[k] / sd[k], 3))
        row.append(esc(", ".join(flags[k])) or "–")
        rows.append(row)
    heads = (["budget C (FLOPs)"] + (["U (unique tokens)"] if iso.U is not None else [])
             + ["N_opt", "D_opt", "loss at the minimum",
                "N range fitted" if iso.method != "akima" else "window N range (judges the fit)",
                "RMS residual (nats)", "RMS / noise", "flag"])

    def exp_text(pw: Any) -> str:
        s = num(pw.exponent)
        if pw.exponent_interval is not None:
            s += f" ({lvl} interval {interval(pw.exponent_interval)})"
        return s

    rule = _window_rule(iso.window)
    if iso.method == "akima":
        how = ("each budget's minimum is the minimum of an Akima interpolant of the mean loss "
               "per size over ln N, between the two sizes adjacent to the lowest loss; a "
               f"parabola in ln N over a window (window {esc(iso.window)}: {esc(rule)}) only "
               "judges the fit")
    else:
        how = ("each budget's minimum is the vertex of a parabola in ln N fitted by least "
               f"squares to the runs in a window around its lowest loss (window "
               f"{esc(iso.window)}: {esc(rule)}); where that vertex falls outside the window, "
               "the parabola through the 3 sizes around the lowest loss is used instead "
               "(three-size fallback)")
    split = (f"; budgets are split by unique tokens U ({len(np.unique(iso.U))} values): each "
             "(C, U) is a profile of its own" if iso.U is not None else "")
    if iso.noise is not None:
        # the result does not record whether the noise was given; the lack-of-fit warnings
        # say so, and the report's own analysis never gives one
        given = any(_iso_kind(w) == "lack of fit" and ", given);" in w for w in iso.warnings)
        src = ("given" if given else "estimated from the default window's residuals of all "
               "budgets, the median over budgets")
        bar = ("χ²(the budget's degrees of freedom) / those degrees of freedom" if given
               else "F(the budget's degrees of freedom, those of the estimate)")
        judge = (f"<p>Lack of fit: each budget's window parabola's RMS residual (over its "
                 f"residual degrees of freedom) against the noise, the SD of one run's loss: "
                 f"{num(iso.noise, 3)} nats ({src}), floored at {LACK_OF_FIT_FLOOR:.1%} of "
                 f"the budget's lowest loss. A budget is flagged when (RMS / noise)² exceeds "
                 f"the {LACK_OF_FIT_LEVEL:.1%} point of {bar}.</p>")
    else:
        judge = ("<p>Lack of fit: not judged (too few budgets with residual degrees of freedom "
                 "to estimate the noise from); the RMS residuals are shown as they are.</p>")
    out = ["<h2 id='approach2'>Approach 2: IsoFLOP profiles</h2>",
           f"<p>{n} FLOP budgets{split}. Method {esc(iso.method)}: {how}. A budget whose lowest "
           f"loss is at its smallest or largest size is left out. D_opt = C/(6 N_opt). Power "
           f"laws: N_opt ∝ C<sup>a</sup>, a = {exp_text(iso.N_fit)}; D_opt ∝ C<sup>b</sup>, "
           f"b = {exp_text(iso.D_fit)}.</p>",
           judge,
           table(heads, rows, [True] * (len(heads) - 1) + [False])]
    if iso.warnings:
        out.append(f"<p>Approach 2 warnings: {esc(_iso_warning_summary(iso))}.</p>"
                   + _list(iso.warnings, "warn"))
    if a.envelope is not None:
        j = a.envelope.to_json()
        out += ["<h3>Approach 1: envelope of the learning curves</h3>",
                f"<p>N_opt ∝ C<sup>{num(j['a'])}</sup>, D_opt ∝ C<sup>{num(j['b'])}</sup>; "
                f"Kaplan's frontier L(C) = (C<sub>c</sub>/C)<sup>α</sup> with α = "
                f"{num(j['kaplan_alpha_C'])}, C<sub>c</sub> = {num(j['kaplan_Cc'])} FLOPs "
                f"({j['n_frontier_points']} frontier points).</p>"]
    return "\n".join(out)


def _envelope_only(a: Analysis) -> str:
    if a.envelope is None or a.isoflop is not None:
        return ""
    j = a.envelope.to_json()
    return ("<h2 id='approach1'>Approach 1: envelope of the learning curves</h2>"
            f"<p>N_opt ∝ C<sup>{num(j['a'])}</sup>, D_opt ∝ C<sup>{num(j['b'])}</sup>; "
            f"Kaplan's frontier L(C) = (C<sub>c</sub>/C)<sup>α</sup> with α = "
            f"{num(j['kaplan_alpha_C'])}, C<sub>c</sub> = {num(j['kaplan_Cc'])} FLOPs.</p>")


def _sensitivity_section(a: Analysis) -> str:
    """The convention-sensitivity table (:mod:`scalinglab.plan.conventions`)."""
    rep = a.conventions
    if rep is None:
        return ""
    lvl = f"{rep.confidence:.0%}"
    heads = ["N", "C", "allocation", "a (N_opt ∝ C<sup>a</sup>)", f"a {lvl} interval",
             "N_opt", "N_opt (total)", "D_opt", "loss (nats/token)", "notes"]
    rows = []
    for r in rep.rows:
        a_txt = num(r.a) + ("" if r.identified else " <b>not identified</b>")
        rows.append([esc(r.n_convention), esc(r.c_convention), esc(r.allocation), a_txt,
                     interval(r.a_interval), num(r.n_opt), num(r.n_opt_total), num(r.d_opt),
                     num(r.loss), esc("; ".join(r.notes) or "–")])
    crange = ("the data's range" if rep.compute_range is None else
              f"{num(rep.compute_range[0])} – {num(rep.compute_range[1])} FLOPs")
    sp = rep.spread
    spread = (f" Across the identified rows a spans {num(sp['a_min'], 3)} – "
              f"{num(sp['a_max'], 3)} and N_opt at the target (total parameters) varies "
              f"{num(sp.get('n_opt_total_ratio'), 3)}×." if sp else "")
    return "\n".join([
        "<h2 id='sensitivity'>Convention sensitivity</h2>",
        f"<p>The same runs refitted under each counting convention (Pearce &amp; Song 2024; "
        f"Porian et al. 2024): N total or non-embedding; C = 6ND or the full count "
        f"[6 (N<sub>E</sub> + V d) + 12 n<sub>layer</sub> n<sub>ctx</sub> d] D with the "
        f"output head and attention; Chinchilla's Approach 3 or Kaplan's frontier rule "
        f"({esc(rep.frontier_kind or 'none')}). a is measured over {crange} in each row's "
        f"conventions; the target {num(rep.target_compute)} FLOPs is read in each row's own C "
        f"convention; the loss is the Approach-3 law of the row's N convention at (N_opt, "
        f"D_opt).{spread}</p>",
        table(heads, rows, [False, False, False] + [True] * 6 + [False]),
        f"<p>Counts: {esc(rep.counts)}. Shape rule: {esc(rep.shape_rule.source)}.</p>",
        _list(rep.notes, "note"), _sensitivity_figure(rep)])


def _sensitivity_figure(rep: Any) -> str:
    """The convention-sensitivity figure as inline SVG (the page's PNG figures are the
    Figures section's; this one belongs to its table)."""
    import io

    from scalinglab.report.convention_figures import conventions_figure

    buf = io.StringIO()
    conventions_figure(rep).savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.find("<svg"):].replace("<svg ", '<svg style="max-width:100%;height:auto" ', 1)
    # the axes autoscale to their data, so clipping is not needed: drop the clip paths (their
    # url(#...) references) and the metadata block, keeping the page free of url() and links
    svg = re.sub(r'\s*clip-path="url\(#[^)]*\)"', "", svg)
    svg = re.sub(r"<defs>\s*<clipPath.*?</defs>", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>|<!--.*?-->", "", svg, flags=re.S)
    # inline in HTML the parser puts <svg> in its namespace: no xmlns URLs needed
    svg = re.sub(r'\s+xmlns(?::xlink)?="[^"]*"', "", svg)
    # matplotlib's hashed ids ("m48ff9e0f3b") read as numbers in the page's text: number them
    ids = {old: f"sens-{k}" for k, old in enumerate(dict.fromkeys(re.findall(r' id="([^"]+)"',
                                                                           svg)))}
    svg = re.sub(r'( id="|href="#)([^"]+)"', lambda m: m.group(1) + ids.get(m.group(2),
                                                                             m.group(2)) + '"',
                 svg)
    return ('<figure id="fig-sensitivity" class="inline-svg">' + svg + "<figcaption><b>"
            "Convention sensitivity.</b> Left: N_opt against C, each row in its own "
            "conventions; middle: the exponent a of N_opt ∝ C^a with its interval where there "
            "is one (hollow: not identified); right: N_opt at the target budget in total "
            "parameters.</figcaption></figure>")


#: the most runs the runs table lists (the rest are counted; the data file has them all)
MAX_TABLE_RUNS = 2000
#: columns of the runs table, in this order, where the data has them
RUN_COLUMNS = ("run_id", "study", "group", "status", "N", "D", "C", "U", "loss")

SORT_SCRIPT = """
(function () {
  function sortTable(t, col, asc) {
    var ths = t.tHead.rows[0].cells, body = t.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
      var nx = parseFloat(x), ny = parseFloat(y), c;
      if (isNaN(nx) && isNaN(ny)) { c = String(x).localeCompare(String(y)); }
      else if (isNaN(nx)) { c = 1; } else if (isNaN(ny)) { c = -1; } else { c = nx - ny; }
      return asc ? c : -c;
    });
    for (var i = 0; i < ths.length; i++) { ths[i].removeAttribute("aria-sort"); }
    ths[col].setAttribute("aria-sort", asc ? "ascending" : "descending");
    rows.forEach(function (r) { body.appendChild(r); });
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (t) {
    Array.prototype.forEach.call(t.tHead.rows[0].cells, function (th, i) {
      th.addEventListener("click", function () {
        sortTable(t, i, th.getAttribute("aria-sort") !== "ascending");
      });
    });
  });
  var m = /runs-sort=([^:&]+)(?::(asc|desc))?/.exec(decodeURIComponent(location.hash));
  var runs = document.getElementById("runs-table");
  if (m && runs) {
    Array.prototype.forEach.call(runs.tHead.rows[0].cells, function (th, i) {
      if (th.getAttribute("data-col") === m[1]) { sortTable(runs, i, m[2] !== "desc"); }
    });
  }
})();
"""


def _runs_section(a: Analysis) -> str:
    """The runs behind the report, one row each, sortable by any column (click a header)."""
    obs = a.inputs.observations
    if obs is None or obs.empty:
        return ""
    cols = [c for c in RUN_COLUMNS if c in obs.columns]
    df = obs.sort_values("C", kind="stable") if "C" in obs.columns else obs
    shown = df.head(MAX_TABLE_RUNS)
    ratio = {"N", "D"} <= set(cols)
    heads = [*cols, *(["D/N"] if ratio else [])]
    numeric = {c: pd.api.types.is_numeric_dtype(obs[c]) for c in cols}
    th = "".join(f'<th data-col="{esc(h)}" title="click to sort">{esc(h)}</th>' for h in heads)
    body = []
    for _, r in shown.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if numeric[c]:
                f = float(v) if v is not None and not pd.isna(v) else math.nan
                cells.append(f'<td class="num" data-v="{f!r}">{num(f)}</td>')
            else:
                text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                cells.append(f'<td data-v="{esc(text)}">{esc(text)}</td>')
        if ratio:
            q = float(r["D"]) / float(r["N"])
            cells.append(f'<td class="num" data-v="{q!r}">{num(q, 3)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (f" The first {MAX_TABLE_RUNS} of {len(obs)} runs by compute are listed."
            if len(obs) > MAX_TABLE_RUNS else "")
    return "\n".join([
        "<h2 id='runs'>Runs</h2>",
        f"<p>The {len(obs)} runs the report is made from, by compute; click a column header "
        f"to sort by it (again to reverse).{more} Loss in nats per token.</p>",
        f'<div class="runs"><table class="sortable" id="runs-table"><thead><tr>{th}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>"])


def _interactive_section(divs: Mapping[str, str]) -> str:
    if not divs:
        return ""
    out = ["<h2 id='interactive'>Interactive figures</h2>",
           "<p>Plotly versions of the main figures: hover for each run's numbers, drag to "
           "zoom, double-click to reset.</p>"]
    out += [f'<div class="plotly-figure" id="interactive-{esc(k)}">{v}</div>'
            for k, v in divs.items()]
    return "\n".join(out)


def _figures_section(figures: Mapping[str, bytes], omitted: Mapping[str, str]) -> str:
    out = ["<h2 id='figures'>Figures</h2>"]
    for i, (name, png) in enumerate(figures.items(), start=1):
        title, caption = FIGURES.get(name, (name, ""))
        data = base64.b64encode(png).decode("ascii")
        out.append(f'<figure id="fig-{esc(name)}"><img src="data:image/png;base64,{data}" '
                   f'alt="{esc(title)}"><figcaption><b>Figure {i}. {esc(title)}.</b> '
                   f"{esc(caption)}</figcaption></figure>")
    if omitted:
        items = [f"{FIGURES.get(k, (k, ''))[0]}: {v}" for k, v in omitted.items()]
        out += ["<h3>Figures left out</h3>", _list(items, "note")]
    return "\n".join(out)


def _conventions_section(a: Analysis) -> str:
    conv = dict(a.inputs.conventions)
    defaults = {"loss": "nats per token", "C": "FLOPs as recorded (6 N D where derived)"}
    for k, v in defaults.items():
        conv.setdefault(k, v)
    rows = [[f"<code>{esc(k)}</code>", esc(v)] for k, v in conv.items()]
    return "\n".join(["<h2 id='conventions'>Conventions</h2>",
                      "<p>What every number means (from the data and the fit). Loss is in nats "
                      "per token throughout.</p>", table(["quantity", "convention"], rows)])


def _versions() -> str:
    import matplotlib
    import numpy
    import scipy

    return (f"Python {platform.python_version()}, NumPy {numpy.__version__}, SciPy "
            f"{scipy.__version__}, Matplotlib {matplotlib.__version__}")


def _provenance_section(a: Analysis, created: str, command: str | None) -> str:
    inp = a.inputs
    rows = [["data source", esc(inp.source or "–")]]
    if inp.citation:
        rows.append(["citation", esc(inp.citation)])
    if inp.store:
        rows.append(["run store", esc(inp.store)])
    if inp.observations is not None:
        rows.append(["runs shown", str(len(inp.observations))])
        rows.append(["data hash (N, D, C, loss; sha256)", f"<code>{esc(inp.data_hash)}</code>"])
    if inp.curves is not None:
        rows.append(["learning curves", f"{inp.curves['run_id'].nunique()} runs, "
                                        f"{len(inp.curves)} points"])
    if a.fit is not None:
        prov = a.fit.provenance
        rows.append(["fit", esc(inp.fit_path or "fitted for this report")])
        if prov.get("data_hash"):
            rows.append(["fit's data hash", f"<code>{esc(prov['data_hash'])}</code>"])
        if prov.get("options"):
            rows.append(["fit options", f"<code>{esc(_options_text(prov['options']))}</code>"])
        if prov.get("scalinglab_version"):
            rows.append(["fitted with", f"scalinglab {esc(prov['scalinglab_version'])}"])
    rows.append(["report options", f"<code>{esc(_options_text(a.options))}</code>"])
    if command:
        rows.append(["command", f"<code>{esc(command)}</code>"])
    rows += [["report made with", f"scalinglab {esc(__version__)}; {esc(_versions())}"],
             ["date", esc(created)]]
    return "\n".join(["<h2 id='provenance'>Provenance</h2>", table(["", ""], rows)])


# ============================================================================ the page
def page_head(title: str, css: str = "") -> str:
    """The start of every scalinglab page up to its open ``<head>`` (charset, viewport,
    generator, title, the shared CSS plus ``css``); the caller closes the head."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="scalinglab {esc(__version__)}">
<title>{esc(title)}</title>
<style>{CSS}{css}</style>"""


def render_html(analysis: Analysis, figures: Mapping[str, Figure | bytes],
                omitted: Mapping[str, str] | None = None, *, title: str | None = None,
                created: datetime | None = None, command: str | None = None,
                interactive: bool = False) -> str:
    """The report as one self-contained HTML string (figures: Figures or PNG bytes). With
    ``interactive``, Plotly figures too (plotly.js inlined; needs the ``interactive`` extra:
    a :class:`~scalinglab.errors.ParameterError` naming ``pip install 'scalinglab[interactive]'``
    without it)."""
    a = analysis
    plotly_js, divs = "", {}
    if interactive:
        from scalinglab.report.interactive import interactive_figures, plotly_script

        plotly_js, divs = plotly_script(), interactive_figures(a)
    when = (created or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    pngs = {k: (v if isinstance(v, bytes) else figure_bytes(v)) for k, v in figures.items()}
    src = a.inputs.source
    title = title or ("Scaling-law report" + (f": {src}" if src and not src.startswith("<")
                                              else ""))
    sections = [
        ("design", "Study design", _design_section(a)),
        ("law", "Fitted law", _law_section(a)),
        ("warnings", "Warnings", _warnings_section(a)),
        ("plan", "Plan", _plan_section(a)),
        ("backtest", "Backtest", _backtest_section(a)),
        ("approach2", "Approach 2", _approach2_section(a)),
        ("approach1", "Approach 1", _envelope_only(a)),
        ("figures", "Figures", _figures_section(pngs, omitted or {})),
        ("interactive", "Interactive figures", _interactive_section(divs)),
        ("runs", "Runs", _runs_section(a)),
        ("sensitivity", "Convention sensitivity", _sensitivity_section(a)),
        ("conventions", "Conventions", _conventions_section(a)),
        ("provenance", "Provenance", _provenance_section(a, when, command)),
    ]
    nav = "".join(f'<a href="#{k}">{esc(label)}</a>' for k, label, body in sections if body)
    body = "\n".join(s for _, _, s in sections if s)
    law = f" · law {esc(a.fit.law.name)}" if a.fit is not None else ""
    return f"""{page_head(title)}
{f'<script>{plotly_js}</script>' if plotly_js else ""}
</head>
<body>
<main>
<h1>{esc(title)}</h1>
<p class="sub">{esc(a.inputs.source or '')}{law} · {len(pngs)} figures · {esc(when)} ·
scalinglab {esc(__version__)}</p>
{_headline(a)}
<nav>{nav}</nav>
{body}
<footer>Made by scalinglab {esc(__version__)}. Self-contained: no remote resources; one
small inline script sorts the runs table{" (and plotly.js, inlined, draws the interactive "
                                          "figures)" if plotly_js else ""}.</footer>
</main>
<script>{SORT_SCRIPT}</script>
</body>
</html>
"""

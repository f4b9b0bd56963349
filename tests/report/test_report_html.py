"""The HTML report: self-contained, with the fit's numbers, the plan and the figures; and the
inputs and analyses behind it (saved fits, provenance, IsoFLOP detection, backtest split)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from scalinglab import fit
from scalinglab.errors import InputError, OptionError
from scalinglab.report import (
    Analysis,
    Report,
    analyse,
    build_report,
    holdout_threshold,
    load_inputs,
    render_html,
)
from scalinglab.report.html import num
from scalinglab.report.inputs import split_curves

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def test_report_holds_the_fit_the_plan_and_every_figure(iso_report: Report) -> None:
    page = iso_report.path.read_text(encoding="utf-8")
    a = iso_report.analysis
    assert page.startswith("<!DOCTYPE html>") and "<title>Synthetic IsoFLOP study</title>" in page
    # the figures, embedded, one per figure drawn, each a real PNG
    images = IMG.findall(page)
    assert len(images) == len(iso_report.figure_names) == 6
    for b64 in images:
        with Image.open(io.BytesIO(base64.b64decode(b64))) as im:
            assert im.format == "PNG" and im.width > 500 and im.height > 300
    assert "Learning curves: no learning curves" in page  # the one left out, and why
    # the fitted parameters with their intervals, and the allocation exponents
    assert a.fit is not None
    for name, value in a.fit.params.items():
        lo, hi = a.fit.intervals[name]
        assert f"<code>{name}</code></td><td class=\"num\">{num(value, 5)}</td>" in page
        assert f"{num(lo, 5)} – {num(hi, 5)}" in page
    assert f"a = {num(a.fit.derived['a'], 3)}" in page
    # the plan at 100x the largest budget, Approach 2, the backtest, conventions, provenance
    plan = a.plans[0]
    assert plan.compute == pytest.approx(1e21) and num(plan.N_opt) in page
    assert "Approach 2: IsoFLOP profiles" in page and "5 FLOP budgets" in page
    assert "Backtest on held-out scale" in page and "28 / 7 runs" in page
    assert "total parameters (synthetic)" in page
    assert a.inputs.data_hash in page and "scalinglab 0.1.0" in page


def test_report_references_no_remote_resource(iso_report: Report) -> None:
    page = iso_report.path.read_text(encoding="utf-8")
    refs = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', page, flags=re.I)
    assert refs and not [r for r in refs if re.match(r"\s*(https?:)?//", r, flags=re.I)]
    assert "@import" not in page and "url(" not in page
    # one script: the runs table's sorter, inline (no src, nothing fetched)
    assert page.lower().count("<script") == 1 and "<script>" in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, flags=re.I)


def test_values_from_the_data_are_escaped(iso_df: pd.DataFrame) -> None:
    df = iso_df.copy()
    df.attrs["source"] = '<script>alert("x")</script>'
    a = analyse(load_inputs(df), bootstrap=0, backtest=False, approach2=False)
    page = render_html(a, {})
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_saved_fit_round_trip_and_data_hash(tmp_path: Path, iso_df: pd.DataFrame) -> None:
    res = fit(iso_df, bootstrap=4, seed=1)
    path = tmp_path / "fit.json"
    res.save(path)
    a = analyse(load_inputs(iso_df, fit=path), bootstrap=0, approach2=False)
    assert a.fit is not None and a.fit.params == pytest.approx(res.params)
    assert a.fit.draws is not None and a.plans[0].intervals  # intervals from the saved draws
    assert not a.warnings  # same data: the hashes agree
    other = iso_df.assign(loss=iso_df["loss"] * 1.01)
    b = analyse(load_inputs(other, fit=path), bootstrap=0, backtest=False, approach2=False)
    assert any("other data" in w for w in b.warnings)
    with pytest.raises(OptionError, match="--law"):
        analyse(load_inputs(iso_df, fit=path), law="kaplan-nd")


def test_fit_alone_finds_its_data_through_provenance(tmp_path: Path) -> None:
    path = tmp_path / "fit.json"
    fit(_chinchilla(), bootstrap=0).save(path)  # source: the bundled data set
    inp = load_inputs(fit=path)
    assert inp.observations is not None and len(inp.observations) == 240
    assert any("hash" in n and "matches" in n for n in inp.notes)


def _chinchilla() -> pd.DataFrame:
    from scalinglab import datasets

    return datasets.load("chinchilla-240")


def test_fit_alone_without_its_data(tmp_path: Path, iso_df: pd.DataFrame) -> None:
    path = tmp_path / "fit.json"
    fit(iso_df, bootstrap=0).save(path)  # source "<DataFrame>": nothing to read back
    inp = load_inputs(fit=path)
    assert inp.observations is None and inp.notes
    with pytest.raises(OptionError, match="--compute"):
        analyse(inp, bootstrap=0)
    a = analyse(inp, bootstrap=0, compute=[1e20])
    assert a.plans[0].compute == 1e20 and a.isoflop is None


def test_isoflop_structure_is_detected(iso_analysis: Analysis, chin_analysis: Analysis) -> None:
    assert iso_analysis.isoflop is not None and chin_analysis.isoflop is not None
    rng = np.random.default_rng(3)
    scattered = pd.DataFrame({"N": 10 ** rng.uniform(7, 9, 40),
                              "C": 10 ** rng.uniform(17, 20, 40)})
    scattered["D"] = scattered["C"] / (6 * scattered["N"])
    scattered["loss"] = 1.7 + 400 / scattered["N"] ** 0.34 + 410 / scattered["D"] ** 0.28
    a = analyse(load_inputs(scattered), bootstrap=0, backtest=False)
    assert a.isoflop is None and any("Approach 2" in n for n in a.notes)


def test_holdout_threshold_leaves_out_the_largest_budget() -> None:
    C = np.repeat([1e17, 1e18, 1e19], 7)
    assert holdout_threshold(C, 5) == 1e18  # the 7 runs at 1e19 are held out
    spread = np.geomspace(1e17, 1e20, 50)  # no budget holds 3 runs: the top 10%
    thr = holdout_threshold(spread, 5)
    assert thr is not None and (spread > thr).sum() == 5
    assert holdout_threshold(np.repeat([1e17, 1e18], 4), 5) is None  # too few to fit on


def test_a_table_of_curves_gives_observations_and_curves() -> None:
    rows = [{"run_id": r, "S": s, "N": n, "D": 1e6 * s, "loss": 6 - s / 10 - n / 1e8}
            for r, n in (("a", 1e7), ("b", 4e7)) for s in (1, 2, 3)]
    obs, curves = split_curves(pd.DataFrame(rows))
    assert list(obs["S"]) == [3, 3] and curves is not None and len(curves) == 6
    assert np.allclose(curves["C"], 6 * curves["N"] * curves["D"])


def test_build_report_rejects_bad_requests(tmp_path: Path, iso_df: pd.DataFrame) -> None:
    with pytest.raises(OptionError, match=r"^argument out: "):  # a Python parameter
        build_report(iso_df, out=tmp_path / "report.txt")
    with pytest.raises(OptionError):
        build_report(out=tmp_path / "r.html")
    with pytest.raises(InputError, match="no such file"):
        build_report(tmp_path / "missing.csv", out=tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_headline_flags_an_unidentified_fit_and_shows_the_true_entropy(iso_df) -> None:
    from dataclasses import replace

    df = iso_df.copy()
    df["entropy_rate"] = 1.69  # as a synthetic source's runs carry it
    a = analyse(load_inputs(df), bootstrap=8, n_jobs=1)
    page = render_html(a, {})
    assert "not-identified" not in page
    assert "fitted E vs the source's entropy rate" in page and num(1.69, 4) in page
    assert ("contains the truth" in page) == (a.fit.intervals["E"][0] <= 1.69
                                              <= a.fit.intervals["E"][1])
    bad = replace(a.fit, warnings=["ill-conditioned: the Hessian has condition number 1e20; "
                                   "some parameters are not identified", *a.fit.warnings])
    page = render_html(replace(a, fit=bad), {})
    banner = page.index('id="not-identified"')
    assert banner < page.index('class="headline"')
    assert "Not identified." in page and 'class="card unidentified"' in page


def _approach2(page: str) -> str:
    return page[page.index("id='approach2'"):page.index("id='figures'")]


def test_approach2_states_its_method_window_and_residuals(wide_iso_df: pd.DataFrame) -> None:
    from dataclasses import replace
    from html import escape

    from scalinglab.fit.approaches import isoflop

    a = analyse(load_inputs(wide_iso_df), bootstrap=0, backtest=False)
    iso = a.isoflop
    assert iso is not None and (iso.method, iso.window) == ("parabola", "auto")
    assert iso.noise is not None and iso.rms_residual is not None
    page = render_html(a, {})
    sec = _approach2(page)
    assert "a parabola in ln N per budget" not in page
    assert "Method parabola" in sec and "window auto" in sec
    assert "within a factor 10 of the lowest-loss size" in sec
    assert "three-size fallback" in sec and "99.9% point of F" in sec
    assert f"{num(iso.noise, 3)} nats (estimated" in sec
    for k in range(len(iso.budgets)):  # each budget's window, RMS residual and RMS / noise
        lo, hi = iso.windows[k]
        assert f"{num(lo, 3)} – {num(hi, 3)}" in sec
        assert (f'<td class="num">{num(iso.rms_residual[k], 3)}</td><td class="num">'
                f"{num(iso.rms_residual[k] / iso.noise, 3)}</td><td>–</td>") in sec
    assert not iso.warnings and "Approach 2 warnings" not in sec  # none to list
    assert "(listed under Approach 2)" not in page

    akima = render_html(replace(a, isoflop=isoflop(wide_iso_df, method="akima", window=2)), {})
    sec = _approach2(akima)
    assert "Method akima" in sec and "Akima interpolant" in sec
    assert "window 2: the lowest-loss size and 2 size(s) on each side" in sec
    assert "window N range (judges the fit)" in sec

    # the whole profile: the parabola misfits the wide profiles, and the report says which
    whole = isoflop(wide_iso_df, window="all")
    lack = [w for w in whole.warnings if ": lack of fit:" in w]
    assert lack and len(lack) == len(whole.warnings)
    page = render_html(replace(a, isoflop=whole), {})
    sec = _approach2(page)
    assert "window all: the whole profile" in sec
    assert all(escape(w) in sec for w in lack)
    n = len(lack)
    summary = f"{n} budget{'s' if n > 1 else ''} with lack of fit"
    assert f"Approach 2 warnings: {summary}." in sec
    assert sec.count("<td>lack of fit</td>") == n
    assert f"Approach 2: {summary} (listed under Approach 2)" in page


def test_approach2_lists_budgets_split_by_u_and_those_left_out(u_iso_df: pd.DataFrame) -> None:
    # a budget whose runs all lie below its optimum: its lowest loss is at its largest size
    top = u_iso_df[(u_iso_df["C"] == 1e19) & (u_iso_df["U"] == 1e9)].sort_values("N")
    short = top.iloc[:4].assign(C=3e19, run_id=lambda d: d["run_id"] + "s")
    short["D"] = short["C"] / (6 * short["N"])
    df = pd.concat([u_iso_df, short], ignore_index=True)
    a = analyse(load_inputs(df), bootstrap=0, backtest=False)
    iso = a.isoflop
    assert iso is not None and iso.U is not None and len(iso.budgets) == 6
    page = render_html(a, {})
    sec = _approach2(page)
    assert "6 FLOP budgets; budgets are split by unique tokens U (2 values)" in sec
    assert "<th>U (unique tokens)</th>" in sec
    assert sec.count(f'<td class="num">{num(1e9)}</td>') == 3
    assert sec.count(f'<td class="num">{num(3e9)}</td>') == 3
    summary = ("1 budget left out (minimum outside the sizes tried, or too few sizes), budgets "
               "split by unique tokens U")
    assert f"Approach 2 warnings: {summary}." in sec
    assert "budget 3e+19 (U 1e+09): the lowest loss is at the largest size" in sec
    assert f"Approach 2: {summary} (listed under Approach 2)" in page

"""Report gaps of issue 14, each as it was seen and as it is now:

* the report had no table of its runs -> a sortable table (click a header; ``#runs-sort=COL``);
* the loss-vs-compute frontier rose at the top end (1.49 -> 1.75 at C ~ 9e11) -> it is the
  running minimum of loss over compute;
* one interval mixed ``5.955e+04`` and ``2.060×10⁶`` -> one number format;
* headline cards showed unidentified numbers without a caveat -> a banner and a caveat on each;
* run folders were stored relative to where the store was created -> relative to the store;
* interactive figures (plotly) behind a flag, still one self-contained file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalinglab.errors import ParameterError
from scalinglab.fit.approaches import envelope
from scalinglab.report import Analysis, Report, build_report, render_html
from scalinglab.report.figures import loss_compute_figure
from scalinglab.report.html import interval, num

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p), None)
HAS_PLOTLY = True
try:
    import plotly  # noqa: F401
except ImportError:
    HAS_PLOTLY = False


def _dom(url: str, profile: Path) -> str:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--dump-dom", url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False).stdout


def _rows(page: str) -> list[list[str]]:
    """The runs table's rows as lists of the cells' data-v values."""
    body = page[page.index('id="runs-table"'):]
    body = body[body.index("<tbody>"):body.index("</table>")]
    return [re.findall(r'data-v="([^"]*)"', tr) for tr in re.findall(r"<tr>(.*?)</tr>", body)]


# ---------------------------------------------------------------------------- runs table
def test_report_has_a_table_of_its_runs(iso_report: Report) -> None:
    page = iso_report.path.read_text(encoding="utf-8")
    obs = iso_report.analysis.inputs.observations
    assert obs is not None
    assert "<h2 id='runs'>Runs</h2>" in page and 'href="#runs"' in page
    head = page[page.index('id="runs-table"'):page.index("</thead>", page.index('id="runs'))]
    assert re.findall(r'data-col="([^"]+)"', head) == ["run_id", "N", "D", "C", "loss", "D/N"]
    rows = _rows(page)
    assert len(rows) == len(obs) == 35
    by_id = obs.set_index("run_id")
    for r in rows:  # every cell carries the run's exact number for sorting
        run = by_id.loc[r[0]]
        assert [float(x) for x in r[1:5]] == [run["N"], run["D"], run["C"], run["loss"]]
        assert float(r[5]) == pytest.approx(run["D"] / run["N"], rel=1e-12)
    cs = [float(r[3]) for r in rows]
    assert cs == sorted(cs)  # by compute, as the page says
    # sortable by a small inline script; nothing is loaded from anywhere
    assert 'class="sortable"' in page and "sortTable" in page
    assert not re.search(r"<script[^>]+src=", page) and "http://" not in page


def test_runs_table_is_capped_and_says_so(iso_analysis: Analysis, monkeypatch) -> None:
    import scalinglab.report.html as h

    monkeypatch.setattr(h, "MAX_TABLE_RUNS", 10)
    page = render_html(iso_analysis, {})
    assert len(_rows(page)) == 10
    assert "The first 10 of 35 runs by compute are listed." in page


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_runs_table_sorts_in_a_browser(iso_report: Report, tmp_path: Path) -> None:
    url = iso_report.path.resolve().as_uri()
    obs = iso_report.analysis.inputs.observations
    assert obs is not None
    dom = _dom(url + "#runs-sort=loss:desc", tmp_path / "p1")
    losses = [float(r[4]) for r in _rows(dom)]
    assert losses == sorted(obs["loss"], reverse=True)
    assert re.search(r'<th data-col="loss"[^>]*aria-sort="descending"', dom)
    dom = _dom(url + "#runs-sort=N", tmp_path / "p2")
    assert [float(r[1]) for r in _rows(dom)] == sorted(obs["N"])


# ---------------------------------------------------------------------------- frontier
def test_frontier_never_rises_where_the_pointwise_envelope_does() -> None:
    """Two learning curves: the small run ends at C = 1e12 with loss 2.0; beyond it only the
    large run's early steps exist (loss 3.4 at 1.2e12). The pointwise lower envelope rises
    there (the bug: 1.49 -> 1.75 in the issue); the frontier drawn is its running minimum."""
    rows = []
    for rid, N, c0, c1, l0, l1 in (("small", 1e6, 1e10, 1e12, 3.0, 2.0),
                                   ("large", 1e8, 1e11, 1e14, 4.0, 1.5)):
        C = np.geomspace(c0, c1, 20)
        loss = np.exp(np.linspace(np.log(l0), np.log(l1), 20))
        rows += [{"run_id": rid, "N": N, "D": c / (6 * N), "C": c, "loss": v}
                 for c, v in zip(C, loss, strict=True)]
    curves = pd.DataFrame(rows)
    env = envelope(curves)
    assert np.any(np.diff(env.loss) > 0.5)  # the raw envelope does rise
    obs = curves.groupby("run_id").tail(1)
    fig = loss_compute_figure(obs, curves=curves, envelope=env)
    (front,) = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == "frontier"]
    y = np.asarray(front.get_ydata(), float)
    assert np.all(np.diff(y) <= 0)
    np.testing.assert_allclose(y, np.minimum.accumulate(env.loss))
    assert y[-1] == pytest.approx(1.5)


# ---------------------------------------------------------------------------- numbers
def test_one_number_format_in_intervals() -> None:
    assert num(5.955e4) == "5.955×10<sup>4</sup>"  # was "5.955e+04"
    assert interval((5.955e4, 2.06e6)) == "5.955×10<sup>4</sup> – 2.060×10<sup>6</sup>"
    assert interval((1.5, 2.06e6)) == "1.500×10<sup>0</sup> – 2.060×10<sup>6</sup>"
    assert interval((1.7, 1.9)) == "1.7 – 1.9"
    for v in (1e-3, 0.1234, 12345.6, 99999.0, 1e5, 3e21, -4.2e7):
        assert "e+" not in num(v) and "e-" not in num(v)


def test_report_text_has_no_e_notation(iso_analysis: Analysis) -> None:
    fit = iso_analysis.fit
    assert fit is not None
    wide = replace(fit, intervals={**fit.intervals, "B": (5.955e4, 2.06e6)})
    page = render_html(replace(iso_analysis, fit=wide), {})
    assert "5.9550×10<sup>4</sup> – 2.0600×10<sup>6</sup>" in page  # the law table: 5 digits
    text = re.sub(r"<style>.*?</style>|<script>.*?</script>|<code>.*?</code>|data-v=\"[^\"]*\"",
                  "", page, flags=re.S)
    assert not re.search(r"\d[eE][+-]?\d", text)


# ---------------------------------------------------------------------------- identification
def test_headline_cards_of_an_unidentified_fit_carry_the_caveat(iso_analysis: Analysis) -> None:
    fit = iso_analysis.fit
    assert fit is not None
    page = render_html(iso_analysis, {})
    assert "not-identified" not in page and 'class="i caveat"' not in page
    # a profile that finds a parameter not identified, and no warning that says so
    ident = {"beta": {"status": "not identified", "flat_range": [0.1, 0.9],
                      "derived": ["a", "b"]}}
    bad = replace(fit, identification=ident, warnings=[])
    page = render_html(replace(iso_analysis, fit=bad), {})
    head = page[:page.index("<nav>")]
    assert head.index('id="not-identified"') < head.index('class="headline"')
    assert "the profile likelihood does not identify beta, a, b" in head
    cards = re.findall(r'<div class="card[^"]*">', head)
    assert cards and all(c == '<div class="card unidentified">' for c in cards)
    assert head.count("not identified: not a result") == len(cards)


# ---------------------------------------------------------------------------- store paths
def test_a_copied_store_points_to_its_own_run_folders(tmp_path: Path, monkeypatch) -> None:
    """A sweep run from one folder with a store elsewhere (``--store orig/runs.db``) used to
    record ``orig/runs.db.runs/ID``, relative to the working folder: a copy of ``orig`` opened
    from anywhere else pointed to the wrong place. Now the store records the run folder
    relative to itself."""
    import sqlite3

    from scalinglab.store import PlannedRun, RunStore

    monkeypatch.chdir(tmp_path)
    (tmp_path / "orig").mkdir()
    run = PlannedRun({"n_params": 1000, "tokens": 6000, "seed": 0}, {"group": "g"})
    with RunStore(Path("orig/runs.db")) as store:
        store.register_study("s", {"design": "grid"}, [run])
        folder = store.runs_dir() / run.run_id  # as the sweep driver names it
        assert str(folder) == f"orig/runs.db.runs/{run.run_id}"
        folder.mkdir(parents=True)
        store.start_run(run.run_id, out_dir=str(folder))
    raw = sqlite3.connect("orig/runs.db").execute("SELECT out_dir FROM runs").fetchone()[0]
    assert raw == f"runs.db.runs/{run.run_id}"  # relative to the store's folder
    shutil.copytree(tmp_path / "orig", tmp_path / "elsewhere" / "copy")
    monkeypatch.chdir(tmp_path / "elsewhere")
    with RunStore(Path("copy/runs.db"), readonly=True) as store:
        out = Path(store.get(run.run_id).out_dir or "")
    assert out == Path("copy/runs.db.runs") / run.run_id and out.is_dir()


def test_old_absolute_run_folders_stay_readable(store_path: Path, tmp_path: Path) -> None:
    import sqlite3

    from scalinglab.store import RunStore

    db = tmp_path / "runs.db"
    shutil.copyfile(store_path, db)
    con = sqlite3.connect(db)
    rid = con.execute("SELECT run_id FROM runs LIMIT 1").fetchone()[0]
    elsewhere = tmp_path / "kept"
    elsewhere.mkdir()
    rid2 = con.execute("SELECT run_id FROM runs LIMIT 1 OFFSET 1").fetchone()[0]
    gone = "/nowhere/at/all/runs.db.runs/" + rid2
    con.execute("UPDATE runs SET out_dir = ? WHERE run_id = ?", (str(elsewhere), rid))
    con.execute("UPDATE runs SET out_dir = ? WHERE run_id = ?", (gone, rid2))
    con.commit()
    con.close()
    with RunStore(db, readonly=True) as store:
        assert store.get(rid).out_dir == str(elsewhere)  # an existing absolute path, as is
        # a store copied from another machine: its own runs folder
        assert store.get(rid2).out_dir == str(tmp_path / "runs.db.runs" / rid2)


# ---------------------------------------------------------------------------- interactive
@pytest.mark.skipif(not HAS_PLOTLY, reason="plotly (the interactive extra) is not installed")
def test_interactive_report_is_one_self_contained_file(iso_analysis: Analysis,
                                                       tmp_path: Path) -> None:
    page = render_html(iso_analysis, {}, interactive=True)
    assert page.count('<div class="plotly-figure"') == 2
    assert 'id="interactive-loss_vs_compute"' in page and 'id="interactive-isoflop"' in page
    assert not re.search(r"<script[^>]+src=", page)
    assert len(page) > 1_000_000 and "Plotly.newPlot" in page  # plotly.js itself is inlined
    if CHROMIUM is not None:  # and it draws, offline
        f = tmp_path / "interactive.html"
        f.write_text(page, encoding="utf-8")
        dom = _dom(f.resolve().as_uri(), tmp_path / "p")
        assert dom.count('class="main-svg"') >= 2


def test_interactive_without_plotly_names_the_pip_command(iso_df: pd.DataFrame, tmp_path: Path,
                                                          monkeypatch, cli) -> None:
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    import scalinglab.report.build as build

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the missing extra must be said before any work")

    monkeypatch.setattr(build, "load_inputs", no_work)
    monkeypatch.setattr(build, "analyse", no_work)
    with pytest.raises(ParameterError, match=r"pip install 'scalinglab\[interactive\]'"):
        build_report(iso_df, out=tmp_path / "r.html", interactive=True)
    iso_df.to_csv(tmp_path / "runs.csv", index=False)
    code, _, err = cli("report", str(tmp_path / "runs.csv"), "--out", str(tmp_path / "r.html"),
                       "--interactive")
    assert code == 2
    assert "option --interactive" in err and "pip install 'scalinglab[interactive]'" in err
    assert not (tmp_path / "r.html").exists()

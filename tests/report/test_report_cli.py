"""``scalinglab report``: writes the file from a run store, a table or a saved fit, and fails
with one clear message (exit 2) on bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from scalinglab import fit

Cli = Callable[..., tuple[int, str, str]]


def test_report_from_a_run_store(cli: Cli, store_path: Path, tmp_path: Path,
                                 fast_png: None) -> None:
    out = tmp_path / "out" / "report.html"
    code, stdout, stderr = cli("report", "--store", str(store_path), "--out", str(out),
                               "--bootstrap", "0", "--compute", "1e18", "--compute", "1e19")
    assert code == 0, stderr
    assert f"wrote {out} (7 figures)" in stdout
    assert "plan at C = 1.000e18 FLOPs" in stdout
    page = out.read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') == 7
    assert "Learning curves" in page and "Approach 1: envelope" in page
    assert "runs.db" in page and "scalinglab report --store" in page  # provenance
    plan = page[page.index("id='plan'"):page.index("id='backtest'")]
    assert plan.count("<tr>") == 3  # the header and the two budgets asked for
    assert "1.000×10<sup>18</sup>" in plan and "1.000×10<sup>19</sup>" in plan


def test_report_from_a_table_and_a_saved_fit(cli: Cli, iso_df: pd.DataFrame, tmp_path: Path,
                                             fast_png: None) -> None:
    data = tmp_path / "runs.csv"
    iso_df.to_csv(data, index=False)
    fit_json = tmp_path / "fit.json"
    fit(str(data), bootstrap=0).save(fit_json)
    out = tmp_path / "report.html"
    code, _, stderr = cli("report", str(data), "--fit", str(fit_json), "--out", str(out),
                               "--no-backtest", "--approach2", "no")
    assert code == 0, stderr
    page = out.read_text(encoding="utf-8")
    assert page.count("<img ") == 4  # loss-compute, allocation, contours, residuals
    assert "runs.csv" in page and str(fit_json) in page
    # the fit alone: its data comes back through its provenance (the CSV, unchanged)
    code, _, stderr = cli("report", "--fit", str(fit_json), "--out", str(out),
                          "--no-backtest", "--approach2", "no")
    assert code == 0, stderr
    assert "data read from the fit&#x27;s provenance" in out.read_text(encoding="utf-8")


def test_missing_input_is_one_clear_error(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, _, err = cli("report", str(tmp_path / "nope.csv"), "--out", str(out))
    assert code == 2 and "nope.csv" in err and "no such file" in err
    assert "Traceback" not in err
    code, _, err = cli("report", "--store", str(tmp_path / "nope.db"), "--out", str(out))
    assert code == 2 and "nope.db" in err
    code, _, err = cli("report", "--fit", str(tmp_path / "nope.json"), "--out", str(out))
    assert code == 2 and "nope.json" in err
    code, _, err = cli("report", "--out", str(out))
    assert code == 2 and "DATA" in err
    assert not out.exists()


def test_bad_options(cli: Cli, iso_df: pd.DataFrame, tmp_path: Path) -> None:
    data = tmp_path / "runs.csv"
    iso_df.to_csv(data, index=False)
    code, _, err = cli("report", str(data), "--out", str(tmp_path / "report.pdf"))
    assert code == 2 and "--out" in err
    code, _, err = cli("report", str(data), "--out", str(tmp_path / "r.html"), "--approach2",
                       "maybe")
    assert code == 2 and "--approach2" in err
    code, _, err = cli("report", str(data), "--out", str(tmp_path / "r.html"), "--compute",
                       "-5")
    assert code == 2 and "--compute" in err


def test_no_figure_possible(cli: Cli, iso_df: pd.DataFrame, tmp_path: Path) -> None:
    one_var = fit(iso_df, "power", x="C")  # a law of C alone, and no data to show
    path = tmp_path / "power.json"
    one_var.save(path)
    out = tmp_path / "report.html"
    code, _, err = cli("report", "--fit", str(path), "--out", str(out))
    assert code == 2 and "no figure can be drawn" in err and "not a function of N and D" in err
    assert "Traceback" not in err
    assert not out.exists()

"""The report renders in a real browser: headless Chromium takes a screenshot (kept as a test
artefact in ``artifacts/report/``) and dumps the DOM, and both show the figures.

Skipped when Chromium is not installed (Debian: ``apt-get install -y chromium``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from scalinglab.report import Report

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "report"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def test_report_renders_in_chromium(iso_report: Report, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    html = ARTIFACTS / "report.html"
    shutil.copyfile(iso_report.path, html)
    url = html.resolve().as_uri()
    shot = ARTIFACTS / "report-screenshot.png"
    shot.unlink(missing_ok=True)

    proc = _run([f"--screenshot={shot}", "--window-size=1280,4000", url], tmp_path / "p1")
    assert shot.exists(), f"no screenshot: {proc.stderr[-2000:]}"
    img = imread(shot)  # float RGBA in [0, 1]
    assert img.shape[:2] == (4000, 1280)
    rgb = (img[::2, ::2, :3] * 255).astype(np.uint8)
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    assert len(colours) > 2000, "the page looks blank"
    # text and tables are grey: the saturated colours are the plots' (viridis, plasma, ...)
    saturated = (rgb.max(axis=2).astype(int) - rgb.min(axis=2)) > 80
    assert len(np.unique(rgb[saturated], axis=0)) > 500, "no coloured figure on the page"
    half = len(saturated) // 2
    assert saturated[half:].mean() > 0.005  # the figures, below the tables

    dom = _run(["--dump-dom", url], tmp_path / "p2").stdout
    assert "<h1>Synthetic IsoFLOP study</h1>" in dom
    assert dom.count('<img src="data:image/png;base64,') == len(iso_report.figure_names)
    assert "Figure 6. Backtest on held-out scale." in dom

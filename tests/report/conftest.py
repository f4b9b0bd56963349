"""Fixtures of the report tests: synthetic IsoFLOP tables, a small run store with learning
curves, and analyses/reports built once per session (rendering figures is the slow part).

The ``report`` command is registered on the CLI app here when the app does not have it yet,
so the CLI tests run before and after ``scalinglab.cli`` registers it itself.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalinglab.cli import app, report_cmds
from scalinglab.laws import chinchilla_allocation, get_law
from scalinglab.laws import published as pub
from scalinglab.report import Analysis, Report, analyse, load_inputs, write_report

if "report" not in {c.name for c in app.registered_commands}:
    report_cmds.register(app)

#: true parameters of the synthetic data (Hoffmann et al.'s published fit)
TRUE = dict(pub.CHINCHILLA_HOFFMANN)
BUDGETS = (1e17, 3e17, 1e18, 3e18, 1e19)


def _tiny_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(buf, format="PNG")
    return buf.getvalue()


TINY_PNG = _tiny_png()


def isoflop_table(budgets: tuple[float, ...] = BUDGETS, sizes: int = 7, noise: float = 0.003,
                  seed: int = 0, span: float = 8.0, scale: float = 1.0) -> pd.DataFrame:
    """Runs at each budget over sizes 1/span x .. span x the true optimum, loss from the true
    law (times ``scale``) with multiplicative noise."""
    law = get_law("chinchilla")
    rng = np.random.default_rng(seed)
    rows = []
    for C in budgets:
        n0, _ = chinchilla_allocation(TRUE, C)
        for f in np.geomspace(1 / span, span, sizes):
            N = float(n0 * f)
            D = C / (6 * N)
            loss = scale * float(law.predict(TRUE, N=N, D=D)) * (1 + rng.normal(0, noise))
            rows.append({"N": N, "D": D, "C": C, "loss": loss, "run_id": f"r{len(rows)}"})
    df = pd.DataFrame(rows)
    df.attrs["conventions"] = {"N": "total parameters (synthetic)", "C": "6 N D",
                               "D": "tokens", "loss": "synthetic, nats/token"}
    return df


def make_store(path: Path, budgets: tuple[float, ...] = (1e15, 3e15, 1e16),
               sizes: int = 5, noise: float = 0.004, seed: int = 1) -> Path:
    """A run store with an IsoFLOP study: completed runs and their learning curves (the true
    law along the run, with multiplicative noise)."""
    from scalinglab.store import PlannedRun, RunStore

    law = get_law("chinchilla")
    rng = np.random.default_rng(seed)
    planned, metrics, curves = [], [], []
    for C in budgets:
        n0, _ = chinchilla_allocation(TRUE, C)
        for f in np.geomspace(1 / 4, 4, sizes):
            N = float(round(n0 * f))
            D = int(C / (6 * N))
            planned.append(PlannedRun({"n_params": N, "tokens": D, "seed": 0},
                                      {"group": f"C={C:.3g}", "C_budget": C,
                                       "n_convention": "total"}))
            curve = [{"step": 0, "tokens": 0, "flops": 0.0, "train_loss": None,
                      "val_loss": 10.0, "lr": 0.0}]
            curve += [{"step": i + 1, "tokens": float(t), "flops": 6.0 * N * t,
                       "train_loss": None,
                       "val_loss": float(law.predict(TRUE, N=N, D=t)) * (1 + rng.normal(0, noise)),
                       "lr": 1e-3} for i, t in enumerate(np.geomspace(D / 64, D, 7).round())]
            curves.append(curve)
            metrics.append({"params_total": N, "params_nonembedding": 0.8 * N, "tokens": D,
                            "final_val_loss": curve[-1]["val_loss"]})
    with RunStore(path) as store:
        store.register_study("iso", {"design": "isoflop"}, planned)
        for run, m, curve in zip(planned, metrics, curves, strict=True):
            store.start_run(run.run_id, out_dir=str(path.parent / run.run_id))
            store.complete_run(run.run_id, m, curve)
    return path


@pytest.fixture(scope="session")
def iso_df() -> pd.DataFrame:
    return isoflop_table()


@pytest.fixture(scope="session")
def wide_iso_df() -> pd.DataFrame:
    """Profiles over a factor 4096 in N (13 sizes, a factor 2 apart): the default window (sizes
    within 10x of the lowest-loss size) holds 7 of them."""
    return isoflop_table(BUDGETS[::2], sizes=13, span=64.0, noise=0.002)


@pytest.fixture(scope="session")
def u_iso_df() -> pd.DataFrame:
    """Two unique-token counts U at each of three budgets: six profiles, two per C (the
    second U's losses 3% higher)."""
    one = isoflop_table(BUDGETS[::2], sizes=9, span=16.0, noise=0.002).assign(U=1e9)
    two = isoflop_table(BUDGETS[::2], sizes=9, span=16.0, noise=0.002, seed=1,
                        scale=1.03).assign(U=3e9)
    df = pd.concat([one, two], ignore_index=True)
    df["run_id"] = [f"r{i}" for i in range(len(df))]
    return df


@pytest.fixture(scope="session")
def chin_df() -> pd.DataFrame:
    from scalinglab import datasets

    return datasets.load("chinchilla-240")


@pytest.fixture(scope="session")
def iso_analysis(iso_df: pd.DataFrame) -> Analysis:
    return analyse(load_inputs(iso_df), bootstrap=8, n_jobs=1)


@pytest.fixture(scope="session")
def chin_analysis(chin_df: pd.DataFrame) -> Analysis:
    return analyse(load_inputs(chin_df), bootstrap=0)


@pytest.fixture(scope="session")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("store") / "runs.db")


@pytest.fixture(scope="session")
def iso_report(tmp_path_factory: pytest.TempPathFactory, iso_analysis: Analysis) -> Report:
    """The report of the synthetic IsoFLOP study (written once, read by several tests)."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    return write_report(iso_analysis, out, title="Synthetic IsoFLOP study")


@pytest.fixture
def fast_png(monkeypatch: pytest.MonkeyPatch) -> None:
    """Embed a 1x1 PNG instead of rendering each figure (for tests of the command's wiring;
    rendering is tested by ``iso_report`` and the Chromium test)."""
    import scalinglab.report.build as build

    monkeypatch.setattr(build, "figure_bytes", lambda fig: TINY_PNG)

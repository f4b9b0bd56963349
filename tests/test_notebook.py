"""``examples/quickstart.ipynb`` runs from top to bottom (nbclient, a fresh kernel) and shows
the right numbers: the fit matches Epoch's published optimum on the same 240 runs, the
predictions and the plan follow from the fitted parameters in closed form.

Skipped when nbclient, nbformat or ipykernel is not installed (the ``dev`` extra has them).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from fixtures import published as F  # noqa: E402
from scalinglab.laws import chinchilla_allocation  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


@pytest.fixture(scope="module")
def executed() -> dict[str, dict[str, Any]]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    cells = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            (tag,) = cell.metadata["tags"]
            cells[tag] = cell
    return cells


def _text(cell: dict[str, Any], mime: str = "text/plain") -> str:
    out = []
    for o in cell["outputs"]:
        assert o["output_type"] != "error", o
        if o["output_type"] == "stream":
            out.append(o["text"])
        elif mime in o.get("data", {}):
            out.append(o["data"][mime])
    return "".join(out)


def _estimates(cell: dict[str, Any]) -> dict[str, tuple[float, float, float]]:
    """``name -> (estimate, lower, upper)`` from the to_frame() cell's printed DataFrame."""
    rows = re.findall(r"^(\w+)\s+(?:parameter|derived)\s+(\S+)\s+(\S+)\s+(\S+)\s*$",
                      _text(cell), flags=re.M)
    return {n: (float(e), float(lo), float(hi)) for n, e, lo, hi in rows}


def test_every_cell_runs(executed: dict[str, dict[str, Any]]) -> None:
    assert list(executed) == ["load", "fit", "summary", "frame", "predict", "plan", "figure"]
    for cell in executed.values():
        assert all(o["output_type"] != "error" for o in cell["outputs"])
    assert "240 runs" in _text(executed["load"])


def test_fit_shows_one_screen_and_rich_html(executed: dict[str, dict[str, Any]]) -> None:
    text = _text(executed["fit"])
    assert text.startswith("FitResult(law='chinchilla', n_points=240")
    assert len(text.splitlines()) <= 25 and len(text) < 2500
    assert all(len(line) <= 110 for line in text.splitlines())
    html = _text(executed["fit"], "text/html")
    assert html.startswith("<div>") and "<table>" in html and "alpha" in html
    summary = _text(executed["summary"])
    assert "warnings (" in summary and "conventions:" in summary
    assert "Hoffmann et al. 2022" in summary


def test_fit_matches_epochs_published_optimum(executed: dict[str, dict[str, Any]]) -> None:
    """Besiroglu et al. 2024 (Epoch) report the optimum of the same Huber objective on the
    same 240 runs: E 1.8172, A 477.84, B 2143.86, alpha 0.34731, beta 0.36718."""
    est = _estimates(executed["frame"])
    for name, want in F.CHINCHILLA_EPOCH_GRID.items():
        value, lo, hi = est[name]
        assert value == pytest.approx(want, rel=2e-3 if name in ("A", "B") else 2e-4)
        assert lo < value < hi
    # the allocation exponents a = beta/(alpha+beta), b = alpha/(alpha+beta)
    al, be = est["alpha"][0], est["beta"][0]
    assert est["a"][0] == pytest.approx(be / (al + be), abs=2e-6)
    assert est["b"][0] == pytest.approx(al / (al + be), abs=2e-6)


def test_predict_on_a_dataframe_is_the_law(executed: dict[str, dict[str, Any]]) -> None:
    p = {k: v[0] for k, v in _estimates(executed["frame"]).items()}
    rows = re.findall(r"^\d+\s+(\w+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", _text(executed["predict"]),
                      flags=re.M)
    assert [r[0] for r in rows] == ["Chinchilla", "Gopher"]
    for _, N, D, loss in rows:
        n, d = float(N), float(D)
        law = p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]
        assert float(loss) == pytest.approx(law, rel=1e-4)
    # Chinchilla beats Gopher at a quarter of the parameters (Hoffmann et al.'s point)
    assert float(rows[0][3]) < float(rows[1][3])


def test_plan_from_the_in_memory_fit(executed: dict[str, dict[str, Any]]) -> None:
    p = {k: v[0] for k, v in _estimates(executed["frame"]).items()}
    text = _text(executed["plan"])
    m = re.search(r"N_opt = (\S+) parameters, D_opt = (\S+) tokens, loss = (\S+) nats", text)
    assert m is not None, text
    N, D, L = (float(x) for x in m.groups())
    n_closed, d_closed = chinchilla_allocation(p, 5.76e23)  # Hoffmann et al. Eq. 4
    assert N == pytest.approx(float(n_closed), rel=2e-3)
    assert D == pytest.approx(float(d_closed), rel=2e-3)
    assert 6 * N * D == pytest.approx(5.76e23, rel=2e-3)
    assert L == pytest.approx(p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"],
                              abs=2e-4)
    iv = re.search(r"95% interval of N_opt: (\S+) to (\S+)", text)
    assert iv is not None and float(iv.group(1)) < N < float(iv.group(2))
    assert math.isfinite(L)


def test_the_figure_is_drawn(executed: dict[str, dict[str, Any]]) -> None:
    images = [o for o in executed["figure"]["outputs"] if "image/png" in o.get("data", {})]
    assert len(images) == 1 and len(images[0]["data"]["image/png"]) > 10_000

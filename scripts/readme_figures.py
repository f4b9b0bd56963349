"""Regenerate the README's figures of ``scalinglab reproduce kaplan --quick``.

Usage (after ``scalinglab reproduce kaplan --quick --out kaplan-quick``)::

    python scripts/readme_figures.py kaplan-quick

It re-measures the findings from ``kaplan-quick/runs.db`` (no training) and writes the
headline figures to ``docs/images/kaplan/`` at a resolution that keeps them under 500 KB in
all, for the README's "Reproduce Kaplan" section.
"""

from __future__ import annotations

import sys
from pathlib import Path

FIGURES = ("LN", "LC", "LND", "allocation")
DPI = 64
DEST = Path(__file__).resolve().parents[1] / "docs" / "images" / "kaplan"


def main(run_dir: str) -> None:
    from scalinglab.reproduce.kaplan import _figures, measure
    from scalinglab.reproduce.kaplan_analysis import load_kaplan_data
    from scalinglab.reproduce.kaplan_design import QUICK, kaplan_specs
    from scalinglab.sweep.designs import expand

    store = Path(run_dir) / "runs.db"
    by_study = {s.name: {r.run_id for r in expand(s).runs} for s in kaplan_specs(QUICK)}
    data = load_kaplan_data(store, by_study)
    _, state = measure(data, QUICK, bootstrap=QUICK.bootstrap, seed=0)
    figs, omitted = _figures(data, state)
    DEST.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in FIGURES:
        if name not in figs:
            print(f"{name}: left out ({omitted.get(name)})")
            continue
        path = DEST / f"{name}.png"
        figs[name].savefig(path, dpi=DPI)
        total += path.stat().st_size
        print(f"{path} ({path.stat().st_size / 1024:.0f} KB)")
    print(f"total {total / 1024:.0f} KB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "kaplan-quick")

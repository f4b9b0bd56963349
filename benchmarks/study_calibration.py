"""How far can a scalinglab study be trusted? The demo study repeated with K seeds.

For each corpus (by default the synthetic source ``synthetic:quanta``, whose entropy rate is
known, and the real text ``kjv``) the demo study (``scalinglab.demo``: 5 fitted budgets over 2
decades of compute, a held-out budget 4x above) runs K times with training seeds 0..K-1 at
``--budget-minutes`` each, and the script reports, side by side:

* the spread of the allocation exponent a (N_opt ∝ C^a) across seeds against the width of one
  study's 95% bootstrap interval;
* the backtest at the held-out budget: mean |relative error|, the 95% predictive interval's
  half-width and its coverage of the held-out runs;
* the fitted E against the source's true entropy rate (synthetic sources): the gap and whether
  each study's 95% interval contains the truth;
* whether each fit is identified, the largest number of epochs any run trained, and the time.

Usage::

    python benchmarks/study_calibration.py --seeds 3 --budget-minutes 2 --out calib
    python benchmarks/study_calibration.py --data synthetic:quanta --seeds 5

Results go to ``OUT/calibration.json`` and the table to the terminal. Each study is a resumable
demo folder ``OUT/<corpus>/seed<k>``, so an interrupted benchmark continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any


def _stats(values: list[float]) -> dict[str, float | None]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return {"mean": None, "sd": None, "min": None, "max": None}
    return {"mean": statistics.fmean(vals),
            "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
            "min": min(vals), "max": max(vals)}


def calibrate(data: str, seeds: int, budget_minutes: float, out: Path, bootstrap: int,
              workers: int | None) -> dict[str, Any]:
    from scalinglab.demo import run_demo

    studies = []
    for k in range(seeds):
        t0 = time.perf_counter()
        r = run_demo(out / data.replace(":", "_") / f"seed{k}", budget_minutes=budget_minutes,
                     data=data, workers=workers, bootstrap=bootstrap, seed=k,
                     show_progress=False)
        s = r.summary
        bt = s["backtest"]
        e_iv = s["intervals"].get("E")
        studies.append({
            "seed": k, "identified": s["identified"], "a": s["a"],
            "a_interval": s["a_interval"], "E": s["params"]["E"], "E_interval": e_iv,
            "entropy_rate": s["entropy_rate"],
            "E_contains_truth": s["E_contains_entropy_rate"],
            "backtest_mean_abs_rel_error": bt["mean_abs_rel_error"],
            "backtest_max_abs_rel_error": bt["max_abs_rel_error"],
            "backtest_coverage": bt["coverage"],
            "backtest_halfwidth": bt["mean_interval_halfwidth"],
            "extrapolation": bt["heldout_compute"] / bt["fit_max_compute"],
            "epochs_max": s["epochs_max"], "warnings": s["warnings"],
            "seconds": time.perf_counter() - t0,
        })
        print(f"  {data} seed {k}: a = {s['a']:.3f} {s['a_interval']}, E = "
              f"{s['params']['E']:.4f} {e_iv}, backtest {bt['mean_abs_rel_error']:.2%} "
              f"(coverage {bt['coverage']}), identified {s['identified']}", flush=True)
    a_vals = [s["a"] for s in studies]
    widths = [s["a_interval"][1] - s["a_interval"][0] for s in studies if s["a_interval"]]
    rate = studies[0]["entropy_rate"]
    gaps = [s["E"] - rate for s in studies] if rate is not None else []
    covers = [s["E_contains_truth"] for s in studies if s["E_contains_truth"] is not None]
    return {
        "data": data, "seeds": seeds, "budget_minutes": budget_minutes,
        "a": _stats(a_vals), "a_interval_width": _stats(widths),
        "backtest_mean_abs_rel_error": _stats([s["backtest_mean_abs_rel_error"]
                                               for s in studies]),
        "backtest_coverage": _stats([s["backtest_coverage"] for s in studies]),
        "backtest_halfwidth": _stats([s["backtest_halfwidth"] for s in studies]),
        "entropy_rate": rate, "E_minus_truth": _stats(gaps),
        "E_interval_contains_truth": (sum(covers) / len(covers)) if covers else None,
        "identified": sum(s["identified"] for s in studies),
        "epochs_max": max((s["epochs_max"] or 0.0) for s in studies),
        "studies": studies,
    }


def _fmt(st: dict[str, float | None], spec: str) -> str:
    if st["mean"] is None:
        return "-"
    return f"{st['mean']:{spec}} ± {st['sd']:{spec}}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="synthetic:quanta,kjv",
                    help="comma-separated corpora (default: synthetic:quanta,kjv)")
    ap.add_argument("--seeds", type=int, default=3, help="studies per corpus (K)")
    ap.add_argument("--budget-minutes", type=float, default=2.0,
                    help="size of each study (the demo's --budget-minutes)")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path("calibration-out"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    results = []
    for data in [d.strip() for d in args.data.split(",") if d.strip()]:
        print(f"{data}: {args.seeds} studies of {args.budget_minutes:g} budget-minutes",
              flush=True)
        results.append(calibrate(data, args.seeds, args.budget_minutes, args.out,
                                 args.bootstrap, args.workers))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "calibration.json").write_text(json.dumps(results, indent=1))
    print(f"\nstudy calibration: K = {args.seeds} seeds per corpus, budget-minutes "
          f"{args.budget_minutes:g}, {time.perf_counter() - t0:.0f} s in all")
    head = ("corpus", "a (mean ± sd over seeds)", "a 95% width", "backtest |err|",
            "bt coverage", "bt half-width", "E - truth", "E covers truth", "identified",
            "max epochs")
    print(" | ".join(head))
    for r in results:
        print(" | ".join([
            r["data"], _fmt(r["a"], ".3f"), _fmt(r["a_interval_width"], ".3f"),
            _fmt(r["backtest_mean_abs_rel_error"], ".2%"), _fmt(r["backtest_coverage"], ".0%"),
            _fmt(r["backtest_halfwidth"], ".2%"),
            _fmt(r["E_minus_truth"], ".4f") if r["entropy_rate"] is not None else "-",
            f"{r['E_interval_contains_truth']:.0%}" if r["E_interval_contains_truth"]
            is not None else "-",
            f"{r['identified']}/{r['seeds']}", f"{r['epochs_max']:.2f}"]))
    print(f"wrote {args.out / 'calibration.json'}")


if __name__ == "__main__":
    main()

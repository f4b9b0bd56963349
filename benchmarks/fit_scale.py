"""Fit time and memory against the number of points (issue 11, item 7).

Synthetic Chinchilla tables from the published constants (Hoffmann et al., as Epoch's
replication takes them): N log-uniform over 1e7 - 1e11, D over 1e8 - 1e13, losses times
``exp(0.01 x standard normal)`` (1% noise). For each size, in a fresh process each (so that peak
memory, ``ru_maxrss``, is that size's own):

* new: the optimiser (``multistart`` as ``fit`` calls it: the start grid scanned and the best
  starts batch-refined on a stratified subsample, ranking and a streamed polish on all points)
  and the whole ``scalinglab.fit`` call (reading the table, the optimiser, the diagnostics);
  median wall time over ``--repeats`` runs; peak resident memory of the process after making
  the data (interpreter, libraries, the table), after the optimiser and after ``fit``;
* full: the method small tables use, on every point (``multistart(..., subsample=None)``: the
  grid scan over all points, the batched Levenberg-Marquardt method over all points, SciPy's
  ``least_squares`` polish), up to ``--full-max`` points;
* above that, ref: SciPy's ``least_squares`` polish (the full method's last step, tolerances
  1e-15) on all points, from the same start as the new method's best polish.

Prints one row per size: times, peak memory, the objectives and their relative difference,
and how the new time grows with the points.
Usage: python benchmarks/fit_scale.py [--sizes 1e3 1e4 1e5 1e6] [--full-max 1e5]
       [--loss huber] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

import scalinglab as sl
from scalinglab.fit import optimize as opt
from scalinglab.fit.objectives import Objective
from scalinglab.fit.problem import FitProblem
from scalinglab.laws import Law, get_law
from scalinglab.laws.published import CHINCHILLA_HOFFMANN

DELTA = 1e-3


def synthetic(n: int, seed: int = 0, noise: float = 0.01
              ) -> tuple[Law, np.ndarray, np.ndarray, np.ndarray]:
    """(law, X, log loss, weights) of ``n`` synthetic Chinchilla runs (see the docstring)."""
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e11), n))
    D = np.exp(rng.uniform(np.log(1e8), np.log(1e13), n))
    law = get_law("chinchilla")
    loss = law.predict(CHINCHILLA_HOFFMANN, N=N, D=D) * np.exp(noise * rng.standard_normal(n))
    return law, np.stack([N, D]), np.log(loss), np.ones(n)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _median_time(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def _reference_polish(law: Law, X: np.ndarray, logy: np.ndarray, w: np.ndarray, kind: str,
                      grid: np.ndarray) -> float:
    """The full method's polish on all points from the new method's best polished start."""
    problem, objective = FitProblem(law, X, logy, w), Objective(kind, DELTA)
    idx, ws = opt.stratified_subsample(X, w, opt.SCAN_POINTS)
    sub = problem.subset(idx, ws)
    vals = opt.grid_objective(sub, objective, grid)
    starts = grid[np.argsort(vals, kind="stable")[:16]]
    Zs, _ = opt.batched_lm(sub, objective, starts)
    z0 = Zs[int(np.argmin(opt.objective_values(problem, objective, Zs)))]
    z, obj = opt.refine(problem, objective, z0)
    if kind == "huber-likelihood":
        return opt.refine_likelihood(problem, objective, z)[1]
    return obj


def worker(mode: str, n: int, kind: str, repeats: int) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    law, X, logy, w = synthetic(n)
    df = pd.DataFrame({"N": X[0], "D": X[1], "loss": np.exp(logy)})
    logy = np.log(df["loss"].to_numpy())  # what fit() reads
    before = _rss_mib()
    grid = law.start_grid(X, np.exp(logy))
    out: dict[str, Any] = {"mode": mode, "n": n, "rss_before_mib": before}
    if mode == "new":
        t, info = _median_time(lambda: opt.multistart(FitProblem(law, X, logy, w),
                                                      Objective(kind, DELTA), grid), repeats)
        out["optimiser_peak_mib"] = _rss_mib()
        t_fit, res = _median_time(lambda: sl.fit(df, "chinchilla", loss=kind, delta=DELTA),
                                  repeats)
        if res.objective != info.objective:
            print(f"note: fit() objective {res.objective!r} != optimiser's {info.objective!r}",
                  file=sys.stderr)
        out.update(seconds=t, fit_seconds=t_fit, objective=info.objective,
                   scan_points=info.n_scan_points, converged=info.converged)
    elif mode == "full":
        t, info = _median_time(lambda: opt.multistart(FitProblem(law, X, logy, w),
                                                      Objective(kind, DELTA), grid,
                                                      subsample=None), 1)
        out.update(seconds=t, objective=info.objective)
    else:  # ref
        t, obj = _median_time(lambda: _reference_polish(law, X, logy, w, kind, grid), 1)
        out.update(seconds=t, objective=obj)
    out["peak_rss_mib"] = _rss_mib()
    return out


def _run(mode: str, n: int, kind: str, repeats: int) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--n", str(n),
           "--loss", kind, "--repeats", str(repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"mode": mode, "n": n, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e3, 1e4, 1e5, 1e6])
    ap.add_argument("--full-max", type=float, default=1e5,
                    help="largest size run with the full method (1e6 needs minutes, GBs)")
    ap.add_argument("--loss", default="huber", choices=["huber", "mse", "huber-likelihood"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--worker", choices=["new", "full", "ref"], help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.loss, args.repeats)))
        return

    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs; loss {args.loss}; "
          f"subsample {opt.SCAN_POINTS} points; times: median of {args.repeats} (new), 1 (other)")
    head = (f"{'points':>9} {'optimiser s':>11} {'fit() s':>8} {'growth':>6} "
            f"{'MiB: data':>9} {'optimiser':>9} {'fit()':>6} {'objective (new)':>22} | "
            f"{'other':>5} {'s':>7} {'peak MiB':>8} {'objective (other)':>22} {'rel diff':>9}")
    print(head)
    prev = None
    for size in args.sizes:
        n = int(size)
        new = _run("new", n, args.loss, args.repeats)
        other = _run("full" if n <= args.full_max else "ref", n, args.loss, 1)
        if "error" in new:
            print(f"{n:>9} new failed: {new['error']}")
            continue
        growth = "" if prev is None else f"{new['seconds'] / prev[1] / (n / prev[0]):.2f}"
        prev = (n, new["seconds"])
        if "error" in other:
            tail = f"{other['mode']:>5} failed: {other['error']}"
        else:
            rel = abs(new["objective"] - other["objective"]) / abs(other["objective"])
            tail = (f"{other['mode']:>5} {other['seconds']:7.2f} {other['peak_rss_mib']:8.0f} "
                    f"{other['objective']:22.15e} {rel:9.1e}")
        print(f"{n:>9} {new['seconds']:11.3f} {new['fit_seconds']:8.3f} {growth:>6} "
              f"{new['rss_before_mib']:9.0f} {new['optimiser_peak_mib']:9.0f} "
              f"{new['peak_rss_mib']:6.0f} "
              f"{new['objective']:22.15e} | {tail}", flush=True)
    print("growth: the optimiser's time ratio to the previous size over the points ratio "
          "(<= 1: at most linear). MiB: peak resident memory of the process after making the "
          "data, after the optimiser and after fit(). ref: least_squares polish on all points "
          "from the same start (the full method's last step).")


if __name__ == "__main__":
    main()

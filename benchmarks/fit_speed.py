"""Fit speed: scalinglab's multi-start fit vs a faithful Hoffmann/Epoch-style procedure.

Both minimise the same objective on Epoch's 240-point Chinchilla subset: the summed Huber loss
(delta 1e-3) of log-sum-exp log predictions, over Hoffmann's 4,500-point start grid. The
baseline runs SciPy's L-BFGS-B from every start with finite-difference gradients and default
tolerances, as Hoffmann et al. and Epoch's "replicate exactly" cell do, and keeps the best.
scalinglab scans the grid vectorised, refines the best starts in a batch and polishes with an
analytic Jacobian. Then 1,000 bootstrap resamples, each with the full multi-start, on the
machine's cores.

Prints the times side by side, the ratio and both objectives.
Usage: python benchmarks/fit_speed.py [--starts 4500] [--bootstrap 1000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

import scalinglab as sl
from scalinglab.fit.core import _prepare, run_bootstrap
from scalinglab.laws import get_law


def hoffmann_style(N: np.ndarray, D: np.ndarray, L: np.ndarray, starts: int) -> tuple[float, float]:
    lN, lD, lL = np.log(N), np.log(D), np.log(L)
    delta = 1e-3

    def objective(p: np.ndarray) -> float:
        a, b, e, alpha, beta = p
        pred = logsumexp(np.stack([a - alpha * lN, b - beta * lD, np.full_like(lN, e)]), axis=0)
        r = pred - lL
        ar = np.abs(r)
        return float(np.sum(np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))))

    grid = [np.array([a, b, e, al, be])
            for al in np.arange(0, 2.5, 0.5) for be in np.arange(0, 2.5, 0.5)
            for e in np.arange(-1, 1.5, 0.5) for a in np.arange(0, 30, 5)
            for b in np.arange(0, 30, 5)]
    step = max(1, len(grid) // starts)
    best = np.inf
    t = time.perf_counter()
    for p0 in grid[::step][:starts]:
        res = minimize(objective, p0, method="L-BFGS-B")
        best = min(best, float(res.fun))
    return time.perf_counter() - t, best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=4500)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    df = sl.datasets.load("chinchilla-240")
    times, objs = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        res = sl.fit(df, "chinchilla")
        times.append(time.perf_counter() - t)
        objs.append(res.objective)
    ours = float(np.median(times))
    print(f"scalinglab multi-start fit (4,500-point grid): median {ours * 1e3:.1f} ms over "
          f"{args.repeats} runs, objective {min(objs):.10e}")

    base_t, base_obj = hoffmann_style(df["N"].to_numpy(), df["D"].to_numpy(),
                                      df["loss"].to_numpy(), args.starts)
    scaled = base_t * 4500 / args.starts
    print(f"Hoffmann/Epoch-style L-BFGS-B, finite differences, {args.starts} starts: "
          f"{base_t:.1f} s (for 4,500 starts: {scaled:.1f} s), best objective {base_obj:.10e}")
    print(f"speed-up: {scaled / ours:.0f}x; objective ours <= baseline: "
          f"{min(objs) <= base_obj + 1e-15}")

    law = get_law("chinchilla")
    X, logy, w = _prepare(df, law, "loss")
    t = time.perf_counter()
    draws = run_bootstrap(law, X, logy, w, "huber", 1e-3, args.bootstrap, seed=0,
                          n_jobs=args.jobs)
    bt = time.perf_counter() - t
    lo, hi = np.quantile(draws[:, 3], [0.025, 0.975])
    print(f"bootstrap: {args.bootstrap} resamples x full multi-start on {args.jobs} process(es): "
          f"{bt:.1f} s ({bt / args.bootstrap * 1e3:.1f} ms each); alpha 95% {lo:.3f}-{hi:.3f}; "
          f"failed {int(np.isnan(draws).any(axis=1).sum())}")


if __name__ == "__main__":
    main()

"""Fit speed: scalinglab's multi-start fit vs a faithful Hoffmann/Epoch-style procedure.

Both minimise the same objective on Epoch's 240-point Chinchilla subset: the summed Huber loss
(delta 1e-3) of log-sum-exp log predictions, over Hoffmann's 4,500-point start grid. The
baseline runs SciPy's L-BFGS-B from every start with finite-difference gradients and default
tolerances, as Hoffmann et al. and Epoch's "replicate exactly" cell do, and keeps the best.
scalinglab scans the grid vectorised, refines the best starts in a batch and polishes with an
analytic Jacobian. Then 1,000 bootstrap resamples, each with the full multi-start, on the
machine's cores (``scalinglab.fit(..., bootstrap=R)``; its record's ``seconds``).

Prints the times side by side, the ratio and both objectives. Uses only the public API.

``--compare-src DIR`` times scalinglab's fit and bootstrap (not the L-BFGS-B baseline) from two
source trees, ``DIR`` ("before", e.g. ``git archive HEAD src | tar -x -C /tmp/fit_before``
then ``/tmp/fit_before/src``) and this checkout's ``src`` ("after"), each in its own
subprocess (``PYTHONPATH``), alternating ``--rounds`` times so that load on a shared machine
falls on both. Prints each side's median times, the after/before ratios, and whether the two
gave the same numbers (objective, parameters and every bootstrap draw, bit for bit).

Usage: python benchmarks/fit_speed.py [--starts 4500] [--bootstrap 1000] [--jobs 2]
       python benchmarks/fit_speed.py --compare-src /tmp/fit_before/src [--rounds 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

import scalinglab as sl

AFTER_SRC = Path(__file__).resolve().parents[1] / "src"


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


def _cpu_with_children() -> float:
    """CPU seconds (user + system) of this process and of its ended children: on a shared
    machine a steadier measure of work than wall time."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(repeats: int, resamples: int, jobs: int) -> dict[str, Any]:
    """Time the multi-start fit (``repeats`` runs) and a bootstrap of ``resamples`` on
    ``jobs`` processes, with whichever scalinglab is imported; the numbers they gave."""
    df = sl.datasets.load("chinchilla-240")
    times, cpu, res = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        res = sl.fit(df, "chinchilla")
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    assert res is not None
    out: dict[str, Any] = {"module": sl.__file__, "fit_seconds": times, "fit_cpu_seconds": cpu,
                           "objective": res.objective, "params": res.params}
    if resamples:
        c = _cpu_with_children()
        boot = sl.fit(df, "chinchilla", bootstrap=resamples, seed=0, n_jobs=jobs)
        boot_cpu = _cpu_with_children() - c  # the pool's processes have ended: counted
        draws = np.ascontiguousarray(boot.draws)
        lo, hi = np.quantile(draws[:, 3], [0.025, 0.975])
        # the mapping read works with the record and with the former dict
        out.update(bootstrap_seconds=float(boot.bootstrap["seconds"]),
                   bootstrap_cpu_seconds=boot_cpu,
                   draws_sha256=hashlib.sha256(draws.tobytes()).hexdigest(),
                   alpha_interval=[float(lo), float(hi)],
                   failed=int(np.isnan(draws).any(axis=1).sum()))
    return out


def compare(before: Path, rounds: int, repeats: int, resamples: int, jobs: int) -> None:
    """Run :func:`measure` from ``before`` and from this checkout, alternating, each in a
    subprocess; print medians, ratios and whether the numbers agree."""
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for k in range(rounds):
        order = [("before", before), ("after", AFTER_SRC)]
        for label, src in order if k % 2 == 0 else order[::-1]:
            env = {**os.environ, "PYTHONPATH": str(src)}
            cmd = [sys.executable, __file__, "--worker", "--repeats", str(repeats),
                   "--bootstrap", str(resamples), "--jobs", str(jobs)]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            if not r["module"].startswith(str(src)):
                raise SystemExit(f"{label}: imported {r['module']}, not from {src}")
            runs[label].append(r)
            print(f"round {k + 1} {label:6s}: fit median "
                  f"{1e3 * float(np.median(r['fit_seconds'])):.1f} ms (CPU "
                  f"{1e3 * float(np.median(r['fit_cpu_seconds'])):.1f} ms), bootstrap "
                  f"{r.get('bootstrap_seconds', float('nan')):.1f} s (CPU "
                  f"{r.get('bootstrap_cpu_seconds', float('nan')):.1f} s)", flush=True)
    med: dict[str, dict[str, float]] = {}
    for label, rs in runs.items():
        med[label] = {
            "fit wall": float(np.median([t for r in rs for t in r["fit_seconds"]])),
            "fit CPU": float(np.median([t for r in rs for t in r["fit_cpu_seconds"]])),
            "bootstrap wall": float(np.median([r.get("bootstrap_seconds", np.nan)
                                               for r in rs])),
            "bootstrap CPU": float(np.median([r.get("bootstrap_cpu_seconds", np.nan)
                                              for r in rs]))}
        m = med[label]
        print(f"{label:6s}: multi-start fit median {m['fit wall'] * 1e3:.1f} ms wall, "
              f"{m['fit CPU'] * 1e3:.1f} ms CPU over {len(rs) * repeats} runs; bootstrap "
              f"({resamples} resamples, {jobs} process(es)) median {m['bootstrap wall']:.1f} s "
              f"wall, {m['bootstrap CPU']:.1f} s CPU (with the main fit) over {len(rs)} runs")
    print("after / before (below 1: faster): " + ", ".join(
        f"{k} {med['after'][k] / med['before'][k]:.3f}" for k in med["after"]))
    b, a = runs["before"][0], runs["after"][0]
    for key in ("objective", "params", "draws_sha256", "alpha_interval", "failed"):
        same = all(r.get(key) == b.get(key) for r in runs["before"] + runs["after"])
        print(f"same {key}: {same}" + ("" if same else f" (before {b.get(key)}, after "
                                                       f"{a.get(key)})"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=4500)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compare-src", type=Path, default=None,
                    help="a source tree to time against this checkout's (see the docstring)")
    ap.add_argument("--rounds", type=int, default=2, help="with --compare-src: alternations")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        print(json.dumps(measure(args.repeats, args.bootstrap, args.jobs)))
        return
    if args.compare_src is not None:
        compare(args.compare_src.resolve(), args.rounds, args.repeats, args.bootstrap,
                args.jobs)
        return

    r = measure(args.repeats, 0, args.jobs)
    ours = float(np.median(r["fit_seconds"]))
    print(f"scalinglab multi-start fit (4,500-point grid): median {ours * 1e3:.1f} ms over "
          f"{args.repeats} runs, objective {r['objective']:.10e}")

    df = sl.datasets.load("chinchilla-240")
    base_t, base_obj = hoffmann_style(df["N"].to_numpy(), df["D"].to_numpy(),
                                      df["loss"].to_numpy(), args.starts)
    scaled = base_t * 4500 / args.starts
    print(f"Hoffmann/Epoch-style L-BFGS-B, finite differences, {args.starts} starts: "
          f"{base_t:.1f} s (for 4,500 starts: {scaled:.1f} s), best objective {base_obj:.10e}")
    print(f"speed-up: {scaled / ours:.0f}x; objective ours <= baseline: "
          f"{r['objective'] <= base_obj + 1e-15}")

    res = sl.fit(df, "chinchilla", bootstrap=args.bootstrap, seed=0, n_jobs=args.jobs)
    draws = res.draws
    bt = res.bootstrap.seconds
    lo, hi = np.quantile(draws[:, 3], [0.025, 0.975])
    print(f"bootstrap: {args.bootstrap} resamples x full multi-start on {args.jobs} process(es): "
          f"{bt:.1f} s ({bt / args.bootstrap * 1e3:.1f} ms each); alpha 95% {lo:.3f}-{hi:.3f}; "
          f"failed {int(np.isnan(draws).any(axis=1).sum())}")


if __name__ == "__main__":
    main()

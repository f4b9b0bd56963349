"""Scheduler overhead of ``scalinglab sweep`` per run, local pool and Ray, against the bare
trainer, in one run.

The same K runs (a small GPT on the built-in corpus, about ``--seconds`` each) are trained three
ways, one at a time with the same threads:

* bare: ``scalinglab.train.train`` called in this process, one after the other;
* local: ``run_sweep(..., executor="local", workers=1)`` into a fresh store;
* ray: the same with ``executor="ray"`` (a local Ray instance), when Ray is installed.

Reported per executor: the one-off start (from the call to the first run's start: store,
worker pool or Ray instance); the first run's extra time (a fresh worker's imports: PyTorch in
a Ray worker); the per-run scheduler overhead in steady state, the mean over runs 2..K of
``(end of run i - end of run i-1) - the trainer's own wall time of run i``, i.e. everything
between and around the ``train()`` calls (dispatch, result transfer, the store transaction,
waiting for the next poll), and its ratio to the bare trainer time, measured by the trainer's
own clock inside the same sweep (target < 5% at 10 s runs); the same with the first run's extra
spread over the K runs; and, for reference, the whole call against the separately timed bare
runs. Measuring against the trainer's own clock in the same sweep keeps the ratio meaningful on
a machine whose load changes between the bare and the swept runs (the whole-call ratio is not).

    python benchmarks/sweep_overhead.py [--seconds 10] [--runs 4] [--no-ray]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHAPE = {"n_layer": 2, "d_model": 64, "n_head": 4}
CONTEXT, BATCH = 64, 16
TRAIN = {"eval_tokens": 8192, "ood_data": "none"}


def _config(tokens: int, seed: int, threads: int) -> Any:
    from scalinglab.train import TrainConfig

    return TrainConfig(**SHAPE, context=CONTEXT, batch_size=BATCH, tokens=tokens, seed=seed,
                       threads=threads, **TRAIN)


def calibrate(seconds: float, threads: int, work: Path) -> int:
    """Tokens for a run of about ``seconds`` on this machine when it is not busy: the faster
    of two short runs (after one that warms the data cache), as the load of a shared machine
    only ever slows a run down."""
    from scalinglab.train import train

    train(_config(20_000, 0, threads), work / "warmup", progress=False)
    per_token = min(
        (r.wall_time_s / r.tokens) for r in (
            train(_config(60_000, 0, threads), work / f"calibrate-{i}", progress=False)
            for i in range(2)))
    return max(BATCH * CONTEXT, int(seconds / per_token))


def bare(tokens: int, seeds: list[int], threads: int, work: Path) -> list[float]:
    from scalinglab.train import train

    out = []
    for seed in seeds:
        t0 = time.perf_counter()
        train(_config(tokens, seed, threads), work / f"bare-{seed}", progress=False)
        out.append(time.perf_counter() - t0)
    return out


def swept(executor: str, tokens: int, seeds: list[int], work: Path) -> dict[str, float]:
    from scalinglab.store import RunStore
    from scalinglab.sweep.driver import run_sweep
    from scalinglab.sweep.spec import parse_spec

    spec = parse_spec({"name": f"overhead-{executor}", "context": CONTEXT, "batch_size": BATCH,
                       "seeds": seeds, "train": TRAIN,
                       "design": {"kind": "grid", "models": [SHAPE], "tokens": [tokens]}})
    store = work / f"{executor}.db"
    t0 = time.time()
    summary = run_sweep(spec, store, executor=executor, workers=1,  # type: ignore[arg-type]
                        show_progress=False)
    total = time.time() - t0
    if not summary.complete:
        raise SystemExit(f"{executor} sweep did not complete: {summary}")
    with RunStore(store, readonly=True) as rs:
        runs = sorted(rs.runs(), key=lambda r: r.finished_at or 0.0)
    trainer = [float(r.metrics["wall_time_s"]) for r in runs]
    first_start = min(r.started_at or 0.0 for r in runs)
    ends = [float(r.finished_at or 0.0) for r in runs]
    steady = [ends[i] - ends[i - 1] - trainer[i] for i in range(1, len(runs))]
    return {"total_s": total, "start_s": first_start - t0,
            "first_run_extra_s": ends[0] - first_start - trainer[0],
            "overhead_per_run_s": sum(steady) / len(steady) if steady else float("nan"),
            "trainer_mean_s": sum(trainer) / len(trainer),
            "threads": float(runs[0].metrics["threads"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="target length of a run")
    ap.add_argument("--runs", type=int, default=4, help="runs per executor (at least 2)")
    ap.add_argument("--tokens", type=int, help="tokens per run (default: calibrated to "
                    "--seconds)")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray executor")
    ap.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    args = ap.parse_args(argv)

    from scalinglab.sweep.resources import available_cores

    threads = available_cores()  # what one sweep worker gets with --workers 1
    seeds = list(range(1, args.runs + 1))
    executors = ["local"]
    if not args.no_ray:
        try:
            import ray  # noqa: F401

            executors.append("ray")
        except ImportError:
            print("ray is not installed: skipping the Ray executor", file=sys.stderr)
    report: dict[str, Any] = {"threads": threads, "runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="sweep-overhead-") as tmp:
        work = Path(tmp)
        tokens = args.tokens or calibrate(args.seconds, threads, work)
        report["tokens_per_run"] = tokens
        times = bare(tokens, seeds, threads, work)
        mean = sum(times) / len(times)
        report["bare"] = {"runs_s": times, "mean_s": mean, "total_s": sum(times)}
        print(f"{args.runs} runs of {SHAPE['n_layer']}L x {SHAPE['d_model']}d, {tokens:,} "
              f"tokens each, {threads} threads; bare trainer: {mean:.2f} s per run")
        print(f"{'executor':<8} {'start [s]':>9} {'1st run +[s]':>12} {'train [s/run]':>13} "
              f"{'overhead [s/run]':>16} {'ratio':>7} {'amortized':>9} {'call vs bare':>12}")
        for ex in executors:
            m = swept(ex, tokens, seeds, work)
            train_s = m["trainer_mean_s"]
            amortized = (m["first_run_extra_s"]
                         + (args.runs - 1) * m["overhead_per_run_s"]) / args.runs
            m.update(ratio=m["overhead_per_run_s"] / train_s,
                     amortized_ratio=amortized / train_s,
                     whole_ratio=(m["total_s"] - sum(times)) / sum(times))
            report[ex] = m
            print(f"{ex:<8} {m['start_s']:>9.2f} {m['first_run_extra_s']:>12.2f} "
                  f"{train_s:>13.2f} {m['overhead_per_run_s']:>16.3f} {m['ratio']:>7.2%} "
                  f"{m['amortized_ratio']:>9.2%} {m['whole_ratio']:>+12.1%}")
    print("ratio: steady per-run scheduler overhead / the trainer's own time per run (target "
          "< 5% at 10 s runs);\namortized: with the first run's extra spread over the "
          f"{args.runs} runs; the one-off start (pool, Ray instance) is listed apart;\n"
          "call vs bare: the whole sweep call against the separately timed bare runs (load-"
          "sensitive)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

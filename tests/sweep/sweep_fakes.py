"""Run functions standing in for the trainer in the tests of the sweep machinery.

They take ``(config, out_dir, threads)`` like :func:`scalinglab.sweep.worker.train_run`, log
each call to ``out_dir/calls.txt`` and return a result shaped like the trainer's, with a
Chinchilla-like loss of N and D. Behaviour is chosen by the config's seed, so one study can mix
runs that succeed, raise, crash the process or fail once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from scalinglab.sweep.shapes import n_params

RAISE_SEED = 13
CRASH_SEED = 14
FLAKY_SEED = 15


#: seconds every fake run sleeps (set in the environment of the sweep)
SLEEP_ENV = "SWEEP_FAKE_SLEEP_S"

def calls(out_dir: Path) -> int:
    """How many times a run function was called for the run in ``out_dir``."""
    p = Path(out_dir) / "calls.txt"
    return len(p.read_text().splitlines()) if p.exists() else 0


def synthetic_loss(n: float, d: float) -> float:
    return 1.7 + 400.0 / n ** 0.34 + 410.0 / d ** 0.28


def ok_run(config: dict[str, Any], out_dir: Path, threads: int) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "calls.txt", "a") as fh:
        fh.write(f"{os.getpid()} {threads}\n")
    seed = config.get("seed")
    if seed == RAISE_SEED:
        raise ValueError("deliberate failure")
    if seed == CRASH_SEED:
        os._exit(7)
    if seed == FLAKY_SEED and calls(out_dir) == 1:
        raise RuntimeError("fails on the first attempt only")
    # a fake-only option: in the run config (given to an executor directly), or for a whole
    # sweep in the environment (a spec's `train:` takes trainer options only)
    time.sleep(float(config.get("sleep_s", os.environ.get(SLEEP_ENV, 0.0))))
    n = n_params(config)
    d = int(config["tokens"])
    lr = config.get("lr") or 1e-3
    loss = synthetic_loss(n, d) + 10.0 * abs(lr - 1e-3)
    curve = [{"step": 0, "tokens": 0, "flops": 0.0, "train_loss": None, "val_loss": 5.5,
              "lr": 0.0, "elapsed_s": 0.0},
             {"step": 10, "tokens": d // 2, "flops": 3.0 * n * d, "train_loss": loss + 0.2,
              "val_loss": loss - 0.05, "lr": lr, "elapsed_s": 0.1},
             {"step": 20, "tokens": d, "flops": 6.0 * n * d, "train_loss": loss + 0.1,
              "val_loss": loss, "lr": 0.0, "elapsed_s": 0.2}]
    return {"final_val_loss": loss, "final_train_loss": loss + 0.1, "initial_val_loss": 5.5,
            "tokens": d, "steps": 20, "params_total": n,
            "params_nonembedding": n_params(config, "nonembedding"),
            "flops": 6.0 * n * d, "flops_convention": "6N",
            "flops_by_convention": {"6N": 6.0 * n * d, "palm": 7.0 * n * d},
            "per_position_loss": [loss] * 4, "tokens_per_second": 1e5, "threads": threads,
            "config": dict(config), "curve": curve}

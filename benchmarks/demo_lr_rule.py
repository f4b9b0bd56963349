"""Measure the demo's per-size learning-rate rule: ``lr_opt(N) = lr * (N / N_ref) ** exponent``.

A learning-rate sweep (``scalinglab.sweep``, spec below) of the demo's shape family (2 layers,
2 heads, width the only knob) on the demo's data: three widths, seven peak learning rates a
factor 2 apart, each run on ``--tokens`` tokens (default 1e6, about the middle of the demo's
token counts) with the demo's batch, context and cosine schedule. For each width the optimum
is the vertex of a parabola in log(lr) through the three lowest losses; the rule is the
least-squares line through log(lr_opt) against log(N). The table of losses and the fitted
rule are printed and written to ``OUT/lr_rule.json``; ``scalinglab.demo.SYNTHETIC_PROFILE``
carries the numbers this script measured.

Usage::

    python benchmarks/demo_lr_rule.py --out lr-rule        # about 3 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

WIDTHS = (16, 48, 128)
LRS = (1.5e-3, 3e-3, 6e-3, 1.2e-2, 2.4e-2, 4.8e-2, 9.6e-2)


def lr_optimum(lrs: np.ndarray, losses: np.ndarray) -> tuple[float, bool]:
    """The vertex of a parabola in log(lr) through the three lowest losses (and whether it is
    inside the learning rates tried; if not, the best learning rate tried)."""
    order = np.argsort(losses)[:3]
    x, y = np.log(lrs[order]), losses[order]
    a, b, _ = np.polyfit(x, y, 2)
    if a <= 0:
        return float(lrs[order[0]]), False
    vertex = -b / (2 * a)
    inside = bool(np.log(lrs).min() < vertex < np.log(lrs).max())
    return (float(math.exp(vertex)) if inside else float(lrs[order[0]])), inside


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="synthetic:quanta")
    ap.add_argument("--tokens", type=float, default=1e6)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path("lr-rule-out"))
    args = ap.parse_args()

    from scalinglab.demo import profile_for
    from scalinglab.store import read_observations
    from scalinglab.sweep.driver import run_sweep
    from scalinglab.sweep.spec import parse_spec

    prof = profile_for(args.data)
    spec = parse_spec({
        "name": "demo-lr-rule", "data": args.data, "tokenizer": "bytes",
        "context": prof.context, "batch_size": prof.batch_size,
        "design": {"kind": "grid", "tokens": [args.tokens],
                   "models": [{"n_layer": prof.n_layer, "d_model": d, "n_head": prof.n_head}
                              for d in WIDTHS]},
        "lr_sweep": {"values": list(LRS)},
        "train": {"eval_tokens": prof.eval_tokens, "final_eval_tokens": prof.final_eval_tokens,
                  "ood_data": "none"},
    }, source="benchmarks/demo_lr_rule.py")
    args.out.mkdir(parents=True, exist_ok=True)
    run_sweep(spec, args.out / "runs.db", workers=args.workers)
    df = read_observations(args.out / "runs.db", frontier_only=False)
    rows = []
    print(f"peak learning rate sweep on {args.data}, {args.tokens:.3g} tokens per run; "
          "final validation loss (nats/token)")
    print("N (total) | " + " | ".join(f"{lr:.2g}" for lr in LRS) + " | lr_opt")
    for n, g in df.groupby("N"):
        g = g.sort_values("lr")
        lrs, losses = g["lr"].to_numpy(float), g["loss"].to_numpy(float)
        best, inside = lr_optimum(lrs, losses)
        rows.append({"N": float(n), "d_model": int(g["d_model"].iloc[0]),
                     "losses": dict(zip(map(float, lrs), map(float, losses), strict=True)),
                     "lr_opt": best, "interior": inside})
        print(f"{n:.3g} | " + " | ".join(f"{v:.4f}" for v in losses)
              + f" | {best:.3g}{'' if inside else ' (edge)'}")
    logn = np.log([r["N"] for r in rows])
    loglr = np.log([r["lr_opt"] for r in rows])
    slope, intercept = np.polyfit(logn, loglr, 1)
    ref = float(math.exp(logn.mean()))
    rule = {"exponent": float(slope), "reference_params": ref,
            "lr": float(math.exp(intercept + slope * math.log(ref)))}
    print(f"rule: lr_opt(N) = {rule['lr']:.3g} * (N / {ref:.3g}) ** {slope:.3f}")
    (args.out / "lr_rule.json").write_text(json.dumps({"data": args.data,
                                                       "tokens": args.tokens, "rule": rule,
                                                       "sizes": rows}, indent=1))


if __name__ == "__main__":
    main()

"""Cold start of the ``scalinglab`` command line: each command timed end to end in fresh
subprocesses (several repeats, median), next to the work it does.

    python benchmarks/cli_startup.py [--repeats 7] [--check] [--json out.json]

Every repeat starts a new interpreter (``python -m scalinglab ...``), so each time is the whole
cost a user waits for: interpreter start, imports, argument parsing, the work, the output.
The same run measures, in one warm process, the fit itself (``scalinglab.fit`` on
``example:chinchilla-240``, as ``scalinglab fit example:chinchilla-240`` runs it), the bare
interpreter start, and the import of the fit's two heavy dependencies alone (pandas and
scipy.optimize: the floor under ``fit``'s start), and prints each command's time as a ratio to
the fit and to the interpreter.

Byte code is cached as for an installed package: the subprocesses write it to a temporary
``PYTHONPYCACHEPREFIX`` (one untimed warm-up run per command fills it; the working tree is not
touched) even where ``PYTHONDONTWRITEBYTECODE`` is set. ``--no-bytecode-cache`` measures
without it. Timings on a shared machine vary with other people's load: the load average is
printed with the results, and each command's median CPU time (user + system, which leaves out
waiting for a core) next to its wall time; run it a few times and compare the best medians.

Targets (issue 14, on the 2-core development machine): ``scalinglab --help`` <= 0.3 s and
``scalinglab fit example:chinchilla-240`` <= 0.6 s end to end. ``--check`` exits 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: (label, arguments) of the commands timed
COMMANDS: list[tuple[str, list[str]]] = [
    ("--version", ["--version"]),
    ("--help", ["--help"]),
    ("fit --help", ["fit", "--help"]),
    ("laws", ["laws"]),
    ("plan --compute 1e21", ["plan", "--compute", "1e21"]),
    ("shape --params 1.3e8", ["shape", "--params", "1.3e8", "--top", "3"]),
    ("fit example:chinchilla-240", ["fit", "example:chinchilla-240"]),
]

#: what ``fit`` cannot start without: the floor under its end-to-end time
DEPS = "import pandas, scipy.optimize"
DEPS_LABEL = f"python -c '{DEPS}'"

#: label -> target in seconds (median, end to end)
TARGETS = {"--help": 0.3, "fit example:chinchilla-240": 0.6}

_FIT_ITSELF = """
import time, json
import scalinglab
from scalinglab import datasets
df = datasets.load("chinchilla-240")
scalinglab.fit(df, "chinchilla")  # warm: caches, first-call costs
ts = []
for _ in range({repeats}):
    t = time.perf_counter()
    scalinglab.fit(datasets.load("chinchilla-240"), "chinchilla")
    ts.append(time.perf_counter() - t)
print(json.dumps(ts))
"""


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _time(argv: list[str], env: dict[str, str], repeats: int
          ) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) times of ``repeats`` fresh runs of ``argv`` (output
    discarded; a failure raises). On a busy machine the CPU time is the steadier number: it
    leaves out the time spent waiting for a core."""
    wall, cpu = [], []
    for _ in range(repeats):
        c, t = _cpu(), time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        wall.append(time.perf_counter() - t)
        cpu.append(_cpu() - c)
    return wall, cpu


def measure(repeats: int, bytecode_cache: bool = True) -> dict[str, object]:
    """Medians (and minima) of every command, the bare interpreter and the fit itself."""
    env = dict(os.environ)
    tmp = tempfile.TemporaryDirectory(prefix="scalinglab-pycache-")
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = tmp.name
    py = [sys.executable]
    rows: dict[str, dict[str, float]] = {}
    try:
        for label, args in [("python -c pass", None), (DEPS_LABEL, None), *COMMANDS]:
            code = "pass" if label == "python -c pass" else DEPS
            argv = [*py, "-c", code] if args is None else [*py, "-m", "scalinglab", *args]
            _time(argv, env, 1)  # warm-up: byte code cache, page cache
            ts, cpu = _time(argv, env, repeats)
            rows[label] = {"median": statistics.median(ts), "min": min(ts),
                           "cpu": statistics.median(cpu)}
        res = subprocess.run([*py, "-c", _FIT_ITSELF.format(repeats=repeats)], env=env,
                             check=True, capture_output=True, text=True)
        fit_ts = json.loads(res.stdout.strip().splitlines()[-1])
    finally:
        tmp.cleanup()
    return {"commands": rows,
            "fit_itself": {"median": statistics.median(fit_ts), "min": min(fit_ts)},
            "repeats": repeats, "bytecode_cache": bytecode_cache,
            "load_average": os.getloadavg(), "cpus": os.cpu_count(),
            "python": sys.version.split()[0]}


def report(doc: dict[str, object]) -> bool:
    """Print the table; True when every target is met."""
    rows: dict[str, dict[str, float]] = doc["commands"]  # type: ignore[assignment]
    fit_itself = doc["fit_itself"]["median"]  # type: ignore[index]
    bare = rows["python -c pass"]["median"]
    load = ", ".join(f"{x:.2f}" for x in doc["load_average"])  # type: ignore[attr-defined]
    print(f"scalinglab CLI cold start: {doc['repeats']} fresh processes per command, median "
          f"(min); Python {doc['python']}, {doc['cpus']} CPUs, load average {load}; byte code "
          f"{'cached' if doc['bytecode_cache'] else 'not cached'}")
    print(f"the fit itself (in process, warm): {fit_itself:.3f} s; bare interpreter start: "
          f"{bare:.3f} s")
    w = max(len(label) for label in rows)
    head = (f"{'command':<{w}} {'median s':>9} {'min s':>7} {'cpu s':>7} {'x fit':>7} "
            f"{'x python':>9}  target")
    print(head)
    print("-" * len(head))
    ok = True
    for label, r in rows.items():
        target = TARGETS.get(label)
        verdict = ""
        if target is not None:
            met = r["median"] <= target
            ok &= met
            verdict = f"<= {target:g} s {'met' if met else 'MISSED'}"
        print(f"{label:<{w}} {r['median']:>9.3f} {r['min']:>7.3f} {r.get('cpu', math.nan):>7.3f} "
              f"{r['median'] / fit_itself:>7.1f} {r['median'] / bare:>9.1f}  {verdict}")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7, help="fresh processes per command")
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="measure without a byte code cache (every start compiles)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--json", type=Path, help="also write the numbers as JSON")
    a = ap.parse_args(argv)
    doc = measure(a.repeats, bytecode_cache=not a.no_bytecode_cache)
    ok = report(doc)
    if a.json:
        a.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if (ok or not a.check) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The live view of a sweep on stderr: a rich table of runs (status, loss, tokens/s, ETA).

On a terminal the table refreshes in place; elsewhere (a log file, CI) every start and end of a
run is one line. Running runs are followed through the ``curve.csv`` the trainer rewrites in the
run folder at each evaluation (read at most once a second per run).
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from scalinglab.store import RunRecord
from scalinglab.sweep.worker import Outcome

CURVE_FILE = "curve.csv"
#: how many finished runs the live table keeps showing
RECENT = 6


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _last_curve_row(path: Path) -> dict[str, str] | None:
    """The last data row of a curve CSV (reading only its tail)."""
    try:
        with open(path, "rb") as fh:
            head = fh.readline().decode("utf-8", "replace")
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(len(head), size - 4096))
            tail = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    if not head or not tail or not tail[-1].strip():
        return None
    rows = list(csv.DictReader(io.StringIO(head + tail[-1] + "\n")))
    return rows[0] if rows else None


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


@dataclass
class RunView:
    """What the view knows about one run."""

    run: RunRecord
    status: str
    out_dir: Path | None = None
    attempt: int = 0
    started: float | None = None
    tokens: float = 0.0
    loss: float | None = None
    rate: float | None = None
    seconds: float | None = None
    error: str | None = None
    _first: tuple[float, float] | None = field(default=None, repr=False)
    _polled: float = field(default=0.0, repr=False)

    @property
    def target(self) -> float:
        return float(self.run.config.get("tokens", 0))

    @property
    def eta(self) -> float | None:
        if self.status != "running" or not self.rate:
            return None
        return max(0.0, self.target - self.tokens) / self.rate

    def poll(self, now: float) -> None:
        """Read the latest curve row (tokens, validation loss) and update the rate."""
        if self.out_dir is None or now - self._polled < 1.0:
            return
        self._polled = now
        row = _last_curve_row(self.out_dir / CURVE_FILE)
        if row is None:
            return
        tokens = _float(row.get("tokens"))
        loss = _float(row.get("val_loss"))
        if tokens is None:
            return
        if loss is not None:
            self.loss = loss
        if self._first is None or tokens < self._first[1]:
            self._first = (now, tokens)
        elif tokens > self._first[1] and now > self._first[0]:
            self.rate = (tokens - self._first[1]) / (now - self._first[0])
        self.tokens = tokens


def _shape(config: dict[str, Any]) -> str:
    return f"{config.get('n_layer')}L x {config.get('d_model')}d"


class SweepView:
    """Follows a sweep's runs and draws them (``live``: a refreshing table; else lines)."""

    def __init__(self, study: str, runs: list[RunRecord], console: Console, *,
                 enabled: bool = True, executor: str = "local") -> None:
        self.study = study
        self.console = console
        self.enabled = enabled
        self.executor = executor
        self.views = {r.run_id: RunView(r, r.status) for r in runs}
        self.recent: list[str] = []
        self.live_mode = enabled and console.is_terminal
        self._live: Live | None = None
        self.t0 = time.monotonic()

    def __enter__(self) -> SweepView:
        if self.live_mode:
            self._live = Live(self.render(), console=self.console, refresh_per_second=2,
                              transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self.render())
            self._live.__exit__(None, None, None)
            self._live = None

    def _line(self, text: str) -> None:
        if self.enabled and not self.live_mode:
            self.console.print(text, highlight=False, soft_wrap=True, markup=False)

    # ------------------------------------------------------------------ events
    def started(self, run_id: str, attempt: int, out_dir: Path) -> None:
        v = self.views[run_id]
        v.status, v.attempt, v.out_dir = "running", attempt, out_dir
        v.started, v.rate, v._first = time.monotonic(), None, None
        self._line(f"[{self.study}] run {run_id} started ({_shape(v.run.config)}, "
                   f"{v.target:.3g} tokens, attempt {attempt})")

    def ended(self, outcome: Outcome, status: str) -> None:
        v = self.views[outcome.run_id]
        v.status = status
        v.seconds = outcome.seconds
        if outcome.result:
            v.loss = _float(outcome.result.get("final_val_loss"))
            v.tokens = _float(outcome.result.get("tokens")) or v.tokens
            v.rate = _float(outcome.result.get("tokens_per_second")) or v.rate
        v.error = outcome.error
        if outcome.run_id in self.recent:
            self.recent.remove(outcome.run_id)
        self.recent.append(outcome.run_id)
        if outcome.status == "completed":
            loss = f"{v.loss:.4f}" if v.loss is not None else "-"
            self._line(f"[{self.study}] run {outcome.run_id} completed: loss {loss}, "
                       f"{outcome.seconds:.1f} s")
        elif outcome.status == "failed":
            last = (outcome.error or "").strip().splitlines()[-1:] or [""]
            then = "will retry" if status == "pending" else "no retries left"
            self._line(f"[{self.study}] run {outcome.run_id} failed ({then}): {last[0]}")
        else:
            self._line(f"[{self.study}] run {outcome.run_id} interrupted")

    def refresh(self) -> None:
        now = time.monotonic()
        for v in self.views.values():
            if v.status == "running":
                v.poll(now)
        if self._live is not None:
            self._live.update(self.render())

    # ------------------------------------------------------------------ drawing
    def eta(self) -> float | None:
        """Remaining tokens of unfinished runs over the current total rate."""
        rates = [v.rate for v in self.views.values() if v.status == "running" and v.rate]
        if not rates:
            return None
        left = sum(max(0.0, v.target - v.tokens) for v in self.views.values()
                   if v.status in ("running", "pending"))
        return left / sum(rates)

    def counts(self) -> dict[str, int]:
        out = {"pending": 0, "running": 0, "completed": 0, "failed": 0}
        for v in self.views.values():
            out[v.status] = out.get(v.status, 0) + 1
        return out

    def render(self) -> Group:
        c = self.counts()
        title = Text.assemble(
            (f"sweep {self.study}", "bold"),
            f" ({self.executor}): {c['completed']}/{len(self.views)} completed, "
            f"{c['running']} running, {c['pending']} pending, {c['failed']} failed; "
            f"elapsed {_fmt_duration(time.monotonic() - self.t0)}, "
            f"ETA {_fmt_duration(self.eta())}")
        table = Table(box=None, pad_edge=False, header_style="bold")
        for col, justify in (("run", "left"), ("model", "left"), ("tokens", "right"),
                             ("status", "left"), ("done", "right"), ("loss", "right"),
                             ("tok/s", "right"), ("ETA", "right")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        running = [v for v in self.views.values() if v.status == "running"]
        shown = running + [self.views[r] for r in self.recent[-RECENT:][::-1]
                           if self.views[r].status != "running"]
        styles = {"completed": "green", "failed": "red", "running": "cyan", "pending": ""}
        for v in shown:
            done = f"{100 * v.tokens / v.target:.0f}%" if v.target else "-"
            table.add_row(v.run.run_id[:10], _shape(v.run.config), f"{v.target:.3g}",
                          Text(v.status, style=styles.get(v.status, "")), done,
                          f"{v.loss:.4f}" if v.loss is not None else "-",
                          f"{v.rate:,.0f}" if v.rate else "-", _fmt_duration(v.eta))
        return Group(title, table)

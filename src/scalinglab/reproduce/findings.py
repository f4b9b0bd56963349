"""Findings of a reproduced paper: a measured value beside the paper's, judged by a stated rule.

A :class:`Finding` is one claim of a paper (an exponent, a ratio, a qualitative statement made
quantitative) measured on our runs: the value with its 95% interval, the paper's value with its
source, and a verdict:

* ``reproduced``: the measured 95% interval meets the paper's value widened by the finding's
  tolerance band (``paper ± tolerance·|paper|``; the tolerance is stated with the finding, since
  a small corpus at 1e-4 of the paper's scale cannot be asked for the paper's digits);
* ``differs``: the interval lies wholly outside that band; the detail says by how much
  (measured − paper, absolute and relative, and the gap between the interval and the band);
* ``not measurable``: the data do not support a value (the fit is not identified, the interval
  is wider than the finding's ``max_rel_width``, too few points); the detail says why and, where
  the fitted laws allow, what scale would be needed.

:func:`judge` applies the rule; :func:`write_findings` writes ``findings.json``;
:func:`render_findings_page` builds the one-file HTML page of a reproduction (reusing the
report's CSS and number formatting).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

Verdict = Literal["reproduced", "differs", "not measurable"]
VERDICTS: tuple[str, ...] = ("reproduced", "differs", "not measurable")

#: the rule every verdict follows, as the report states it
RULE = ("reproduced: the measured 95% interval meets the paper's value widened by the finding's "
        "tolerance (paper ± tolerance·|paper|); differs: the interval lies wholly outside that "
        "band (the detail gives measured − paper and the gap); not measurable: the fit is not "
        "identified, has too few points, or its interval is wider than the finding's limit "
        "(the detail says why and, where the fitted laws allow, what scale would be needed).")


@dataclass
class Finding:
    """One claim of the paper, measured here (see the module docstring for the verdict rule).

    ``measured`` and ``interval`` are in the units of ``quantity``; ``paper`` is the paper's
    value (None for a purely qualitative claim, which is then judged by ``rule`` as stated);
    ``figure`` names the finding's figure; ``extra`` holds further measured numbers (with
    their units in the key or in ``conventions``).
    """

    id: str
    title: str
    quantity: str
    measured: float | None
    interval: tuple[float, float] | None
    paper: float | None
    paper_source: str
    verdict: Verdict
    rule: str
    detail: str
    tolerance: float | None = None
    needed_scale: str | None = None
    figure: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    conventions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["interval"] = list(self.interval) if self.interval is not None else None
        return out


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(float(x))


def judge(measured: float | None, interval: Sequence[float] | None, paper: float, *,
          tolerance: float, max_rel_width: float = 1.0,
          not_measurable: str | None = None) -> tuple[Verdict, str]:
    """The verdict and its detail for a measured value against the paper's.

    ``not_measurable`` (a reason) forces that verdict; otherwise a missing or non-finite value
    or interval, or an interval wider than ``max_rel_width`` times ``|paper|``, is not
    measurable. ``tolerance`` is relative to ``|paper|``.
    """
    if not_measurable:
        return "not measurable", not_measurable
    if not _finite(measured) or interval is None or not all(_finite(v) for v in interval):
        return "not measurable", "no finite estimate or interval from these runs"
    lo, hi = sorted(float(v) for v in interval)
    m = float(measured)  # type: ignore[arg-type]
    scale = abs(paper) if paper != 0 else 1.0
    width = (hi - lo) / scale
    if width > max_rel_width:
        return "not measurable", (f"the 95% interval {lo:.3g}–{hi:.3g} is {width:.0%} of the "
                                  f"paper's value wide (limit {max_rel_width:.0%})")
    band_lo, band_hi = paper - tolerance * scale, paper + tolerance * scale
    diff = m - paper
    rel = diff / scale
    what = f"measured {m:.3g} ({lo:.3g}–{hi:.3g}) vs paper {paper:.3g}: {diff:+.3g} ({rel:+.0%})"
    if hi >= band_lo and lo <= band_hi:
        inside = lo <= paper <= hi
        return "reproduced", what + ("; the interval holds the paper's value" if inside else
                                     f"; within the ±{tolerance:.0%} band")
    gap = band_lo - hi if hi < band_lo else lo - band_hi
    return "differs", what + f"; the interval misses the ±{tolerance:.0%} band by {gap:.3g}"


def verdict_counts(findings: Sequence[Finding]) -> dict[str, int]:
    return {v: sum(f.verdict == v for f in findings) for v in VERDICTS}


def write_findings(path: str | Path, findings: Sequence[Finding], meta: Mapping[str, Any]) -> Path:
    """``findings.json``: ``{meta..., rule, counts, findings: [...]}`` (atomic write)."""
    from scalinglab.jsonio import to_jsonable, write_json

    target = Path(path)
    doc = {**meta, "rule": RULE, "counts": verdict_counts(findings),
           "findings": [f.to_json() for f in findings]}
    write_json(target, to_jsonable(doc), option="out")
    return target


# ============================================================================ the page
_VERDICT_CSS = """
.verdict { display: inline-block; border-radius: 4px; padding: 1px 8px; font-weight: 600;
           font-size: 0.85em; }
.verdict.reproduced { background: #e3f4e6; color: #1b5e20; border: 1px solid #81c784; }
.verdict.differs { background: #fff3e0; color: #8a4b00; border: 1px solid #ffb74d; }
.verdict.not-measurable { background: #eceff1; color: #37474f; border: 1px solid #b0bec5; }
section.finding { border-top: 1px solid #e3e7ec; margin-top: 26px; }
"""


def _verdict_badge(v: str) -> str:
    from scalinglab.report.html import esc

    return f'<span class="verdict {esc(v.replace(" ", "-"))}">{esc(v)}</span>'


def _finding_section(f: Finding, k: int, png: bytes | None,
                     shown: tuple[int, str] | None = None) -> str:
    from scalinglab.report.html import esc, interval, num, table

    rows = [["measured", f"{num(f.measured)} <span class='i'>95%: {interval(f.interval)}</span>"
             if f.measured is not None else "–"],
            ["paper", f"{num(f.paper)} <span class='i'>({esc(f.paper_source)})</span>"
             if f.paper is not None else esc(f.paper_source)],
            ["verdict", f"{_verdict_badge(f.verdict)} {esc(f.detail)}"],
            ["rule", esc(f.rule)]]
    if f.needed_scale:
        rows.append(["scale needed", esc(f.needed_scale)])
    for key, value in f.extra.items():
        rows.append([esc(key), num(value) if isinstance(value, (int, float)) else esc(value)])
    for key, value in f.conventions.items():
        rows.append([f"convention: {esc(key)}", esc(value)])
    parts = [f"<section class='finding' id='{esc(f.id)}'>",
             f"<h2>{k}. {esc(f.title)} <small>({esc(f.quantity)})</small></h2>",
             table(["", ""], rows)]
    if f.notes:
        parts.append("<ul class='note'>" + "".join(f"<li>{esc(n)}</li>" for n in f.notes)
                     + "</ul>")
    if png is not None:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(f.title)}">'
                     f"<figcaption><b>Finding {k}.</b> {esc(f.title)}</figcaption></figure>")
    elif shown is not None:  # a figure shared with an earlier finding is embedded once
        parts.append(f"<p class='note'>Figure: see <a href='#{esc(shown[1])}'>finding "
                     f"{shown[0]}</a>.</p>")
    parts.append("</section>")
    return "\n".join(parts)


def render_findings_page(title: str, findings: Sequence[Finding], *,
                         figures: Mapping[str, bytes] | None = None, intro: str = "",
                         sections: Sequence[tuple[str, str]] = (),
                         created: datetime | None = None) -> str:
    """One self-contained HTML page: a summary table of the findings (verdict counts first),
    one section per finding with its figure, then extra ``(heading, html)`` sections.

    ``intro`` and the extra sections' bodies are trusted HTML made by the caller (escape any
    user value in them); everything taken from a finding is escaped here.
    """
    from scalinglab import __version__
    from scalinglab.report.html import esc, interval, num, page_head, table

    figures = figures or {}
    when = (created or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    counts = verdict_counts(findings)
    summary_rows = [[f"<a href='#{esc(f.id)}'>{k}. {esc(f.title)}</a>", esc(f.quantity),
                     num(f.measured), interval(f.interval), num(f.paper),
                     _verdict_badge(f.verdict)] for k, f in enumerate(findings, start=1)]
    counts_text = ", ".join(f"{n} {v}" for v, n in counts.items())
    body = [f"<h1>{esc(title)}</h1>",
            f"<p class='sub'>{len(findings)} findings: {esc(counts_text)} · {esc(when)} · "
            f"scalinglab {esc(__version__)}</p>", intro,
            "<h2 id='summary'>Findings</h2>",
            table(["finding", "quantity", "measured", "95% interval", "paper", "verdict"],
                  summary_rows, [False, False, True, True, True, False]),
            f"<p><b>Verdict rule.</b> {esc(RULE)}</p>"]
    first: dict[str, tuple[int, str]] = {}  # a figure shared by findings is embedded once
    for k, f in enumerate(findings, start=1):
        shown = first.get(f.figure) if f.figure else None
        png = figures.get(f.figure) if f.figure and shown is None else None
        if f.figure and png is not None:
            first[f.figure] = (k, f.id)
        body.append(_finding_section(f, k, png, shown))
    body += [f"<h2>{esc(h)}</h2>\n{html}" for h, html in sections]
    return f"""{page_head(title, _VERDICT_CSS)}
</head>
<body>
<main>
{chr(10).join(body)}
<footer>Made by scalinglab {esc(__version__)}. Self-contained: no scripts, no remote
resources.</footer>
</main>
</body>
</html>
"""


def write_page(path: str | Path, page: str) -> Path:
    """Write an HTML page atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target

"""Convention sensitivity: the same runs refitted under each counting convention.

Kaplan et al. (2020) and Hoffmann et al. (2022) disagree about the compute-optimal allocation
(``N_opt ∝ C^a`` with a ≈ 0.73 vs ≈ 0.5). Pearce & Song (2024, arXiv 2406.12907) and Porian et
al. (2024, arXiv 2406.19146) show that most of the gap is *counting*: which parameters N counts,
which FLOPs C counts, and how the optimum is located. :func:`convention_report` takes one run
table and refits it under every combination of

* **N**: ``total`` (every parameter, embeddings included; Chinchilla's) or ``nonembedding``
  (Kaplan's);
* **C**: ``6ND`` (6 x that N x tokens) or ``full``: every matmul including the output head plus
  the attention scores, ``6 (N_nonembedding + V d) + 12 n_layer n_ctx d`` FLOPs per token (the
  PaLM App. B / nanoGPT ``estimate_mfu`` count, FLOP convention
  ``palm``; QK^T and AV both counted, no causal halving, the input embedding lookup free);
* **allocation**: ``approach3`` (Chinchilla's parametric law ``E + A/N^alpha + B/D^beta`` fitted
  with N in that convention, then minimised on the line ``C = flops_per_token(N) D``) or
  ``frontier`` (Kaplan's rule: at each budget the lowest-loss model, and a power law through
  them: Approach 1's envelope of learning curves when the table has curves, Approach 2's IsoFLOP
  minima when it has final losses only),

and reports, per combination, the exponent ``a`` of ``N_opt ∝ C^a`` over the data's compute
range (with an interval where one is available), ``N_opt`` at a target budget (the target is
read in the row's own C convention, as a planner using that convention would read it; ``N_opt``
is also given in total parameters so rows compare), ``D_opt`` and the predicted loss (nats per
token) under the Approach-3 law of the row's N convention.

**Counting the runs.** Where the table has the trainer's exact counts (``params_total`` and
``params_nonembedding``; ``flops_palm``: training FLOPs in the full count, as the run store
writes them) they are used for each run. Otherwise, and for model sizes that are not runs (an
optimum, a target), a :class:`ShapeRule` says how the embedding and the extra FLOPs grow with
``N_nonembedding``: by default Pearce & Song's Chinchilla-like family (vocabulary 32,000,
aspect ratio d/n_layer = 39.2, context 2,048; ``N_total = N_E + gamma N_E^(1/3)`` with their
fitted gamma = 47,491), or power laws fitted to the table's own exact counts. Which one was used
is recorded in the report.

**IsoFLOP tables.** Runs designed at a few budgets are grouped at their designed budgets (the
table's own C); each budget's minimum (Approach 2's parabola in ln N) is located there and then
re-expressed in the row's conventions: N converted by the shape rule, C = flops_per_token(N) x
D_opt. Approach 3's intervals come from its bootstrap (``bootstrap=``); Approach 2's are
Student-t intervals over the budgets; the frontier of learning curves has none (its points are
one staircase of model sizes, not independent).

Results that the data do not identify are flagged on the row (``identified=False`` and a note).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalinglab.accounting.convert import PEARCE_SONG_GAMMA, embedding_gamma
from scalinglab.errors import FitError, ParameterError, ScalingLabError, unknown

NConvention = Literal["total", "nonembedding"]
CConvention = Literal["6ND", "full"]
Allocation = Literal["approach3", "frontier"]

#: N conventions -> what N counts
N_CONVENTIONS: dict[str, str] = {
    "total": "total parameters, embeddings included (Chinchilla's N_T)",
    "nonembedding": "non-embedding parameters (Kaplan's N_E)",
}
#: C conventions -> how training FLOPs are counted
C_CONVENTIONS: dict[str, str] = {
    "6ND": "C = 6 N D with N in the row's N convention",
    "full": "C = [6 (N_E + V d) + 12 n_layer n_ctx d] D: every matmul incl. the output head plus "
            "attention scores (PaLM App. B / nanoGPT estimate_mfu; FLOP convention 'palm')",
}
#: allocation rules -> how N_opt(C) is found
ALLOCATIONS: dict[str, str] = {
    "approach3": "Chinchilla's Approach 3: L = E + A/N^alpha + B/D^beta fitted with N in the "
                 "row's convention, minimised on the line C = flops_per_token(N) D",
    "frontier": "Kaplan's rule: at each budget the lowest-loss model (Approach 1's envelope of "
                "learning curves, or Approach 2's IsoFLOP minima for final losses), and a "
                "least-squares power law N_opt ∝ C^a through them",
}
#: Pearce & Song's Chinchilla-like family (their script: vocab 32e3, aspect 39.2, ctx 2048)
PS_VOCAB, PS_ASPECT_RATIO, PS_CONTEXT = 32000, 39.2, 2048
#: budgets on which the Approach-3 exponent is measured (log-spaced over the compute range)
N_BUDGETS = 32
#: frontier of learning curves: envelope points per decade of compute
ENVELOPE_POINTS_PER_DECADE = 13

_LOG_GRID = np.linspace(math.log(1e-2), math.log(1e30), 20001)  # ln N_E, for inversions


# ============================================================================ shape rule
@dataclass(frozen=True)
class ShapeRule:
    """How a model family's embedding parameters and extra FLOPs grow with its non-embedding
    parameters N_E (for sizes that are not runs, and for runs without exact counts):

    * ``N_total = N_E + embedding_coef N_E^embedding_power``;
    * full training FLOPs per token ``= 6 N_E + sum(coef N_E^power for (coef, power) in
      flop_terms)`` (the output head ``6 V d`` and attention ``12 n_layer n_ctx d``).

    ``source`` says where the numbers come from."""

    embedding_coef: float
    embedding_power: float
    flop_terms: tuple[tuple[float, float], ...]
    source: str
    #: tabulated instead (from a table's exact counts): (ln N_E, ln embedding) and
    #: (ln N_E, ln extra FLOPs per token) knots, interpolated linearly in log-log and extended
    #: with the end segments' slopes; empty: the power laws above
    embedding_knots: tuple[tuple[float, float], ...] = ()
    flop_knots: tuple[tuple[float, float], ...] = ()

    @classmethod
    def fixed_aspect(cls, vocab: int = PS_VOCAB, aspect_ratio: float = PS_ASPECT_RATIO,
                     context: int = PS_CONTEXT, *, gamma: float | None = PEARCE_SONG_GAMMA,
                     tied: bool = True) -> ShapeRule:
        """Shapes at a fixed aspect ratio ``a = d / n_layer`` with ``N_E = 12 n_layer d^2``:
        ``d = (a N_E / 12)^(1/3)``, embedding ``gamma N_E^(1/3)`` (``gamma=None``:
        ``V (a/12)^(1/3)``, doubled when untied), head ``6 V d`` and attention
        ``12 n_ctx d^2 / a`` FLOPs per token. The defaults are Pearce & Song's Chinchilla-like
        family with their fitted gamma = 47,491."""
        if vocab < 1 or not (aspect_ratio > 0 and math.isfinite(aspect_ratio)) or context < 0:
            raise ParameterError("shape_rule", f"vocab and aspect_ratio must be positive and "
                                 f"context >= 0; got vocab={vocab}, aspect_ratio={aspect_ratio},"
                                 f" context={context}")
        k = (aspect_ratio / 12.0) ** (1.0 / 3.0)  # d = k N_E^(1/3)
        g = embedding_gamma(vocab, aspect_ratio, tied=tied) if gamma is None else float(gamma)
        terms = ((6.0 * vocab * k, 1.0 / 3.0), (12.0 * context / aspect_ratio * k * k, 2.0 / 3.0))
        src = (f"fixed aspect ratio d/n_layer = {aspect_ratio:g}, vocabulary {vocab}, context "
               f"{context}; N_total = N_E + {g:.6g} N_E^(1/3) (Pearce & Song 2024's rule)")
        return cls(g, 1.0 / 3.0, terms, src)

    @classmethod
    def from_table(cls, df: pd.DataFrame) -> ShapeRule | None:
        """The family's counts tabulated from a table's exact counts: the embedding
        ``params_total - params_nonembedding`` and, with ``flops_palm`` and ``D``, the full
        count's extra FLOPs per token ``flops_palm / D - 6 N_E``, per distinct N_E (log-log
        interpolation between the runs, the end slopes beyond them); None without those columns
        or with fewer than 2 sizes."""
        needed = {"params_total", "params_nonembedding", "flops_palm", "D"}
        if not needed <= set(df.columns):
            return None
        ne, nt, fl, d = (pd.to_numeric(df[c], errors="coerce").to_numpy(float)
                         for c in ("params_nonembedding", "params_total", "flops_palm", "D"))
        extra = fl / d - 6.0 * ne
        ok = (np.isfinite(ne) & np.isfinite(nt) & np.isfinite(extra) & (ne > 0) & (nt > ne)
              & (extra > 0))
        sizes, first = np.unique(ne[ok], return_index=True)
        if len(sizes) < 2:
            return None
        emb = (nt[ok] - ne[ok])[first]
        ext = extra[ok][first]
        ls = np.log(sizes)
        pe = float(np.polyfit(ls, np.log(emb), 1)[0])
        pf = float(np.polyfit(ls, np.log(ext), 1)[0])
        return cls(math.nan, pe, (), (
            f"tabulated from the table's exact counts of {len(sizes)} sizes (params_total - "
            f"params_nonembedding; flops_palm / D - 6 N_E), log-log interpolation between them, "
            f"end slopes beyond (embedding ~ N_E^{pe:.3f}, head + attention FLOPs ~ "
            f"N_E^{pf:.3f} overall)"),
            tuple(zip(ls.tolist(), np.log(emb).tolist(), strict=True)),
            tuple(zip(ls.tolist(), np.log(ext).tolist(), strict=True)))

    # ------------------------------------------------------------------ conversions
    def embedding(self, n_nonembedding: Any) -> np.ndarray:
        """Embedding parameters (N_total - N_E) of a model with ``n_nonembedding``."""
        n = np.asarray(n_nonembedding, float)
        if self.embedding_knots:
            return _loglog(n, self.embedding_knots)
        return self.embedding_coef * n**self.embedding_power

    def total(self, n_nonembedding: Any) -> np.ndarray:
        """N_total of a model with ``n_nonembedding`` non-embedding parameters."""
        n = np.asarray(n_nonembedding, float)
        return n + self.embedding(n)

    def nonembedding(self, n_total: Any) -> np.ndarray:
        """Inverse of :meth:`total` (log-grid interpolation; ~1e-7 relative)."""
        grid_t = np.log(self.total(np.exp(_LOG_GRID)))
        return np.exp(np.interp(np.log(np.asarray(n_total, float)), grid_t, _LOG_GRID))

    def flops_per_token(self, n_nonembedding: Any) -> np.ndarray:
        """Full-count training FLOPs per token of a model of ``n_nonembedding``."""
        n = np.asarray(n_nonembedding, float)
        out = 6.0 * n
        if self.flop_knots:
            return out + _loglog(n, self.flop_knots)
        for coef, power in self.flop_terms:
            out = out + coef * n**power
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"embedding_coef": self.embedding_coef, "embedding_power": self.embedding_power,
                "flop_terms": [list(t) for t in self.flop_terms], "source": self.source,
                "embedding_knots": [list(t) for t in self.embedding_knots],
                "flop_knots": [list(t) for t in self.flop_knots]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ShapeRule:
        def pairs(key: str) -> tuple[tuple[float, float], ...]:
            return tuple((float(a), float(b)) for a, b in d.get(key) or ())

        return cls(_float(d["embedding_coef"]), float(d["embedding_power"]),
                   pairs("flop_terms"), str(d["source"]), pairs("embedding_knots"),
                   pairs("flop_knots"))


def _loglog(n: np.ndarray, knots: Sequence[tuple[float, float]]) -> np.ndarray:
    """exp of the piecewise-linear function through ``knots`` (ln x, ln y) at ln ``n``,
    extended beyond the ends with the end segments' slopes."""
    k = np.asarray(knots, float)
    lx, ly = k[:, 0], k[:, 1]
    x = np.log(n)
    y = np.interp(x, lx, ly)
    lo_slope = (ly[1] - ly[0]) / (lx[1] - lx[0])
    hi_slope = (ly[-1] - ly[-2]) / (lx[-1] - lx[-2])
    y = np.where(x < lx[0], ly[0] + lo_slope * (x - lx[0]), y)
    y = np.where(x > lx[-1], ly[-1] + hi_slope * (x - lx[-1]), y)
    return np.exp(y)


# ============================================================================ records
@dataclass(frozen=True)
class ConventionRow:
    """One convention combination: exponent ``a`` of N_opt ∝ C^a (over ``compute_range``,
    C and N in the row's conventions), and at the target budget (read in the row's C
    convention) ``n_opt`` (row's N convention), ``n_opt_total`` (the same model in total
    parameters), ``d_opt`` (tokens) and ``loss`` (nats/token, under the Approach-3 law of the
    row's N convention). ``identified`` is False when the data do not determine ``a`` (the
    reason is in ``notes``)."""

    n_convention: str
    c_convention: str
    allocation: str
    a: float
    a_interval: tuple[float, float] | None
    n_opt: float
    n_opt_total: float
    d_opt: float
    loss: float | None
    identified: bool
    n_points: int
    interval_method: str
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.n_convention, self.c_convention, self.allocation)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["a_interval"] = None if self.a_interval is None else list(self.a_interval)
        d["notes"] = list(self.notes)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConventionRow:
        iv = d.get("a_interval")
        loss = d.get("loss")
        return cls(str(d["n_convention"]), str(d["c_convention"]), str(d["allocation"]),
                   _float(d["a"]), None if iv is None else (float(iv[0]), float(iv[1])),
                   _float(d["n_opt"]), _float(d["n_opt_total"]), _float(d["d_opt"]),
                   None if loss is None else float(loss), bool(d["identified"]),
                   int(d["n_points"]), str(d["interval_method"]), tuple(d.get("notes", ())))


def _float(v: Any) -> float:
    return math.nan if v is None else float(v)


@dataclass
class ConventionReport:
    """The convention-sensitivity report of one run table (see the module docstring)."""

    target_compute: float
    rows: list[ConventionRow]
    compute_range: tuple[float, float] | None
    data_convention: str
    frontier_kind: str | None
    shape_rule: ShapeRule
    counts: str
    confidence: float
    source: str = ""
    notes: list[str] = field(default_factory=list)
    #: per row key: the frontier points (C, N_opt) in the row's conventions (for figures)
    frontier_points: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False)

    def row(self, n_convention: str, c_convention: str, allocation: str) -> ConventionRow:
        """The row of one combination (a :class:`ParameterError` if the report lacks it)."""
        for r in self.rows:
            if r.key == (n_convention, c_convention, allocation):
                return r
        raise ParameterError("allocation", f"no row ({n_convention}, {c_convention}, "
                             f"{allocation}) in this report")

    def to_frame(self) -> pd.DataFrame:
        """One row per combination, the columns of :class:`ConventionRow` (``a_low``,
        ``a_high`` for the interval, ``notes`` joined with '; ')."""
        recs = []
        for r in self.rows:
            d = r.to_dict()
            iv = d.pop("a_interval")
            d["a_low"], d["a_high"] = (iv if iv is not None else (math.nan, math.nan))
            d["notes"] = "; ".join(r.notes)
            recs.append(d)
        cols = ["n_convention", "c_convention", "allocation", "a", "a_low", "a_high",
                "n_opt", "n_opt_total", "d_opt", "loss", "identified", "n_points",
                "interval_method", "notes"]
        return pd.DataFrame(recs, columns=cols)

    @property
    def spread(self) -> dict[str, float]:
        """Range of the identified rows' ``a`` and ``n_opt_total`` (max/min) across rows."""
        ok = [r for r in self.rows if r.identified and math.isfinite(r.a)]
        if not ok:
            return {}
        a = [r.a for r in ok]
        n = [r.n_opt_total for r in ok if math.isfinite(r.n_opt_total) and r.n_opt_total > 0]
        out = {"a_min": min(a), "a_max": max(a)}
        if n:
            out["n_opt_total_ratio"] = max(n) / min(n)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_compute": self.target_compute,
            "compute_range": None if self.compute_range is None else list(self.compute_range),
            "data_convention": self.data_convention,
            "frontier_kind": self.frontier_kind,
            "shape_rule": self.shape_rule.to_dict(),
            "counts": self.counts,
            "confidence": self.confidence,
            "source": self.source,
            "notes": list(self.notes),
            "rows": [r.to_dict() for r in self.rows],
            "spread": self.spread,
            "frontier_points": [
                {"n_convention": k[0], "c_convention": k[1], "allocation": k[2],
                 "C": np.asarray(c, float).tolist(), "N": np.asarray(n, float).tolist()}
                for k, (c, n) in self.frontier_points.items()],
            "conventions": {
                "N": N_CONVENTIONS, "C": C_CONVENTIONS, "allocation": ALLOCATIONS,
                "target_compute": "FLOPs, read in each row's own C convention",
                "n_opt": "parameters in the row's N convention",
                "n_opt_total": "the same model in total parameters (shape rule)",
                "d_opt": "training tokens",
                "loss": "nats/token, the Approach-3 law of the row's N convention at "
                        "(n_opt, d_opt)",
                "a": "N_opt ∝ C^a, least squares in log-log over compute_range (row's "
                     "conventions)",
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConventionReport:
        cr = d.get("compute_range")
        points = {(p["n_convention"], p["c_convention"], p["allocation"]):
                  (np.asarray(p["C"], float), np.asarray(p["N"], float))
                  for p in d.get("frontier_points", ())}
        return cls(float(d["target_compute"]), [ConventionRow.from_dict(r) for r in d["rows"]],
                   None if cr is None else (float(cr[0]), float(cr[1])),
                   str(d["data_convention"]), d.get("frontier_kind"),
                   ShapeRule.from_dict(d["shape_rule"]), str(d["counts"]),
                   float(d["confidence"]), str(d.get("source", "")), list(d.get("notes", [])),
                   points)


# ============================================================================ the runs
@dataclass
class _Runs:
    n_total: np.ndarray
    n_nonembedding: np.ndarray
    flops_full: np.ndarray  # training FLOPs, full count
    D: np.ndarray
    loss: np.ndarray
    C_own: np.ndarray
    run_id: np.ndarray | None

    def n(self, conv: str) -> np.ndarray:
        return self.n_total if conv == "total" else self.n_nonembedding

    def compute(self, n_conv: str, c_conv: str) -> np.ndarray:
        return 6.0 * self.n(n_conv) * self.D if c_conv == "6ND" else self.flops_full


def _own_convention(df: pd.DataFrame, n_convention: str) -> tuple[str, str | None]:
    """The table's N convention (``auto``: its ``N_convention`` column or
    ``attrs['conventions']['N']``), and a note when it had to be assumed."""
    if n_convention in ("total", "nonembedding"):
        return n_convention, None
    if n_convention != "auto":
        raise ParameterError("n_convention", unknown("N convention", n_convention,
                                                     ("auto", "total", "nonembedding")))
    texts: list[str] = []
    if "N_convention" in df.columns:
        texts += [str(v) for v in df["N_convention"].dropna().unique()]
    texts.append(str(dict(df.attrs.get("conventions", {})).get("N", "")))
    said = " ".join(texts).lower().replace("-", "").replace("_", "")
    if "nonembedding" in said:
        return "nonembedding", None
    if "total" in said or "incl" in said:
        return "total", None
    return "total", ("the table does not say what N counts: taken as total parameters "
                     "(give n_convention= otherwise)")


def _runs(df: pd.DataFrame, own: str, rule: ShapeRule, measured: bool) -> _Runs:
    N = df["N"].to_numpy(float)
    D = df["D"].to_numpy(float)
    if measured:
        nt = pd.to_numeric(df["params_total"], errors="coerce").to_numpy(float)
        ne = pd.to_numeric(df["params_nonembedding"], errors="coerce").to_numpy(float)
    elif own == "total":
        nt, ne = N, rule.nonembedding(N)
    else:
        ne, nt = N, rule.total(N)
    if measured and "flops_palm" in df.columns:
        ff = pd.to_numeric(df["flops_palm"], errors="coerce").to_numpy(float)
    else:
        ff = rule.flops_per_token(ne) * D
    C = df["C"].to_numpy(float) if "C" in df.columns else 6.0 * N * D
    rid = df["run_id"].to_numpy() if "run_id" in df.columns else None
    return _Runs(nt, ne, ff, D, df["loss"].to_numpy(float), C, rid)


def _to_nonembedding(n: Any, conv: str, rule: ShapeRule) -> np.ndarray:
    return np.asarray(n, float) if conv == "nonembedding" else rule.nonembedding(n)


def _to_total(n: Any, conv: str, rule: ShapeRule) -> np.ndarray:
    return np.asarray(n, float) if conv == "total" else rule.total(n)


def _fpt(n_conv: str, c_conv: str, rule: ShapeRule) -> Callable[[np.ndarray], np.ndarray]:
    """FLOPs per token as a function of N in ``n_conv`` under ``c_conv``."""
    if c_conv == "6ND":
        return lambda n: 6.0 * np.asarray(n, float)
    return lambda n: rule.flops_per_token(_to_nonembedding(n, n_conv, rule))


# ============================================================================ Approach 3
def law_optimum(params: Mapping[str, Any], compute: Any,
                flops_per_token: Callable[[np.ndarray], np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute-optimal (N, D, loss) of ``E + A/N^alpha + B/D^beta`` on the lines
    ``C = flops_per_token(N) D``, numerically (a log-N grid, a finer grid around its minimum
    and a parabola through the best three points). ``params`` values may be arrays of K
    parameter draws; the results are then ``(K, M)`` for M budgets, else ``(M,)``."""
    E, A, B, al, be = (np.atleast_1d(np.asarray(params[k], float))[:, None, None]
                       for k in ("E", "A", "B", "alpha", "beta"))
    C = np.atleast_1d(np.asarray(compute, float))
    scalar_params = np.ndim(params["A"]) == 0

    def loss(lx: np.ndarray) -> np.ndarray:  # lx: (K|1, M, G)
        n = np.exp(lx)
        d = C[None, :, None] / flops_per_token(n)
        return E + A * n**-al + B * d**-be

    lo, hi = math.log(1.0), math.log(float(C.max()))
    lx = np.linspace(lo, hi, 1601)[None, None, :]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        val = np.nan_to_num(loss(lx), nan=np.inf)
        j = np.argmin(val, axis=-1)
        step = lx[0, 0, 1] - lx[0, 0, 0]
        centre = lx[0, 0, 0] + j * step  # (K, M)
        fine = centre[..., None] + np.linspace(-1.5 * step, 1.5 * step, 61)
        val = np.nan_to_num(loss(fine), nan=np.inf)
        k = np.clip(np.argmin(val, axis=-1), 1, 59)
        h = fine[..., 1] - fine[..., 0]
        y0, y1, y2 = (np.take_along_axis(val, (k + s)[..., None], -1)[..., 0] for s in (-1, 0, 1))
        den = y0 - 2 * y1 + y2
        shift = np.where(den > 0, 0.5 * (y0 - y2) / np.where(den > 0, den, 1.0), 0.0)
        x = np.take_along_axis(fine, k[..., None], -1)[..., 0] + np.clip(shift, -1, 1) * h
        n = np.exp(x)
        d = C[None, :] / flops_per_token(n)
        L = loss(x[..., None])[..., 0]
    if scalar_params:
        return n[0], d[0], L[0]
    return n, d, L


def _slope(C: np.ndarray, N: np.ndarray) -> np.ndarray:
    """Least-squares slope of ln N on ln C along the last axis."""
    lc = np.log(C)
    lc = lc - lc.mean()
    ln = np.log(N)
    return (ln - ln.mean(axis=-1, keepdims=True)) @ lc / float(lc @ lc)


def _approach3_row(fit_res: Any, n_conv: str, c_conv: str, rule: ShapeRule, runs: _Runs,
                   target: float, crange: tuple[float, float] | None, confidence: float
                   ) -> tuple[ConventionRow, np.ndarray, np.ndarray]:
    fpt = _fpt(n_conv, c_conv, rule)
    C_runs = runs.compute(n_conv, c_conv)
    lo, hi = crange or (float(np.min(C_runs)), float(np.max(C_runs)))
    budgets = np.logspace(math.log10(lo), math.log10(hi), N_BUDGETS)
    params = fit_res.params
    n_b, _, _ = law_optimum(params, budgets, fpt)
    a = float(_slope(budgets, n_b))
    n_t, d_t, l_t = law_optimum(params, [target], fpt)
    notes = []
    iv = None
    method = "none (bootstrap=0)"
    if fit_res.draws is not None and len(fit_res.draws):
        names = list(fit_res.law.param_names)
        dr = {k: fit_res.draws[:, names.index(k)] for k in ("E", "A", "B", "alpha", "beta")}
        nd, _, _ = law_optimum(dr, budgets, fpt)
        ad = _slope(budgets, nd)
        ad = ad[np.isfinite(ad)]
        if len(ad) >= 2:
            q = (1 - confidence) / 2
            iv = (float(np.quantile(ad, q)), float(np.quantile(ad, 1 - q)))
            method = f"bootstrap percentile over {len(ad)} refits"
    bad = fit_res.unidentified()
    identified = not bad
    if bad:
        notes.append("not identified: " + "; ".join(bad))
    top = float(np.max(C_runs))
    if target > top:
        notes.append(f"target {target / top:.3g}x the largest run")
    n_opt = float(n_t[0])
    row = ConventionRow(n_conv, c_conv, "approach3", a, iv, n_opt,
                        float(_to_total(n_opt, n_conv, rule)), float(d_t[0]), float(l_t[0]),
                        identified, N_BUDGETS, method, tuple(notes))
    return row, budgets, n_b


# ============================================================================ frontier
def _is_curves(runs: _Runs) -> bool:
    if runs.run_id is None:
        return False
    _, counts = np.unique(runs.run_id.astype(str), return_counts=True)
    return bool((counts >= 2).any())


def _frontier_row(kind: str, base: Any, runs: _Runs, n_conv: str, c_conv: str,
                  own: str, rule: ShapeRule, target: float,
                  crange: tuple[float, float] | None, confidence: float,
                  law: Any | None) -> tuple[ConventionRow, np.ndarray, np.ndarray]:
    from scalinglab.fit.approaches import envelope, fit_power

    notes: list[str] = []
    fpt = _fpt(n_conv, c_conv, rule)
    if kind == "envelope":
        C_rows = runs.compute(n_conv, c_conv)
        df = pd.DataFrame({"run_id": runs.run_id, "N": runs.n(n_conv), "D": runs.D,
                           "C": C_rows, "loss": runs.loss})
        span = math.log10(C_rows.max() / C_rows.min())
        env = envelope(df, n_points=max(200, int(ENVELOPE_POINTS_PER_DECADE * span / 0.1)))
        C_pts, N_pts = env.compute, env.n_opt
        if crange is None:
            finals = df.groupby("run_id")["C"].max().to_numpy(float)
            crange = (float(finals.min()), float(finals.max()))
        keep = (C_pts >= crange[0] * (1 - 1e-12)) & (C_pts <= crange[1] * (1 + 1e-12))
        C_pts, N_pts = C_pts[keep], N_pts[keep]
        method = "none (frontier points are one staircase of model sizes)"
    else:
        iso = base
        n_own = iso.n_opt
        n_row = np.asarray(_to_total(n_own, own, rule) if n_conv == "total"
                           else _to_nonembedding(n_own, own, rule), float)
        C_pts = fpt(n_row) * iso.d_opt
        N_pts = n_row
        if crange is not None:
            keep = (C_pts >= crange[0]) & (C_pts <= crange[1])
            C_pts, N_pts = C_pts[keep], N_pts[keep]
        method = "Student-t over the IsoFLOP minima (n - 2 dof)"
        if n_conv != own or c_conv != "6ND":
            notes.append("minima re-expressed from the table's own budgets")
    distinct = len(np.unique(np.round(np.log(N_pts), 9))) if len(N_pts) else 0
    identified = len(C_pts) >= 3 and distinct >= 2
    if not identified:
        notes.append(f"not identified: {len(C_pts)} frontier point(s) with {distinct} distinct "
                     "model size(s) in the compute range")
        a, coef, iv = math.nan, math.nan, None
    else:
        pf = fit_power(C_pts, N_pts, confidence if kind == "isoflop" else None)
        a, coef, iv = pf.exponent, pf.coefficient, pf.exponent_interval
        if kind == "isoflop" and iv is None:
            method = "none (fewer than 3 budgets)"
    n_opt = coef * target**a if math.isfinite(a) else math.nan
    d_opt = float(target / fpt(np.asarray(n_opt))) if math.isfinite(n_opt) else math.nan
    loss = None
    if law is not None and math.isfinite(n_opt):
        loss = float(law.predict(N=[n_opt], D=[d_opt])[0])
    top = float(np.max(C_pts)) if len(C_pts) else math.nan
    if math.isfinite(top) and target > top:
        notes.append(f"target {target / top:.3g}x the largest frontier budget")
    row = ConventionRow(n_conv, c_conv, "frontier", float(a), iv, float(n_opt),
                        float(_to_total(n_opt, n_conv, rule)) if math.isfinite(n_opt)
                        else math.nan, d_opt, loss, identified, len(C_pts), method,
                        tuple(notes))
    return row, C_pts, N_pts


def _isoflop_note(iso: Any) -> str:
    """One line on the Approach-2 frontier: budgets used, left out and doubtful."""
    kinds = {"few": 0, "outside": 0, "lack": 0}
    other = []
    for w in iso.warnings:
        if "fewer than" in w and "skipped" in w:
            kinds["few"] += 1
        elif "outside the sizes tried" in w:
            kinds["outside"] += 1
        elif "lack of fit" in w:
            kinds["lack"] += 1
        else:
            other.append(w)
    parts = [f"{len(iso.budgets)} IsoFLOP budgets used"]
    if kinds["few"]:
        parts.append(f"{kinds['few']} left out with fewer than 3 sizes")
    if kinds["outside"]:
        parts.append(f"{kinds['outside']} left out with the minimum outside the sizes tried")
    if kinds["lack"]:
        parts.append(f"{kinds['lack']} with a doubtful minimum (lack of fit)")
    return ("frontier by Approach 2 at the table's own budgets (" + ", ".join(parts)
            + "; `scalinglab isoflop` shows each); rows in other conventions re-express its "
            "minima (N by the shape rule, C = flops_per_token(N) x D_opt)"
            + "".join(f"; {w}" for w in other))


# ============================================================================ the report
def _check_names(values: Iterable[str], known: Mapping[str, str], name: str) -> list[str]:
    out = list(values)
    if not out:
        raise ParameterError(name, f"give at least one of {', '.join(known)}")
    for v in out:
        if v not in known:
            raise ParameterError(name, unknown(name.rstrip("s").replace("_", " "), v, known))
    return out


#: the default target budget: this many times the table's largest compute
DEFAULT_TARGET_FACTOR = 100.0


def convention_report(
    data: pd.DataFrame | str,
    target_compute: float | None = None,
    *,
    n_convention: str = "auto",
    shape_rule: ShapeRule | None = None,
    compute_range: tuple[float, float] | None = None,
    n_conventions: Sequence[str] = ("total", "nonembedding"),
    c_conventions: Sequence[str] = ("6ND", "full"),
    allocations: Sequence[str] = ("approach3", "frontier"),
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
    columns: Mapping[str, str] | None = None,
) -> ConventionReport:
    """Refit one run table under each convention combination (see the module docstring).

    ``data``: an observation table (N, D, loss; C optional) or a path; learning curves
    (several rows per ``run_id``) make the frontier Approach 1's envelope, final losses
    Approach 2's IsoFLOP minima. ``target_compute``: the budget (FLOPs, read in each row's C
    convention; default :data:`DEFAULT_TARGET_FACTOR` times the table's largest 6ND compute,
    said in the notes). ``n_convention``: what the table's N counts (``auto``: its stated
    convention, else total). ``shape_rule``: the family's embedding and FLOP growth (default:
    fitted to the table's exact counts when it has them, else Pearce & Song's Chinchilla-like
    rule). ``compute_range``: (low, high) FLOPs over which ``a`` is measured, in each row's
    own C (default: the data's range). ``bootstrap``: Approach-3 refits for intervals."""
    from scalinglab.fit import fit as run_fit
    from scalinglab.fit.approaches import isoflop
    from scalinglab.observations import load_observations, validate

    if target_compute is not None and not (isinstance(target_compute, (int, float))
                                           and math.isfinite(target_compute)
                                           and target_compute > 0):
        raise ParameterError("target_compute", f"must be a positive number of FLOPs, got "
                             f"{target_compute!r}")
    if not (0 < confidence < 1):
        raise ParameterError("confidence", f"must be in (0, 1), got {confidence}")
    if bootstrap < 0:
        raise ParameterError("bootstrap", f"must be >= 0, got {bootstrap}")
    if compute_range is not None:
        lo, hi = (float(v) for v in compute_range)
        if not (0 < lo < hi and math.isfinite(hi)):
            raise ParameterError("compute_range", f"need 0 < low < high, got {compute_range}")
        compute_range = (lo, hi)
    ncs = _check_names(n_conventions, N_CONVENTIONS, "n_conventions")
    ccs = _check_names(c_conventions, C_CONVENTIONS, "c_conventions")
    als = _check_names(allocations, ALLOCATIONS, "allocations")

    df = load_observations(data, columns)
    source = str(df.attrs.get("source", data if isinstance(data, str) else ""))
    df = validate(df, ["N", "D", "loss"])
    own, own_note = _own_convention(df, n_convention)
    notes = [own_note] if own_note else []
    if target_compute is None:  # plan ahead of the data, as the demo does
        c_max = float(np.max(6.0 * df["N"].to_numpy(float) * df["D"].to_numpy(float)))
        target_compute = DEFAULT_TARGET_FACTOR * c_max
        notes.append(f"target: {DEFAULT_TARGET_FACTOR:g}x the largest run's compute "
                     f"(6ND = {c_max:.3g} FLOPs), the default; choose one with target_compute=")
    measured = {"params_total", "params_nonembedding"} <= set(df.columns)
    rule = shape_rule or ShapeRule.from_table(df) or ShapeRule.fixed_aspect()
    if measured:
        counts = ("each run's N_total and N_E from the table's params_total / "
                  "params_nonembedding" + (", its full FLOPs from flops_palm"
                                           if "flops_palm" in df.columns else
                                           ", its full FLOPs from the shape rule"))
    else:
        other = "N_E" if own == "total" else "N_total"
        counts = (f"the table gives N as {own} parameters only: each run's {other} and full "
                  "FLOPs come from the shape rule")
    runs = _runs(df, own, rule, measured)

    report = ConventionReport(float(target_compute), [], compute_range, own, None, rule,
                              counts, confidence, source, notes)
    laws: dict[str, Any] = {}
    for nc in ncs:
        table = pd.DataFrame({"N": runs.n(nc), "D": runs.D, "loss": runs.loss})
        if runs.run_id is not None:
            table["run_id"] = runs.run_id
        try:
            laws[nc] = run_fit(table, "chinchilla", bootstrap=bootstrap, seed=seed,
                               confidence=confidence)
        except FitError as exc:
            report.notes.append(f"no Approach 3 fit with N as {nc} parameters: {exc}")

    kind: str | None = None
    base: Any = None
    if "frontier" in als:
        if _is_curves(runs):
            kind = "envelope"
        else:
            try:
                base = isoflop(df.assign(C=runs.C_own), confidence=confidence)
                kind = "isoflop"
                report.notes.append(_isoflop_note(base))
            except ScalingLabError as exc:
                report.notes.append(f"no frontier (Kaplan's rule): {exc}")
    report.frontier_kind = kind

    for nc in ncs:
        for cc in ccs:
            for al in als:
                if al == "approach3":
                    if nc not in laws:
                        continue
                    row, cp, npts = _approach3_row(laws[nc], nc, cc, rule, runs,
                                                   float(target_compute), compute_range,
                                                   confidence)
                else:
                    if kind is None:
                        continue
                    try:
                        row, cp, npts = _frontier_row(kind, base, runs, nc, cc, own, rule,
                                                      float(target_compute), compute_range,
                                                      confidence, laws.get(nc))
                    except ScalingLabError as exc:
                        report.notes.append(f"no frontier for ({nc}, {cc}): {exc}")
                        continue
                report.rows.append(row)
                report.frontier_points[row.key] = (np.asarray(cp), np.asarray(npts))
    if not report.rows:
        raise FitError("no convention could be fitted: " + "; ".join(report.notes))
    return report


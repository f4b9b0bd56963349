"""The densing law (Xiao et al. 2024, "Densing Law of LLMs", arXiv 2412.04315; Nature Machine
Intelligence 2025): the maximum capability density of LLMs grows exponentially in time,
ln rho_max(t) = A t + B, and its doubling time is ln 2 / A.

Capability density (their Eq. 1) is rho = N_hat(S) / N: the parameter count a reference model
family would need to reach the score S (the effective parameter size) over the model's actual
parameter count N. The effective size comes from a two-step estimate (their Eqs. 2-4):

* loss of the reference family, L = a N^-alpha + b D^-beta (conditional loss on the
  benchmarks' answers);
* score from loss, S = c / (1 + exp(-gamma (L - l))) + d;
* inverted at D = D0 = 1e12 tokens: L_hat(S) = l - ln(c / (S - d) - 1) / gamma,
  N_hat = ((L_hat - b D0^-beta) / a)^(-1 / alpha).

The paper publishes the form but not the fitted reference-family constants (a, alpha, b, beta,
c, gamma, l, d; only a figure), nor a table of per-model densities or scores (only Figure 1).
So scalinglab computes densities with :class:`ReferenceFamily` from constants *you* supply
(fitted to your own reference runs), or takes a table's own density column. What is published
and checked in the tests is the trend: A ~= 0.0073 per day, ln 2 / A ~= 95 days (arXiv v2,
Sec. 3.3, R^2 = 0.912, 29 models); A ~= 0.007, "doubles approximately every 3.3 months"
(Fig. 1 caption, R^2 ~= 0.93); A ~= 0.0048 before ChatGPT (Sec. 3.4, Fig. 4, MMLU only); the
journal version's 3.5 months (51 models, Feb 2023 - Apr 2025).

The trend is fitted, as the paper describes, to the envelope: the models whose density is the
highest so far at their release date (a running maximum in release order), by least squares of
ln rho on t (days since the first release in the table, or since ``origin``). The interval on
A is Student's t on the slope (n - 2 degrees of freedom), carried over to the doubling time;
with fewer than 3 envelope points the trend is not identified and the result says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from scalinglab.errors import InputError, ParameterError

#: days in a mean Gregorian month (365.2425 / 12), the month used for doubling times
DAYS_PER_MONTH = 365.2425 / 12.0


def doubling_time(A: float, *, unit: str = "day") -> float:
    """ln 2 / A: the doubling time of rho_max in the unit of t (``unit`` "day" or "month";
    A per day)."""
    if not (isinstance(A, (int, float)) and math.isfinite(A)):
        raise ParameterError("A", f"must be a finite number (per day), got {A!r}")
    if unit not in ("day", "month"):
        raise ParameterError("unit", f"must be 'day' or 'month', got {unit!r}")
    if A <= 0:
        return math.inf
    days = math.log(2.0) / A
    return days if unit == "day" else days / DAYS_PER_MONTH


@dataclass(frozen=True)
class ReferenceFamily:
    """The two-step reference of Xiao et al. (their Eqs. 2-4): loss L = a N^-alpha + b D^-beta
    and score S = c / (1 + exp(-gamma (L - l))) + d, inverted at D0 tokens (default 1e12).

    The constants are yours to fit (the paper does not print its own). Scores are in the
    unit of ``c`` and ``d`` (e.g. accuracy in percent); N in parameters; L in nats/token of
    the conditional answer loss. With gamma < 0 (score falls as loss rises) the inversion
    below works unchanged."""

    a: float
    alpha: float
    b: float
    beta: float
    c: float
    gamma: float
    l: float  # noqa: E741 - the paper's name
    d: float
    D0: float = 1e12

    def __post_init__(self) -> None:
        for name, v in asdict(self).items():
            if not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise ParameterError(name, f"must be a finite number, got {v!r}")
        for name in ("a", "alpha", "b", "beta", "D0"):
            if getattr(self, name) <= 0:
                raise ParameterError(name, f"must be > 0, got {getattr(self, name)!r}")
        if self.c == 0 or self.gamma == 0:
            raise ParameterError("c" if self.c == 0 else "gamma", "must be non-zero")

    def loss(self, N: np.ndarray | float, D: np.ndarray | float | None = None) -> np.ndarray:
        """Eq. 2: the reference family's loss at N parameters and D tokens (default D0)."""
        D = self.D0 if D is None else D
        n_term = self.a * np.asarray(N, float) ** -self.alpha
        return n_term + self.b * np.asarray(D, float) ** -self.beta

    def score(self, loss: np.ndarray | float) -> np.ndarray:
        """Eq. 3: the score at a loss."""
        return self.c / (1.0 + np.exp(-self.gamma * (np.asarray(loss, float) - self.l))) + self.d

    def loss_for_score(self, S: np.ndarray | float) -> np.ndarray:
        """Eq. 4, first half: L_hat(S) = l - ln(c / (S - d) - 1) / gamma (NaN outside the
        sigmoid's range)."""
        S = np.asarray(S, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.l - np.log(self.c / (S - self.d) - 1.0) / self.gamma

    def effective_params(self, S: np.ndarray | float) -> np.ndarray:
        """Eq. 4: N_hat(S) = ((L_hat(S) - b D0^-beta) / a)^(-1/alpha); NaN where the score is
        out of the reference's reach (beyond the sigmoid's range, or a loss below the data
        term b D0^-beta, which no finite N reaches)."""
        excess = self.loss_for_score(S) - self.b * self.D0 ** -self.beta
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(excess > 0, (excess / self.a) ** (-1.0 / self.alpha), np.nan)

    def density(self, S: np.ndarray | float, N: np.ndarray | float) -> np.ndarray:
        """Eq. 1: rho = N_hat(S) / N."""
        return self.effective_params(S) / np.asarray(N, float)


@dataclass
class DensingResult:
    """The fitted trend ln rho_max(t) = A t + B (t in days since ``origin``)."""

    A: float
    B: float
    A_ci: tuple[float, float]
    doubling_days: float
    doubling_days_ci: tuple[float, float]
    doubling_months: float
    r2: float
    n_models: int
    n_envelope: int
    origin: str
    confidence: float
    envelope: list[str]
    identified: bool
    warnings: list[str] = field(default_factory=list)
    conventions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def envelope_mask(t: np.ndarray, log_rho: np.ndarray) -> np.ndarray:
    """The models that set a new maximum density at their release (running maximum in
    release order; ties in date are taken together, the best of the day counting)."""
    order = np.lexsort((-log_rho, t))
    keep = np.zeros(len(t), bool)
    best = -np.inf
    for i in order:
        if log_rho[i] > best:
            keep[i] = True
            best = log_rho[i]
    return keep


def _dates(df: pd.DataFrame, col: str) -> pd.Series:
    raw = df[col]
    parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"not a date: {raw.iloc[i]!r} (use YYYY-MM-DD)",
                         source=df.attrs.get("source"), row=i + 1, column=col)
    return parsed


def _positive(df: pd.DataFrame, col: str) -> np.ndarray:
    vals = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(vals) | (vals <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"must be a positive number, got {df[col].iloc[i]!r}",
                         source=df.attrs.get("source"), row=i + 1, column=col)
    return vals


def _reference(values: Mapping[str, float]) -> ReferenceFamily:
    names = [f.name for f in fields(ReferenceFamily)]
    extra = [k for k in values if k not in names]
    missing = [k for k in names if k not in values and k != "D0"]
    if extra or missing:
        what = (f"unknown constant(s) {', '.join(extra)}" if extra
                else f"missing constant(s) {', '.join(missing)}")
        raise ParameterError("reference", f"{what}; a reference family takes "
                             f"{', '.join(names)} (D0 optional, default 1e12 tokens)")
    return ReferenceFamily(**{k: float(v) for k, v in values.items()})


def fit_densing(
    table: pd.DataFrame,
    *,
    date: str = "date",
    density: str | None = "density",
    params: str = "N",
    score: str = "score",
    reference: ReferenceFamily | Mapping[str, float] | None = None,
    name: str = "model",
    origin: str | None = None,
    envelope: bool = True,
    confidence: float = 0.95,
) -> DensingResult:
    """Fit ln rho_max(t) = A t + B to a table of models.

    Density comes from the ``density`` column, or, with ``reference`` (a
    :class:`ReferenceFamily` or a mapping of its constants), from the ``params`` and ``score``
    columns by the two-step inversion. ``t`` is days from ``origin`` (an ISO date; default the
    earliest release). With ``envelope`` (the paper's choice) only the running-maximum models
    enter the fit; without it, all models. The interval is Student's t at ``confidence``.
    """
    if not isinstance(table, pd.DataFrame):
        raise ParameterError("table", f"expected a pandas DataFrame, got {type(table).__name__}")
    if not (0 < confidence < 1):
        raise ParameterError("confidence", f"must be in (0, 1), got {confidence!r}")
    src = table.attrs.get("source")
    if date not in table.columns:
        raise InputError(f"no date column {date!r}; the columns are "
                         f"{', '.join(map(str, table.columns))}", source=src)
    if reference is not None:
        ref = reference if isinstance(reference, ReferenceFamily) else _reference(reference)
        for col in (params, score):
            if col not in table.columns:
                raise InputError(f"no column {col!r} (needed with a reference family); the "
                                 f"columns are {', '.join(map(str, table.columns))}", source=src)
        S = pd.to_numeric(table[score], errors="coerce").to_numpy(float)
        rho = ref.density(S, _positive(table, params))
        bad = ~np.isfinite(rho) | (rho <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"score {table[score].iloc[i]!r} is out of the reference family's "
                             "reach (beyond its sigmoid's range or below its data floor)",
                             source=src, row=i + 1, column=score)
        how = "two-step effective parameters (Xiao et al. Eqs. 2-4) at D0 = " f"{ref.D0:.3g}"
    else:
        if density is None or density not in table.columns:
            raise InputError(f"no density column {density!r}; give one, or a reference "
                             f"family to compute it from {params!r} and {score!r}", source=src)
        rho = _positive(table, density)
        how = f"the table's column {density!r}"
    when = _dates(table, date)
    if origin is not None:
        try:
            t0 = pd.Timestamp(origin)
        except (TypeError, ValueError):
            raise ParameterError("origin", f"not a date: {origin!r} (use YYYY-MM-DD)") from None
    else:
        t0 = when.min()
    t = ((when - t0).dt.total_seconds() / 86400.0).to_numpy(float)
    y = np.log(rho)
    keep = envelope_mask(t, y) if envelope else np.ones(len(t), bool)
    names = (table[name].astype(str) if name in table.columns
             else pd.Series([f"row {i + 1}" for i in range(len(table))]))
    te, ye = t[keep], y[keep]
    n = int(keep.sum())
    warnings: list[str] = []
    if n < 2 or np.ptp(te) == 0:
        raise InputError(f"{n} model(s) on the {'envelope' if envelope else 'table'} at "
                         "distinct dates: need at least 2 to fit a trend", source=src)
    lr = stats.linregress(te, ye)
    A, B = float(lr.slope), float(lr.intercept)
    identified = n >= 3
    if identified:
        q = float(stats.t.ppf(0.5 + confidence / 2, n - 2))
        A_ci = (A - q * float(lr.stderr), A + q * float(lr.stderr))
    else:
        A_ci = (math.nan, math.nan)
        warnings.append("only 2 points on the envelope: the slope has no interval (not "
                        "identified beyond the two points)")
    lo = doubling_time(A_ci[1]) if math.isfinite(A_ci[1]) else math.nan
    hi = doubling_time(A_ci[0]) if math.isfinite(A_ci[0]) else math.nan
    if A <= 0:
        warnings.append(f"A = {A:.3g} <= 0: density is not growing; no doubling time")
    return DensingResult(
        A=A, B=B, A_ci=A_ci, doubling_days=doubling_time(A),
        doubling_days_ci=(lo, hi), doubling_months=doubling_time(A, unit="month"),
        r2=float(lr.rvalue ** 2), n_models=len(t), n_envelope=n,
        origin=str(t0.date()), confidence=confidence,
        envelope=[str(v) for v in names[keep]], identified=identified, warnings=warnings,
        conventions={"t": f"days since {t0.date()}", "A": "per day",
                     "rho": f"capability density, from {how}",
                     "month": f"{DAYS_PER_MONTH:.4f} days"},
    )

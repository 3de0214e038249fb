"""Drift statistics on counts: PSI, Jensen-Shannon distance, normalized Wasserstein,
Kolmogorov-Smirnov and chi-squared, and the rules that pick one per column.

Every method works from counts over the reference profile's bins (numeric) or categories, so a
stored profile and a streamed window are enough; no raw reference data is re-read.

* ``chi_squared`` equals ``scipy.stats.chi2_contingency(..., correction=False)`` on the 2 x K
  table, and ``jensen_shannon`` equals ``scipy.spatial.distance.jensenshannon(..., base=2)``.
* ``ks`` evaluates both CDFs at the bin edges: with one bin per distinct value it is exactly
  ``scipy.stats.ks_2samp``'s statistic (p-value as its ``method="asymp"``). On the profile's
  100 percentile bins it can only under-state the statistic, by at most the largest bin share
  (~0.01 on continuous data): slightly conservative, never a false alarm.
* ``wasserstein`` integrates |F_ref - F_cur| over the bins with each distribution spread evenly
  within a bin (point masses on discrete columns), plus exact tail terms beyond the outer edges;
  on 100 percentile bins it is within about 1% of the reference standard deviation of
  ``scipy.stats.wasserstein_distance``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from modelyard.core.errors import InvalidArgument

COARSE_BINS = 10  # PSI, JS and chi-squared on numeric columns use reference deciles


@dataclass(frozen=True)
class Method:
    """A drift method: which kinds it applies to, its default threshold and which way it points."""

    name: str
    kinds: frozenset[str]
    threshold: float
    p_value: bool  # True: drift when the p-value is below the threshold; else at or above it
    summary: str


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("psi", frozenset({"numeric", "categorical"}), 0.1, False,
               "population stability index over reference deciles or categories"),
        Method("jensenshannon", frozenset({"numeric", "categorical"}), 0.1, False,
               "Jensen-Shannon distance (base 2, in [0, 1])"),
        Method("wasserstein", frozenset({"numeric"}), 0.1, False,
               "Wasserstein-1 distance divided by the reference standard deviation"),
        Method("ks", frozenset({"numeric"}), 0.05, True, "two-sample Kolmogorov-Smirnov test p-value"),
        Method("chisquare", frozenset({"numeric", "categorical"}), 0.05, True,
               "chi-squared test of homogeneity p-value"),
    )
}  # fmt: skip
ALIASES = {
    "js": "jensenshannon",
    "jensen_shannon": "jensenshannon",
    "jensen-shannon": "jensenshannon",
    "wasserstein_norm": "wasserstein",
    "kolmogorov_smirnov": "ks",
    "chi2": "chisquare",
    "chi_squared": "chisquare",
    "chisquared": "chisquare",
}
SMALL_SAMPLE = 1_000  # at or below this many rows, tests (p-values) are the default
JS_ROWS_PER_CATEGORY = 100  # below this, sampling noise alone lifts JS towards its threshold


def method(name: str) -> Method:
    """The method called ``name`` (aliases such as ``js``, ``chi2`` accepted)."""
    key = name.lower()
    key = ALIASES.get(key, key)
    if key not in METHODS:
        raise InvalidArgument(f"Unknown drift method {name!r}; choose one of {', '.join(METHODS)}.")
    return METHODS[key]


def default_method(kind: str, n_reference: int, n_current: int, n_categories: int = 2) -> str:
    """The method used when none is chosen.

    Numeric: KS test up to 1,000 rows (distances are noisy on small samples), else normalized
    Wasserstein (an effect size: 0.1 standard deviations of shift, whatever the row count).
    Categorical: chi-squared up to 1,000 rows, or while there are fewer than 100 rows per
    category (JS distance has a noise floor of about sqrt((K-1) / (5.5 n))), else Jensen-Shannon.
    ``n`` is the smaller of the two samples.
    """
    n = min(n_reference, n_current)
    if kind == "numeric":
        return "ks" if n <= SMALL_SAMPLE else "wasserstein"
    if n <= SMALL_SAMPLE or n < JS_ROWS_PER_CATEGORY * max(n_categories - 1, 1):
        return "chisquare"
    return "jensenshannon"


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros(len(counts))


def psi(reference: np.ndarray, current: np.ndarray, *, eps: float = 1e-4) -> float:
    """Population stability index sum((c - r) ln(c / r)) over shares; empty shares become ``eps``."""
    r = np.maximum(_shares(np.asarray(reference, dtype=float)), eps)
    c = np.maximum(_shares(np.asarray(current, dtype=float)), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance with base-2 logarithms (0 identical, 1 disjoint)."""
    p = _shares(np.asarray(reference, dtype=float))
    q = _shares(np.asarray(current, dtype=float))
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(np.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def chi_squared(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the chi-squared test that both samples share one distribution.

    Categories empty in both samples are dropped; no continuity correction.
    """
    table = np.vstack((np.asarray(reference, dtype=float), np.asarray(current, dtype=float)))
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or (rows == 0).any():
        return 0.0, 1.0
    expected = np.outer(rows, table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))


def ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample KS test from counts over the same ordered bins."""
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    n, m = r.sum(), c.sum()
    if n == 0 or m == 0:
        return float("nan"), float("nan")
    statistic = float(np.max(np.abs(np.cumsum(r) / n - np.cumsum(c) / m)))
    big, small = max(n, m), min(n, m)
    en = round(big * small / (big + small))
    return statistic, float(np.clip(stats.kstwo.sf(statistic, max(en, 1)), 0, 1))


def wasserstein(
    edges: np.ndarray,
    reference: np.ndarray,
    current: np.ndarray,
    reference_tails: tuple[float, float],
    current_tails: tuple[float, float],
    *,
    discrete: bool = False,
) -> float:
    """Wasserstein-1 distance between two binned distributions (not normalized).

    Bins are (-inf, e_1), [e_1, e_2), ..., [e_k, inf). Between e_1 and e_k the mass is spread
    evenly within each bin (``discrete``: it sits on the bin's left edge). Beyond the edges the
    tails ``(sum(e_1 - x, x < e_1), sum(x - e_k, x >= e_k))`` give the integral exactly when one
    CDF stays above the other there (the usual case), and a lower bound otherwise.
    """
    edges = np.asarray(edges, dtype=float)
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    n, m = r.sum(), c.sum()
    if n == 0 or m == 0 or len(edges) == 0:
        return float("nan")
    # CDFs at e_1 .. e_k: the mass below each edge.
    d = np.cumsum(r)[:-1] / n - np.cumsum(c)[:-1] / m
    width = np.diff(edges)
    if discrete:
        inner = float(np.sum(np.abs(d[:-1]) * width)) if len(width) else 0.0
    else:
        d0, d1 = d[:-1], d[1:]
        a0, a1 = np.abs(d0), np.abs(d1)
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing = np.where(a0 + a1 > 0, (d0 * d0 + d1 * d1) / (2 * (a0 + a1)), 0.0)
        inner = float(np.sum(np.where(d0 * d1 >= 0, (a0 + a1) / 2, crossing) * width))
    low = abs(reference_tails[0] / n - current_tails[0] / m)
    high = abs(reference_tails[1] / n - current_tails[1] / m)
    return inner + low + high


def coarse_groups(reference: np.ndarray, n_groups: int = COARSE_BINS) -> np.ndarray:
    """For each fine bin, the index of the equal-mass coarse group (about ``n_groups``) it joins."""
    r = np.asarray(reference, dtype=float)
    total = r.sum()
    if total == 0:
        return np.zeros(len(r), dtype=np.intp)
    mid = (np.cumsum(r) - r / 2) / total
    group = np.minimum((mid * n_groups).astype(np.intp), n_groups - 1)
    return np.unique(group, return_inverse=True)[1]


def coarsen(counts: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Counts summed into the coarse groups from ``coarse_groups``."""
    return np.bincount(groups, weights=np.asarray(counts, dtype=float), minlength=int(groups.max()) + 1)

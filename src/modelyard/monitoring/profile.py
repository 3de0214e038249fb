"""Reference profiles: what a model's training data looked like, stored with its version.

A profile is a plain JSON-serialisable dict, so monitors compare against it without re-reading
the raw data::

    {"version": 1, "n_rows": 200000, "bins": 100,
     "columns": {
        "age":  {"kind": "numeric", "min": 18.0, "max": 95.0, "mean": ..., "std": ...,
                 "quantiles": {"0.01": ..., ...}, "edges": [...], "counts": [...], "discrete": true, ...},
        "city": {"kind": "categorical", "categories": ["paris", ...], "counts": [...], "other": 0, ...},
        "ts":   {"kind": "other", "dtype": "timestamp[us]", ...}},
     "target": {"name": "default", "kind": "categorical", ...} | None,
     "prediction": {"name": "score", "kind": "numeric", ...} | None}

Numeric bins: ``edges`` e_1 < ... < e_k split the line into k+1 bins (-inf, e_1), [e_1, e_2), ...,
[e_k, inf) and ``counts`` has k+1 entries. The edges are the reference's percentiles (``bins``
equal-mass bins), so every method (PSI, Jensen-Shannon, KS, Wasserstein, chi-squared) can work
from counts of current data over the same edges. A column with at most ``bins`` distinct values
is ``discrete``: its edges are exactly its values (bin 0 then holds only values below the range).

Streams: when ``data`` is an iterator of record batches, row counts, missing rates, min, max,
mean, std and category frequencies are exact over every row, while edges, bin counts and
quantiles come from a uniform random sample of at most ``sample_rows`` values per column
(bottom-k sampling, memory bounded); ``binned`` records how many values the counts cover.
In-memory data (pandas, Arrow tables) is always profiled exactly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from modelyard.core.errors import InvalidArgument
from modelyard.monitoring._tabular import (
    KINDS,
    BoundedCounter,
    as_table,
    category_counts,
    column_or_none,
    dtype_name,
    is_materialized,
    iter_batches,
    kind_of,
    prefetch,
    sorted_numeric,
)

PROFILE_VERSION = 1
DEFAULT_BINS = 100
DEFAULT_TOP_K = 1_000
DEFAULT_SAMPLE_ROWS = 200_000
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)

T = TypeVar("T")
R = TypeVar("R")


def default_threads() -> int:
    """Worker threads for per-column work: NumPy sorts release the GIL, so two cores help."""
    return max(1, min(4, os.cpu_count() or 1))


def parallel_map(fn: Callable[[T], R], items: Sequence[T], pool: ThreadPoolExecutor | None) -> list[R]:
    """``map`` on the pool when there is one and more than one item, else in this thread."""
    if pool is None or len(items) < 2:
        return [fn(item) for item in items]
    return list(pool.map(fn, items))


def is_profile(obj: Any) -> bool:
    """True when ``obj`` is a profile dict made by ``build_profile``."""
    return isinstance(obj, Mapping) and "columns" in obj and obj.get("type", "profile") == "profile"


def sorted_quantiles(values: np.ndarray, qs: Sequence[float] | np.ndarray) -> np.ndarray:
    """Quantiles of an already sorted array, NumPy's default 'linear' method, without re-sorting."""
    n = len(values)
    if n == 0:
        return np.full(len(qs), np.nan)
    pos = np.asarray(qs, dtype=float) * (n - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    return values[lo] + frac * (values[hi] - values[lo])


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Counts over the bins (-inf, e_1), [e_1, e_2), ..., [e_k, inf) of a sorted array, and the
    tail sums sum(e_1 - x for x < e_1) and sum(x - e_k for x >= e_k) that Wasserstein needs
    beyond the edges (where spreading mass evenly up to the min or max would overstate it)."""
    n = len(sorted_values)
    below = np.searchsorted(sorted_values, edges, side="left")
    counts = np.diff(np.concatenate(([0], below, [n]))).astype(np.int64)
    if len(edges) == 0 or n == 0:
        return counts, 0.0, 0.0
    first, last = int(below[0]), int(below[-1])
    low = first * float(edges[0]) - float(sorted_values[:first].sum())
    high = float(sorted_values[last:].sum()) - (n - last) * float(edges[-1])
    return counts, max(low, 0.0), max(high, 0.0)


class _NumericProfiler:
    """Exact running stats of one numeric column plus the values the bins are built from."""

    def __init__(self, sample_rows: int | None, seed: Sequence[int]) -> None:
        self.count = 0
        self.missing = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = np.inf
        self.max = -np.inf
        self.sample_rows = sample_rows
        self.rng = np.random.default_rng(list(seed))
        self.values = np.empty(0)
        self.keys = np.empty(0)
        self.cut = 1.0

    def add(self, column: pa.Array | pa.ChunkedArray) -> None:
        values, missing, invalid = sorted_numeric(column)
        self.missing += missing + invalid
        n = len(values)
        if n == 0:
            return
        # Chan et al.'s merge of (count, mean, M2): stable over many batches.
        mean = float(values.mean())
        m2 = float(np.square(values - mean).sum())
        total = self.count + n
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.count * n / total
        self.mean += delta * n / total
        self.count = total
        self.min = min(self.min, float(values[0]))
        self.max = max(self.max, float(values[-1]))
        self._sample(values)

    def _sample(self, values: np.ndarray) -> None:
        if self.sample_rows is None:  # whole table in memory: bins are exact
            self.values = values if len(self.values) == 0 else np.sort(np.concatenate((self.values, values)))
            return
        # Bottom-k sampling: every value gets a uniform key; keep the sample_rows smallest keys.
        keys = self.rng.random(len(values))
        if len(self.keys) >= self.sample_rows:
            take = keys < self.cut
            values, keys = values[take], keys[take]
            if len(keys) == 0:
                return
        keys = np.concatenate((self.keys, keys))
        values = np.concatenate((self.values, values))
        if len(keys) > self.sample_rows:
            keep = np.argpartition(keys, self.sample_rows - 1)[: self.sample_rows]
            keys, values = keys[keep], values[keep]
        if len(keys) >= self.sample_rows:
            self.cut = float(keys.max())
        self.keys, self.values = keys, values

    def finish(self, bins: int, dtype: str) -> dict[str, Any]:
        total = self.count + self.missing
        out: dict[str, Any] = {
            "kind": "numeric",
            "dtype": dtype,
            "count": self.count,
            "missing": self.missing,
            "missing_rate": self.missing / total if total else 0.0,
        }
        if self.count == 0:
            empty: dict[str, Any] = {
                "min": None,
                "max": None,
                "mean": None,
                "std": None,
                "quantiles": {},
                "discrete": False,
            }
            return {**out, **empty, "edges": [], "counts": [0], "tails": [0.0, 0.0], "binned": 0}
        values = self.values if self.sample_rows is None else np.sort(self.values)
        distinct = values[np.concatenate(([True], values[1:] != values[:-1]))]
        discrete = len(distinct) <= bins
        edges = distinct if discrete else np.unique(sorted_quantiles(values, np.arange(1, bins) / bins))
        quantiles = sorted_quantiles(values, QUANTILES)
        counts, low, high = bin_counts(values, edges)
        return {
            **out,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": float(np.sqrt(self.m2 / self.count)),
            "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
            "discrete": bool(discrete),
            "edges": edges.tolist(),
            "counts": counts.tolist(),
            "tails": [low, high],
            "binned": len(values),
        }


class _CategoricalProfiler:
    def __init__(self, top_k: int) -> None:
        self.counter = BoundedCounter(max(10 * top_k, 10_000))
        self.missing = 0

    def add(self, column: pa.Array | pa.ChunkedArray) -> None:
        counts, missing = category_counts(column)
        self.missing += missing
        self.counter.add(counts)

    def finish(self, top_k: int, dtype: str) -> dict[str, Any]:
        ranked = self.counter.most_common()
        count = sum(c for _, c in ranked) + self.counter.pruned
        top = ranked[:top_k]
        total = count + self.missing
        return {
            "kind": "categorical",
            "dtype": dtype,
            "count": count,
            "missing": self.missing,
            "missing_rate": self.missing / total if total else 0.0,
            "categories": [value for value, _ in top],
            "counts": [c for _, c in top],
            "other": count - sum(c for _, c in top),
            "n_unique": len(ranked),
            "truncated": len(ranked) > top_k or self.counter.approximate,
        }


class _OtherProfiler:
    def __init__(self) -> None:
        self.count = 0
        self.missing = 0

    def add(self, column: pa.Array | pa.ChunkedArray) -> None:
        self.missing += column.null_count
        self.count += len(column) - column.null_count

    def finish(self, dtype: str) -> dict[str, Any]:
        total = self.count + self.missing
        return {"kind": "other", "dtype": dtype, "count": self.count, "missing": self.missing,
                "missing_rate": self.missing / total if total else 0.0}  # fmt: skip


def _role_kind(arrow_type: pa.DataType, role: str) -> str:
    """Targets and predictions: integer, boolean and text labels are classes, floats are numbers."""
    if role != "feature" and pa.types.is_integer(arrow_type):
        return "categorical"
    return kind_of(arrow_type)


def build_profile(
    data: Any,
    *,
    target: str | None = None,
    prediction: str | None = None,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    bins: int = DEFAULT_BINS,
    top_k: int = DEFAULT_TOP_K,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    seed: int = 0,
    threads: int | None = None,
) -> dict[str, Any]:
    """Profile a reference data set (usually the training data) for drift and quality monitoring.

    Args:
        data: a pandas DataFrame, a pyarrow Table, or an iterator of pyarrow RecordBatches
            (streamed; see the module docstring for what is then sampled).
        target: name of the label column, profiled under ``"target"`` (not a feature).
        prediction: name of the model output column, profiled under ``"prediction"``.
        columns: the features to profile; default every column except target and prediction.
        kinds: force a column's kind: ``"numeric"``, ``"categorical"`` or ``"other"``.
            By default numbers are numeric, text/bool/dictionary categorical; integer
            targets and predictions are class labels (categorical).
        bins: equal-mass bins per numeric column (percentile edges).
        top_k: most frequent categories kept per categorical column (the rest count as other).
        sample_rows: per-column sample size for bins when ``data`` is a stream.
        seed: seed of that sample, so a profile is reproducible.
        threads: worker threads (default: up to the number of cores, at most 4).

    Returns:
        The JSON-serialisable profile dict.
    """
    if bins < 2:
        raise InvalidArgument("bins must be at least 2.")
    kinds = dict(kinds or {})
    for name, kind in kinds.items():
        if kind not in KINDS:
            raise InvalidArgument(f"Kind {kind!r} for column {name!r} is not one of {', '.join(KINDS)}.")
    exact = is_materialized(data)
    pieces: Iterable[pa.RecordBatch | pa.Table] = [as_table(data)] if exact else prefetch(iter_batches(data))
    profilers: dict[str, Any] = {}
    meta: dict[str, tuple[str, str, str]] = {}  # name -> (role, kind, dtype)
    n_rows = 0
    threads = threads or default_threads()
    with ThreadPoolExecutor(threads) if threads > 1 else _NoPool() as pool:
        for piece in pieces:
            if not meta:
                meta = _plan(piece.schema, target, prediction, columns, kinds)
                for i, (name, (_, kind, _dtype)) in enumerate(meta.items()):
                    profilers[name] = (
                        _NumericProfiler(None if exact else sample_rows, (seed, i))
                        if kind == "numeric"
                        else _CategoricalProfiler(top_k)
                        if kind == "categorical"
                        else _OtherProfiler()
                    )
            n_rows += piece.num_rows

            def add(name: str, piece: pa.RecordBatch | pa.Table = piece) -> None:
                column = column_or_none(piece, name)
                if column is None:
                    raise InvalidArgument(f"Column {name!r} is missing from part of the reference data.")
                profilers[name].add(column)

            parallel_map(add, list(meta), pool)
    if not meta:
        raise InvalidArgument("The reference data is empty: it has no record batches.")
    profile: dict[str, Any] = {
        "version": PROFILE_VERSION,
        "type": "profile",
        "n_rows": n_rows,
        "bins": bins,
        "exact": exact,
        "columns": {},
        "target": None,
        "prediction": None,
    }
    for name, (role, kind, dtype) in meta.items():
        prof = profilers[name]
        if kind == "numeric":
            summary = prof.finish(bins, dtype)
        elif kind == "categorical":
            summary = prof.finish(top_k, dtype)
        else:
            summary = prof.finish(dtype)
        if role == "feature":
            profile["columns"][name] = summary
        else:
            profile[role] = {"name": name, **summary}
    return profile


class _NoPool:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _plan(
    schema: pa.Schema,
    target: str | None,
    prediction: str | None,
    columns: Sequence[str] | None,
    kinds: Mapping[str, str],
) -> dict[str, tuple[str, str, str]]:
    names = list(schema.names)
    roles = {n: r for n, r in ((target, "target"), (prediction, "prediction")) if n is not None}
    wanted = list(columns) if columns is not None else [n for n in names if n not in roles]
    missing = [n for n in [*wanted, *roles] if n not in names]
    if missing:
        raise InvalidArgument(
            f"The reference data has no column {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(repr, names[:20]))}."
        )
    plan = {}
    for name in [*wanted, *roles]:
        role = roles.get(name, "feature")
        arrow_type = schema.field(name).type
        plan[name] = (role, kinds.get(name) or _role_kind(arrow_type, role), dtype_name(arrow_type))
    return plan


def column_profile(profile: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """A feature's, the target's or the prediction's entry in a profile, by column name."""
    if name in profile["columns"]:
        return profile["columns"][name]
    for role in ("target", "prediction"):
        entry = profile.get(role)
        if entry and entry.get("name") == name:
            return entry
    return None

"""Summaries of current data against a reference profile, built batch by batch.

``summarize(profile, batches)`` reads each record batch once and keeps only counts over the
reference's bins and categories, the missing and out-of-range tallies and running moments,
so a 10-million-row Parquet window never sits in memory whole. A summary is a JSON-serialisable
dict (``"type": "summary"``); ``merge_summaries`` adds two of them (e.g. hourly windows into a
day), and both ``compare`` and ``check_quality`` accept one in place of raw data.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.core.errors import InvalidArgument
from modelyard.monitoring._tabular import (
    BoundedCounter,
    category_text,
    column_or_none,
    dtype_name,
    is_materialized,
    iter_batches,
    prefetch,
    sorted_numeric,
    value_counts,
)
from modelyard.monitoring.profile import bin_counts, default_threads, is_profile, parallel_map

SUMMARY_VERSION = 1
UNSEEN_KEPT = 100  # unseen category values listed per column (the total is always exact)


def is_summary(obj: Any) -> bool:
    """True when ``obj`` is a summary dict made by ``summarize``."""
    return isinstance(obj, Mapping) and obj.get("type") == "summary"


class _Numeric:
    def __init__(self, ref: Mapping[str, Any]) -> None:
        self.edges = np.asarray(ref["edges"], dtype=float)
        # No reference values at all: no range to be outside of.
        self.lo = ref["min"] if ref["min"] is not None else -np.inf
        self.hi = ref["max"] if ref["max"] is not None else np.inf
        self.counts = np.zeros(len(self.edges) + 1, dtype=np.int64)
        self.tails = np.zeros(2)
        self.count = self.missing = self.invalid = self.below = self.above = 0
        # Moments are kept about the reference mean, so sumsq does not cancel on large values.
        self.shift = float(ref["mean"]) if ref["mean"] is not None else 0.0
        self.sum = self.sumsq = 0.0
        self.min, self.max = np.inf, -np.inf
        self.dtype: str | None = None

    def add(self, column: pa.Array | pa.ChunkedArray) -> None:
        self.dtype = self.dtype or dtype_name(column.type)
        values, missing, invalid = sorted_numeric(column)
        self.missing += missing
        self.invalid += invalid
        n = len(values)
        if n == 0:
            return
        self.count += n
        counts, low, high = bin_counts(values, self.edges)
        self.counts += counts
        self.tails += (low, high)
        self.below += int(np.searchsorted(values, self.lo, side="left"))
        self.above += n - int(np.searchsorted(values, self.hi, side="right"))
        self.min = min(self.min, float(values[0]))
        self.max = max(self.max, float(values[-1]))
        centred = np.subtract(values, self.shift, out=values)  # our own sorted copy: reuse it
        self.sum += float(centred.sum())
        self.sumsq += float(np.einsum("i,i->", centred, centred))  # not np.dot: BLAS threads spin

    def finish(self) -> dict[str, Any]:
        n = self.count
        mean = self.shift + self.sum / n if n else None
        var = max(self.sumsq / n - (self.sum / n) ** 2, 0.0) if n else None
        return {
            "kind": "numeric",
            "present": True,
            "dtype": self.dtype,
            "count": n,
            "missing": self.missing,
            "invalid": self.invalid,
            "min": self.min if n else None,
            "max": self.max if n else None,
            "shift": self.shift,
            "sum": self.sum,
            "sumsq": self.sumsq,
            "mean": mean,
            "std": None if var is None else float(np.sqrt(var)),
            "counts": self.counts.tolist(),
            "tails": self.tails.tolist(),
            "below_min": self.below,
            "above_max": self.above,
        }


class _Categorical:
    def __init__(self, ref: Mapping[str, Any]) -> None:
        self.categories = pa.array(ref["categories"], pa.string())
        self.counts = np.zeros(len(ref["categories"]), dtype=np.int64)
        self.unseen = BoundedCounter(10 * UNSEEN_KEPT)
        self.unseen_count = 0
        self.count = self.missing = 0
        self.dtype: str | None = None

    def add(self, column: pa.Array | pa.ChunkedArray) -> None:
        self.dtype = self.dtype or dtype_name(column.type)
        text, missing = category_text(column)
        self.missing += missing
        self.count += len(text)
        index = pc.index_in(text, value_set=self.categories)
        known = index.drop_null().to_numpy(zero_copy_only=False)
        self.counts += np.bincount(known, minlength=len(self.counts))
        if len(known) < len(text):
            new = text.filter(pc.is_null(index))
            self.unseen_count += len(new)
            self.unseen.add(value_counts(new))

    def finish(self) -> dict[str, Any]:
        return {
            "kind": "categorical",
            "present": True,
            "dtype": self.dtype,
            "count": self.count,
            "missing": self.missing,
            "counts": self.counts.tolist(),
            "unseen": dict(self.unseen.most_common()[:UNSEEN_KEPT]),
            "unseen_count": self.unseen_count,
        }


class _Other:
    def __init__(self, ref: Mapping[str, Any]) -> None:
        self.count = self.missing = 0
        self.dtype: str | None = None

    def add(self, column: pa.Array | pa.ChunkedArray) -> None:
        self.dtype = self.dtype or dtype_name(column.type)
        self.missing += column.null_count
        self.count += len(column) - column.null_count

    def finish(self) -> dict[str, Any]:
        return {"kind": "other", "present": True, "dtype": self.dtype, "count": self.count,
                "missing": self.missing}  # fmt: skip


_ACCUMULATORS: dict[str, type[_Numeric | _Categorical | _Other]] = {
    "numeric": _Numeric,
    "categorical": _Categorical,
    "other": _Other,
}


def current_name(name: str, column_map: Mapping[str, str] | None, prefix: str) -> str:
    """The current data's column for reference column ``name``."""
    if column_map and name in column_map:
        return column_map[name]
    return prefix + name


def summarize(
    profile: Mapping[str, Any],
    data: Any,
    *,
    column_map: Mapping[str, str] | None = None,
    prefix: str = "",
    threads: int | None = None,
) -> dict[str, Any]:
    """Summarize current data over a reference profile's bins and categories, in one pass.

    Args:
        profile: a profile from ``build_profile``.
        data: a DataFrame, a pyarrow Table, or an iterator of RecordBatches (streamed, e.g.
            ``pyarrow.dataset.dataset(path).to_batches(columns=...)``); read once.
        column_map: reference column name -> current column name, where they differ
            (e.g. ``{"score": "output"}``).
        prefix: prepended to every other reference name, e.g. ``"input."`` for prediction logs.
        threads: worker threads (default: up to the number of cores, at most 4).

    Returns:
        A JSON-serialisable summary dict. Reference columns the data lacks appear with
        ``"present": False``; the target and prediction are summarized when present;
        ``extra_columns`` lists columns (with the prefix, when one is given) the reference lacks.
    """
    if not is_profile(profile):
        raise InvalidArgument("summarize needs a reference profile from build_profile as its first argument.")
    wanted: dict[str, tuple[str, Mapping[str, Any]]] = {}  # current name -> (role, reference entry)
    for name, ref in profile["columns"].items():
        wanted[name] = ("feature", ref)
    for role in ("target", "prediction"):
        if profile.get(role):
            wanted[profile[role]["name"]] = (role, profile[role])
    accs: dict[str, _Numeric | _Categorical | _Other] = {
        name: _ACCUMULATORS[ref["kind"]](ref) for name, (_, ref) in wanted.items()
    }
    present: set[str] = set()
    schema: dict[str, str] = {}
    n_rows = 0
    threads = threads or default_threads()
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        pieces = iter_batches(data)
        for piece in pieces if is_materialized(data) else prefetch(pieces):
            n_rows += piece.num_rows
            if not schema:
                schema = {f.name: dtype_name(f.type) for f in piece.schema}
            jobs = []
            for name in wanted:
                column = column_or_none(piece, current_name(name, column_map, prefix))
                if column is not None:
                    present.add(name)
                    jobs.append((accs[name], column))
            parallel_map(lambda job: job[0].add(job[1]), jobs, pool)
    finally:
        if pool is not None:
            pool.shutdown()
    summary: dict[str, Any] = {
        "version": SUMMARY_VERSION,
        "type": "summary",
        "n_rows": n_rows,
        "schema": schema,
        "columns": {},
        "target": None,
        "prediction": None,
    }
    for name, (role, _) in wanted.items():
        if name in present:
            entry = accs[name].finish()
        elif role != "feature":
            continue  # actuals arrive late; a window without them is normal
        else:
            entry = {"kind": wanted[name][1]["kind"], "present": False}
        entry["source"] = current_name(name, column_map, prefix)
        if role == "feature":
            summary["columns"][name] = entry
        else:
            summary[role] = {"name": name, **entry}
    used = {current_name(name, column_map, prefix) for name in wanted}
    summary["extra_columns"] = [n for n in schema if n not in used and n.startswith(prefix)]
    return summary


def merge_summaries(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """One summary of two windows summarized against the same profile."""
    if not (is_summary(a) and is_summary(b)):
        raise InvalidArgument("merge_summaries takes two summaries made by summarize.")
    out: dict[str, Any] = {**a, "n_rows": a["n_rows"] + b["n_rows"], "columns": {}}
    out["extra_columns"] = list(dict.fromkeys([*a.get("extra_columns", []), *b.get("extra_columns", [])]))
    for name in a["columns"].keys() | b["columns"].keys():
        out["columns"][name] = _merge_entry(a["columns"].get(name), b["columns"].get(name))
    for role in ("target", "prediction"):
        out[role] = _merge_entry(a.get(role), b.get(role))
    return out


def _merge_entry(x: Mapping[str, Any] | None, y: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not x or not x.get("present", True):
        return dict(y) if y else (dict(x) if x else None)
    if not y or not y.get("present", True):
        return dict(x)
    out = dict(x)
    for key in ("count", "missing", "invalid", "below_min", "above_max", "unseen_count", "sum", "sumsq"):
        if key in x:
            out[key] = x[key] + y[key]
    for key in ("counts", "tails"):
        if key in x:
            out[key] = (np.asarray(x[key]) + np.asarray(y[key])).tolist()
    if x["kind"] == "numeric":
        lows = [v for v in (x["min"], y["min"]) if v is not None]
        highs = [v for v in (x["max"], y["max"]) if v is not None]
        out["min"], out["max"] = (min(lows) if lows else None), (max(highs) if highs else None)
        n = out["count"]
        centred = out["sum"] / n if n else 0.0
        out["mean"] = out["shift"] + centred if n else None
        out["std"] = float(np.sqrt(max(out["sumsq"] / n - centred**2, 0.0))) if n else None
    if x["kind"] == "categorical":
        unseen = BoundedCounter(10 * UNSEEN_KEPT)
        unseen.add(x["unseen"])
        unseen.add(y["unseen"])
        out["unseen"] = dict(unseen.most_common()[:UNSEEN_KEPT])
    return out

"""Dataset lineage for ``log_input``: a content digest, a schema and a compact profile.

Pure functions, no database: :func:`describe_dataset` turns a pandas DataFrame or Series, a
NumPy array or a file path into a :class:`DatasetDescription` the tracking service stores.

- The digest covers *all* the data and is stable across processes: same content, same digest;
  any changed cell, column name, dtype or row order gives a different one. Files are hashed by
  their bytes, streamed in 1 MiB chunks, so the digest equals ``sha256sum`` of the file.
- The profile is computed on at most the first :data:`PROFILE_ROWS` rows and the first
  :data:`PROFILE_COLUMNS` columns, with vectorised NumPy/pandas only, so describing a large frame
  costs a fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.api import types as ptypes

from modelyard.core.errors import InvalidArgument

PROFILE_ROWS = 100_000
"""Rows profiled at most (the first ones); row counts and digests always cover every row."""

PROFILE_COLUMNS = 200
"""Columns profiled at most; the profile says how many were left out (``truncated_columns``)."""

TOP_VALUES = 10
"""Most frequent values listed for a categorical column."""

MAX_VALUE_CHARS = 100
"""Longer categorical values are cut to this many characters in the profile."""

FILE_CHUNK_BYTES = 1024 * 1024
ARRAY_CHUNK_BYTES = 16 * 1024 * 1024
TABULAR_SUFFIXES = {".csv", ".parquet", ".pq"}
ACCEPTED = "a pandas DataFrame or Series, a 1-D or 2-D NumPy array, or a file path (str or pathlib.Path)"


@dataclass(frozen=True)
class DatasetDescription:
    """What is recorded about one dataset a run used.

    Attributes:
        name: A human name (the file name for files, else ``"dataset"`` unless given).
        digest: SHA-256 hex digest of the content (64 characters).
        source_type: ``"pandas"``, ``"numpy"`` or ``"file"``.
        source: Absolute path of a file; ``""`` for in-memory data.
        num_rows: Number of rows, or ``None`` when the file type has no rows.
        num_columns: Number of columns, or ``None`` when the file type has no columns.
        schema: ``[{"name": ..., "type": ...}, ...]`` in column order.
        profile: Column name -> compact statistics (see :func:`profile_frame`).
    """

    name: str
    digest: str
    source_type: str
    source: str
    num_rows: int | None
    num_columns: int | None
    schema: list[dict[str, str]] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-serialisable dict (a deep copy)."""
        return asdict(self)


def describe_dataset(data: Any, *, name: str | None = None) -> DatasetDescription:
    """Describe a dataset for lineage: digest, schema, row count and profile.

    Args:
        data: A pandas DataFrame or Series, a 1-D or 2-D NumPy array, or a path to a file.
            ``.csv``, ``.parquet`` and ``.pq`` files also get a schema, row count and profile;
            other files get a digest and their size only.
        name: Name to record; defaults to the file name for files, else ``"dataset"``.

    Returns:
        The description; ``to_dict()`` gives the JSON form.

    Raises:
        InvalidArgument: The type is not supported, the array has the wrong shape, the file
            does not exist, or a CSV/Parquet file cannot be read.
    """
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InvalidArgument("dataset name must be a non-empty string (or None for the default name)")
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        return _describe_frame(data, name or "dataset")
    if isinstance(data, np.ndarray):
        return _describe_array(data, name or "dataset")
    if isinstance(data, str | os.PathLike):
        return _describe_file(Path(data), name)
    raise InvalidArgument(f"cannot describe a dataset of type {type(data).__name__}: pass {ACCEPTED}")


# ---------------------------------------------------------------- in-memory data


def _describe_frame(frame: pd.DataFrame, name: str) -> DatasetDescription:
    return DatasetDescription(
        name=name,
        digest=frame_digest(frame),
        source_type="pandas",
        source="",
        num_rows=int(frame.shape[0]),
        num_columns=int(frame.shape[1]),
        schema=_frame_schema(frame),
        profile=profile_frame(frame.iloc[:PROFILE_ROWS]),
    )


def _describe_array(array: np.ndarray, name: str) -> DatasetDescription:
    if array.dtype.names is not None:
        raise InvalidArgument(
            "structured NumPy arrays are not supported: convert with pandas.DataFrame(array) first"
        )
    if array.ndim not in (1, 2):
        raise InvalidArgument(
            f"NumPy arrays must be 1-D or 2-D to describe as a dataset, got {array.ndim}-D with shape "
            f"{array.shape}: reshape it (e.g. array.reshape(len(array), -1)) first"
        )
    table = array.reshape(-1, 1) if array.ndim == 1 else array
    columns = [str(i) for i in range(table.shape[1])]
    return DatasetDescription(
        name=name,
        digest=array_digest(array),
        source_type="numpy",
        source="",
        num_rows=int(table.shape[0]),
        num_columns=int(table.shape[1]),
        schema=[{"name": c, "type": str(array.dtype)} for c in columns],
        profile=profile_frame(pd.DataFrame(table[:PROFILE_ROWS], columns=columns, copy=False)),
    )


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's column names, dtypes, index and values, in row order.

    ``pandas.util.hash_pandas_object`` gives one 64-bit hash per row (index included) with a
    fixed key, so it is vectorised and identical across processes.
    """
    header = json.dumps(
        {"columns": [str(c) for c in frame.columns], "dtypes": [str(t) for t in frame.dtypes]},
        separators=(",", ":"),
    )
    try:
        rows = pd.util.hash_pandas_object(frame, index=True)
    except (TypeError, ValueError):
        # Cells pandas cannot hash (lists, dicts): hash their text form instead.
        text = frame.copy()
        for i, dtype in enumerate(frame.dtypes):
            if ptypes.is_object_dtype(dtype):
                text.isetitem(i, frame.iloc[:, i].astype(str))
        rows = pd.util.hash_pandas_object(text, index=True)
    hasher = hashlib.sha256(b"pandas\0")
    hasher.update(header.encode())
    hasher.update(b"\0")
    hasher.update(np.ascontiguousarray(rows.to_numpy(dtype="<u8")).tobytes())
    return hasher.hexdigest()


def array_digest(array: np.ndarray) -> str:
    """SHA-256 of a NumPy array's dtype, shape and C-order bytes, hashed in chunks of rows."""
    if array.dtype.hasobject:
        # Object cells are pointers in memory; hash their values through pandas instead.
        table = array.reshape(-1, 1) if array.ndim == 1 else array
        return frame_digest(pd.DataFrame(table, copy=False))
    header = json.dumps({"dtype": array.dtype.str, "shape": list(array.shape)}, separators=(",", ":"))
    hasher = hashlib.sha256(b"numpy\0")
    hasher.update(header.encode())
    hasher.update(b"\0")
    if array.size:
        row_bytes = max(1, array.nbytes // array.shape[0])
        step = max(1, ARRAY_CHUNK_BYTES // row_bytes)
        for start in range(0, array.shape[0], step):
            hasher.update(np.ascontiguousarray(array[start : start + step]).tobytes())
    return hasher.hexdigest()


def _frame_schema(frame: pd.DataFrame) -> list[dict[str, str]]:
    return [{"name": str(c), "type": str(t)} for c, t in zip(frame.columns, frame.dtypes, strict=True)]


# ---------------------------------------------------------------- files


def _describe_file(path: Path, name: str | None) -> DatasetDescription:
    path = path.expanduser()
    if not path.exists():
        raise InvalidArgument(f"dataset file not found: {path}")
    if not path.is_file():
        raise InvalidArgument(f"dataset path is not a regular file: {path}")
    path = path.resolve()
    suffix = path.suffix.lower()
    digest, size, newlines, ends_with_newline = _hash_file(path)
    base = {"name": name or path.name, "digest": digest, "source_type": "file", "source": str(path)}
    if suffix == ".csv":
        num_rows, schema, profile = _csv_details(path, newlines, ends_with_newline, size)
        return DatasetDescription(
            **base, num_rows=num_rows, num_columns=len(schema), schema=schema, profile=profile
        )
    if suffix in (".parquet", ".pq"):
        num_rows, schema, profile = _parquet_details(path)
        return DatasetDescription(
            **base, num_rows=num_rows, num_columns=len(schema), schema=schema, profile=profile
        )
    return DatasetDescription(
        **base, num_rows=None, num_columns=None, schema=[], profile={"size_bytes": size}
    )


def _hash_file(path: Path) -> tuple[str, int, int, bool]:
    """Stream a file once: SHA-256 hex, size, number of ``\\n`` bytes, whether it ends with one."""
    hasher = hashlib.sha256()
    size = newlines = 0
    last = b""
    with path.open("rb") as fh:
        while chunk := fh.read(FILE_CHUNK_BYTES):
            hasher.update(chunk)
            size += len(chunk)
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    return hasher.hexdigest(), size, newlines, last == b"\n"


def _csv_details(
    path: Path, newlines: int, ends_with_newline: bool, size: int
) -> tuple[int, list[dict[str, str]], dict[str, Any]]:
    if size == 0:
        return 0, [], {}
    try:
        sample = pd.read_csv(path, nrows=PROFILE_ROWS)
    except pd.errors.EmptyDataError:
        return 0, [], {}
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument(f"could not read CSV file {path}: {exc}") from exc
    if len(sample) < PROFILE_ROWS:
        num_rows = len(sample)  # the parser reached the end: exact, even with quoted newlines
    else:
        # Counted by lines while hashing; a header line, no quoted newlines assumed.
        lines = newlines + (0 if ends_with_newline else 1)
        num_rows = max(lines - 1, len(sample))
    return num_rows, _frame_schema(sample), profile_frame(sample)


def _parquet_details(path: Path) -> tuple[int, list[dict[str, str]], dict[str, Any]]:
    try:
        with pq.ParquetFile(path) as pfile:
            schema = pfile.schema_arrow
            num_rows = int(pfile.metadata.num_rows)
            names = schema.names[:PROFILE_COLUMNS]
            batches: list[pa.RecordBatch] = []
            seen = 0
            if names:
                for batch in pfile.iter_batches(batch_size=min(PROFILE_ROWS, 65_536), columns=names):
                    batches.append(batch)
                    seen += batch.num_rows
                    if seen >= PROFILE_ROWS:
                        break
    except (pa.ArrowException, OSError) as exc:
        raise InvalidArgument(f"could not read Parquet file {path}: {exc}") from exc
    sample_schema = pa.schema([schema.field(i) for i in range(len(names))])
    table = pa.Table.from_batches(batches, schema=sample_schema) if batches else sample_schema.empty_table()
    # ignore_metadata: profile exactly the columns the schema lists (pandas index columns included).
    sample = table.slice(0, PROFILE_ROWS).to_pandas(ignore_metadata=True)
    profile = profile_frame(sample)
    if len(schema.names) > PROFILE_COLUMNS:
        profile["truncated_columns"] = len(schema.names) - PROFILE_COLUMNS
    fields = [{"name": f.name, "type": str(f.type)} for f in schema]
    return num_rows, fields, profile


# ---------------------------------------------------------------- profile


def profile_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """Compact per-column statistics of a frame (the caller passes the sample to profile).

    Numeric columns: ``{"kind": "numeric", "missing", "min", "max", "mean", "std", "p05", "p50",
    "p95"}``; statistics are floats, ``None`` when undefined (all missing, or infinite); ``std``
    is the sample standard deviation (ddof=1, as pandas). Booleans and everything else:
    ``{"kind": "categorical", "missing", "distinct", "top": [[value, count], ...]}`` with the
    :data:`TOP_VALUES` most frequent values as text. Only the first :data:`PROFILE_COLUMNS`
    columns are profiled; ``"truncated_columns"`` then gives how many were left out.
    """
    ncols = frame.shape[1]
    positions = range(min(ncols, PROFILE_COLUMNS))
    dtypes = frame.dtypes
    numeric = [i for i in positions if _is_numeric(dtypes.iloc[i])]
    stats: dict[int, dict[str, Any]] = {}
    if numeric:
        block = frame.iloc[:, numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        for i, col_stats in zip(numeric, _numeric_stats(block), strict=True):
            stats[i] = col_stats
    profile: dict[str, Any] = {}
    for i in positions:
        key = str(frame.columns[i])
        if key in profile:  # duplicate column names: a.1, a.2 as pandas.read_csv does
            suffix = 1
            while f"{key}.{suffix}" in profile:
                suffix += 1
            key = f"{key}.{suffix}"
        profile[key] = stats[i] if i in stats else _categorical_stats(frame.iloc[:, i])
    if ncols > PROFILE_COLUMNS:
        profile["truncated_columns"] = ncols - PROFILE_COLUMNS
    return profile


def _is_numeric(dtype: Any) -> bool:
    return (
        ptypes.is_numeric_dtype(dtype)
        and not ptypes.is_bool_dtype(dtype)
        and not ptypes.is_complex_dtype(dtype)
    )


def _numeric_stats(block: np.ndarray) -> list[dict[str, Any]]:
    """Statistics of each column of a 2-D float array (NaN = missing), fully vectorised."""
    valid = ~np.isnan(block)
    count = valid.sum(axis=0)
    missing = block.shape[0] - count
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean = np.where(valid, block, 0.0).sum(axis=0) / count
        dev = np.where(valid, block - mean, 0.0)
        std = np.sqrt((dev * dev).sum(axis=0) / (count - 1))
        std = np.where(count > 1, std, np.nan)
        ordered = np.sort(block, axis=0)  # NaNs sort last, so valid values are ordered[:count]
        cols = np.arange(block.shape[1])
        last = np.maximum(count - 1, 0)

        def quantile(q: float) -> np.ndarray:
            # numpy's default "linear" method, per column over its own count of valid values.
            pos = q * last
            lo = np.floor(pos).astype(np.intp)
            hi = np.minimum(lo + 1, last)
            low, high = ordered[lo, cols], ordered[hi, cols]
            return low + (high - low) * (pos - lo)

        if block.shape[0]:
            lo_val, hi_val = ordered[0, cols], ordered[last, cols]
            p05, p50, p95 = quantile(0.05), quantile(0.50), quantile(0.95)
        else:
            lo_val = hi_val = p05 = p50 = p95 = np.full(block.shape[1], np.nan)
    out = []
    for j in range(block.shape[1]):
        has = count[j] > 0
        out.append(
            {
                "kind": "numeric",
                "missing": int(missing[j]),
                "min": _num(lo_val[j], has),
                "max": _num(hi_val[j], has),
                "mean": _num(mean[j], has),
                "std": _num(std[j], has),
                "p05": _num(p05[j], has),
                "p50": _num(p50[j], has),
                "p95": _num(p95[j], has),
            }
        )
    return out


def _num(value: Any, present: bool) -> float | None:
    value = float(value)
    return value if present and np.isfinite(value) else None


def _categorical_stats(column: pd.Series) -> dict[str, Any]:
    missing = int(column.isna().sum())
    try:
        counts = column.value_counts(dropna=True)
    except TypeError:  # unhashable cells (lists, dicts): count their text form
        counts = column[column.notna()].astype(str).value_counts()
    top = [[_text(value), int(n)] for value, n in counts.iloc[:TOP_VALUES].items()]
    return {"kind": "categorical", "missing": missing, "distinct": len(counts), "top": top}


def _text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"

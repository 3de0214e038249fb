"""Turn what users hand us (pandas, Arrow, a stream of record batches) into Arrow batches and
NumPy arrays, and decide each column's kind.

Everything downstream works on ``pyarrow.RecordBatch`` (or a whole ``pyarrow.Table`` when the
data is already in memory), so a Parquet window can be streamed batch by batch.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.core.errors import InvalidArgument

KINDS = ("numeric", "categorical", "other")
T = TypeVar("T")


def is_materialized(data: Any) -> bool:
    """True when ``data`` is a whole table in memory (pandas, Arrow table or batch, dict of arrays)."""
    return isinstance(data, pa.Table | pa.RecordBatch | Mapping) or _is_pandas(data)


def as_table(data: Any) -> pa.Table:
    """A materialized input (see ``is_materialized``) as one ``pyarrow.Table``."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, Mapping):
        return pa.table({str(k): _to_arrow_array(v) for k, v in data.items()})
    if _is_pandas(data):
        return _from_pandas(data)
    raise InvalidArgument(f"Expected a table, got {type(data).__name__}.")


def iter_batches(data: Any) -> Iterator[pa.RecordBatch | pa.Table]:
    """Yield the input in pieces: one table if it is in memory, else the stream's batches.

    Accepts a pandas DataFrame, a ``pyarrow.Table``/``RecordBatch``/``RecordBatchReader``, a
    ``pyarrow.dataset.Dataset`` (streamed with ``to_batches``), a dict of columns, or any iterable
    of record batches / tables / DataFrames.
    """
    if is_materialized(data):
        yield as_table(data)
        return
    if isinstance(data, pa.RecordBatchReader):
        yield from data
        return
    to_batches = getattr(data, "to_batches", None)
    if callable(to_batches) and not isinstance(data, Iterator):
        yield from to_batches()
        return
    if isinstance(data, str | bytes) or not isinstance(data, Iterable):
        raise InvalidArgument(
            f"Expected a DataFrame, an Arrow table or an iterator of Arrow record batches, "
            f"got {type(data).__name__}."
        )
    for piece in data:
        yield piece if isinstance(piece, pa.RecordBatch | pa.Table) else as_table(piece)


def _is_pandas(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def _to_arrow_array(values: Any) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    try:
        return pa.array(np.asarray(values) if not isinstance(values, list) else values)
    except (pa.ArrowException, TypeError, ValueError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def _from_pandas(df: Any) -> pa.Table:
    """pandas to Arrow column by column; a mixed-type object column becomes strings.

    Plain NumPy numeric columns are wrapped without a copy and keep NaN as a value (the
    readers count NaN as missing), which saves a pass per column over ``from_pandas``.
    """
    arrays = {}
    for name in df.columns:
        series = df[name]
        try:
            if isinstance(series.dtype, np.dtype) and series.dtype.kind in "fiu":
                arrays[str(name)] = pa.array(series.to_numpy())
                continue
            arrays[str(name)] = pa.Array.from_pandas(series)
        except (pa.ArrowException, TypeError, ValueError):
            arrays[str(name)] = pa.array(
                [None if v is None or v != v else str(v) for v in series], pa.string()
            )
    return pa.table(arrays)


def kind_of(arrow_type: pa.DataType) -> str:
    """The default kind of a column: numbers are numeric; strings, booleans, dictionaries categorical."""
    if pa.types.is_dictionary(arrow_type):
        return "categorical"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "numeric"
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or getattr(pa.types, "is_string_view", lambda _t: False)(arrow_type)
    ):
        return "categorical"
    return "other"


def dtype_name(arrow_type: pa.DataType) -> str:
    """A short type name for reports (``double``, ``int64``, ``string``, ...)."""
    if pa.types.is_dictionary(arrow_type):
        return dtype_name(arrow_type.value_type)
    if pa.types.is_large_string(arrow_type):
        return "string"
    return str(arrow_type)


def _flat(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def sorted_numeric(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, int, int]:
    """(sorted float64 values without nulls/NaN/inf, number missing, number not convertible).

    Strings that parse as numbers are converted; a column that does not convert at all counts
    every non-null value as not convertible (a type mismatch, reported by data quality).
    """
    arr = _flat(column)
    invalid = 0
    if not pa.types.is_floating(arr.type) or arr.type != pa.float64():
        try:
            arr = arr.cast(pa.float64(), safe=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            nulls = arr.null_count
            return np.empty(0), nulls, len(arr) - nulls
    nulls = arr.null_count
    if nulls:
        arr = arr.drop_null()
    values = np.sort(arr.to_numpy(zero_copy_only=False))
    # NaN sorts last; infinities count as missing too (no bin, quantile or JSON can hold them).
    first = int(np.searchsorted(values, -np.inf, side="right"))
    last = int(np.searchsorted(values, np.inf, side="left"))
    return values[first:last], nulls + len(values) - (last - first), invalid


def category_text(column: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, int]:
    """(the non-missing values as text, number missing). NaN counts as missing.

    Numbers and booleans become their Arrow text ("3", "1.5", "true"), the same on the
    reference and the current side, so an integer class read back as float still matches.
    """
    arr = _flat(column)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    missing = arr.null_count
    if missing:
        arr = arr.drop_null()
    if pa.types.is_floating(arr.type):
        nan = pc.is_nan(arr)
        n_nan = int(pc.sum(nan).as_py() or 0)
        if n_nan:
            arr = arr.filter(pc.invert(nan))
            missing += n_nan
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        try:
            arr = arr.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            arr = pa.array([str(v) for v in arr.to_pylist()], pa.string())
    return arr, missing


def value_counts(text: pa.Array) -> dict[str, int]:
    """{value: count} of a text array without nulls."""
    counted = pc.value_counts(text)
    values = counted.field("values").to_pylist()
    counts = counted.field("counts").to_numpy()
    return {v: int(c) for v, c in zip(values, counts, strict=True)}


def category_counts(column: pa.Array | pa.ChunkedArray) -> tuple[dict[str, int], int]:
    """({value as text: count}, number missing); see ``category_text``."""
    text, missing = category_text(column)
    return value_counts(text), missing


def dtype_family(dtype: str) -> str:
    """Coarse type family for schema checks: number, text, bool, or the type name itself."""
    if dtype.startswith(("int", "uint", "float", "double", "halffloat", "decimal")):
        return "number"
    if dtype in ("string", "large_string", "string_view", "utf8", "large_utf8"):
        return "text"
    return dtype


def column_or_none(batch: pa.RecordBatch | pa.Table, name: str) -> pa.Array | pa.ChunkedArray | None:
    """The column called ``name``, or None when the batch has no such column."""
    index = batch.schema.get_field_index(name)
    return None if index < 0 else batch.column(index)


class BoundedCounter:
    """Value counts that stay bounded on high-cardinality columns.

    Counts are exact until more than ``cap`` distinct values have been seen; then only the
    ``cap // 2`` most frequent are kept and the rest move to ``pruned`` (``approximate`` turns
    True). A column with that many distinct values is an identifier, not a category.
    """

    def __init__(self, cap: int) -> None:
        self.cap = max(int(cap), 2)
        self.counts: dict[str, int] = {}
        self.pruned = 0
        self.approximate = False

    def add(self, counts: Mapping[str, int]) -> None:
        """Add one batch's counts."""
        mine = self.counts
        for value, count in counts.items():
            mine[value] = mine.get(value, 0) + count
        if len(mine) > self.cap:
            ranked = sorted(mine.items(), key=lambda item: -item[1])
            keep = self.cap // 2
            self.pruned += sum(count for _, count in ranked[keep:])
            self.counts = dict(ranked[:keep])
            self.approximate = True

    def most_common(self) -> list[tuple[str, int]]:
        """(value, count) pairs, most frequent first, ties by value."""
        return sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))


def prefetch(pieces: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Yield from ``pieces`` while a background thread already reads the next ``depth`` ones.

    Reading a Parquet batch (decompression, decoding) and summarizing the previous one then
    overlap on two cores; memory grows by ``depth`` batches at most. Errors from the reader
    are raised here, in the consumer.
    """
    done = object()
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for piece in pieces:
                while not stop.is_set():
                    try:
                        slots.put((piece, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put((done, None))
        except BaseException as exc:  # handed to the consumer, re-raised there
            slots.put((done, exc))

    reader = threading.Thread(target=read, name="modelyard-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            piece, error = slots.get()
            if piece is done:
                if error is not None:
                    raise error
                return
            yield piece
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                reader.join(timeout=0.1)

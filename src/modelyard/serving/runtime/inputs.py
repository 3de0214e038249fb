"""Request bodies to model inputs: decode JSON or Arrow, then check the rows against the signature.

Three layouts reach ``predict``: records ``{"inputs": [{"f0": 1.2, ...}, ...]}``, columns
``{"columns": [...], "data": [[...], ...]}`` (MLflow's ``dataframe_split`` and
``dataframe_records`` wrappers are read too) and an Arrow IPC stream body for large batches.

When every input column is numeric (the common case for tabular models) the rows become one
float64 matrix in signature order without pandas; other signatures become a DataFrame with the
signature's dtypes. Every refusal names the column (and row) at fault: a missing column, an
extra one, or a value of the wrong type is a 422; a body that is not JSON, or not shaped like
any layout, is a 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import orjson

from modelyard.core.errors import InvalidArgument
from modelyard.models.manifest import Signature
from modelyard.serving.runtime.errors import InvalidInput

ARROW_STREAM = "application/vnd.apache.arrow.stream"
ASSOCIATION_COLUMN = "association_id"  # an Arrow body may carry association ids as this column
MAX_ROWS = 1_000_000
_BODY_KEYS = frozenset(
    {"inputs", "columns", "data", "association_ids", "key", "dataframe_split", "dataframe_records"}
)
_LAYOUTS = (
    "send {'inputs': [{column: value, ...}, ...]}, {'columns': [...], 'data': [[...], ...]}, or an Arrow "
    f"IPC stream with Content-Type {ARROW_STREAM}"
)
_NUMBER = (int, float)

# What a signature's type name accepts.
FLOAT, INT, BOOL, STRING, DATETIME, ANY = "float", "int", "bool", "string", "datetime", "any"
_LABELS = {
    FLOAT: "a number (or null)",
    INT: "an integer",
    BOOL: "true or false",
    STRING: "a string",
    DATETIME: "a date-time string",
    ANY: "a number, string, boolean or null",
}


def kind_of(type_name: str) -> str:
    """The value kind a signature type name accepts."""
    t = type_name.lower()
    if t.startswith("float"):
        return FLOAT
    if t.startswith(("int", "uint")):
        return INT
    if t == "bool":
        return BOOL
    if t in ("string", "category", "str", "object"):
        return STRING
    if t.startswith("datetime"):
        return DATETIME
    return ANY


def _ok(kind: str, v: Any) -> bool:
    t = type(v)
    if kind == FLOAT:
        return t is float or t is int or v is None
    if kind == INT:
        return t is int or (t is float and v.is_integer())
    if kind == BOOL:
        return t is bool
    if kind in (STRING, DATETIME):
        return t is str or v is None
    return v is None or t in (str, int, float, bool)


def _show(v: Any) -> str:
    text = repr(v)
    return (text[:60] + "...") if len(text) > 60 else text


@dataclass(frozen=True)
class InputSchema:
    """The inputs a model takes, compiled from its signature for quick checks."""

    names: tuple[str, ...] | None  # named columns; None: unnamed (array or no signature)
    kinds: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ()
    array_width: int | None = None  # an array signature's column count, when fixed
    array_dtype: str | None = None

    @classmethod
    def from_signature(cls, signature: Signature | None) -> InputSchema:
        """Compile a model's signature (None: the model takes whatever it is given)."""
        if signature is None or not signature.inputs:
            return cls(names=None)
        if signature.input_kind == "array":
            spec = signature.inputs[0]
            width = spec.shape[1] if spec.shape and len(spec.shape) == 2 and spec.shape[1] > 0 else None
            dtype = spec.type if kind_of(spec.type) in (FLOAT, INT, BOOL) else None
            return cls(names=None, array_width=width, array_dtype=dtype)
        names = tuple(c.name for c in signature.inputs)
        return cls(
            names=names,
            kinds=tuple(kind_of(c.type) for c in signature.inputs),
            dtypes=tuple(c.type for c in signature.inputs),
        )

    @cached_property
    def numeric(self) -> bool:
        """Every named column can take numbers (so rows may become one float matrix)."""
        return self.names is not None and all(k in (FLOAT, INT, ANY) for k in self.kinds)

    @cached_property
    def int_positions(self) -> tuple[int, ...]:
        """Positions of integer columns (they refuse fractions)."""
        return tuple(j for j, k in enumerate(self.kinds) if k == INT)

    def describe(self) -> str:
        """The expected columns, for messages."""
        if not self.names:
            return "an array"
        shown = ", ".join(self.names[:30]) + (
            f", ... ({len(self.names)} in all)" if len(self.names) > 30 else ""
        )
        return f"columns {shown}"


@dataclass
class Payload:
    """A decoded body, not yet checked against any model."""

    layout: str  # records | split | columns | rows | arrow
    data: Any
    columns: list[str] | None = None
    key: str | None = None
    association_ids: list[str | None] | None = None


@dataclass
class Batch:
    """Rows checked against one model's inputs, in the form that model takes."""

    n: int
    names: tuple[str, ...] | None
    matrix: np.ndarray | None = None  # float64 (n, k) in signature order
    frame: Any = None  # a pandas DataFrame (non-numeric columns), or an ndarray (array models)
    _features: dict[str, list[Any]] | None = None

    def model_input(self) -> Any:
        """What to hand to the model."""
        return self.matrix if self.matrix is not None else self.frame

    def features(self) -> dict[str, list[Any]]:
        """Column name → values, for the prediction log (built once)."""
        if self._features is None:
            self._features = self._columns()
        return self._features

    def _columns(self) -> dict[str, list[Any]]:
        if self.matrix is not None and self.names is not None:
            return dict(zip(self.names, self.matrix.T.tolist(), strict=True))
        frame = self.frame
        if hasattr(frame, "columns"):
            return {str(c): frame[c].tolist() for c in frame.columns}
        arr = np.asarray(frame)
        if arr.ndim == 1:
            return {"input": arr.tolist()}
        flat = arr.reshape(arr.shape[0], -1)
        return {f"input_{j}": flat[:, j].tolist() for j in range(flat.shape[1])}


# --------------------------------------------------------------------------- decoding
def decode(raw: bytes, content_type: str, header_key: str | None) -> Payload:
    """Read a body into a ``Payload``.

    Raises:
        InvalidArgument: not JSON (or Arrow), or not one of the layouts (HTTP 400).
        InvalidInput: association ids or the key are malformed (HTTP 422).
    """
    if content_type.startswith(ARROW_STREAM):
        return _decode_arrow(raw, header_key)
    if not raw:
        raise InvalidArgument(f"The body is empty: {_LAYOUTS}.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"The body is not valid JSON ({exc}): {_LAYOUTS}.") from None
    if type(body) is not dict:
        raise InvalidArgument(f"The body must be a JSON object: {_LAYOUTS}.")
    if not body.keys() <= _BODY_KEYS:
        extra = sorted(str(k) for k in body.keys() - _BODY_KEYS)
        raise InvalidArgument(
            f"Unknown field {extra[0]!r} in the body: expected inputs (or columns and data), "
            "association_ids and key."
        )
    payload = _layout(body)
    key = body.get("key", header_key)
    if key is not None and not isinstance(key, str | int):
        raise InvalidInput("'key' (the routing key) must be a string.")
    payload.key = None if key is None else str(key)
    ids = body.get("association_ids")
    if ids is not None:
        payload.association_ids = _association_ids(ids)
    return payload


def _layout(body: dict[str, Any]) -> Payload:
    if "dataframe_split" in body:
        inner = body["dataframe_split"]
        if type(inner) is not dict:
            raise InvalidArgument("'dataframe_split' must be an object with 'columns' and 'data'.")
        body = {**inner, **{k: v for k, v in body.items() if k != "dataframe_split"}}
    if "dataframe_records" in body:
        body = {**body, "inputs": body["dataframe_records"]}
    if "columns" in body or "data" in body:
        if "inputs" in body:
            raise InvalidArgument("Send either 'inputs' or 'columns' with 'data', not both.")
        columns, data = body.get("columns"), body.get("data")
        if type(columns) is not list or any(type(c) is not str for c in columns):
            raise InvalidArgument("'columns' must be a list of column names (strings).")
        if type(data) is not list:
            raise InvalidArgument("'data' must be a list of rows (lists of values).")
        if not data:
            raise InvalidArgument("'data' is empty: send at least one row.")
        if len(set(columns)) != len(columns):
            dup = next(c for c in columns if columns.count(c) > 1)
            raise InvalidInput(f"Column {dup!r} appears twice in 'columns'.")
        return Payload("split", data, columns=columns)
    if "inputs" not in body:
        raise InvalidArgument(f"The body has no rows: {_LAYOUTS}.")
    inputs = body["inputs"]
    if type(inputs) is dict:
        return Payload("columns", inputs, columns=[str(c) for c in inputs])
    if type(inputs) is not list:
        raise InvalidArgument(f"'inputs' must be a list of rows or an object of columns: {_LAYOUTS}.")
    if not inputs:
        raise InvalidArgument("'inputs' is empty: send at least one row.")
    if type(inputs[0]) is dict:
        return Payload("records", inputs)
    return Payload("rows", inputs)


def _association_ids(ids: Any) -> list[str | None]:
    if type(ids) is not list:
        raise InvalidInput("'association_ids' must be a list with one id (or null) per row.")
    out: list[str | None] = []
    for i, v in enumerate(ids):
        if v is None or type(v) is str:
            out.append(v)
        elif type(v) is int:
            out.append(str(v))
        else:
            raise InvalidInput(f"association_ids[{i}] must be a string (or null), not {_show(v)}.")
    return out


def _decode_arrow(raw: bytes, header_key: str | None) -> Payload:
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(pa.py_buffer(raw)).read_all()
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise InvalidArgument(f"The body is not a valid Arrow IPC stream: {exc}.") from None
    return Payload("arrow", table, columns=list(table.column_names), key=header_key)


# --------------------------------------------------------------------------- checking
def to_batch(payload: Payload, schema: InputSchema) -> Batch:
    """Check a payload against one model's inputs.

    Raises:
        InvalidInput: naming the missing, extra or mistyped column.
    """
    if payload.layout == "arrow":
        batch = _arrow_batch(payload, schema)
    elif schema.names is None:
        batch = _unnamed_batch(payload, schema)
    else:
        batch = _named_batch(payload, schema)
    if batch.n > MAX_ROWS:
        raise InvalidInput(f"A request may carry at most {MAX_ROWS:,} rows; this one has {batch.n:,}.")
    ids = payload.association_ids
    if ids is not None and len(ids) != batch.n:
        raise InvalidInput(
            f"'association_ids' has {len(ids)} ids for {batch.n} rows: send one per row (null for none)."
        )
    return batch


def _columns_error(have: Any, schema: InputSchema, row: int | None = None) -> InvalidInput:
    names = schema.names or ()
    where = f" (row {row})" if row is not None else ""
    missing = [n for n in names if n not in have]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        return InvalidInput(
            f"The input is missing column {missing[0]!r}{more}{where}: the model expects {schema.describe()}."
        )
    extra = sorted(str(c) for c in have if c not in set(names))
    return InvalidInput(
        f"The input has column {extra[0]!r}{where}, which the model does not take: it expects "
        f"{schema.describe()}."
    )


def _named_batch(payload: Payload, schema: InputSchema) -> Batch:
    names = schema.names or ()
    data = payload.data
    if payload.layout == "records":
        name_set = frozenset(names)
        rows = []
        for i, rec in enumerate(data):
            if type(rec) is not dict:
                raise InvalidInput(f"Row {i} of 'inputs' is not an object of column values.")
            if rec.keys() != name_set:
                raise _columns_error(rec.keys(), schema, i)
            rows.append([rec[n] for n in names])
    elif payload.layout in ("split", "columns"):
        cols = payload.columns or []
        if len(cols) != len(names) or set(cols) != set(names):
            raise _columns_error(cols, schema)
        if payload.layout == "columns":
            lengths = {len(v) if type(v) is list else -1 for v in data.values()}
            if -1 in lengths or len(lengths) > 1:
                raise InvalidInput("Every column in 'inputs' must be a list, all of the same length.")
            rows = [list(r) for r in zip(*(data[n] for n in names), strict=True)]
        else:
            width = len(cols)
            for i, r in enumerate(data):
                if type(r) is not list or len(r) != width:
                    got = f"{len(r)} values" if type(r) is list else f"a {type(r).__name__}"
                    raise InvalidInput(f"Row {i} of 'data' has {got}; 'columns' names {width}.")
            if list(names) == cols:
                rows = data
            else:
                at = [cols.index(n) for n in names]
                rows = [[r[j] for j in at] for r in data]
    else:
        raise InvalidInput(
            f"The model takes named columns ({schema.describe()}): send records "
            "({'inputs': [{column: value}]}) or columns and data."
        )
    return _rows_batch(rows, schema)


def _rows_batch(rows: list[list[Any]], schema: InputSchema) -> Batch:
    names = schema.names or ()
    if schema.numeric:
        numbers = True
        for row in rows:
            for v in row:
                t = type(v)
                if t is not float and t is not int:
                    numbers = False
                    break
            if not numbers:
                break
        if numbers:
            ints = schema.int_positions
            if ints:
                for i, row in enumerate(rows):
                    for j in ints:
                        v = row[j]
                        if type(v) is float and not v.is_integer():
                            raise _value_error(schema, j, i, v)
            matrix = np.array(rows, dtype=np.float64) if rows else np.empty((0, len(names)))
            return Batch(n=len(rows), names=names, matrix=matrix)
    # Mixed types, nulls or strings: check each value, then build a typed frame.
    for i, row in enumerate(rows):
        for j, kind in enumerate(schema.kinds):
            if not _ok(kind, row[j]):
                raise _value_error(schema, j, i, row[j])
    if schema.numeric and all(k != ANY for k in schema.kinds):  # nulls in float columns only
        return Batch(n=len(rows), names=names, matrix=np.array(rows, dtype=np.float64))
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in names]
    return Batch(n=len(rows), names=names, frame=_frame(names, columns, schema))


def _value_error(schema: InputSchema, j: int, row: int, v: Any) -> InvalidInput:
    name = (schema.names or ())[j]
    kind = schema.kinds[j]
    return InvalidInput(
        f"Column {name!r} expects {_LABELS[kind]} ({schema.dtypes[j]}); row {row} has {_show(v)} "
        f"({type(v).__name__ if v is not None else 'null'})."
    )


def _frame(names: tuple[str, ...], columns: list[list[Any]], schema: InputSchema) -> Any:
    import pandas as pd

    data: dict[str, Any] = {}
    for j, name in enumerate(names):
        values, kind, dtype = columns[j], schema.kinds[j], schema.dtypes[j]
        try:
            if kind in (FLOAT, INT, BOOL):
                data[name] = np.asarray(
                    values, dtype=dtype if kind != FLOAT or None not in values else "float64"
                )
            elif kind == DATETIME:
                data[name] = pd.to_datetime(values)
            elif kind == STRING:
                data[name] = np.asarray(values, dtype=object)
            else:
                data[name] = values
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidInput(f"Column {name!r} cannot be read as {dtype}: {exc}.") from None
    return pd.DataFrame(data)


def _unnamed_batch(payload: Payload, schema: InputSchema) -> Batch:
    import pandas as pd

    if payload.layout == "rows":
        try:
            arr = np.asarray(payload.data, dtype=schema.array_dtype) if schema.array_dtype else None
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"'inputs' must be a rectangular array of {schema.array_dtype}: {exc}."
            ) from None
        if arr is None:
            try:
                arr = np.asarray(payload.data)
            except ValueError as exc:
                raise InvalidInput(f"'inputs' must be a rectangular array: {exc}.") from None
            if arr.dtype == object:
                raise InvalidInput("'inputs' must be a rectangular array of numbers.")
        if arr.ndim == 1 and schema.array_width is not None:
            arr = arr.reshape(-1, schema.array_width) if arr.size == schema.array_width else arr
        if schema.array_width is not None and (arr.ndim != 2 or arr.shape[1] != schema.array_width):
            got = arr.shape[1] if arr.ndim == 2 else f"shape {arr.shape}"
            raise InvalidInput(f"The model expects {schema.array_width} input columns; the input has {got}.")
        if schema.array_dtype is not None and arr.dtype.kind not in "biuf":
            raise InvalidInput("'inputs' must hold numbers only.")
        return Batch(n=int(arr.shape[0]) if arr.ndim else 0, names=None, frame=arr)
    if payload.layout == "records":
        first = payload.data[0]
        keys = list(first)
        for i, rec in enumerate(payload.data):
            if type(rec) is not dict or rec.keys() != first.keys():
                raise InvalidInput(f"Row {i} of 'inputs' has other columns than row 0 ({', '.join(keys)}).")
        frame = pd.DataFrame.from_records(payload.data, columns=keys)
    elif payload.layout == "split":
        width = len(payload.columns or [])
        if any(type(r) is not list or len(r) != width for r in payload.data):
            raise InvalidInput(f"Every row of 'data' must be a list of {width} values.")
        frame = pd.DataFrame(payload.data, columns=payload.columns)
    else:
        try:
            frame = pd.DataFrame(payload.data)
        except ValueError as exc:
            raise InvalidInput(f"The columns in 'inputs' do not line up: {exc}.") from None
    if schema.array_dtype is not None or (
        schema.array_width is not None and frame.shape[1] != schema.array_width
    ):
        frame = frame.to_numpy()
    return Batch(n=len(frame), names=None, frame=frame)


def _arrow_batch(payload: Payload, schema: InputSchema) -> Batch:
    import pyarrow as pa

    table = payload.data
    names = schema.names
    if ASSOCIATION_COLUMN in table.column_names and (names is None or ASSOCIATION_COLUMN not in names):
        col = table.column(ASSOCIATION_COLUMN)
        payload.association_ids = [None if v is None else str(v) for v in col.to_pylist()]
        table = table.drop_columns([ASSOCIATION_COLUMN])
    if names is None:
        arr = table.to_pandas()
        if schema.array_dtype is not None or schema.array_width is not None:
            arr = arr.to_numpy()
        return Batch(n=table.num_rows, names=None, frame=arr)
    cols = table.column_names
    if len(cols) != len(names) or set(cols) != set(names):
        raise _columns_error(cols, schema)
    numeric = True
    for j, name in enumerate(names):
        typ = table.schema.field(name).type
        kind = schema.kinds[j]
        is_num = pa.types.is_integer(typ) or pa.types.is_floating(typ)
        if kind in (FLOAT, INT) and not is_num:
            raise InvalidInput(f"Column {name!r} expects {schema.dtypes[j]}; the Arrow column is {typ}.")
        if kind == INT and (pa.types.is_floating(typ) or table.column(name).null_count):
            raise InvalidInput(
                f"Column {name!r} expects integers ({schema.dtypes[j]}); the Arrow column is {typ}."
            )
        if kind in (STRING, DATETIME) and not (
            pa.types.is_string(typ)
            or pa.types.is_large_string(typ)
            or pa.types.is_dictionary(typ)
            or pa.types.is_temporal(typ)
        ):
            raise InvalidInput(f"Column {name!r} expects {schema.dtypes[j]}; the Arrow column is {typ}.")
        if kind == BOOL and not pa.types.is_boolean(typ):
            raise InvalidInput(f"Column {name!r} expects booleans; the Arrow column is {typ}.")
        numeric = numeric and is_num
    if numeric:
        matrix = np.empty((table.num_rows, len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            matrix[:, j] = table.column(name).to_numpy()
        return Batch(n=table.num_rows, names=names, matrix=matrix)
    frame = table.select(list(names)).to_pandas()
    return Batch(n=table.num_rows, names=names, frame=frame)

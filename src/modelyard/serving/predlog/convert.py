"""Python values to Arrow columns, a whole column at a time (the writer thread's work).

Each helper first lets Arrow convert the list in C; only lists Arrow cannot type (mixed text
and numbers, objects) fall back to a Python loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError)


def strings(values: Sequence[Any]) -> pa.Array:
    """A string column; non-strings become text, None stays null."""
    try:
        return pa.array(values, pa.string())
    except _ARROW_ERRORS:
        return pa.array([None if v is None else _text(v) for v in values], pa.string())


def floats(values: Sequence[Any]) -> pa.Array:
    """A float64 column; anything that is not a number becomes null."""
    try:
        return pa.array(values, pa.float64())
    except _ARROW_ERRORS:
        return pa.array([_number(v) for v in values], pa.float64())


def text_and_value(values: Sequence[Any]) -> tuple[pa.Array, pa.Array]:
    """An answer (or actual) column as (text, float64 value or null).

    Numbers print the Arrow way (``1.0`` -> ``"1"``), so the label ``1`` reads the same whether a
    model gave it as int or float. Text that parses as a finite number also gets a value.
    """
    try:
        arr = pa.array(values)
    except _ARROW_ERRORS:
        return strings(values), pa.array([_number(v) for v in values], pa.float64())
    t = arr.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        return pc.cast(arr, pa.string()), pc.cast(arr, pa.float64())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        arr = arr.cast(pa.string())
        try:
            value = pc.cast(arr, pa.float64())
            finite = pc.is_finite(value)
            return arr, pc.if_else(finite, value, pa.scalar(None, pa.float64()))
        except _ARROW_ERRORS:
            return arr, pa.array([_number(v) for v in values], pa.float64())
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string()), pa.nulls(len(arr), pa.float64())
    return strings(values), pa.array([_number(v) for v in values], pa.float64())


def feature(values: Sequence[Any]) -> pa.Array:
    """An input column in its natural type: float64, int64, bool or string.

    A column that is null throughout is stored as float64 so that it unions with numeric and
    text segments alike. Lists and objects are stored as JSON text.
    """
    try:
        arr = pa.array(values)
    except _ARROW_ERRORS:
        return strings(values)
    t = arr.type
    if pa.types.is_floating(t):
        return arr.cast(pa.float64())
    if pa.types.is_integer(t):
        try:
            return arr.cast(pa.int64())
        except _ARROW_ERRORS:  # uint64 beyond int64
            return arr.cast(pa.float64())
    if pa.types.is_boolean(t):
        return arr
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return arr.cast(pa.string())
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.float64())
    return strings(values)


def _text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, dict | list | tuple | np.ndarray):
        return orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY, default=str).decode()
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _number(v: Any) -> float | None:
    if v is None or isinstance(v, dict | list | tuple):
        return None
    if isinstance(v, bool | int | float | np.number | np.bool_):
        return float(v)
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None

"""Signatures and input examples: inferring them, storing them, and shaping inputs to match.

An input example is stored as ``input_example.json``: a DataFrame in pandas' ``split``
layout without index (``{"columns": [...], "data": [[...]]}``, as MLflow writes it) and an
array as ``{"inputs": [[...]]}``. Only the first ``EXAMPLE_ROWS`` rows are kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np
import orjson
import pandas as pd

from modelyard.core.errors import InvalidArgument
from modelyard.models.manifest import ColumnSpec, Signature

EXAMPLE_FILE = "input_example.json"
EXAMPLE_ROWS = 10

Example: TypeAlias = pd.DataFrame | np.ndarray


def type_name(dtype: Any) -> str:
    """A short, library-neutral name for a column or array dtype."""
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    dt = np.dtype(dtype) if not isinstance(dtype, np.dtype) else dtype
    if dt.kind in "OUS":
        return "string"
    return str(dt)


def normalize_example(example: Any) -> Example | None:
    """A DataFrame or 2-D array for a user's input example (dict of columns, list, tensor, ...)."""
    if example is None:
        return None
    if isinstance(example, pd.DataFrame):
        return example.head(EXAMPLE_ROWS).reset_index(drop=True)
    if isinstance(example, pd.Series):
        return example.to_frame().head(EXAMPLE_ROWS).reset_index(drop=True)
    if isinstance(example, Mapping):
        try:
            return pd.DataFrame({str(k): np.atleast_1d(v) for k, v in example.items()}).head(EXAMPLE_ROWS)
        except ValueError as exc:
            raise InvalidArgument(f"The input example's columns do not line up: {exc}.") from exc
    if hasattr(example, "detach") and hasattr(example, "numpy"):  # a torch tensor, without importing torch
        example = example.detach().cpu().numpy()
    arr = np.asarray(example)
    if arr.ndim == 0:
        raise InvalidArgument(
            "The input example must be a table, a dict of columns or an array, not a scalar."
        )
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    return arr[:EXAMPLE_ROWS]


def infer_signature(example: Example | None, outputs: Any = None) -> Signature | None:
    """Inputs from an example (column names and types), outputs from predictions on it."""
    if example is None:
        return None
    if isinstance(example, pd.DataFrame):
        inputs = [ColumnSpec(name=str(c), type=type_name(example[c].dtype)) for c in example.columns]
        sig = Signature(inputs=inputs, input_kind="dataframe")
    else:
        shape = [-1, *example.shape[1:]]
        sig = Signature(
            inputs=[ColumnSpec(name="input", type=type_name(example.dtype), shape=shape)], input_kind="array"
        )
    if outputs is not None:
        sig.outputs = output_spec(outputs)
    return sig


def output_spec(outputs: Any) -> list[ColumnSpec]:
    """Describe a prediction result (its dtype and shape beyond the row axis)."""
    if isinstance(outputs, pd.DataFrame):
        return [ColumnSpec(name=str(c), type=type_name(outputs[c].dtype)) for c in outputs.columns]
    arr = to_numpy(outputs)
    shape = [-1, *arr.shape[1:]] if arr.ndim > 1 else None
    return [ColumnSpec(name="prediction", type=type_name(arr.dtype), shape=shape)]


def example_to_json(example: Example) -> bytes:
    """Serialise an input example for ``input_example.json``."""
    if isinstance(example, pd.DataFrame):
        return example.to_json(orient="split", index=False, date_format="iso").encode()
    return orjson.dumps({"inputs": example.tolist()})


def example_from_json(raw: bytes, signature: Signature | None) -> Example:
    """Read ``input_example.json`` back (MLflow's layouts too), with the signature's dtypes."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"The input example is not valid JSON: {exc}.") from exc
    if isinstance(data, dict) and "columns" in data and "data" in data:
        frame = pd.DataFrame(data["data"], columns=data["columns"])
        types = {c.name: c.type for c in (signature.inputs or [])} if signature else {}
        for col, typ in types.items():
            if col in frame.columns and typ not in ("string", "category", "any"):
                with contextlib.suppress(TypeError, ValueError):  # an example is a hint, not a contract
                    frame[col] = frame[col].astype(typ)
        return frame
    inputs = data.get("inputs") if isinstance(data, dict) else data
    if not isinstance(inputs, list):
        raise InvalidArgument("The input example is neither a table (columns/data) nor an array (inputs).")
    dtype = None
    if signature and signature.input_kind == "array" and signature.inputs:
        typ = signature.inputs[0].type
        dtype = typ if typ not in ("string", "any") else None
    try:
        return np.asarray(inputs, dtype=dtype)
    except (TypeError, ValueError):
        return np.asarray(inputs)


def prepare_input(X: Any, signature: Signature | None) -> pd.DataFrame | np.ndarray:
    """Shape a caller's input the way the model was trained on.

    With named input columns, a DataFrame is reordered to them (a missing one is an error),
    a dict of columns becomes a DataFrame, and an array is mapped to the columns by position.
    """
    if isinstance(X, Mapping):
        X = _frame_from_dict(X)
    names = signature.column_names if signature else None
    if names:
        return _as_columns(X, names)
    if isinstance(X, pd.DataFrame):
        return X.to_numpy() if signature and signature.input_kind == "array" else X
    arr = _as_array(X)
    if signature and signature.input_kind == "array" and signature.inputs:
        shape = signature.inputs[0].shape
        if shape and len(shape) == 2 and shape[1] > 0 and arr.ndim == 2 and arr.shape[1] != shape[1]:
            raise InvalidArgument(
                f"The model expects {shape[1]} input columns; the input has {arr.shape[1]}."
            )
    return arr


def _frame_from_dict(X: Mapping[str, Any]) -> pd.DataFrame:
    try:
        return pd.DataFrame({str(k): np.atleast_1d(v) for k, v in X.items()})
    except ValueError as exc:
        raise InvalidArgument(f"The input columns do not line up: {exc}.") from exc


def _as_array(X: Any) -> np.ndarray:
    if hasattr(X, "detach") and hasattr(X, "numpy"):
        X = X.detach().cpu().numpy()
    return np.asarray(X)


def _as_columns(X: Any, names: list[str]) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        have = {str(c) for c in X.columns}
        missing = [n for n in names if n not in have]
        if missing:
            raise InvalidArgument(
                f"The input is missing column {missing[0]!r}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                + f": the model expects columns {', '.join(names)}."
            )
        if list(X.columns) == names:
            return X
        X = X.rename(columns=str) if any(not isinstance(c, str) for c in X.columns) else X
        return X[names]
    arr = _as_array(X)
    if arr.ndim == 1 and arr.shape[0] == len(names):
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != len(names):
        got = arr.shape[1] if arr.ndim == 2 else f"shape {arr.shape}"
        raise InvalidArgument(
            f"The model expects {len(names)} input columns ({', '.join(names)}); the input has {got}."
        )
    return pd.DataFrame(arr, columns=names)


def to_numpy(result: Any) -> np.ndarray:
    """A prediction result as a numpy array (Series, DataFrame, tensor, list)."""
    if isinstance(result, pd.DataFrame | pd.Series):
        return result.to_numpy()
    if hasattr(result, "detach") and hasattr(result, "numpy"):
        return result.detach().cpu().numpy()
    return np.asarray(result)

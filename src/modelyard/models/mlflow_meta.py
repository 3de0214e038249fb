"""Reading MLflow's model metadata: signature JSON, input example, requirements.txt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from modelyard.core.errors import InvalidArgument
from modelyard.models.manifest import ColumnSpec, Signature
from modelyard.models.signature import example_to_json, normalize_example

# MLflow column types -> the dtype names Modelyard signatures use.
MLFLOW_TYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "string",
    "binary": "bytes",
    "datetime": "datetime64[ns]",
}


def read_signature(raw: Any) -> Signature | None:
    """A Signature from MLmodel's ``signature`` block (inputs/outputs are JSON strings)."""
    if not isinstance(raw, dict) or not raw.get("inputs"):
        return None
    inputs, kind = _specs(raw["inputs"], "inputs", default_name="input")
    outputs = _specs(raw["outputs"], "outputs", default_name="prediction")[0] if raw.get("outputs") else None
    return Signature(inputs=inputs, outputs=outputs, input_kind=kind)


def _specs(text: Any, which: str, *, default_name: str) -> tuple[list[ColumnSpec], Any]:
    try:
        items = orjson.loads(text) if isinstance(text, str | bytes) else text
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"The MLmodel signature's {which} are not valid JSON: {exc}.") from exc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidArgument(f"The MLmodel signature's {which} are not a list of column or tensor specs.")
    if any(i.get("type") == "tensor" for i in items):
        specs = []
        for i in items:
            tensor = i.get("tensor-spec") or {}
            shape = tensor.get("shape")
            specs.append(
                ColumnSpec(
                    name=str(i.get("name") or default_name),
                    type=str(tensor.get("dtype", "any")),
                    shape=[int(d) for d in shape] if isinstance(shape, list) else None,
                )
            )
        return specs, "array"
    types = [MLFLOW_TYPES.get(str(i.get("type")), str(i.get("type"))) for i in items]
    if all(i.get("name") for i in items):
        return [
            ColumnSpec(name=str(i["name"]), type=t) for i, t in zip(items, types, strict=True)
        ], "dataframe"
    if len(items) == 1:
        return [ColumnSpec(name=default_name, type=types[0])], "array"
    return [ColumnSpec(name=default_name, type=types[0], shape=[-1, len(items)])], "array"


def read_example(file: Path, info: dict[str, Any]) -> bytes | None:
    """The input example re-encoded in Modelyard's layout, or None for kinds it does not keep."""
    kind = info.get("type")
    if kind not in ("dataframe", "ndarray"):
        return None  # json_object, sparse matrices, ...: not a table or an array
    try:
        data = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"The MLflow input example {file.name!r} is not valid JSON: {exc}.") from exc
    try:
        if kind == "dataframe":
            example: Any = _frame(data, info.get("pandas_orient") or "split")
        else:
            example = np.asarray(data.get("inputs") if isinstance(data, dict) else data)
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidArgument(
            f"The MLflow input example {file.name!r} does not match its type {kind!r}: {exc}"
        ) from exc
    normal = normalize_example(example)
    return example_to_json(normal) if normal is not None else None


def _frame(data: Any, orient: str) -> pd.DataFrame:
    if isinstance(data, dict) and "dataframe_split" in data:
        data = data["dataframe_split"]
    if orient == "records" or isinstance(data, list):
        return pd.DataFrame.from_records(data)
    return pd.DataFrame(data["data"], columns=data["columns"])


def read_requirements(file: Path | None) -> list[str]:
    """The package lines of requirements.txt (no comments, no pip options)."""
    if file is None:
        return []
    out = []
    for line in file.read_text(encoding="utf-8").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            out.append(line)
    return out

"""MLflow ONNX models: MLflow stores large tensors as external data files next to the graph.

They are read (after checking each named file stays inside the MLflow folder) and folded
into one self-contained ``model.onnx``, the only layout the onnx flavor loads.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelyard.core.errors import InvalidArgument


def onnx_plan(src: Path, file: Path, confine: Callable[[str, str], Path]) -> dict[str, Any]:
    """The copies and extra for an MLflow ONNX model (inlining external data)."""
    extra = {"model_file": "model.onnx"}
    try:
        import onnx
        from onnx import external_data_helper as edh
    except ImportError as exc:
        raise InvalidArgument(
            "Importing an MLflow ONNX model needs the onnx package: pip install onnx."
        ) from exc
    try:
        proto = onnx.load_model(str(file), load_external_data=False)
    except Exception as exc:  # protobuf decode errors
        raise InvalidArgument(f"The ONNX file {file.name!r} cannot be read: {exc}") from exc
    tensors = [t for t in edh._get_all_tensors(proto) if edh.uses_external_data(t)]
    if not tensors:
        return {"copies": {"model.onnx": file}, "extra": extra}
    base = file.parent.relative_to(src).as_posix()
    for tensor in tensors:
        location = edh.ExternalDataInfo(tensor).location
        confine(posixpath.join(base, location) if base != "." else location, "ONNX external data file")
    edh.load_external_data_for_model(proto, str(file.parent))
    try:
        raw = proto.SerializeToString()
    except ValueError as exc:  # protobuf's 2 GB limit
        raise InvalidArgument(f"This ONNX model is too large to keep in one file: {exc}") from exc
    return {"copies": {"model.onnx": raw}, "extra": {**extra, "inlined_external_data": True}}

"""ONNX graphs (``onnx.ModelProto`` or a ``.onnx`` file), run with onnxruntime on the CPU.

The graph is stored as one self-contained ``model.onnx``: tensors kept as external data
files are refused, since they would be read from paths named inside the graph. onnxruntime
gets the verified bytes, not a path, so it has nothing to resolve next to the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.core.errors import InvalidArgument
from modelyard.models.flavors.base import (
    Flavor,
    Predictor,
    Saved,
    SaveOptions,
    defined_in,
    model_file,
    pin,
    version_of,
)
from modelyard.models.manifest import ColumnSpec, ModelManifest

MODEL_FILE = "model.onnx"
_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.str_,
}


def detect(model: Any) -> bool:
    """An ``onnx.ModelProto``, or a path to a ``.onnx`` file."""
    if isinstance(model, str | os.PathLike):
        return str(model).lower().endswith(".onnx")
    return defined_in(model, "onnx") and type(model).__name__ == "ModelProto"


def _model_bytes(model: Any) -> bytes:
    if isinstance(model, str | os.PathLike):
        path = Path(model)
        if not path.is_file():
            raise InvalidArgument(f"No ONNX file at {str(path)!r}.")
        raw = path.read_bytes()
    elif defined_in(model, "onnx") and type(model).__name__ == "ModelProto":
        raw = model.SerializeToString()
    else:
        raise InvalidArgument(
            f"Cannot save a {type(model).__name__} with the onnx flavor: use an onnx.ModelProto "
            "or a path to a .onnx file."
        )
    try:
        import onnx
        from onnx import external_data_helper as edh
    except ImportError:  # onnxruntime alone can still check and run the graph below
        return raw
    proto = onnx.load_model_from_string(raw)
    if any(edh.uses_external_data(t) for t in edh._get_all_tensors(proto)):
        raise InvalidArgument(
            "This ONNX model keeps tensors in external data files; save it as one file "
            "(onnx.save_model(model, path, save_as_external_data=False)) and try again."
        )
    return raw


def save(model: Any, folder: Path, opts: SaveOptions) -> Saved:
    """Write the graph to ``model.onnx`` and describe its first input."""
    raw = _model_bytes(model)
    predictor = _wrap_bytes(raw)
    session = predictor.raw
    (folder / MODEL_FILE).write_bytes(raw)
    first = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else -1 for d in first.shape]
    inputs = [
        ColumnSpec(name=first.name, type=np.dtype(_NUMPY_TYPES.get(first.type, np.float32)).name, shape=shape)
    ]
    meta = session.get_modelmeta()
    extra = {
        "model_file": MODEL_FILE,
        "producer": meta.producer_name,
        "graph": meta.graph_name,
        "inputs": [i.name for i in session.get_inputs()],
        "outputs": [o.name for o in session.get_outputs()],
    }
    library_version = version_of("onnx")
    return Saved(
        library="onnx",
        library_version=library_version if library_version != "unknown" else version_of("onnxruntime"),
        predictor=predictor,
        requirements=pin("onnxruntime", "numpy"),
        extra=extra,
        inputs=inputs,
        input_kind="array",
    )


def load(folder: Path, manifest: ModelManifest, trust: bool) -> Predictor:
    """An onnxruntime session on the CPU, built from the file's bytes."""
    return _wrap_bytes(model_file(folder, manifest, MODEL_FILE).read_bytes())


def _wrap_bytes(raw: bytes) -> Predictor:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for a bad graph
        raise InvalidArgument(f"onnxruntime cannot load this ONNX model: {exc}") from exc
    return wrap(session)


def wrap(session: Any) -> Predictor:
    """Feed the first input (or each named input from DataFrame columns); labels and probabilities out."""
    inputs = session.get_inputs()
    outputs = session.get_outputs()

    def feed(X: Any) -> dict[str, np.ndarray]:
        if len(inputs) > 1 and isinstance(X, pd.DataFrame) and all(i.name in X.columns for i in inputs):
            return {i.name: _cast(X[[i.name]].to_numpy(), i.type) for i in inputs}
        arr = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
        return {inputs[0].name: _cast(arr, inputs[0].type)}

    def predict(X: Any) -> np.ndarray:
        return np.asarray(session.run([outputs[0].name], feed(X))[0])

    proba = None
    if len(outputs) > 1 and ("prob" in outputs[1].name.lower() or outputs[1].type.startswith("seq(map")):

        def proba(X: Any) -> np.ndarray:
            out = session.run([outputs[1].name], feed(X))[0]
            if isinstance(out, list):  # skl2onnx's ZipMap: one {label: probability} dict per row
                return np.array([list(row.values()) for row in out], dtype=np.float64)
            return np.asarray(out)

    return Predictor(raw=session, predict=predict, predict_proba=proba)


def _cast(arr: np.ndarray, onnx_type: str) -> np.ndarray:
    dtype = _NUMPY_TYPES.get(onnx_type)
    if dtype is None or arr.dtype == dtype:
        return arr
    return arr.astype(dtype)


FLAVOR = Flavor(name="onnx", detect=detect, save=save, load=load)

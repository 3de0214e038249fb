"""Write MLflow model folders by hand, laid out as MLflow 3.x writes them (checked against mlflow 3.17).

``MLmodel`` is YAML (MLflow dumps it with ``yaml.safe_dump``): a ``flavors`` mapping, with
the signature's ``inputs``/``outputs`` as JSON *strings*, and ``saved_input_example_info``
pointing at ``input_example.json`` (a DataFrame in pandas ``split`` layout without index;
an ndarray as a bare nested list). ``requirements.txt``, ``conda.yaml`` and
``python_env.yaml`` sit next to it. ``test_mlflow_import`` compares these against folders
written by a real MLflow when one is installed.
"""

from __future__ import annotations

import json
import pickle
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

_DTYPES = {
    "float64": "double",
    "float32": "float",
    "int64": "long",
    "int32": "integer",
    "bool": "boolean",
    "object": "string",
}
PY = platform.python_version()


def _env(loader: str, **conf: Any) -> dict[str, Any]:
    return {
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        "loader_module": loader,
        "python_version": PY,
        **conf,
    }


def _columns(frame: pd.DataFrame) -> str:
    return json.dumps(
        [{"type": _DTYPES[str(frame[c].dtype)], "name": c, "required": True} for c in frame.columns]
    )


def _tensor(arr: np.ndarray) -> str:
    return json.dumps(
        [{"type": "tensor", "tensor-spec": {"dtype": str(arr.dtype), "shape": [-1, *arr.shape[1:]]}}]
    )


def write(
    folder: Path,
    flavors: dict[str, Any],
    files: dict[str, bytes],
    *,
    example: Any = None,
    outputs: str | None = '[{"type": "long", "required": true}]',
    requirements: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write an MLflow model folder: model files, MLmodel, environment files, input example."""
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    mlmodel: dict[str, Any] = {
        "flavors": flavors,
        "is_signature_from_type_hint": False,
        "mlflow_version": "3.17.2",
        "model_id": None,
        "model_size_bytes": sum(len(d) for d in files.values()),
        "model_uuid": "18e5b8ce64a64005a5895ba208ba0353",
        "prompts": None,
        "type_hint_from_example": False,
        "utc_time_created": "2026-11-23 13:08:06.925314",
    }
    if example is not None:
        if isinstance(example, pd.DataFrame):
            (folder / "input_example.json").write_text(example.to_json(orient="split", index=False))
            info = {
                "artifact_path": "input_example.json",
                "pandas_orient": "split",
                "serving_input_path": "serving_input_example.json",
                "type": "dataframe",
            }
            inputs = _columns(example)
            serving = {"dataframe_split": json.loads(example.to_json(orient="split", index=False))}
        else:
            (folder / "input_example.json").write_text(json.dumps(example.tolist()))
            info = {
                "artifact_path": "input_example.json",
                "serving_input_path": "serving_input_example.json",
                "type": "ndarray",
            }
            inputs = _tensor(example)
            serving = {"inputs": example.tolist()}
        (folder / "serving_input_example.json").write_text(json.dumps(serving, indent=2))
        mlmodel["saved_input_example_info"] = info
        mlmodel["signature"] = {"inputs": inputs, "outputs": outputs, "params": None}
    mlmodel.update(extra or {})
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel, default_flow_style=False))
    reqs = ["mlflow==3.17.2", *(requirements or [])]
    (folder / "requirements.txt").write_text("\n".join(reqs))
    (folder / "conda.yaml").write_text(
        yaml.safe_dump(
            {
                "channels": ["conda-forge"],
                "dependencies": [f"python={PY}", "pip<=24.0", {"pip": reqs}],
                "name": "mlflow-env",
            }
        )
    )
    (folder / "python_env.yaml").write_text(
        yaml.safe_dump(
            {"python": PY, "build_dependencies": ["pip==24.0"], "dependencies": ["-r requirements.txt"]}
        )
    )
    return folder


def sklearn_model(folder: Path, model: Any, fmt: str, example: Any = None) -> Path:
    """``mlflow.sklearn.save_model(model, folder, serialization_format=fmt, input_example=example)``."""
    if fmt == "skops":
        import skops.io as sio

        name = "model.skops"
        sio.dump(model, folder.parent / f".{folder.name}.skops")
        data = (folder.parent / f".{folder.name}.skops").read_bytes()
        (folder.parent / f".{folder.name}.skops").unlink()
    else:
        import cloudpickle

        name, data = "model.pkl", (cloudpickle.dumps(model) if fmt == "cloudpickle" else pickle.dumps(model))
    flavors = {
        "python_function": _env("mlflow.sklearn", model_path=name, predict_fn="predict"),
        "sklearn": {
            "code": None,
            "pickled_model": name,
            "serialization_format": fmt,
            "sklearn_version": _version("scikit-learn"),
            "skops_trusted_types": None,
        },
    }
    reqs = ["numpy", "pandas", "scikit-learn", "scipy", "skops" if fmt == "skops" else "cloudpickle"]
    return write(folder, flavors, {name: data}, example=example, requirements=[_pin(r) for r in reqs])


def xgboost_model(folder: Path, model: Any, example: Any = None, model_format: str = "ubj") -> Path:
    """``mlflow.xgboost.save_model(model, folder, model_format=model_format)``."""
    name = f"model.{model_format}"
    tmp = folder.parent / f".{folder.name}.{model_format}"
    model.save_model(str(tmp))
    data = tmp.read_bytes()
    tmp.unlink()
    cls = type(model)
    flavors = {
        "python_function": _env("mlflow.xgboost", data=name),
        "xgboost": {
            "code": None,
            "data": name,
            "model_class": f"{cls.__module__}.{cls.__qualname__}",
            "model_format": model_format,
            "xgb_version": _version("xgboost"),
        },
    }
    return write(folder, flavors, {name: data}, example=example, requirements=[_pin("xgboost")])


def lightgbm_model(folder: Path, model: Any, example: Any = None) -> Path:
    """``mlflow.lightgbm.save_model``: a Booster as ``model.lgb`` text, a wrapper as ``model.skops``."""
    import lightgbm as lgb

    trusted = [
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.basic.Booster",
        "collections.OrderedDict",
        "lightgbm.sklearn.LGBMRegressor",
    ]
    if isinstance(model, lgb.Booster):
        name, data = "model.lgb", model.model_to_string().encode()
    else:
        import skops.io as sio

        name = "model.skops"
        tmp = folder.parent / f".{folder.name}.skops"
        sio.dump(model, tmp)
        data = tmp.read_bytes()
        tmp.unlink()
    cls = type(model)
    flavors = {
        "lightgbm": {
            "code": None,
            "data": name,
            "lgb_version": _version("lightgbm"),
            "model_class": f"{cls.__module__}.{cls.__qualname__}",
            "serialization_format": "skops",
            "skops_trusted_types": trusted,
        },
        "python_function": _env("mlflow.lightgbm", data=name),
    }
    return write(
        folder,
        flavors,
        {name: data},
        example=example,
        requirements=[_pin("lightgbm")],
        outputs='[{"type": "double", "required": true}]',
    )


def python_model(
    folder: Path, model: Any, example: Any = None, artifacts: dict[str, bytes] | None = None
) -> Path:
    """``mlflow.pyfunc.save_model(folder, python_model=model, artifacts=...)``."""
    import cloudpickle

    files = {"python_model.pkl": cloudpickle.dumps(model)}
    conf: dict[str, Any] = {
        "cloudpickle_version": _version("cloudpickle"),
        "code": None,
        "python_model": "python_model.pkl",
        "streamable": False,
    }
    if artifacts:
        conf["artifacts"] = {}
        for name, data in artifacts.items():
            files[f"artifacts/{name}.txt"] = data
            conf["artifacts"][name] = {"path": f"artifacts/{name}.txt", "uri": f"/home/me/{name}.txt"}
    flavors = {"python_function": _env("mlflow.pyfunc.model", **conf)}
    return write(
        folder,
        flavors,
        files,
        example=example,
        outputs='[{"type": "double", "required": true}]',
        requirements=[_pin("cloudpickle"), _pin("pandas")],
    )


def onnx_model(folder: Path, proto: Any, *, external: bool) -> Path:
    """``mlflow.onnx.save_model(proto, folder, save_as_external_data=external)``."""
    import onnx

    folder.mkdir(parents=True)
    onnx.save_model(
        proto,
        folder / "model.onnx",
        save_as_external_data=external,
        size_threshold=0,
        location="weights.bin" if external else None,
    )
    flavors = {
        "onnx": {
            "code": None,
            "data": "model.onnx",
            "onnx_version": _version("onnx"),
            "providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
        },
        "python_function": _env("mlflow.onnx", data="model.onnx"),
    }
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    return write(folder, flavors, files, requirements=[_pin("onnx"), _pin("onnxruntime")])


def _version(dist: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(dist)


def _pin(dist: str) -> str:
    return f"{dist}=={_version(dist)}"

"""Custom Python models (any object with ``predict``), stored with cloudpickle: trusted loads only.

cloudpickle stores classes and functions defined in ``__main__`` (a notebook) by value and
everything importable by reference, so the loading process needs the same modules. MLflow
``python_function`` models imported with ``import_mlflow`` use the same file; their
``predict(context, model_input)`` convention and ``load_context`` hook are honoured.
"""

from __future__ import annotations

import inspect
import pickle
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from modelyard.core.errors import InvalidArgument, ModelyardError
from modelyard.models.flavors.base import Flavor, Predictor, Saved, SaveOptions, model_file, pin, version_of
from modelyard.models.manifest import ModelManifest
from modelyard.models.trust import require_trust

MODEL_FILE = "python_model.pkl"


def detect(model: Any) -> bool:
    """Anything with a callable ``predict``."""
    return callable(getattr(model, "predict", None))


def save(model: Any, folder: Path, opts: SaveOptions) -> Saved:
    """cloudpickle the object into ``python_model.pkl`` (the model is then unsafe)."""
    if not detect(model):
        raise InvalidArgument(
            f"A {type(model).__name__} has no predict method, so it cannot be a python_function model."
        )
    if not opts.allow_pickle:
        raise InvalidArgument(
            f"A custom {type(model).__name__} can only be stored with cloudpickle, which runs code when "
            "loaded; pass allow_pickle=True to store it (it will then load only when trusted)."
        )
    import cloudpickle

    with (folder / MODEL_FILE).open("wb") as f:
        cloudpickle.dump(model, f)
    return Saved(
        library="cloudpickle",
        library_version=version_of("cloudpickle"),
        predictor=wrap(model),
        requirements=pin("cloudpickle", "numpy", "pandas"),
        unsafe=True,
        extra={
            "model_file": MODEL_FILE,
            "format": "cloudpickle",
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
        },
    )


def load(folder: Path, manifest: ModelManifest, trust: bool) -> Predictor:
    """Unpickle only when trusted; set up an MLflow model's context."""
    path = model_file(folder, manifest, MODEL_FILE)
    require_trust(trust)
    mlflow_info = manifest.extra.get("mlflow") or {}
    code = mlflow_info.get("code_dir")
    code_path = None
    if isinstance(code, str) and any(rel.startswith(f"{code}/") for rel in manifest.files):
        code_path = str(folder / code)
    if code_path:
        sys.path.insert(0, code_path)  # the model's own modules, which its pickle refers to
    try:
        with path.open("rb") as f:
            model = pickle.load(f)
    except ModuleNotFoundError as exc:
        hint = ""
        if (exc.name or "").split(".")[0] == "mlflow":
            hint = " This MLflow model refers to mlflow itself: pip install mlflow."
        raise ModelyardError(
            f"Loading this python model needs the module {exc.name!r}, which is not installed.{hint}"
        ) from exc
    finally:
        if code_path and code_path in sys.path:
            sys.path.remove(code_path)
    if mlflow_info.get("python_model"):
        return _wrap_mlflow(model, folder, mlflow_info)
    return wrap(model)


def wrap(model: Any) -> Predictor:
    """Call the object's ``predict`` (and ``predict_proba`` when it has one)."""
    proba = model.predict_proba if callable(getattr(model, "predict_proba", None)) else None
    return Predictor(raw=model, predict=model.predict, predict_proba=proba)


def _wrap_mlflow(model: Any, folder: Path, info: dict[str, Any]) -> Predictor:
    artifacts = {name: str(folder / rel) for name, rel in (info.get("artifacts") or {}).items()}
    context = SimpleNamespace(artifacts=artifacts, model_config=info.get("model_config") or {})
    if callable(getattr(model, "load_context", None)):
        model.load_context(context)
    try:
        first = next(iter(inspect.signature(model.predict).parameters), "")
    except (TypeError, ValueError):
        first = "context"
    if first == "context":
        return Predictor(raw=model, predict=lambda X: model.predict(context, X))
    return Predictor(raw=model, predict=model.predict)


FLAVOR = Flavor(name="python_function", detect=detect, save=save, load=load)

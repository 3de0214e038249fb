"""``save_file``: wrap a single model file (no Python object at hand) into a model folder.

Only formats that load without running code are accepted. Each is read with its own
library (which is safe for these formats) and saved again through ``save``, so the folder
gets the same manifest, signature and requirements as one saved from the object. A
``.skops`` file whose types are not all trusted by rule is copied as is, marked unsafe.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from modelyard.core.errors import InvalidArgument
from modelyard.models.api import save
from modelyard.models.flavors.base import pin, version_of
from modelyard.models.folder import finish, staged_folder
from modelyard.models.manifest import ModelManifest
from modelyard.models.trust import foreign_types

_PICKLES = (".pkl", ".pickle", ".joblib", ".cloudpickle", ".dill")


def save_file(file: str | os.PathLike[str], path: str | os.PathLike[str]) -> ModelManifest:
    """Make a model folder at ``path`` from one model file.

    Accepts ``.onnx``, ``.skops``, XGBoost ``.ubj``/``.json``, LightGBM ``.txt``/``.lgb`` and
    TorchScript ``.pt``/``.pth``.

    Raises:
        InvalidArgument: the file is missing, is a pickle, or is not a model of its kind.
    """
    src = Path(file)
    if not src.is_file():
        raise InvalidArgument(f"No model file at {str(src)!r}.")
    suffix = src.suffix.lower()
    if suffix in _PICKLES:
        raise InvalidArgument(
            f"{src.name!r} is a pickle, which runs code when loaded, so it cannot be registered as a file. "
            "Load it in Python yourself and save it with modelyard.models.save (or log_model)."
        )
    try:
        if suffix == ".onnx":
            return save(src, path, flavor="onnx")
        if suffix == ".skops":
            return _skops(src, Path(path))
        if suffix in (".ubj", ".json"):
            return save(_xgboost(src), path, flavor="xgboost")
        if suffix in (".txt", ".lgb"):
            import lightgbm as lgb

            return save(lgb.Booster(model_file=str(src)), path, flavor="lightgbm")
        if suffix in (".pt", ".pth"):
            return save(_torchscript(src), path, flavor="pytorch")
    except ImportError as exc:
        raise InvalidArgument(
            f"Reading {src.name!r} needs the {exc.name!r} package: pip install it."
        ) from exc
    except InvalidArgument:
        raise
    except Exception as exc:  # the library could not parse the file
        raise InvalidArgument(f"{src.name!r} is not a valid {suffix} model file: {exc}") from exc
    raise InvalidArgument(
        f"Cannot tell what kind of model {src.name!r} is: use .onnx, .skops, XGBoost .ubj/.json, LightGBM "
        ".txt/.lgb or TorchScript .pt, or a model folder."
    )


def _xgboost(src: Path) -> object:
    import orjson
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(src))
    meta = orjson.loads(booster.attr("scikit_learn") or "{}")
    kind = meta.get("_estimator_type") if isinstance(meta, dict) else None
    if kind not in ("classifier", "regressor"):
        return booster
    model = xgb.XGBClassifier() if kind == "classifier" else xgb.XGBRegressor()
    model.load_model(str(src))
    return model


def _torchscript(src: Path) -> object:
    import torch

    from modelyard.models.flavors.pytorch import _quiet_jit

    try:
        with _quiet_jit():
            return torch.jit.load(str(src), map_location="cpu")
    except RuntimeError as exc:
        raise InvalidArgument(
            f"{src.name!r} is not a TorchScript file (torch.save pickles are not accepted): export the "
            "module with torch.jit.script(model).save(path)."
        ) from exc


def _skops(src: Path, target: Path) -> ModelManifest:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=src)
    if not foreign_types(untrusted, "scikit-learn"):
        return save(sio.load(src, trusted=untrusted), target, flavor="sklearn")
    foreign = foreign_types(untrusted, "scikit-learn")
    with staged_folder(target) as tmp:
        shutil.copyfile(src, tmp / "model.skops")
        return finish(
            tmp,
            flavor="sklearn",
            library="scikit-learn",
            library_version=version_of("scikit-learn"),
            requirements=pin("scikit-learn", "skops", "numpy", "scipy"),
            unsafe=True,
            extra={"model_file": "model.skops", "format": "skops", "untrusted_types": foreign},
        )
